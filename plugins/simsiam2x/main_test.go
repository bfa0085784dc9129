package main

import (
	"testing"

	"github.com/siambench/siambench/plugins/simsiam/simsiam"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit/kittest"
)

// The real plugin binary: its describe mode reports four views, and served
// over gRPC it gives bit-identical steps and state to the method in-process.
func TestPluginBinary(t *testing.T) {
	kittest.RunBinary(t, ".", func() sdk.Method { return simsiam.NewAsym2x() }, sdk.InitConfig{FeatureDim: 16, BatchSize: 8, StepsPerEpoch: 2, TotalSteps: 6, Seed: 4,
		Options: map[string]string{"dim": "32", "hidden": "32"}}, 4)
}
