package reports

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"log/slog"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/siambench/siambench/atomicfile"
	"github.com/siambench/siambench/results"
)

// figure is one PNG written beside the report.
type figure struct {
	setting Setting
	file    string // base name, relative to the report
	title   string // alt text
	caption string
	// embedding marks a PCA scatter figure: the report shows it beside the
	// main table, not under Figures.
	embedding bool
}

// Figure geometry: 100 dpi, fonts sized to stay legible when the PNG is
// shown at page width.
const (
	dpi         = 100
	titleHeight = 0.45 * vg.Inch
)

// palette is the tab10 colour cycle minus its grey (kept for baselines);
// a method's colour is fixed by its position among all the report's methods.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

// dashes distinguish a method's option variants (the defaults are solid).
var dashes = [][]vg.Length{nil, {vg.Points(7), vg.Points(4)}, {vg.Points(2), vg.Points(3)}, {vg.Points(9), vg.Points(3), vg.Points(2), vg.Points(3)}}

// baseline line styles: raw pixels, random init, supervised, others.
var baselineStyles = map[string]draw.LineStyle{
	results.BaselineRawPixels:  {Color: color.RGBA{0x55, 0x55, 0x55, 0xff}, Width: vg.Points(1.6), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}},
	results.BaselineRandomInit: {Color: color.RGBA{0x99, 0x99, 0x99, 0xff}, Width: vg.Points(1.6), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}},
	results.BaselineSupervised: {Color: color.RGBA{0x00, 0x00, 0x00, 0xff}, Width: vg.Points(1.6), Dashes: []vg.Length{vg.Points(10), vg.Points(3), vg.Points(2), vg.Points(3)}},
}

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// renderPlots writes every figure the results support and returns them in
// report order.
func renderPlots(ctx context.Context, m *model, out string, log *slog.Logger) ([]figure, error) {
	var figs []figure
	for _, sm := range m.settings {
		var jobs []func() (*figure, error)
		for _, g := range curveGroups(sm) {
			jobs = append(jobs, func() (*figure, error) { return triptych(m, sm, g, out) })
		}
		for _, g := range embedGroups(sm) {
			if len(g.panels) == 0 {
				continue
			}
			jobs = append(jobs, func() (*figure, error) { return embeddingFigure(sm, g, out) })
		}
		jobs = append(jobs,
			func() (*figure, error) { return accVsEpochs(m, sm, out) },
			func() (*figure, error) { return accVsBatch(m, sm, out) },
			func() (*figure, error) { return accVsTime(m, sm, out) },
		)
		for _, job := range jobs {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("render plots: %w", err)
			}
			f, err := job()
			if err != nil {
				return nil, err
			}
			if f != nil {
				log.Debug("plot written", "file", f.file)
				figs = append(figs, *f)
			}
		}
	}
	return figs, nil
}

// --- Figure 2 triptych

// curveGroup is a set of variants whose curves are compared epoch by
// epoch: either all variants trained at one batch size and epoch budget
// (byBatch == false), or one method and options at one epoch budget across
// batch sizes (byBatch == true).
type curveGroup struct {
	byBatch       bool
	batch, epochs int // batch is 0 for a batch-size group
	variants      []*variant
}

// curveGroups returns the budget groups and the batch-size groups of a
// setting. A budget group with a single variant is dropped when a batch-size
// group already shows that variant.
func curveGroups(sm *settingModel) []curveGroup {
	var budget, batch []curveGroup
	bidx := map[[2]int]int{}
	sidx := map[string]int{}
	for _, v := range sm.variants {
		if len(curveRuns(v)) == 0 {
			continue
		}
		k := [2]int{v.batch, v.epochs}
		i, ok := bidx[k]
		if !ok {
			i = len(budget)
			bidx[k] = i
			budget = append(budget, curveGroup{batch: v.batch, epochs: v.epochs})
		}
		budget[i].variants = append(budget[i].variants, v)
		sk := v.method + "\x00" + v.optKey + "\x00" + itoa(v.epochs)
		j, ok := sidx[sk]
		if !ok {
			j = len(batch)
			sidx[sk] = j
			batch = append(batch, curveGroup{byBatch: true, epochs: v.epochs})
		}
		batch[j].variants = append(batch[j].variants, v)
	}
	shown := map[*variant]bool{}
	var out []curveGroup
	for _, g := range batch {
		if len(g.variants) >= 2 {
			for _, v := range g.variants {
				shown[v] = true
			}
		}
	}
	for _, g := range budget {
		if len(g.variants) >= 2 || !shown[g.variants[0]] {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].batch != out[j].batch {
			return out[i].batch < out[j].batch
		}
		return out[i].epochs < out[j].epochs
	})
	for _, g := range batch {
		if len(g.variants) >= 2 {
			sort.Slice(g.variants, func(i, j int) bool { return g.variants[i].batch < g.variants[j].batch })
			out = append(out, g)
		}
	}
	return out
}

// curveRuns are the runs whose per-epoch metrics are drawn: all that recorded
// any, except failed ones (their partial curves would distort the mean).
func curveRuns(v *variant) []*run {
	var out []*run
	for _, r := range v.runs {
		if len(r.metrics) > 0 && r.Status != results.StatusFailed {
			out = append(out, r)
		}
	}
	return out
}

// meanCurve averages f over the runs at each epoch any of them recorded.
func meanCurve(runs []*run, f func(results.EpochMetrics) float64) plotter.XYs {
	sums, counts := map[int]float64{}, map[int]int{}
	for _, r := range runs {
		for _, e := range r.metrics {
			y := f(e)
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			sums[e.Epoch] += y
			counts[e.Epoch]++
		}
	}
	var xys plotter.XYs
	for _, ep := range slices.Sorted(maps.Keys(sums)) {
		xys = append(xys, plotter.XY{X: float64(ep), Y: sums[ep] / float64(counts[ep])})
	}
	return xys
}

func triptych(m *model, sm *settingModel, g curveGroup, out string) (*figure, error) {
	loss, std, knn := newPlot("Training loss", "epoch", "loss (mean over the epoch)"),
		newPlot("Output std (l2-normalised)", "epoch", "per-channel std"),
		newPlot("kNN accuracy", "epoch", "kNN top-1 (%)")
	leg := newLegend()
	dims := map[int]bool{}
	var labels []string
	for k, v := range g.variants {
		runs := curveRuns(v)
		ls := m.lineStyle(sm, v)
		glyph := draw.GlyphDrawer(draw.CircleGlyph{})
		name := v.label()
		if g.byBatch {
			// One method: colour is shared, so dash and glyph tell batches apart.
			ls.Dashes, glyph = dashes[k%len(dashes)], glyphs[k%len(glyphs)]
			name = fmt.Sprintf("batch %d", v.batch)
		}
		label := fmt.Sprintf("%s, n=%d", name, len(runs))
		if c := v.collapsed(); c > 0 {
			label += fmt.Sprintf(", %d collapsed", c)
		}
		labels = append(labels, name)
		var thumbs []plot.Thumbnailer
		for _, panel := range []struct {
			p *plot.Plot
			f func(results.EpochMetrics) float64
		}{
			{loss, func(e results.EpochMetrics) float64 { return e.Loss }},
			{std, func(e results.EpochMetrics) float64 { return e.OutputStd }},
			{knn, func(e results.EpochMetrics) float64 { return 100 * e.KNNTop1 }},
		} {
			xys := meanCurve(runs, panel.f)
			if len(xys) == 0 {
				continue
			}
			l, s, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, fmt.Errorf("plot %s: %w", v.label(), err)
			}
			l.LineStyle = ls
			s.GlyphStyle = draw.GlyphStyle{Color: ls.Color, Radius: vg.Points(2.5), Shape: glyph}
			panel.p.Add(l, s)
			if thumbs == nil {
				thumbs = []plot.Thumbnailer{l, s}
			}
		}
		if thumbs != nil {
			leg.Add(label, thumbs...)
		}
		if d := v.outputDim(); d > 0 {
			dims[d] = true
		}
	}
	for i, d := range slices.Sorted(maps.Keys(dims)) {
		ref := 1 / math.Sqrt(float64(d))
		l := hline(ref, draw.LineStyle{Color: color.RGBA{0x55, 0x55, 0x55, 0xff}, Width: vg.Points(1.4), Dashes: dashes[1+i%(len(dashes)-1)]})
		std.Add(l)
		leg.Add(fmt.Sprintf("1/√d = %.3f (d=%d)", ref, d), l)
	}
	std.Y.Min = 0
	knn.Y.Min, knn.Y.Max = padRange(knn.Y.Min, knn.Y.Max, 0, 100)
	for _, p := range []*plot.Plot{loss, std, knn} {
		p.X.Tick.Marker = intTicks{}
		p.X.Min, p.X.Max = 0.5, float64(g.epochs)+0.5
	}
	if len(dims) > 0 {
		var maxRef float64
		for d := range dims {
			maxRef = math.Max(maxRef, 1/math.Sqrt(float64(d)))
		}
		std.Y.Max = math.Max(std.Y.Max, maxRef) * 1.08
	}
	title := fmt.Sprintf("%s, %s: batch %d, %d epochs", orDash(sm.label()), orDash(sm.Backbone), g.batch, g.epochs)
	file := fmt.Sprintf("curves-%s-b%d-e%d.png", slug(sm.fileKey(), sm.Backbone), g.batch, g.epochs)
	what := fmt.Sprintf("for %s at batch %d and %d epochs", strings.Join(labels, ", "), g.batch, g.epochs)
	if g.byBatch {
		v := g.variants[0]
		title = fmt.Sprintf("%s, %s: %s, %d epochs, by batch size", orDash(sm.label()), orDash(sm.Backbone), v.label(), g.epochs)
		file = fmt.Sprintf("curves-%s-%s-e%d-by-batch.png", slug(sm.fileKey(), sm.Backbone), slug(methodLabel(v.method, v.optKey)), g.epochs)
		what = fmt.Sprintf("for %s at %d epochs and %s", v.label(), g.epochs, strings.Join(labels, ", "))
	}
	if err := savePanels(filepath.Join(out, file), 13.5*vg.Inch, 4.8*vg.Inch, title, []*plot.Plot{loss, std, knn}, leg); err != nil {
		return nil, err
	}
	caption := fmt.Sprintf("Figure 2 style: training loss, per-channel std of the l2-normalised output and kNN top-1 per epoch, mean over seeds, %s. ", what)
	if len(dims) > 0 {
		caption += "The dashed grey line is the healthy std 1/√d; a collapsed run's std falls to 0."
	} else {
		caption += "The output width d was not recorded, so the 1/√d reference line is missing; a collapsed run's std falls to 0."
	}
	return &figure{setting: sm.Setting, file: file, title: "Training curves, " + title, caption: caption}, nil
}

// --- accuracy vs epochs / batch / wall time

// accLine is one line of an accuracy plot: a method variant's points, each
// a mean ± std over seeds.
type accLine struct {
	label string
	style draw.LineStyle
	glyph draw.GlyphDrawer
	pts   []accPoint
}

type accPoint struct {
	x           float64
	linear, knn Stat
}

// xAxis says how an accuracy plot's x axis is scaled and ticked.
type xAxis int

const (
	xTicksAtData    xAxis = iota // linear scale, a tick at every data x (epochs)
	xLogTicksAtData              // log scale, a tick at every data x (batch sizes)
	xAuto                        // linear scale from 0, automatic ticks (time)
)

var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{}, draw.CrossGlyph{}}

func accVsEpochs(m *model, sm *settingModel, out string) (*figure, error) {
	lines := m.accLines(sm, func(v *variant) (string, float64) {
		return fmt.Sprintf("%s, batch %d", v.label(), v.batch), float64(v.epochs)
	})
	if len(lines) == 0 {
		return nil, nil
	}
	file := fmt.Sprintf("acc-vs-epochs-%s.png", slug(sm.fileKey(), sm.Backbone))
	title := fmt.Sprintf("Accuracy vs epoch budget, %s, %s", orDash(sm.label()), orDash(sm.Backbone))
	if err := m.accFigure(sm, filepath.Join(out, file), title, "pre-training epochs", lines, xTicksAtData); err != nil {
		return nil, err
	}
	return &figure{setting: sm.Setting, file: file, title: title,
		caption: "Linear and kNN top-1 against the pre-training epoch budget (mean ± std over seeds as error bars), one line per method and batch size that ran at two or more budgets; the grey and black horizontal lines are the baselines."}, nil
}

func accVsBatch(m *model, sm *settingModel, out string) (*figure, error) {
	lines := m.accLines(sm, func(v *variant) (string, float64) {
		return fmt.Sprintf("%s, %d epochs", v.label(), v.epochs), float64(v.batch)
	})
	if len(lines) == 0 {
		return nil, nil
	}
	file := fmt.Sprintf("acc-vs-batch-%s.png", slug(sm.fileKey(), sm.Backbone))
	title := fmt.Sprintf("Accuracy vs batch size, %s, %s", orDash(sm.label()), orDash(sm.Backbone))
	if err := m.accFigure(sm, filepath.Join(out, file), title, "batch size (log scale)", lines, xLogTicksAtData); err != nil {
		return nil, err
	}
	return &figure{setting: sm.Setting, file: file, title: title,
		caption: "Linear and kNN top-1 against the pre-training batch size (Table 2 style; mean ± std over seeds), one line per method and epoch budget that ran at two or more batch sizes; horizontal lines are the baselines."}, nil
}

// accVsTime plots accuracy against training wall time, one line per method
// and batch size through its epoch budgets. Only the main-table variants
// are drawn (a collapsed ablation would squash the y axis; it is in the
// ablation table).
func accVsTime(m *model, sm *settingModel, out string) (*figure, error) {
	var maxWall float64
	wall := func(v *variant) float64 {
		var xs []float64
		for _, r := range v.evaluated() {
			if r.WallSeconds > 0 {
				xs = append(xs, r.WallSeconds)
			}
		}
		return statOf(xs).Mean
	}
	for _, v := range sm.variants {
		if sm.inMain(v) {
			maxWall = math.Max(maxWall, wall(v))
		}
	}
	if maxWall == 0 {
		return nil, nil
	}
	unit, div := "s", 1.0
	switch {
	case maxWall >= 2*3600:
		unit, div = "h", 3600
	case maxWall >= 120:
		unit, div = "min", 60
	}
	lines := m.accLinesMin(sm, 1, func(v *variant) (string, float64) {
		if wall(v) == 0 {
			return "", 0
		}
		return fmt.Sprintf("%s, batch %d", v.label(), v.batch), wall(v) / div
	})
	if len(lines) == 0 {
		return nil, nil
	}
	file := fmt.Sprintf("acc-vs-time-%s.png", slug(sm.fileKey(), sm.Backbone))
	title := fmt.Sprintf("Accuracy vs training wall time, %s, %s", orDash(sm.label()), orDash(sm.Backbone))
	if err := m.accFigure(sm, filepath.Join(out, file), title, "training wall time ("+unit+")", lines, xAuto); err != nil {
		return nil, err
	}
	return &figure{setting: sm.Setting, file: file, title: title,
		caption: "Linear and kNN top-1 against mean training wall time on the machine in the header; each line joins one method and batch size across its epoch budgets (more epochs, more time). Horizontal lines are the baselines; option ablations are left out (see their table)."}, nil
}

// accLines groups the main-table variants with numbers into lines keyed by
// lineOf, keeping lines with at least two points.
func (m *model) accLines(sm *settingModel, lineOf func(*variant) (string, float64)) []*accLine {
	return m.accLinesMin(sm, 2, lineOf)
}

// accLinesMin is accLines keeping lines with at least min points; a variant
// for which lineOf returns an empty key is skipped.
func (m *model) accLinesMin(sm *settingModel, min int, lineOf func(*variant) (string, float64)) []*accLine {
	var lines []*accLine
	idx := map[string]*accLine{}
	for _, v := range sm.variants {
		if !sm.inMain(v) {
			continue
		}
		lin := v.stat(func(r *run) float64 { return r.LinearTop1 })
		if lin.N == 0 {
			continue
		}
		key, x := lineOf(v)
		if key == "" {
			continue
		}
		l := idx[key]
		if l == nil {
			l = &accLine{label: key, style: m.lineStyle(sm, v)}
			idx[key] = l
			lines = append(lines, l)
		}
		l.pts = append(l.pts, accPoint{x: x, linear: lin, knn: v.stat(func(r *run) float64 { return r.KNNTop1 })})
	}
	var keep []*accLine
	perMethod := map[color.Color]int{}
	for _, l := range lines {
		if len(l.pts) < min {
			continue
		}
		sort.Slice(l.pts, func(i, j int) bool { return l.pts[i].x < l.pts[j].x })
		// Lines of one method share its colour; dash and glyph tell them apart.
		k := perMethod[l.style.Color]
		perMethod[l.style.Color]++
		if l.style.Dashes == nil {
			l.style.Dashes = dashes[k%len(dashes)]
		}
		l.glyph = glyphs[k%len(glyphs)]
		keep = append(keep, l)
	}
	return keep
}

// accFigure draws linear and kNN panels side by side with a shared legend.
func (m *model) accFigure(sm *settingModel, path, title, xlabel string, lines []*accLine, xa xAxis) error {
	lin := newPlot("Linear evaluation", xlabel, "linear top-1 (%)")
	knn := newPlot("kNN monitor (final epoch)", xlabel, "kNN top-1 (%)")
	leg := newLegend()
	xs := map[float64]bool{}
	for _, l := range lines {
		var thumbs []plot.Thumbnailer
		for pi, p := range []*plot.Plot{lin, knn} {
			var pts errPoints
			for _, pt := range l.pts {
				s := pt.linear
				if pi == 1 {
					s = pt.knn
				}
				if s.N == 0 {
					continue
				}
				pts = append(pts, errPoint{x: pt.x, y: 100 * s.Mean, e: 100 * s.Std})
				xs[pt.x] = true
			}
			if len(pts) == 0 {
				continue
			}
			ln, sc, err := plotter.NewLinePoints(pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", l.label, err)
			}
			ln.LineStyle = l.style
			sc.GlyphStyle = draw.GlyphStyle{Color: l.style.Color, Radius: vg.Points(3.5), Shape: l.glyph}
			eb, err := plotter.NewYErrorBars(pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", l.label, err)
			}
			eb.LineStyle = draw.LineStyle{Color: l.style.Color, Width: vg.Points(1.4)}
			eb.CapWidth = vg.Points(7)
			p.Add(ln, sc, eb)
			if thumbs == nil {
				thumbs = []plot.Thumbnailer{ln, sc}
			}
		}
		if thumbs != nil {
			leg.Add(l.label, thumbs...)
		}
	}
	addBaselines(sm, lin, knn, leg)
	ticks := sortedFloats(xs)
	for _, p := range []*plot.Plot{lin, knn} {
		p.Y.Min, p.Y.Max = padRange(p.Y.Min, p.Y.Max, 0, 100)
		switch xa {
		case xAuto:
			p.X.Min, p.X.Max = 0, ticks[len(ticks)-1]*1.08
			continue
		case xLogTicksAtData:
			p.X.Scale = plot.LogScale{}
			p.X.Min, p.X.Max = ticks[0]/1.3, ticks[len(ticks)-1]*1.3
		default:
			span := ticks[len(ticks)-1] - ticks[0]
			p.X.Min, p.X.Max = ticks[0]-0.1*span-0.5, ticks[len(ticks)-1]+0.1*span+0.5
		}
		var tk plot.ConstantTicks
		for _, x := range ticks {
			tk = append(tk, plot.Tick{Value: x, Label: trimFloat(x)})
		}
		p.X.Tick.Marker = tk
	}
	return savePanels(path, 10*vg.Inch, 5*vg.Inch, title, []*plot.Plot{lin, knn}, leg)
}

// addBaselines draws each baseline of the setting as a horizontal line on
// the linear and kNN panels and widens their y ranges to include it. Of a
// baseline trained at several budgets only the longest is drawn (labelled
// with its budget): same-styled lines per budget would not be told apart.
func addBaselines(sm *settingModel, lin, knn *plot.Plot, leg *plot.Legend) {
	for _, b := range sm.baselines {
		if longest, _ := sm.baseline(b.name); longest.Epochs != b.Epochs {
			continue
		}
		st, ok := baselineStyles[b.name]
		if !ok {
			st = draw.LineStyle{Color: color.RGBA{0x77, 0x77, 0x77, 0xff}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
		}
		l1 := hline(100*b.LinearTop1, st)
		lin.Add(l1)
		knn.Add(hline(100*b.KNNTop1, st))
		widen(lin, 100*b.LinearTop1)
		widen(knn, 100*b.KNNTop1)
		leg.Add(b.label()+" (baseline)", l1)
	}
}

// --- drawing helpers

// lineStyle gives a variant its method's colour and a dash pattern for its
// options (the defaults are solid).
func (m *model) lineStyle(sm *settingModel, v *variant) draw.LineStyle {
	ci := 0
	for i, name := range m.methods {
		if name == v.method {
			ci = i
		}
	}
	// Index of the options among this method's option sets in the setting.
	opts := map[string]bool{}
	for _, o := range sm.variants {
		if o.method == v.method {
			opts[o.optKey] = true
		}
	}
	di := 0
	for i, k := range slices.Sorted(maps.Keys(opts)) {
		if k == v.optKey {
			di = i
		}
	}
	return draw.LineStyle{Color: palette[ci%len(palette)], Width: vg.Points(2), Dashes: dashes[di%len(dashes)]}
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label} {
		st.Font.Typeface, st.Font.Variant = sans.Typeface, sans.Variant
	}
	p.Title.TextStyle.Font.Size = vg.Points(15)
	p.X.Label.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.TextStyle.Font.Size = vg.Points(13)
	p.X.Tick.Label.Font.Size = vg.Points(11)
	p.Y.Tick.Label.Font.Size = vg.Points(11)
	p.Title.Padding = vg.Points(6)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xe0}
	grid.Horizontal.Color = color.Gray{Y: 0xe0}
	p.Add(grid)
	return p
}

func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.Font{Typeface: sans.Typeface, Variant: sans.Variant, Size: vg.Points(11)}
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(30)
	l.Padding = vg.Points(4)
	return &l
}

// savePanels lays the plots out in one row (panelsW wide in all) under a
// title, with the legend in a column on the right as wide as its longest
// entry, and writes a PNG.
func savePanels(path string, panelsW, h vg.Length, title string, panels []*plot.Plot, leg *plot.Legend) error {
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Points(22), PadLeft: vg.Points(6), PadRight: vg.Points(6), PadBottom: vg.Points(4), PadTop: vg.Points(2)}
	return saveFigure(path, panelsW, h, title, [][]*plot.Plot{panels}, tiles, leg)
}

// saveFigure draws grid (nil cells stay empty) in tiles panelsW wide under a
// title, h high in all, with the legend in a column on the right as wide as
// its longest entry, and writes a PNG.
func saveFigure(path string, panelsW, h vg.Length, title string, grid [][]*plot.Plot, tiles draw.Tiles, leg *plot.Legend) error {
	lr := leg.Rectangle(draw.Canvas{})
	legendWidth := lr.Max.X - lr.Min.X + vg.Points(24)
	w := panelsW + legendWidth
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	ts := draw.TextStyle{
		Color: color.Black, Font: font.Font{Typeface: sans.Typeface, Variant: sans.Variant, Size: vg.Points(16)},
		XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler,
	}
	dc.FillText(ts, vg.Point{X: (w - legendWidth) / 2, Y: h - titleHeight/2}, title)
	area := draw.Crop(dc, 0, -legendWidth, 0, -titleHeight)
	canv := plot.Align(grid, tiles, area)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canv[i][j])
			}
		}
	}
	legArea := draw.Crop(dc, w-legendWidth+vg.Points(10), -vg.Points(4), vg.Points(4), -titleHeight-vg.Points(26))
	leg.Draw(legArea)
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	return nil
}

// hline is a horizontal line at y across the whole x range of its plot.
func hline(y float64, st draw.LineStyle) *plotter.Function {
	f := plotter.NewFunction(func(float64) float64 { return y })
	f.LineStyle = st
	f.Samples = 2
	return f
}

// widen extends a plot's y range to include y.
func widen(p *plot.Plot, y float64) {
	p.Y.Min = math.Min(p.Y.Min, y)
	p.Y.Max = math.Max(p.Y.Max, y)
}

// padRange adds 5% headroom on both sides, clamped to [lo, hi].
func padRange(min, max, lo, hi float64) (float64, float64) {
	if max < min {
		min, max = lo, hi
	}
	pad := 0.05 * (max - min)
	if pad == 0 {
		pad = 1
	}
	return math.Max(lo, min-pad), math.Min(hi, max+pad)
}

// intTicks marks whole numbers only (epochs), about six of them.
type intTicks struct{}

func (intTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	step := 1.0
	for (hi-lo)/step > 8 {
		switch {
		case step < 2:
			step = 2
		case step < 5:
			step = 5
		default:
			step *= 2
		}
	}
	var ts []plot.Tick
	for x := lo; x <= hi; x++ {
		if math.Mod(x, step) == 0 || step == 1 {
			ts = append(ts, plot.Tick{Value: x, Label: trimFloat(x)})
		}
	}
	return ts
}

type errPoint struct{ x, y, e float64 }

// errPoints implements plotter.XYer and plotter.YErrorer.
type errPoints []errPoint

func (p errPoints) Len() int                        { return len(p) }
func (p errPoints) XY(i int) (float64, float64)     { return p[i].x, p[i].y }
func (p errPoints) YError(i int) (float64, float64) { return p[i].e, p[i].e }

func sortedFloats(m map[float64]bool) []float64 {
	xs := make([]float64, 0, len(m))
	for x := range m {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	return xs
}

func trimFloat(x float64) string {
	if x == math.Trunc(x) {
		return fmt.Sprintf("%d", int64(x))
	}
	return fmt.Sprintf("%g", x)
}

// slug makes a file-name-safe identifier from parts.
func slug(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('-')
		}
		if p == "" {
			p = "none"
		}
		for _, r := range strings.ToLower(p) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
				b.WriteRune(r)
			default:
				b.WriteByte('-')
			}
		}
	}
	return b.String()
}
