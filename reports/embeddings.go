package reports

// The embedding figures: for each batch size and epoch budget of a setting's
// main table, a grid of 2-D PCA scatters of the test features (one panel per
// method, then the random-init backbone), coloured by class. The points were
// computed when the runs were evaluated (results.Embedding); nothing is
// recomputed here.

import (
	"bytes"
	"fmt"
	"image/color"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/siambench/siambench/results"
)

// classColours is the tab10 cycle, grey included; class i gets colour i mod 10.
var classColours = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
}

// embedPanel is one scatter of an embedding figure.
type embedPanel struct {
	label string // method (with seed) or baseline name
	emb   *results.Embedding
}

// embedGroup is the embedding figure of one batch size and epoch budget.
type embedGroup struct {
	batch, epochs int
	panels        []embedPanel // the methods in main-table order, then random init
	missing       []string     // methods (or the baseline) with no stored embedding
}

// embedGroups returns a group for each batch size and epoch budget of the
// setting's main-table variants with numbers, in (batch, epochs) order; a
// group with no panels has no figure (its runs predate embeddings).
func embedGroups(sm *settingModel) (groups []embedGroup) {
	idx := map[[2]int]int{}
	var all []embedGroup
	for _, v := range sm.variants { // sorted: method, options, batch, epochs
		if !sm.inMain(v) || len(v.evaluated()) == 0 {
			continue
		}
		k := [2]int{v.batch, v.epochs}
		i, ok := idx[k]
		if !ok {
			i = len(all)
			idx[k] = i
			all = append(all, embedGroup{batch: v.batch, epochs: v.epochs})
		}
		g := &all[i]
		var pick *run
		for _, r := range v.evaluated() { // by seed: the lowest seed that stored one
			if r.embedding != nil {
				pick = r
				break
			}
		}
		if pick == nil {
			g.missing = append(g.missing, v.label())
			continue
		}
		label := v.label()
		if len(v.runs) > 1 {
			label += fmt.Sprintf(", seed %d", pick.Seed)
		}
		g.panels = append(g.panels, embedPanel{label: label, emb: pick.embedding})
	}
	ri, hasRI := sm.baseline(results.BaselineRandomInit)
	for _, g := range all {
		switch {
		case len(g.panels) == 0:
		case hasRI && ri.embedding != nil:
			g.panels = append(g.panels, embedPanel{label: baselineLabel(ri.name), emb: ri.embedding})
		case hasRI:
			g.missing = append(g.missing, baselineLabel(ri.name))
		}
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].batch != groups[j].batch {
			return groups[i].batch < groups[j].batch
		}
		return groups[i].epochs < groups[j].epochs
	})
	return groups
}

// embeddingFile is the PNG of a group.
func embeddingFile(sm *settingModel, g embedGroup) string {
	return fmt.Sprintf("embedding-%s-b%d-e%d.png", slug(sm.fileKey(), sm.Backbone), g.batch, g.epochs)
}

// embeddingFigure draws a group's panels in a grid of at most four columns,
// with one class legend on the right.
func embeddingFigure(sm *settingModel, g embedGroup, out string) (*figure, error) {
	var panels []*plot.Plot
	for _, p := range g.panels {
		e := p.emb
		pl := newPlot(fmt.Sprintf("%s\nPC1 %.1f%%, PC2 %.1f%% of variance", p.label, 100*e.ExplainedVariance[0], 100*e.ExplainedVariance[1]), "PC1", "PC2")
		pl.Title.TextStyle.Font.Size = vg.Points(13)
		pts := make(plotter.XYs, len(e.X))
		for i := range e.X {
			pts[i] = plotter.XY{X: e.X[i], Y: e.Y[i]}
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, fmt.Errorf("embedding of %s: %w", p.label, err)
		}
		sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
			return draw.GlyphStyle{Color: classColours[e.Label[i]%len(classColours)], Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		}
		pl.Add(sc)
		panels = append(panels, pl)
	}
	names := g.panels[0].emb.Classes
	leg := newLegend()
	for i, name := range names[:min(len(names), len(classColours))] {
		sc, err := plotter.NewScatter(plotter.XYs{{}})
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: classColours[i], Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		leg.Add(name, sc)
	}
	file := embeddingFile(sm, g)
	title := fmt.Sprintf("Test features in 2-D (PCA), %s, %s: batch %d, %d epochs", orDash(sm.label()), orDash(sm.Backbone), g.batch, g.epochs)
	if err := saveGrid(filepath.Join(out, file), 3.6*vg.Inch, title, panels, leg); err != nil {
		return nil, err
	}
	e := g.panels[0].emb
	caption := fmt.Sprintf("Each panel: backbone features of %s test images, %s, l2-normalised and projected on their first two principal components (PCA fitted per panel, so axes are not comparable across panels); one dot per image, coloured by class.",
		orDash(e.Dataset), strings.TrimSuffix(e.Subset, "."))
	if len(names) > len(classColours) {
		caption += fmt.Sprintf(" Colours repeat every %d classes; the legend shows the first %d.", len(classColours), len(classColours))
	}
	return &figure{setting: sm.Setting, file: file, title: title, caption: caption, embedding: true}, nil
}

// saveGrid lays the panels out in rows of at most four, each panel side
// wide and high, under a title, with the legend on the right, and writes a PNG.
func saveGrid(path string, side vg.Length, title string, panels []*plot.Plot, leg *plot.Legend) error {
	cols := min(len(panels), 4)
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		for j := range grid[i] {
			if k := i*cols + j; k < len(panels) {
				grid[i][j] = panels[k]
			}
		}
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(22), PadY: vg.Points(14), PadLeft: vg.Points(6), PadRight: vg.Points(6), PadBottom: vg.Points(4), PadTop: vg.Points(2)}
	return saveFigure(path, vg.Length(cols)*side, vg.Length(rows)*side+titleHeight, title, grid, tiles, leg)
}

// writeEmbeddings writes, under the main table, the setting's embedding
// figures with a one-line reading guide, or one line saying why there are none.
func writeEmbeddings(b *bytes.Buffer, h string, sm *settingModel, figs []figure) {
	groups := embedGroups(sm)
	if len(groups) == 0 {
		return
	}
	fmt.Fprintf(b, "%s Embeddings of the test features\n\n", h)
	var without []string
	for _, g := range groups {
		if len(g.panels) == 0 {
			without = append(without, fmt.Sprintf("batch %d, %d epochs", g.batch, g.epochs))
		}
	}
	if len(without) == len(groups) {
		fmt.Fprintf(b, "No scatter of the features: none of these runs stored an `%s` (they were evaluated by an older bench; rerun them to record it).\n\n", results.EmbeddingFile)
		return
	}
	for _, g := range groups {
		if len(g.panels) == 0 {
			continue
		}
		file := embeddingFile(sm, g)
		for _, f := range figs {
			if f.embedding && f.setting == sm.Setting && f.file == file {
				fmt.Fprintf(b, "![%s](%s)\n\n*%s*\n\n", f.title, f.file, f.caption)
			}
		}
		fmt.Fprintf(b, "How to read it: the more a trained method's classes form separate clumps than the random-init backbone's, the more the features alone tell the classes apart (what kNN and the linear probe measure); a panel whose points shrink to a dot or a line has collapsed.\n\n")
		if len(g.missing) > 0 {
			fmt.Fprintf(b, "No scatter for %s at batch %d, %d epochs: %s (an older bench stored no `%s`; rerun to record it).\n\n",
				strings.Join(g.missing, ", "), g.batch, g.epochs, plural(len(g.missing), "its result predates embeddings", "their results predate embeddings"), results.EmbeddingFile)
		}
	}
	if len(without) > 0 {
		fmt.Fprintf(b, "No scatter at %s: no run there stored an `%s` (evaluated by an older bench; rerun to record it).\n\n", strings.Join(without, "; "), results.EmbeddingFile)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
