package harness

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/siambench/siambench/results"
)

// Progress reports a sweep's progress: on a terminal two redrawn bars (the
// current run and the whole sweep, with images/s and ETA), otherwise plain
// log lines. Its methods are safe for concurrent use.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer // the terminal (bars mode) or nil
	log    *slog.Logger
	now    func() time.Time
	drawn  int // lines of bars currently on screen
	last   time.Time
	period time.Duration // minimum time between redraws / plain lines

	runs, runIdx      int
	runID             string
	runTotal, runDone int64
	sweepTotal        int64
	sweepDone         int64
	runStart          time.Time
	runStartDone      int64
	lastLine          time.Time

	// Width returns the terminal's columns at each redraw (nil: 80). Bar
	// lines are kept shorter than it: a line that wraps would leave a stale
	// row behind when the bars are cleared.
	Width func() int
}

// NewProgress returns a reporter. With tty set, bars are drawn on w and log
// lines must go through the returned Progress (it is an io.Writer that clears
// the bars, writes the line and redraws them); otherwise it logs to log.
func NewProgress(w io.Writer, tty bool, log *slog.Logger) *Progress {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Progress{log: log, now: time.Now, period: 100 * time.Millisecond}
	if tty {
		p.w = w
	} else {
		p.period = 15 * time.Second
	}
	return p
}

// SetLogger sets the logger epoch lines go to (in bars mode, typically a
// logger writing through p itself).
func (p *Progress) SetLogger(log *slog.Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = log
}

// Write writes a log line above the bars.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return len(b), nil
	}
	p.clear()
	n, err := p.w.Write(b)
	p.draw()
	return n, err
}

// SweepStart announces a sweep of runs that will train totalImages images.
func (p *Progress) SweepStart(runs int, totalImages int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.runs, p.sweepTotal, p.sweepDone = runs, totalImages, 0
	p.runID, p.runTotal, p.runDone = "", 0, 0
}

// RunStart announces run number idx (0-based) training images images, of
// which done are already done (a resumed run). Announcing the current run
// again (restarted from its checkpoint, with done as of the checkpoint)
// first takes back what it had counted, so the sweep total counts each
// image once.
func (p *Progress) RunStart(idx int, id string, images, done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runTotal > 0 && p.runIdx == idx && p.runID == id {
		p.sweepDone -= p.runDone
	}
	p.runIdx, p.runID, p.runTotal, p.runDone = idx, id, images, done
	p.sweepDone += done
	p.runStart, p.runStartDone = p.now(), done
	p.lastLine = p.now()
	p.redraw(true)
}

// Skip counts a run that needs no work (finished earlier) as done.
func (p *Progress) Skip(images int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sweepDone += images
}

// Advance records n more training images processed.
func (p *Progress) Advance(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.runDone += int64(n)
	p.sweepDone += int64(n)
	p.redraw(false)
}

// Epoch logs an epoch's metrics.
func (p *Progress) Epoch(id string, epochs int, m results.EpochMetrics) {
	p.log.Info("epoch", "run", id, "epoch", fmt.Sprintf("%d/%d", m.Epoch, epochs),
		"loss", fmt.Sprintf("%.4f", m.Loss), "knn_top1", fmt.Sprintf("%.3f", m.KNNTop1),
		"feat_std", fmt.Sprintf("%.4f", m.FeatStd), "output_std", fmt.Sprintf("%.4f", m.OutputStd),
		"img_per_s", fmt.Sprintf("%.0f", m.ImagesPerSecond), "eta", p.eta())
}

// Done removes the bars.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil {
		p.clear()
	}
}

// rate is images/s of the current run since it (re)started.
func (p *Progress) rate() float64 {
	el := p.now().Sub(p.runStart).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(p.runDone-p.runStartDone) / el
}

func (p *Progress) eta() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmtETA(p.sweepTotal-p.sweepDone, p.rate())
}

func fmtETA(left int64, rate float64) string {
	if rate <= 0 || left <= 0 {
		return "-"
	}
	return time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
}

func (p *Progress) redraw(force bool) {
	now := p.now()
	if p.w == nil {
		if force || now.Sub(p.lastLine) < p.period {
			return
		}
		p.lastLine = now
		p.log.Info("progress", "run", p.runID, "run_done", pct(p.runDone, p.runTotal),
			"sweep_done", pct(p.sweepDone, p.sweepTotal), "img_per_s", fmt.Sprintf("%.0f", p.rate()),
			"eta", fmtETA(p.sweepTotal-p.sweepDone, p.rate()))
		return
	}
	if !force && now.Sub(p.last) < p.period {
		return
	}
	p.last = now
	p.clear()
	p.draw()
}

func pct(a, b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*frac(a, b))
}

// clear erases the bars drawn (cursor ends at the start of the first bar line).
func (p *Progress) clear() {
	for i := 0; i < p.drawn; i++ {
		fmt.Fprint(p.w, "\x1b[1A\r\x1b[K")
	}
	p.drawn = 0
}

func (p *Progress) draw() {
	if p.runTotal == 0 && p.sweepTotal == 0 {
		return
	}
	cols := 80
	if p.Width != nil {
		cols = p.Width()
	}
	r := p.rate()
	run := func(idW, barW int) string {
		return fmt.Sprintf("run %d/%d %-*s %s %5.1f%% %6.0f img/s ETA %s", p.runIdx+1, p.runs, idW, trunc(p.runID, idW),
			bar(p.runDone, p.runTotal, barW), 100*frac(p.runDone, p.runTotal), r, fmtETA(p.runTotal-p.runDone, r))
	}
	// Widest first: the full layout; then a narrower bar, then a shorter
	// run ID, then a hard cut, until the line fits in cols−1.
	idW, barW := 28, 24
	line := run(idW, barW)
	for ; width(line) >= cols && barW > 8; line = run(idW, barW) {
		barW--
	}
	for ; width(line) >= cols && idW > 12; line = run(idW, barW) {
		idW--
	}
	// The sweep bar and its ETA line up under the run's.
	at := max(0, width(line[:max(0, strings.Index(line, "["))]))
	sweep := fmt.Sprintf("%-*s%s %5.1f%%", at, "sweep", bar(p.sweepDone, p.sweepTotal, barW), 100*frac(p.sweepDone, p.sweepTotal))
	if eta := strings.LastIndex(line, " ETA "); eta >= 0 && width(line[:eta]) > len(sweep) {
		sweep += strings.Repeat(" ", width(line[:eta])-len(sweep))
	}
	sweep += " ETA " + fmtETA(p.sweepTotal-p.sweepDone, r)
	fmt.Fprintln(p.w, cut(line, cols-1))
	fmt.Fprintln(p.w, cut(sweep, cols-1))
	p.drawn = 2
}

// width is the columns s takes on a terminal (one per rune: the bar lines
// hold ASCII and trunc's "…").
func width(s string) int { return utf8.RuneCountInString(s) }

// cut shortens s to at most n columns.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) > max(n, 0) {
		return string(r[:max(n, 0)])
	}
	return s
}

func frac(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return min(1, float64(a)/float64(b))
}

func bar(a, b int64, width int) string {
	n := int(frac(a, b) * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
