// Package reports turns a sweep's stored results (see package results) into
// paper-style Markdown tables and PNG plots: the SimSiam paper's Table 4
// (methods × epoch budgets), Table 2 (batch-size sweep), Table 5 (transfer),
// the ablation tables with a collapse flag, a cost table, and Figure 2's
// triptych of loss, output std and kNN accuracy per epoch.
//
// Everything is computed from the files in the results directory alone, and
// the output is deterministic: the same results give byte-identical Markdown
// and PNGs (rows are sorted, maps are never iterated in their own order, and
// the report's date is the newest run's finish time stored in the results,
// never the clock).
//
// Accuracies are stored as fractions in [0,1] and shown as percentages.
// Every number is a mean over the seeds that produced it, shown as
// "mean ± sample std (n=seeds)".
package reports

import (
	"github.com/siambench/siambench/atomicfile"

	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// ReportFile is the name of the Markdown report inside the output folder.
const ReportFile = "report.md"

// Options tunes Generate. The zero value is usable.
type Options struct {
	// OutDir is where report.md and the PNGs are written. If empty, the
	// results directory itself is used.
	OutDir string
	// Title heads the report. If empty, "siambench report" is used.
	Title string
	// Logger receives progress and gap warnings. If nil, nothing is logged.
	Logger *slog.Logger
}

// Report is what Generate wrote.
type Report struct {
	// Path is the Markdown file written (OUT/report.md).
	Path string
	// Plots are the PNG files written, in the order the report shows them.
	Plots []string
	// Main holds the rows of the main table (methods × epoch budgets, then
	// the baselines), in the report's order.
	Main []MainRow
	// Epochs are the epoch budgets that head the main table's columns,
	// per setting (dataset and backbone), in ascending order.
	Epochs map[Setting][]int
	// Gaps lists what was missing or unreadable in the results: each entry
	// names the file and what to do. The report shows them too.
	Gaps []string
}

// Setting is a pre-training dataset and backbone: runs are compared only
// within one setting.
type Setting struct {
	Dataset  string
	Eval     string // the evaluation dataset when it is not Dataset (bench run --eval-dataset)
	Backbone string
}

// evaluation is the dataset the setting's backbones were evaluated on.
func (s Setting) evaluation() string {
	if s.Eval != "" {
		return s.Eval
	}
	return s.Dataset
}

// label names the setting's data in titles: "X", or "X, evaluated on Y".
func (s Setting) label() string {
	if s.Eval == "" {
		return s.Dataset
	}
	return s.Dataset + ", evaluated on " + s.Eval
}

// fileKey names the setting's data in figure file names.
func (s Setting) fileKey() string {
	if s.Eval == "" {
		return s.Dataset
	}
	return s.Dataset + "-eval-" + s.Eval
}

// Stat is a mean and sample standard deviation over N seeds, with the 95%
// Student-t interval [Lo, Hi] for the mean (reports/stats). N == 0 means no
// run produced the number; Std, Lo and Hi are 0 when N < 2.
type Stat struct {
	Mean, Std float64
	Lo, Hi    float64
	N         int
}

// MainCell is one epoch budget of a main-table row.
type MainCell struct {
	Epochs int
	Linear Stat // linear top-1 in [0,1]
	KNN    Stat // final-epoch kNN top-1 in [0,1]
	// Runs is how many runs were planned for this cell (all statuses);
	// Runs > Linear.N means some seeds failed or did not finish.
	Runs int
	// Collapsed is how many of those runs collapsed.
	Collapsed int
	// Failed is how many of those runs failed (an error stopped them): the
	// cell then reads "failed ‡" or carries the ‡ mark, never a 0.0%.
	Failed int
}

// MainRow is one row of the main (Table 4 style) table. A baseline row has
// Baseline set and no batch size; an untrained baseline has the same numbers
// in every cell, the supervised one those trained at each cell's budget
// (N == 0 where none was).
type MainRow struct {
	Setting
	// Label is the method's name, with its options when they are not the
	// defaults, or the baseline's display name.
	Label           string
	Method          string
	Options         string // canonical "k=v,k2=v2"; empty for the defaults
	Baseline        string // baseline name (results.BaselineRawPixels, ...), empty for a method
	BatchSize       int
	Negatives       bool
	MomentumEncoder bool
	// Cells follow Report.Epochs[Setting]; a missing budget has N == 0.
	Cells []MainCell
}

// Generate reads the sweep stored in dir, writes OUT/report.md and its PNG
// plots (OUT is opts.OutDir, or dir), and returns what it wrote.
//
// It fails with an error naming the file when dir holds no results or when
// summary.json is corrupt. Missing or unreadable per-run files (metrics,
// status, config) are not fatal: the report marks them as gaps and says what
// to do. ctx is checked between plots.
func Generate(ctx context.Context, dir string, opts Options) (*Report, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sw, err := load(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, g := range sw.gaps {
		log.Warn("results gap", "gap", g)
	}
	out := opts.OutDir
	if out == "" {
		out = dir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("create report folder %s: %w", out, err)
	}
	m := buildModel(sw)

	figs, err := renderPlots(ctx, m, out, log)
	if err != nil {
		return nil, err
	}
	title := opts.Title
	if title == "" {
		title = "siambench report"
	}
	md := renderMarkdown(m, title, figs)
	path := filepath.Join(out, ReportFile)
	if err := atomicfile.WriteFile(path, md); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	rep := &Report{
		Path:   path,
		Main:   m.mainRows(),
		Epochs: map[Setting][]int{},
		Gaps:   append([]string(nil), sw.gaps...),
	}
	for _, s := range m.settings {
		rep.Epochs[s.Setting] = s.epochs
	}
	for _, f := range figs {
		rep.Plots = append(rep.Plots, filepath.Join(out, f.file))
	}
	log.Info("report written", "path", path, "plots", len(rep.Plots), "gaps", len(rep.Gaps))
	return rep, nil
}

// PrintTable writes the report's main table (methods × epoch budgets, linear
// and kNN top-1 as mean ± std, then the baselines) to w as a terminal table.
// It is what bench run and bench report print when they finish.
func (r *Report) PrintTable(w io.Writer) error {
	return PrintMainTable(w, r.Main, r.Epochs)
}
