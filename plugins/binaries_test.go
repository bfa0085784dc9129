// Package plugins_test checks every built-in plugin binary the way bench
// uses it. (Each plugin is its own main package under plugins/NAME; this
// test-only package holds the one check they share.)
package plugins_test

import (
	"testing"

	"github.com/siambench/siambench/plugins/barlowtwins/barlowtwins"
	"github.com/siambench/siambench/plugins/byol/byol"
	"github.com/siambench/siambench/plugins/mocov2/mocov2"
	"github.com/siambench/siambench/plugins/simclr/simclr"
	"github.com/siambench/siambench/plugins/simsiam/simsiam"
	"github.com/siambench/siambench/plugins/swav/swav"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit/kittest"
)

// TestPluginBinaries builds each plugin (go build ./NAME): its describe
// mode reports the method's spec, and served over gRPC it gives
// bit-identical steps and state to the method in-process (skipped with
// -short).
func TestPluginBinaries(t *testing.T) {
	small := map[string]string{"dim": "16", "hidden": "32"}
	for _, p := range []struct {
		dir  string
		new  func() sdk.Method
		opts map[string]string
	}{
		{"barlowtwins", func() sdk.Method { return barlowtwins.New() }, small},
		{"byol", func() sdk.Method { return byol.New() }, small},
		{"mocov2", func() sdk.Method { return mocov2.New() }, small},
		{"simclr", func() sdk.Method { return simclr.New() }, small},
		{"simsiam", func() sdk.Method { return simsiam.New() }, map[string]string{"dim": "32", "hidden": "32"}},
		{"simsiam2x", func() sdk.Method { return simsiam.NewAsym2x() }, map[string]string{"dim": "32", "hidden": "32"}},
		// a queue of 16 with batch 8: full after two steps, so the checked steps use it
		{"swav", func() sdk.Method { return swav.New() }, map[string]string{"dim": "16", "hidden": "32", "prototypes": "12", "queue": "16", "freeze_epochs": "0"}},
	} {
		t.Run(p.dir, func(t *testing.T) {
			kittest.RunBinary(t, "./"+p.dir, p.new, sdk.InitConfig{FeatureDim: 16, BatchSize: 8, StepsPerEpoch: 2, TotalSteps: 6, Seed: 4, Options: p.opts}, 4)
		})
	}
}
