package nn_test

import (
	"testing"

	"github.com/siambench/siambench/nn"
)

// BenchmarkBatchNorm1d times forward+backward of training-mode BN on a
// (512, 2048) head activation (SimSiam's projector width).
func BenchmarkBatchNorm1d(b *testing.B) {
	r := rng(1)
	x := req(nn.Randn(r, 1, 512, 2048))
	bn := nn.NewBatchNorm(2048, true)
	seed := nn.Randn(r, 1, 512, 2048).Data
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.ZeroGrad()
		y := bn.Forward(x)
		y.BackwardWith(seed)
		y.FreeGraph()
	}
}
