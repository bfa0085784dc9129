package reports

import (
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// PrintMainTable writes the main table (one table per setting: methods and
// baselines × epoch budgets, linear and kNN top-1 as mean ± std) to w as a
// plain-text terminal table. epochs gives each setting's column budgets, as
// in Report.Epochs; rows are printed in the order given.
func PrintMainTable(w io.Writer, rows []MainRow, epochs map[Setting][]int) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "No results to tabulate.")
		return err
	}
	var order []Setting
	seen := map[Setting]bool{}
	for _, r := range rows {
		if !seen[r.Setting] {
			seen[r.Setting] = true
			order = append(order, r.Setting)
		}
	}
	for i, s := range order {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(w, "%s, %s: top-1 %% (mean ± std over seeds, n = seeds)\n", orDash(s.label()), orDash(s.Backbone)); err != nil {
			return err
		}
		t := tablewriter.NewTable(w,
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithHeaderAlignment(tw.AlignLeft),
			tablewriter.WithRowAlignment(tw.AlignLeft),
		)
		hdr := []string{"method", "batch", "neg.", "mom. enc."}
		for _, e := range epochs[s] {
			hdr = append(hdr, fmt.Sprintf("linear %dep", e))
		}
		for _, e := range epochs[s] {
			hdr = append(hdr, fmt.Sprintf("kNN %dep", e))
		}
		t.Header(hdr)
		for _, r := range rows {
			if r.Setting != s {
				continue
			}
			line := []string{r.Label, "-", "-", "-"}
			if r.Baseline == "" {
				line = []string{r.Label, itoa(r.BatchSize), yesNo(r.Negatives), yesNo(r.MomentumEncoder)}
			} else {
				line[0] = r.Label + " (baseline)"
			}
			for _, c := range r.Cells {
				line = append(line, mainCell(r, c, c.Linear))
			}
			for _, c := range r.Cells {
				line = append(line, mainCell(r, c, c.KNN))
			}
			if err := t.Append(line); err != nil {
				return fmt.Errorf("print table: %w", err)
			}
		}
		if err := t.Render(); err != nil {
			return fmt.Errorf("print table: %w", err)
		}
		if anyFailed(rows, s) {
			if _, err := fmt.Fprintf(w, "%s some or all seeds of the cell failed; report.md (Runs without results) says why\n", failMark); err != nil {
				return err
			}
		}
	}
	return nil
}

// anyFailed reports whether a row of setting s has a failed run.
func anyFailed(rows []MainRow, s Setting) bool {
	for _, r := range rows {
		for _, c := range r.Cells {
			if r.Setting == s && c.Failed > 0 {
				return true
			}
		}
	}
	return false
}
