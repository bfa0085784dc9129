package reports

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/siambench/siambench/results"
)

// renderMarkdown writes the whole report. It reads only m and figs, never
// the clock or a map in its own order, so equal inputs give equal bytes.
func renderMarkdown(m *model, title string, figs []figure) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# %s\n\n", title)
	writeHeader(&b, m)
	w("Accuracies are top-1 in %%, as mean ± sample standard deviation over the seeds that finished, " +
		"with the 95%% Student-t interval for the mean in brackets (t with n−1 degrees of freedom; none for one seed); " +
		"*n* is the number of seeds behind each number (\"n=2 of 3\": one seed failed or did not finish). " +
		"*Linear* is a linear classifier trained on the frozen backbone's features (train split) and scored on the test split; " +
		"*kNN* is the final epoch's weighted kNN monitor on the same features. " +
		"The baselines show what self-supervision added: *raw pixels* applies the same probes to the input pixels, " +
		"*random-init backbone* to the untrained backbone, *supervised backbone* to the backbone trained with labels (an upper reference).\n\n")
	if m.maxSeeds() == 1 {
		w("> **One seed per number.** No interval can be given, and differences below about 2 points between single-seed numbers are not evidence: " +
			"rerun with several seeds (`--seeds 0,1,2`) to tell such methods or options apart (see *Paired comparisons*).\n\n")
	}

	multi := len(m.settings) > 1
	for _, sm := range m.settings {
		h := "##"
		if multi {
			w("## Pre-trained on %s, backbone %s\n\n", orDash(sm.label()), orDash(sm.Backbone))
			h = "###"
		}
		writeMain(&b, h, sm)
		writeEmbeddings(&b, h, sm, figs)
		writeBatch(&b, h, sm)
		writeTransfer(&b, h, sm)
		writeAblations(&b, h, sm)
		writePaperFindings(&b, h, sm)
		writeComparisons(&b, h, sm)
		writeKNN(&b, h, sm)
		writeCost(&b, h, sm)
		writeFigures(&b, h, sm, figs)
	}
	writeUnfinished(&b, m)
	writeGaps(&b, m)
	return b.Bytes()
}

// --- header

func writeHeader(b *bytes.Buffer, m *model) {
	sw := m.sw
	env := sw.env
	var datasets, backbones []string
	seenD, seenB := map[string]bool{}, map[string]bool{}
	for _, sm := range m.settings {
		if l := sm.label(); l != "" && !seenD[l] {
			seenD[l] = true
			datasets = append(datasets, l)
		}
		if sm.Backbone != "" && !seenB[sm.Backbone] {
			seenB[sm.Backbone] = true
			backbones = append(backbones, sm.Backbone)
		}
	}
	machine := env.CPU
	if machine == "" {
		machine = "CPU not recorded"
	}
	if env.Cores > 0 {
		machine += fmt.Sprintf(" (%d cores)", env.Cores)
	}
	if env.OS != "" || env.Arch != "" {
		machine += ", " + env.OS + "/" + env.Arch
	}
	date := "not recorded (the results store no run finish time)"
	if !sw.finished.IsZero() {
		date = sw.finished.Format("2006-01-02 15:04 UTC") + " (newest run's finish time)"
	}
	version := "not recorded"
	switch len(sw.versions) {
	case 0:
	case 1:
		version = sw.versions[0]
	default:
		version = strings.Join(sw.versions, ", ") + " (mixed: runs come from different code versions)"
	}
	fmt.Fprintf(b, "| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, cell(v)) }
	row("dataset", orDash(strings.Join(datasets, ", ")))
	row("backbone", orDash(strings.Join(backbones, ", ")))
	row("machine", machine)
	row("GEMM backend", orText(env.GEMMBackend, "not recorded"))
	row("code version", version)
	if env.GoVersion != "" {
		row("Go", env.GoVersion)
	}
	row("date", date)
	row("runs", runCounts(sw.runs))
	b.WriteString("\n")
	if sw.rebuilt {
		fmt.Fprintf(b, "> **Note:** `%s` was missing; the rows were rebuilt from the run folders (see *Gaps*).\n\n", results.SummaryFile)
	}
}

// runCounts is "N: a completed, b collapsed, ..." in a fixed status order.
func runCounts(runs []*run) string {
	order := []string{results.StatusCompleted, results.StatusCollapsed, results.StatusDiverged,
		results.StatusFailed, results.StatusRunning, results.StatusPending}
	counts := map[string]int{}
	for _, r := range runs {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range order {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
			delete(counts, s)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], orText(s, "no status")))
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d: %s", len(runs), strings.Join(parts, ", "))
}

// --- main table (Table 4)

func writeMain(b *bytes.Buffer, h string, sm *settingModel) {
	rows := sm.mainRows()
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "%s Methods × epoch budgets (Table 4 style)\n\n", h)
	if len(sm.epochs) == 0 {
		fmt.Fprintf(b, "No method runs were stored for this setting; only the baselines:\n\n")
		writeBaselineTable(b, sm)
		return
	}
	hdr := []string{"method", "batch", "negatives", "momentum enc."}
	for _, e := range sm.epochs {
		hdr = append(hdr, fmt.Sprintf("linear %d ep", e))
	}
	for _, e := range sm.epochs {
		hdr = append(hdr, fmt.Sprintf("kNN %d ep", e))
	}
	var body [][]string
	for _, r := range rows {
		line := []string{r.Label, "—", "—", "—"}
		if r.Baseline == "" {
			line = []string{r.Label, itoa(r.BatchSize), yesNo(r.Negatives), yesNo(r.MomentumEncoder)}
		} else {
			line[0] = "*" + r.Label + "*"
		}
		for _, c := range r.Cells {
			line = append(line, mainCell(r, c, c.Linear))
		}
		for _, c := range r.Cells {
			line = append(line, mainCell(r, c, c.KNN))
		}
		body = append(body, line)
	}
	writeTable(b, hdr, body)
	var notes failNotes
	for _, v := range sm.variants {
		if sm.inMain(v) {
			notes.add(v)
		}
	}
	notes.write(b)
	writeMainGuide(b, sm, rows)
}

// mainCell formats one number of the main table.
func mainCell(r MainRow, c MainCell, s Stat) string {
	if r.Baseline != "" {
		if c.Runs == 0 {
			return "—" // a trained baseline not trained at this budget
		}
		return pct(s.Mean)
	}
	if c.Runs == 0 {
		return "—"
	}
	out := resultCell(s, c.Runs, c.Failed)
	if c.Collapsed > 0 {
		out += " †"
	}
	return out
}

// --- failed runs

// failMark follows a cell some of whose runs failed; the table's footnote
// (failNotes) says which and why.
const failMark = "‡"

// resultCell is statCell for cells whose runs may have failed: "failed ‡"
// when every run failed, the number (with its "n=1 of 2") and ‡ when some
// did, statCell's text otherwise. A failed run never shows as 0.0%.
func resultCell(s Stat, runs, failed int) string {
	switch {
	case failed == 0:
		return statCell(s, runs)
	case s.N == 0 && failed == runs:
		return "failed " + failMark
	}
	return statCell(s, runs) + " " + failMark
}

// allFailed reports whether the cells hold runs and all of them failed.
func allFailed(cells []MainCell) bool {
	runs, failed := 0, 0
	for _, c := range cells {
		runs, failed = runs+c.Runs, failed+c.Failed
	}
	return runs > 0 && failed == runs
}

// failNotes collects the failed runs behind a table's ‡ marks.
type failNotes struct {
	runs []*run
	seen map[string]bool
}

// add records v's failed runs and returns how many there are.
func (f *failNotes) add(v *variant) int {
	n := 0
	for _, r := range v.runs {
		if r.Status != results.StatusFailed {
			continue
		}
		n++
		if f.seen == nil {
			f.seen = map[string]bool{}
		}
		if !f.seen[r.ID] {
			f.seen[r.ID] = true
			f.runs = append(f.runs, r)
		}
	}
	return n
}

// write writes the table's footnote: each failed run and, briefly, why
// (the full error is under "Runs without results" and in its status.json).
func (f *failNotes) write(b *bytes.Buffer) {
	for _, r := range f.runs {
		fmt.Fprintf(b, "%s `%s` (%s, batch %d, %d epochs, seed %d) failed: %s\n\n", failMark, r.ID, methodLabel(r.Method, r.optKey),
			r.BatchSize, r.Epochs, r.Seed, cell(truncate(orText(r.Error, "no error recorded"), 160)))
	}
}

// statCell is "67.7 ± 0.1 [67.5, 67.9] (n=3)" (with the 95% interval),
// "67.7 (n=1)", "67.7 ± 0.1 [66.8, 68.6] (n=2 of 3)" or "no result (n=0 of 3)".
func statCell(s Stat, runs int) string {
	if s.N == 0 {
		return fmt.Sprintf("no result (n=0 of %d)", runs)
	}
	out := pct(s.Mean)
	if s.N > 1 {
		out += " ± " + pct(s.Std) + " [" + pct(s.Lo) + ", " + pct(s.Hi) + "]"
	}
	if runs > s.N {
		return out + fmt.Sprintf(" (n=%d of %d)", s.N, runs)
	}
	return out + fmt.Sprintf(" (n=%d)", s.N)
}

func writeBaselineTable(b *bytes.Buffer, sm *settingModel) {
	var body [][]string
	for _, bl := range sm.baselines {
		body = append(body, []string{"*" + bl.label() + "*", pct(bl.LinearTop1), pct(bl.KNNTop1)})
	}
	writeTable(b, []string{"baseline", "linear", "kNN"}, body)
}

// writeMainGuide says, per method, whether it beat each baseline, and which
// cells had collapsed or missing seeds.
func writeMainGuide(b *bytes.Buffer, sm *settingModel, rows []MainRow) {
	fmt.Fprintf(b, "How to read it: each row is one method at one pre-training batch size, each column an epoch budget; "+
		"*negatives* says whether the loss contrasts against other images, *momentum enc.* whether the method trains against an EMA target network (the paper's columns). "+
		"The rows in italics are the baselines: raw pixels and the random-init backbone do not depend on the epoch budget; the supervised backbone is trained for each budget with its own schedule (\"—\": not trained at that budget). "+
		"† marks a number with at least one collapsed seed (its output std fell towards 0). "+
		"Each difference below comes with its 95%% interval over seeds, or is called *not distinguishable* when that interval contains 0; methods against each other: *Paired comparisons*.\n\n")
	raw, hasRaw := sm.baseline(results.BaselineRawPixels)
	rnd, hasRnd := sm.baseline(results.BaselineRandomInit)
	if !hasRaw {
		fmt.Fprintf(b, "No raw-pixel baseline is stored for this setting, so these numbers cannot show what self-supervision added beyond the input itself.\n\n")
	}
	// Best linear top-1 per main row (over epoch budgets), compared with the baselines.
	var lines []string
	for _, r := range rows {
		if r.Baseline != "" {
			continue
		}
		bi := -1
		for i, c := range r.Cells {
			if c.Linear.N > 0 && (bi < 0 || c.Linear.Mean > r.Cells[bi].Linear.Mean) {
				bi = i
			}
		}
		name := fmt.Sprintf("**%s** (batch %d)", r.Label, r.BatchSize)
		if bi < 0 {
			why := "no finished run"
			if allFailed(r.Cells) {
				why = "every run failed (" + failMark + ")"
			}
			lines = append(lines, fmt.Sprintf("- %s: %s, so no numbers.", name, why))
			continue
		}
		c := r.Cells[bi]
		s := c.Linear
		line := fmt.Sprintf("- %s: best linear %s%% at %d epochs", name, pct(s.Mean), c.Epochs)
		var cmp []string
		if hasRaw {
			cmp = append(cmp, versus(s, raw.LinearTop1, "raw pixels"))
		}
		if hasRnd {
			cmp = append(cmp, versus(s, rnd.LinearTop1, "the random-init backbone"))
		}
		if sup, ok := sm.baselineAt(results.BaselineSupervised, c.Epochs); ok {
			cmp = append(cmp, versus(s, sup.LinearTop1, "the supervised backbone"))
		}
		if len(cmp) > 0 {
			line += ": " + strings.Join(cmp, "; ")
		}
		line += "."
		if hasRaw && s.Mean <= raw.LinearTop1 {
			line += " It does **not** beat raw pixels: at this budget self-supervision added nothing a linear probe on the pixels does not already get."
		}
		// The kNN probe can tell a different story; say so when it does.
		bk := -1
		for i, c := range r.Cells {
			if c.KNN.N > 0 && (bk < 0 || c.KNN.Mean > r.Cells[bk].KNN.Mean) {
				bk = i
			}
		}
		if hasRaw && bk >= 0 {
			k := r.Cells[bk].KNN
			switch {
			case k.Mean <= raw.KNNTop1 && s.Mean > raw.LinearTop1:
				line += fmt.Sprintf(" On kNN, though, its best (%s%%) does **not** beat raw pixels (%s%%).", pct(k.Mean), pct(raw.KNNTop1))
			case k.Mean > raw.KNNTop1 && s.Mean <= raw.LinearTop1:
				line += fmt.Sprintf(" On kNN its best (%s%%) does beat raw pixels (%s%%).", pct(k.Mean), pct(raw.KNNTop1))
			}
		}
		if c.Collapsed > 0 {
			line += fmt.Sprintf(" %d of its %d seeds there collapsed.", c.Collapsed, c.Runs)
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		b.WriteString(strings.Join(lines, "\n") + "\n\n")
	}
}

// versus compares a method's mean over seeds with a baseline value (one
// number) in points, with the 95% interval of the difference over the
// method's seeds; when it contains 0 the verdict is "not distinguishable".
func versus(s Stat, base float64, name string) string {
	d := (s.Mean - base) * 100
	word := "above"
	if d < 0 {
		word = "below"
	}
	pts := strconv.FormatFloat(math.Abs(round1(d)), 'f', 1, 64)
	if s.N < 2 {
		return fmt.Sprintf("%s points %s %s (%s%%; one seed, no interval)", pts, word, name, pct(base))
	}
	lo, hi := signedPts(s.Lo-base), signedPts(s.Hi-base)
	if s.Lo-base <= 0 && s.Hi-base >= 0 {
		return fmt.Sprintf("not distinguishable from %s (%s%%) at %d seeds (%s points, 95%% interval [%s, %s])", name, pct(base), s.N, signedPts(s.Mean-base), lo, hi)
	}
	return fmt.Sprintf("%s points %s %s (%s%%; 95%% interval [%s, %s] over %d seeds)", pts, word, name, pct(base), lo, hi, s.N)
}

// --- batch sweep (Table 2)

func writeBatch(b *bytes.Buffer, h string, sm *settingModel) {
	type line struct {
		label  string
		epochs int
		byB    map[int]*variant
	}
	var lines []*line
	idx := map[string]*line{}
	for _, v := range sm.variants {
		if !sm.inMain(v) {
			continue
		}
		k := v.label() + "\x00" + itoa(v.epochs)
		l := idx[k]
		if l == nil {
			l = &line{label: v.label(), epochs: v.epochs, byB: map[int]*variant{}}
			idx[k] = l
			lines = append(lines, l)
		}
		l.byB[v.batch] = v
	}
	batches := map[int]bool{}
	var keep []*line
	for _, l := range lines {
		if len(l.byB) >= 2 {
			keep = append(keep, l)
			for bs := range l.byB {
				batches[bs] = true
			}
		}
	}
	if len(keep) == 0 {
		return
	}
	bss := slices.Sorted(maps.Keys(batches))
	fmt.Fprintf(b, "%s Batch size (Table 2 style)\n\n", h)
	hdr := []string{"method", "epochs", "probe"}
	for _, bs := range bss {
		hdr = append(hdr, "batch "+itoa(bs))
	}
	var body [][]string
	var notes failNotes
	for _, l := range keep {
		for _, probe := range []string{"linear", "kNN"} {
			row := []string{l.label, itoa(l.epochs), probe}
			for _, bs := range bss {
				v := l.byB[bs]
				if v == nil {
					row = append(row, "—")
					continue
				}
				f := func(r *run) float64 { return r.LinearTop1 }
				if probe == "kNN" {
					f = func(r *run) float64 { return r.KNNTop1 }
				}
				c := resultCell(v.stat(f), len(v.runs), notes.add(v))
				if v.collapsed() > 0 {
					c += " †"
				}
				row = append(row, c)
			}
			body = append(body, row)
		}
	}
	writeTable(b, hdr, body)
	notes.write(b)
	fmt.Fprintf(b, "How to read it: the same method and epoch budget pre-trained at each batch size, with the learning rate scaled by the harness's rule for each batch size. "+
		"In the SimSiam paper (ImageNet, 100 epochs) accuracy is flat from batch 128 to 2048 and drops only at 4096. ")
	writeBaselineSentence(b, sm)
	b.WriteString("\n\n")
}

// writeBaselineSentence states the setting's baselines in one sentence.
func writeBaselineSentence(b *bytes.Buffer, sm *settingModel) {
	if len(sm.baselines) == 0 {
		b.WriteString("No baselines are stored for this setting.")
		return
	}
	var parts []string
	for _, bl := range sm.baselines {
		parts = append(parts, fmt.Sprintf("%s %s%% linear / %s%% kNN", bl.label(), pct(bl.LinearTop1), pct(bl.KNNTop1)))
	}
	fmt.Fprintf(b, "For comparison: %s.", strings.Join(parts, "; "))
}

// --- transfer (Table 5)

func writeTransfer(b *bytes.Buffer, h string, sm *settingModel) {
	targets := map[string]bool{}
	var vs []*variant
	for _, v := range sm.variants {
		has := false
		for _, r := range v.evaluated() {
			for t := range r.Transfer {
				targets[t] = true
				has = true
			}
		}
		if has {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return
	}
	ts := slices.Sorted(maps.Keys(targets))
	fmt.Fprintf(b, "%s Transfer (Table 5 style)\n\n", h)
	hdr := []string{"pre-trained representation", "batch", "epochs"}
	for _, t := range ts {
		hdr = append(hdr, "→ "+t)
	}
	var body [][]string
	var notes failNotes
	for _, v := range vs {
		row := []string{v.label(), itoa(v.batch), itoa(v.epochs)}
		for _, t := range ts {
			var xs []float64
			for _, r := range v.evaluated() {
				if x, ok := r.Transfer[t]; ok {
					xs = append(xs, x)
				}
			}
			c := resultCell(statOf(xs), len(v.runs), notes.add(v))
			if v.collapsed() > 0 {
				c += " †"
			}
			row = append(row, c)
		}
		body = append(body, row)
	}
	for _, bl := range sm.baselines {
		row := []string{"*" + bl.label() + "*", "—", "—"}
		for _, t := range ts {
			if x, ok := bl.Transfer[t]; ok {
				row = append(row, pct(x))
			} else {
				row = append(row, "—")
			}
		}
		body = append(body, row)
	}
	writeTable(b, hdr, body)
	notes.write(b)
	fmt.Fprintf(b, "How to read it: each backbone was pre-trained on %s, frozen, and probed with a linear classifier on each target dataset's train split, scored on its test split. "+
		"The baseline rows apply the same probe on the target data to raw pixels, to a random-init backbone and to a backbone trained with labels on %s; \"—\" means that baseline was not computed for that target.\n\n",
		orDash(sm.label()), orDash(sm.evaluation()))
}

// --- ablations (Figure 2, Tables 1 and 3)

func writeAblations(b *bytes.Buffer, h string, sm *settingModel) {
	// For each method with non-default options, the budgets they ran at.
	type budget struct{ batch, epochs int }
	budgets := map[string]map[budget]bool{}
	for _, v := range sm.variants {
		if v.optKey != "" {
			if budgets[v.method] == nil {
				budgets[v.method] = map[budget]bool{}
			}
			budgets[v.method][budget{v.batch, v.epochs}] = true
		}
	}
	if len(budgets) == 0 {
		return
	}
	fmt.Fprintf(b, "%s Ablations of method options (Figure 2, Tables 1 and 3 style)\n\n", h)
	hdr := []string{"method", "options", "batch", "epochs", "linear", "kNN", "output std", "1/√d", "collapsed"}
	var body [][]string
	var collapsedRuns []*run
	var notes failNotes
	for _, v := range sm.variants {
		if !budgets[v.method][budget{v.batch, v.epochs}] {
			continue
		}
		opts := v.optKey
		if opts == "" {
			opts = "defaults"
		}
		ref := "—"
		if d := v.outputDim(); d > 0 {
			ref = fmt.Sprintf("%.4f", 1/math.Sqrt(float64(d)))
		}
		std := v.stat(func(r *run) float64 { return r.OutputStd })
		stdCell := "—"
		if std.N > 0 {
			stdCell = small(std.Mean, std.Mean)
			if std.N > 1 {
				stdCell += " ± " + small(std.Std, std.Mean)
			}
		}
		coll := "no"
		if n := v.collapsed(); n > 0 {
			coll = fmt.Sprintf("**yes** (%d of %d)", n, len(v.runs))
		}
		failed := notes.add(v)
		body = append(body, []string{v.method, opts, itoa(v.batch), itoa(v.epochs),
			resultCell(v.stat(func(r *run) float64 { return r.LinearTop1 }), len(v.runs), failed),
			resultCell(v.stat(func(r *run) float64 { return r.KNNTop1 }), len(v.runs), failed),
			stdCell, ref, coll})
		for _, r := range v.runs {
			if r.Status == results.StatusCollapsed {
				collapsedRuns = append(collapsedRuns, r)
			}
		}
	}
	writeTable(b, hdr, body)
	notes.write(b)
	fmt.Fprintf(b, "How to read it: each method's options against its defaults at the same batch size and epoch budget. "+
		"*Output std* is the per-channel standard deviation of the method's l2-normalised output at the end of training; a healthy representation keeps it near 1/√d (d = output width), "+
		"a collapsed one (every image mapped to the same vector) drives it to 0 and its accuracy to chance — in the SimSiam paper, removing the stop-gradient does exactly this. "+
		"Whether an option's difference from the defaults is more than seed noise: see *Paired comparisons*. ")
	writeBaselineSentence(b, sm)
	b.WriteString("\n\n")
	for _, r := range collapsedRuns {
		reason := orText(r.CollapseReason, "no reason recorded")
		fmt.Fprintf(b, "- Run `%s` (%s, seed %d) collapsed: %s.\n", r.ID, methodLabel(r.Method, r.optKey), r.Seed, cell(strings.TrimSuffix(reason, ".")))
	}
	if len(collapsedRuns) > 0 {
		b.WriteString("\n")
	}
}

// --- kNN monitor: final and best epoch

func writeKNN(b *bytes.Buffer, h string, sm *settingModel) {
	var body [][]string
	var notes failNotes
	for _, v := range sm.variants {
		ev := v.evaluated()
		if len(ev) == 0 {
			continue
		}
		failed := notes.add(v)
		final := v.stat(func(r *run) float64 { return r.KNNTop1 })
		best := v.stat(func(r *run) float64 { return math.Max(r.BestKNNTop1, r.KNNTop1) })
		// The best epoch per run, from its per-epoch metrics.
		lo, hi := 0, 0
		for _, r := range ev {
			be, bk := 0, math.Inf(-1)
			for _, m := range r.metrics {
				if m.KNNTop1 > bk {
					be, bk = m.Epoch, m.KNNTop1
				}
			}
			if be == 0 {
				continue
			}
			if lo == 0 || be < lo {
				lo = be
			}
			if be > hi {
				hi = be
			}
		}
		epoch := "—"
		switch {
		case lo == 0:
		case lo == hi:
			epoch = itoa(lo)
		default:
			epoch = itoa(lo) + "–" + itoa(hi)
		}
		drop := "—"
		if best.N > 0 && final.N > 0 {
			drop = strconv.FormatFloat(round1(100*(best.Mean-final.Mean)), 'f', 1, 64)
		}
		body = append(body, []string{v.label(), itoa(v.batch), itoa(v.epochs),
			resultCell(final, len(v.runs), failed), resultCell(best, len(v.runs), failed), epoch, drop})
	}
	if len(body) == 0 {
		return
	}
	fmt.Fprintf(b, "%s kNN monitor: final and best epoch\n\n", h)
	writeTable(b, []string{"method", "batch", "epochs", "final kNN", "best kNN", "best at epoch", "best − final (points)"}, body)
	notes.write(b)
	fmt.Fprintf(b, "How to read it: the kNN monitor runs every epoch on the frozen backbone's features; *final* is its last epoch, *best* its best epoch (the number lightly's benchmarks report). "+
		"A large drop from best to final means accuracy peaked early and then fell, the way a collapsing run behaves. \"Best at epoch\" is a range when the seeds disagree.\n\n")
}

// --- cost

func writeCost(b *bytes.Buffer, h string, sm *settingModel) {
	var body [][]string
	var notes failNotes
	for _, v := range sm.variants {
		var wall, ips, mem []float64
		for _, r := range v.evaluated() {
			if r.WallSeconds > 0 {
				wall = append(wall, r.WallSeconds)
			}
			if r.ImagesPerSecond > 0 {
				ips = append(ips, r.ImagesPerSecond)
			}
			if r.PeakRSSBytes > 0 {
				mem = append(mem, float64(r.PeakRSSBytes)/(1<<20))
			}
		}
		if len(wall) == 0 && len(ips) == 0 && len(mem) == 0 {
			continue
		}
		n := itoa(len(v.evaluated()))
		if notes.add(v) > 0 {
			n += " " + failMark
		}
		body = append(body, []string{v.label(), itoa(v.batch), itoa(v.epochs),
			durationCell(statOf(wall)), numCell(statOf(ips), 0), numCell(statOf(mem), 0), n})
	}
	if len(body) == 0 {
		return
	}
	fmt.Fprintf(b, "%s Cost\n\n", h)
	writeTable(b, []string{"method", "batch", "epochs", "wall time", "images/s", "peak memory (MiB)", "n"}, body)
	notes.write(b)
	fmt.Fprintf(b, "How to read it: training wall time, throughput and peak resident memory of the bench process as the harness recorded them, mean ± std over the finished seeds (n), on the machine in the header. "+
		"Runs that failed are not counted.\n\n")
}

// --- figures

func writeFigures(b *bytes.Buffer, h string, sm *settingModel, figs []figure) {
	var mine []figure
	for _, f := range figs {
		if f.setting == sm.Setting && !f.embedding {
			mine = append(mine, f)
		}
	}
	if len(mine) == 0 {
		return
	}
	fmt.Fprintf(b, "%s Figures\n\n", h)
	for _, f := range mine {
		fmt.Fprintf(b, "![%s](%s)\n\n*%s*\n\n", f.title, f.file, f.caption)
	}
}

// --- runs that did not finish, gaps

func writeUnfinished(b *bytes.Buffer, m *model) {
	var body [][]string
	for _, sm := range m.settings {
		for _, v := range sm.variants {
			for _, r := range v.runs {
				if r.hasNumbers() {
					continue
				}
				why := r.Error
				if why == "" && r.invalid != "" {
					why = r.invalid
				}
				if why == "" {
					switch r.Status {
					case results.StatusPending, results.StatusRunning:
						why = "not finished when the report was written"
					case results.StatusDiverged:
						why = "stopped by the NaN/Inf guard"
					default:
						why = "no error recorded"
					}
				}
				body = append(body, []string{"`" + r.ID + "`", v.label(), itoa(r.BatchSize), itoa(r.Epochs), strconv.FormatInt(r.Seed, 10),
					orText(r.Status, "no status"), fmt.Sprintf("%d of %d", r.EpochsDone, r.Epochs), truncate(why, 300)})
			}
		}
	}
	if len(body) == 0 {
		return
	}
	fmt.Fprintf(b, "## Runs without results\n\n")
	writeTable(b, []string{"run", "method", "batch", "epochs", "seed", "status", "epochs done", "why"}, body)
	fmt.Fprintf(b, "These runs are left out of every mean above (which is why some cells say \"n=2 of 3\"). "+
		"The training curves of unfinished runs (running, diverged) still appear in the figures; those of failed runs do not. "+
		"Rerunning the same sweep resumes them from their last checkpoint.\n\n")
}

func writeGaps(b *bytes.Buffer, m *model) {
	if len(m.sw.gaps) == 0 {
		return
	}
	fmt.Fprintf(b, "## Gaps in the results\n\n")
	for _, g := range m.sw.gaps {
		fmt.Fprintf(b, "- %s\n", cell(g))
	}
	b.WriteString("\n")
}

// --- formatting helpers

// writeTable writes a Markdown table; cells are escaped.
func writeTable(b *bytes.Buffer, hdr []string, rows [][]string) {
	b.WriteString("|")
	for _, h := range hdr {
		b.WriteString(" " + cell(h) + " |")
	}
	b.WriteString("\n|")
	for i := range hdr {
		if i > 0 && numericColumn(rows, i) {
			b.WriteString("--:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// numericColumn reports whether every cell of column i holds a number (or
// a dash): such columns are right-aligned, text columns left-aligned.
func numericColumn(rows [][]string, i int) bool {
	for _, r := range rows {
		if i >= len(r) {
			continue
		}
		c := strings.TrimLeft(r[i], "*`")
		if c == "—" || c == "" {
			continue
		}
		if c[0] < '0' || c[0] > '9' {
			return false
		}
	}
	return true
}

// cell makes s safe inside a Markdown table cell or list item: one line, no
// bare pipes.
func cell(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
	return strings.TrimSpace(s)
}

// pct formats a fraction as a percentage with one decimal.
func pct(x float64) string { return strconv.FormatFloat(round1(x*100), 'f', 1, 64) }

// Pct formats a fraction as the report's tables do (one decimal, half away
// from zero), for every other place that prints the same numbers: 0.7755
// is 77.6 everywhere, never 77.6 in the report and 77.5 on the terminal.
func Pct(x float64) string { return pct(x) }

// round1 rounds half away from zero to one decimal, so formatting never
// depends on binary ties: x is first snapped to thousandths (79.15 is
// 79.149999… in binary; accuracies are counts over at most a few hundred
// thousand images, so no real digit is lost), then the tie is decided on
// integers.
func round1(x float64) float64 {
	n := math.Round(math.Abs(x) * 1000) // thousandths
	t := math.Floor((n + 50) / 100)     // tenths, half away from zero
	return math.Copysign(t/10, x)
}

// small formats x (an output std or its spread) like ref: with four
// decimals, or in scientific notation when ref is below 0.001 (a collapsed
// output's std).
func small(x, ref float64) string {
	if ref != 0 && math.Abs(ref) < 1e-3 {
		return strconv.FormatFloat(x, 'e', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 4, 64)
}

func numCell(s Stat, prec int) string {
	if s.N == 0 {
		return "—"
	}
	out := strconv.FormatFloat(s.Mean, 'f', prec, 64)
	if s.N > 1 {
		out += " ± " + strconv.FormatFloat(s.Std, 'f', prec, 64)
	}
	return out
}

// durationCell shows seconds, or minutes or hours when long.
func durationCell(s Stat) string {
	if s.N == 0 {
		return "—"
	}
	unit, div := "s", 1.0
	switch {
	case s.Mean >= 2*3600:
		unit, div = "h", 3600
	case s.Mean >= 120:
		unit, div = "min", 60
	}
	return numCell(Stat{Mean: s.Mean / div, Std: s.Std / div, N: s.N}, 1) + " " + unit
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func orDash(s string) string { return orText(s, "—") }

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }
