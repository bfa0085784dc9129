package sweep

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/plugins/barlowtwins/barlowtwins"
	"github.com/siambench/siambench/plugins/byol/byol"
	"github.com/siambench/siambench/plugins/mocov2/mocov2"
	"github.com/siambench/siambench/plugins/simclr/simclr"
	"github.com/siambench/siambench/plugins/simsiam/simsiam"
	"github.com/siambench/siambench/plugins/swav/swav"
	"github.com/siambench/siambench/sdk"
)

// The shipped presets parse, validate and plan against the real methods'
// specs (so every option they set exists and is in range).
func TestPresets(t *testing.T) {
	real := map[string]sdk.Spec{
		"simsiam": simsiam.New().Describe(), "simsiam2x": simsiam.NewAsym2x().Describe(), "byol": byol.New().Describe(),
		"simclr": simclr.New().Describe(), "swav": swav.New().Describe(), "mocov2": mocov2.New().Describe(), "barlowtwins": barlowtwins.New().Describe(),
	}
	describe := func(_ context.Context, name string) (sdk.Spec, error) {
		s, ok := real[name]
		if !ok {
			return sdk.Spec{}, fmt.Errorf("no method %q", name)
		}
		return s, nil
	}
	if names := PresetNames(); !slices.Contains(names, "simsiam-paper") {
		t.Fatalf("presets %v", names)
	}
	for _, name := range PresetNames() {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Merge(Defaults(), c)
		p, err := MakePlan(context.Background(), cfg, describe, Code{Version: "test"})
		if err != nil {
			t.Fatalf("preset %s: %v", name, err)
		}
		if name != "simsiam-paper" {
			continue
		}
		// Table 4: 6 methods × 2 budgets × 3 seeds; 16 SimSiam variants
		// (options, batch sizes, simsiam2x) × 3 seeds at 4 epochs.
		if len(p.Runs) != 36+16*3 {
			t.Errorf("simsiam-paper plans %d runs, want %d", len(p.Runs), 36+16*3)
		}
		if got := cfg.AllEpochs(); !slices.Equal(got, []int{2, 4}) {
			t.Errorf("budgets %v", got)
		}
		var has []string
		for _, r := range p.Runs {
			has = append(has, fmt.Sprintf("%s b%d %s", r.Config.Method, r.Config.BatchSize, strings.Join(mapKV(r.Config.Options), ",")))
		}
		for _, want := range []string{"simsiam b64 stopgrad=false", "simsiam b512 ", "simsiam b64 head_bn=all", "simsiam2x b64 ", "simsiam b64 dim=256"} {
			if !slices.Contains(has, want) {
				t.Errorf("no run %q", want)
			}
		}
		if c.Preset != name || !slices.Contains(cfg.Argv(), "--preset") {
			t.Errorf("a preset sweep's Argv does not name it: %v", cfg.Argv())
		}
	}
	if _, err := Preset("nope"); err == nil || !strings.Contains(err.Error(), "simsiam-paper") {
		t.Errorf("unknown preset: %v", err)
	}
}

func mapKV(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}
