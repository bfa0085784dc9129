package reports

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"strings"

	"github.com/siambench/siambench/reports/stats"
)

// paperFinding is one of the SimSiam paper's findings (Chen & He, CVPR
// 2021; ImageNet, ResNet-50, 100-epoch linear evaluation, as
// ../shared/ANCHORS.md records them) as a comparison a sweep can hold: a
// SimSiam variant against SimSiam's defaults at the same budget.
type paperFinding struct {
	what    string // "no stop-gradient (Figure 2)"
	method  string // the variant's method ("" means simsiam)
	options string // the variant's canonical options ("" for a batch size)
	batch   int    // a Table 2 finding: the variant's batch size, against batch 64
	paper   string // the paper's numbers, default → variant
	// delta is the paper's variant − default in points; NaN when it gives
	// no number (training unstable).
	delta    float64
	collapse bool // the paper's finding is a collapse
}

// paperFindings are the findings bench run --preset simsiam-paper covers.
// The default projector here is 512 wide, so the output-dimension rows
// compare with the paper's 512 (67.2).
var paperFindings = []paperFinding{
	{what: "no stop-gradient (Figure 2)", options: "stopgrad=false", paper: "67.7 → 0.1, collapses", delta: -67.6, collapse: true},
	{what: "no stop-gradient, no BN on the projector's output (Figure 2)", options: "head_bn=hidden,stopgrad=false", paper: "collapses (as with the output BN)", delta: math.NaN(), collapse: true},
	{what: "no predictor (Table 1a)", options: "predictor=false", paper: "68.1 → 0.1, collapses", delta: -68.0, collapse: true},
	{what: "predictor frozen at random init (Table 1b)", options: "pred_frozen=true", paper: "68.1 → 1.5", delta: -66.6},
	{what: "predictor lr decayed (Table 1c)", options: "pred_lr_fixed=false", paper: "68.1 → 67.7", delta: -0.4},
	{what: "batch 128 (Table 2)", batch: 128, paper: "66.1 (batch 64) → 67.3", delta: 1.2},
	{what: "batch 256 (Table 2)", batch: 256, paper: "66.1 → 68.1", delta: 2.0},
	{what: "batch 512 (Table 2)", batch: 512, paper: "66.1 → 68.1", delta: 2.0},
	{what: "no BN on the heads (Table 3a)", options: "head_bn=none", paper: "68.1 → 34.6", delta: -33.5},
	{what: "BN on hidden layers only (Table 3b)", options: "head_bn=hidden", paper: "68.1 → 67.4", delta: -0.7},
	{what: "BN also on the predictor's output (Table 3d)", options: "head_bn=all", paper: "68.1 → unstable", delta: math.NaN()},
	{what: "cross-entropy similarity (Section 4.5)", options: "similarity=xent", paper: "68.1 → 63.2", delta: -4.9},
	{what: "asymmetric loss (Section 4.6)", options: "symmetric=false", paper: "68.1 → 64.8", delta: -3.3},
	{what: "asymmetric 2×: two pairs per image (Section 4.6)", method: "simsiam2x", paper: "68.1 → 67.3", delta: -0.8},
	{what: "output dimension 256 (Table C)", options: "dim=256", paper: "67.2 (d 512) → 65.3", delta: -1.9},
	{what: "output dimension 2048 (Table C)", options: "dim=2048", paper: "67.2 (d 512) → 68.1", delta: 0.9},
}

// findingRow is a finding as this sweep shows it at one budget.
type findingRow struct {
	f                 paperFinding
	batch, epochs     int
	linear, knn       stats.Summary // variant − defaults, per seed
	collapsed, issues int           // of the variant's runs: collapsed; diverged or failed
	runs              int
}

// findingRows pairs each finding's variant with SimSiam's defaults, at
// every budget the variant ran.
func (sm *settingModel) findingRows() []findingRow {
	var out []findingRow
	for _, f := range paperFindings {
		for _, v := range sm.variants {
			if !strings.EqualFold(v.method, cmp.Or(f.method, "simsiam")) || v.optKey != f.options || f.batch != 0 && v.batch != f.batch {
				continue
			}
			refBatch := v.batch
			if f.batch != 0 {
				refBatch = 64 // the paper's Table 2 rows are against batch 64
			}
			ref := sm.find(func(r *variant) bool {
				return isSimSiam(r.method) && r.optKey == "" && r.batch == refBatch && r.epochs == v.epochs
			})
			if ref == nil {
				continue
			}
			row := findingRow{f: f, batch: v.batch, epochs: v.epochs, runs: len(v.runs), collapsed: v.collapsed()}
			row.linear, row.knn = pairedWith(v, ref)
			for _, r := range v.runs {
				if !r.hasNumbers() {
					row.issues++
				}
			}
			out = append(out, row)
		}
	}
	return out
}

// verdict says whether the row reproduces the paper's finding, from the
// paired interval (and, for a collapse, from the collapse monitor).
func (r findingRow) verdict() string {
	d := r.linear
	switch {
	case r.f.collapse && r.collapsed > 0 && r.collapsed == r.runs:
		return fmt.Sprintf("**reproduced**: collapsed in all %d runs", r.runs)
	case r.f.collapse && r.collapsed > 0:
		return fmt.Sprintf("partly: collapsed in %d of %d runs", r.collapsed, r.runs)
	case math.IsNaN(r.f.delta) && !r.f.collapse:
		if r.collapsed+r.issues > 0 {
			return fmt.Sprintf("**reproduced**: %d of %d runs collapsed, diverged or failed", r.collapsed+r.issues, r.runs)
		}
		return "not reproduced: every run trained"
	case d.N == 0:
		return "no paired runs finished"
	case !d.HasInterval():
		return "one seed: no verdict (rerun with --seeds 0,1,2)"
	case d.ContainsZero() && !math.IsNaN(r.f.delta) && math.Abs(r.f.delta) < 1:
		return fmt.Sprintf("not distinguishable at %d seeds; the paper's difference is under a point too", d.N)
	case d.ContainsZero():
		return fmt.Sprintf("cannot show at this scale: not distinguishable at %d seeds", d.N)
	case r.f.collapse:
		if d.Mean < 0 {
			return "partly: worse, but no collapse here"
		}
		return "**not reproduced**: better here, no collapse"
	case (d.Mean < 0) == (r.f.delta < 0):
		return "**reproduced** (the same direction)"
	}
	return "**not reproduced**: the opposite direction here"
}

// writePaperFindings renders the paper's findings that the setting's
// SimSiam variants cover.
func writePaperFindings(b *bytes.Buffer, h string, sm *settingModel) {
	rows := sm.findingRows()
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "%s The SimSiam paper's findings at this scale\n\n", h)
	var body [][]string
	for _, r := range rows {
		body = append(body, []string{r.f.what, r.f.paper, itoa(r.batch), itoa(r.epochs), itoa(r.linear.N), diffCell(r.linear), r.verdict(), diffCell(r.knn)})
	}
	writeTable(b, []string{"finding", "paper (ImageNet, 100 epochs, linear %)", "batch", "epochs", "n", "here: linear Δ vs defaults (points)", "verdict (linear)", "here: kNN Δ"}, body)
	fmt.Fprintf(b, "How to read it: the paper's column is ResNet-50 on ImageNet (Chen & He, CVPR 2021), default → variant; ours is the mean per-seed "+
		"difference of linear accuracy, variant minus SimSiam's defaults at the same epoch budget (batch 64 for the batch-size rows), "+
		"with its 95%% Student-t interval over seeds. *Reproduced*: the interval excludes 0 on the paper's side (or the runs collapse where the paper's did); "+
		"*cannot show at this scale*: the interval contains 0, so these seeds neither confirm nor refute it; *not reproduced*: the interval excludes 0 on the other side. "+
		"The verdict reads the linear probe, the paper's measure; the kNN column (the same pairing) is shown beside it, as short runs can move one and not the other. "+
		"`bench run --preset simsiam-paper` runs all of them.\n\n")
}
