// Package report implements `bench report RESULTS_DIR`: paper-style Markdown
// tables and PNG plots from a sweep's stored results.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/reports"
)

// ReportOptions are the inputs of bench report.
type ReportOptions struct {
	IO     *iostreams.IO
	Logger *slog.Logger
	// Context bounds the work; RunE sets it from the command.
	Context context.Context

	// Dir is the results directory (the folder given to bench run --out).
	Dir string
	// OutDir is where report.md and the PNGs go; empty means Dir.
	OutDir string
	// Title heads the report; empty means the default title.
	Title string
	// NoTable skips printing the main table to the terminal.
	NoTable bool
	JSON    bool
}

// NewCmdReport returns the report command. When runF is non-nil it is called
// with the parsed options instead of runReport (for parse tests).
func NewCmdReport(f *factory.Factory, runF func(*ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{IO: f.IO, Logger: f.Logger}
	cmd := &cobra.Command{
		Use:   "report RESULTS_DIR",
		Short: "Write Markdown tables and PNG plots from stored results",
		Long: `Read the results a sweep stored in RESULTS_DIR (summary.json, runs/*/, baselines/)
and write RESULTS_DIR/report.md with PNG plots beside it: methods × epoch budgets
(the SimSiam paper's Table 4), batch-size sweep (Table 2), transfer (Table 5),
ablations of method options with the collapse flag, cost, and per-epoch training
curves (Figure 2). Numbers are mean ± std over seeds, shown beside the raw-pixel,
random-init and supervised baselines. The main table is also printed here.

The report is computed from the stored results alone and is deterministic: the
same results give byte-identical Markdown. Missing or damaged per-run files are
listed in the report as gaps; a missing summary.json is rebuilt from runs/,
a corrupt one is an error (delete it to rebuild the rows from runs/).`,
		Example: `  bench report results/default
  bench report results/default --out /tmp/report --title "SimSiam vs BYOL, 10 epochs"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("bench report takes one argument, the results directory (the folder given to bench run --out), got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return runReport(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.OutDir, "out", "o", "", "folder for report.md and the PNGs (default: RESULTS_DIR)")
	cmd.Flags().StringVar(&opts.Title, "title", "", "title of the report (default \"siambench report\")")
	cmd.Flags().BoolVar(&opts.NoTable, "no-table", false, "do not print the main table")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print what was written (report, plots, gaps) as JSON instead of the table")
	return cmd
}

// Written is what bench report --json prints: the files it wrote and the
// gaps it found (each names a file and what to do); the numbers themselves
// are in the results directory's summary.json.
type Written struct {
	Report string   `json:"report"`
	Plots  []string `json:"plots"`
	Gaps   []string `json:"gaps"`
}

func runReport(opts *ReportOptions) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Dir == "" {
		return errors.New("no results directory given: bench report RESULTS_DIR")
	}
	rep, err := reports.Generate(ctx, opts.Dir, reports.Options{OutDir: opts.OutDir, Title: opts.Title, Logger: opts.Logger})
	if err != nil {
		return err
	}
	if opts.JSON {
		b, _ := json.MarshalIndent(Written{Report: rep.Path, Plots: append([]string{}, rep.Plots...), Gaps: append([]string{}, rep.Gaps...)}, "", "  ")
		_, err := fmt.Fprintf(opts.IO.Out, "%s\n", b)
		return err
	}
	if !opts.NoTable {
		if err := rep.PrintTable(opts.IO.Out); err != nil {
			return err
		}
		fmt.Fprintln(opts.IO.Out)
	}
	fmt.Fprintf(opts.IO.Out, "Report: %s (%d plots)\n", rep.Path, len(rep.Plots))
	if n := len(rep.Gaps); n > 0 {
		// Each gap was logged as a warning; the report lists them too.
		fmt.Fprintf(opts.IO.ErrOut, "%d gap(s) in the results (missing or unreadable files); see \"Gaps in the results\" at the end of the report\n", n)
	}
	return nil
}
