package run

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/results"
)

// The terminal's summary rounds as the report's tables do: 2000 test images
// give ties such as 0.7755, which %.1f of 77.55 prints as 77.5 while the
// report shows 77.6.
func TestPrintSummaryRoundsLikeTheReport(t *testing.T) {
	dir := t.TempDir()
	sum := results.Summary{
		Runs: []results.SummaryRun{{ID: "byol-x", Status: results.StatusCompleted, KNNTop1: 0.6725, LinearTop1: 0.7755}},
		Baselines: map[string]results.Baseline{
			results.BaselineRawPixels: {KNNTop1: 0.7915, LinearTop1: 0.8055},
		},
	}
	if err := results.WriteJSON(filepath.Join(dir, results.SummaryFile), sum); err != nil {
		t.Fatal(err)
	}
	io, _, out, _ := iostreams.Test()
	if err := printSummary(&RunOptions{IO: io}, dir); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"67.3%   77.6%", "79.2%   80.6%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
