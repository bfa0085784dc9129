package sdktest

import (
	"context"
	randv2 "math/rand/v2"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

// BenchStep times m's Step in-process (through sdk.InProcess, as Serve runs
// it) at the options' defaults, with a 64-wide backbone output and batch
// 256: random features for every view and, when the spec asks for a
// target, for every target. A method's step benchmark is one line:
//
//	func BenchmarkStep(b *testing.B) { sdktest.BenchStep(b, New()) }
func BenchStep(b *testing.B, m sdk.Method) {
	b.Helper()
	const batch, d = 256, 64
	g := sdk.InProcess(m)
	if err := g.Init(sdk.InitConfig{FeatureDim: d, BatchSize: batch, StepsPerEpoch: 100, TotalSteps: 1000}); err != nil {
		b.Fatal(err)
	}
	rng := randv2.New(randv2.NewPCG(1, 1))
	spec := g.Describe()
	in := sdk.StepInput{Epoch: 1, LR: 0.05, BaseLR: 0.05}
	for v := 0; v < spec.NumViews(); v++ {
		in.Views = append(in.Views, nn.Randn(rng, 1, batch, d))
		if spec.Target != nil {
			in.Targets = append(in.Targets, nn.Randn(rng, 1, batch, d))
			in.Momentum = 0.99
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := g.Step(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
