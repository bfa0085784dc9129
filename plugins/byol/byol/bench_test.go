package byol

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

// BenchmarkStep times one in-process step at the default options with a
// 64-wide backbone output and batch 256 (go test -bench Step -run '^$').
func BenchmarkStep(b *testing.B) {
	const batch, d = 256, 64
	m := sdk.InProcess(New())
	if err := m.Init(sdk.InitConfig{FeatureDim: d, BatchSize: batch, StepsPerEpoch: 100, TotalSteps: 1000}); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	spec := m.Describe()
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
		if _, err := m.Step(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
