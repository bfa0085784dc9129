package reports

import (
	"fmt"
	"strings"
	"testing"

	"github.com/siambench/siambench/results"
)

// memSweep builds a sweep in memory: per method, its linear top-1 per seed
// (kNN = linear − 0.01), plus raw-pixel and random-init baselines.
func memSweep(linear map[string][]float64) *sweep {
	sw := &sweep{baselines: []baseline{
		{key: "raw_pixels", name: results.BaselineRawPixels, Baseline: results.Baseline{LinearTop1: 0.80, KNNTop1: 0.80}},
		{key: "random_init", name: results.BaselineRandomInit, Baseline: results.Baseline{LinearTop1: 0.70, KNNTop1: 0.70}},
	}}
	for method, xs := range linear {
		for seed, x := range xs {
			sw.runs = append(sw.runs, &run{SummaryRun: results.SummaryRun{
				ID: fmt.Sprintf("%s-s%d", method, seed), Method: method, Dataset: "default", Backbone: "refnet",
				BatchSize: 128, Epochs: 4, Seed: int64(seed), Status: results.StatusCompleted,
				LinearTop1: x, KNNTop1: x - 0.01,
			}})
		}
	}
	return sw
}

func comparisonRow(t *testing.T, md, label string) string {
	t.Helper()
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| "+label+" |") {
			return line
		}
	}
	t.Fatalf("no %q row in\n%s", label, md)
	return ""
}

func TestPairedComparisons(t *testing.T) {
	t.Run("three seeds: pairing shows a consistent gain", func(t *testing.T) {
		// byol − simsiam per seed: +1.1, +1.0, +1.2 (mean +1.1, s = 0.1,
		// half-width 4.3027·0.1/√3 = 0.248): [+0.85, +1.35] — although the
		// seeds' spread (≈ 1.5 points) would hide it unpaired.
		sw := memSweep(map[string][]float64{
			"simsiam": {0.820, 0.850, 0.835},
			"byol":    {0.831, 0.860, 0.847},
		})
		md := string(renderMarkdown(buildModel(sw), "t", nil))
		row := comparisonRow(t, md, "byol − simsiam")
		if !strings.Contains(row, "| 3 | +1.1 [+0.9, +1.3] |") || strings.Contains(row, "not distinguishable") {
			t.Errorf("byol − simsiam: %s", row)
		}
		// simsiam − raw pixels: +2.0, +5.0, +3.5 (s = 1.5, half-width 3.73):
		// [−0.2, +7.2] contains 0
		row = comparisonRow(t, md, "simsiam − raw pixels")
		if !strings.Contains(row, "+3.5 [−0.2, +7.2], not distinguishable at 3 seeds") {
			t.Errorf("simsiam − raw pixels: %s", row)
		}
		// the main table's guide says the same, not a bare difference
		if !strings.Contains(md, "not distinguishable from raw pixels (80.0%) at 3 seeds (+3.5 points, 95% interval [−0.2, +7.2])") {
			t.Errorf("main guide lacks the raw-pixel verdict:\n%s", md)
		}
		if !strings.Contains(md, "13.5 points above the random-init backbone (70.0%; 95% interval [+9.8, +17.2] over 3 seeds)") {
			t.Errorf("main guide lacks the random-init verdict:\n%s", md)
		}
		if strings.Contains(md, "One seed per number") {
			t.Error("three seeds: no single-seed warning wanted")
		}
		// a 95% interval in the main table: simsiam 83.5 ± 1.5, [79.8, 87.2]
		if !strings.Contains(md, "83.5 ± 1.5 [79.8, 87.2] (n=3)") {
			t.Errorf("main table lacks simsiam's interval:\n%s", md)
		}
	})
	t.Run("one seed: no interval, and the report says so", func(t *testing.T) {
		sw := memSweep(map[string][]float64{"simsiam": {0.82}, "byol": {0.83}})
		md := string(renderMarkdown(buildModel(sw), "t", nil))
		if !strings.Contains(md, "differences below about 2 points between single-seed numbers are not evidence") {
			t.Errorf("single-seed warning missing:\n%s", md)
		}
		if row := comparisonRow(t, md, "byol − simsiam"); !strings.Contains(row, "+1.0 (1 seed: no interval)") {
			t.Errorf("byol − simsiam: %s", row)
		}
	})
	t.Run("seeds pair by seed, not by position", func(t *testing.T) {
		sw := memSweep(map[string][]float64{"simsiam": {0.80, 0.90, 0.85}, "byol": {0.81, 0.91, 0.86}})
		// drop byol's seed 1: the pair is over seeds 0 and 2 (+1.0, +1.0)
		var keep []*run
		for _, r := range sw.runs {
			if !(r.Method == "byol" && r.Seed == 1) {
				keep = append(keep, r)
			}
		}
		sw.runs = keep
		md := string(renderMarkdown(buildModel(sw), "t", nil))
		if row := comparisonRow(t, md, "byol − simsiam"); !strings.Contains(row, "| 2 | +1.0 [+1.0, +1.0] |") {
			t.Errorf("byol − simsiam: %s", row)
		}
	})
}

// The paper's findings: each SimSiam variant of the preset against the
// defaults, with a verdict that follows the paired interval.
func TestPaperFindings(t *testing.T) {
	sw := memSweep(map[string][]float64{"simsiam": {0.80, 0.82, 0.81}})
	method := "simsiam"
	add := func(opts map[string]string, batch int, status string, linear ...float64) {
		for seed, x := range linear {
			r := &run{SummaryRun: results.SummaryRun{
				ID: fmt.Sprintf("v%d-%s-b%d-s%d", len(sw.runs), optionsKey(opts), batch, seed), Method: method, Options: opts, Dataset: "default", Backbone: "refnet",
				BatchSize: batch, Epochs: 4, Seed: int64(seed), Status: status, LinearTop1: x, KNNTop1: x,
			}, optKey: optionsKey(opts)}
			sw.runs = append(sw.runs, r)
		}
	}
	for _, r := range sw.runs { // the defaults at batch 64, the Table 2 reference
		r.BatchSize = 64
	}
	add(map[string]string{"stopgrad": "false"}, 64, results.StatusCollapsed, 0.30, 0.31, 0.29)
	add(map[string]string{"similarity": "xent"}, 64, results.StatusCompleted, 0.78, 0.80, 0.79) // −2 each seed
	add(map[string]string{"dim": "2048"}, 64, results.StatusCompleted, 0.79, 0.83, 0.81)        // −1, +1, 0
	add(map[string]string{"symmetric": "false"}, 64, results.StatusCompleted, 0.82, 0.84, 0.83) // +2: the opposite of the paper
	add(nil, 256, results.StatusCompleted, 0.81)                                                // one seed
	method = "simsiam2x"
	add(nil, 64, results.StatusCompleted, 0.79, 0.81, 0.80) // −1 each seed
	md := string(renderMarkdown(buildModel(sw), "t", nil))
	for label, want := range map[string]string{
		"no stop-gradient (Figure 2)":                      "**reproduced**: collapsed in all 3 runs",
		"cross-entropy similarity (Section 4.5)":           "| −2.0 [",
		"output dimension 2048 (Table C)":                  "not distinguishable at 3 seeds; the paper's difference is under a point too",
		"asymmetric loss (Section 4.6)":                    "**not reproduced**: the opposite direction here",
		"batch 256 (Table 2)":                              "one seed: no verdict",
		"asymmetric 2×: two pairs per image (Section 4.6)": "**reproduced** (the same direction)",
	} {
		if row := comparisonRow(t, md, label); !strings.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
	if row := comparisonRow(t, md, "cross-entropy similarity (Section 4.5)"); !strings.Contains(row, "**reproduced** (the same direction)") {
		t.Errorf("xent row: %s", row)
	}
	// kNN: the variant's equals its linear, the defaults' is linear − 0.01.
	if row := comparisonRow(t, md, "cross-entropy similarity (Section 4.5)"); !strings.HasSuffix(row, "| −1.0 [−1.0, −1.0] |") {
		t.Errorf("xent row lacks the kNN difference beside the linear one: %s", row)
	}
	if strings.Contains(md, "no predictor (Table 1a)") {
		t.Error("a finding the sweep did not run is shown")
	}
}
