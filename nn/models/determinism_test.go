package models

import (
	"math"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
)

// TestDeterministicTraining trains two reference networks built from the
// same seed on the same batches (parallel kernels, pooled buffers, dirty
// reuse through FreeGraph) and requires bit-identical parameters and
// running statistics.
func TestDeterministicTraining(t *testing.T) {
	run := func() []*nn.Param {
		net := NewRefNetClassifier(1, 10, rng(31))
		opt := optim.NewSGD([]optim.Group{{Params: net.Params(), WeightDecay: 1e-4}}, 0.9, true)
		r := rng(32)
		for step := 0; step < 3; step++ {
			x := nn.Randn(r, 1, 48, 1, 12, 12)
			labels := make([]int, 48)
			for i := range labels {
				labels[i] = r.IntN(10)
			}
			opt.ZeroGrad()
			loss := nn.CrossEntropy(net.Forward(x), labels)
			loss.Backward()
			opt.Step(0.05)
			loss.FreeGraph()
		}
		return append(net.Params(), net.Buffers()...)
	}
	a, b := run(), run()
	for i := range a {
		for j := range a[i].T.Data {
			if math.Float32bits(a[i].T.Data[j]) != math.Float32bits(b[i].T.Data[j]) {
				t.Fatalf("%s[%d] differs between identical runs: %g vs %g", a[i].Name, j, a[i].T.Data[j], b[i].T.Data[j])
			}
		}
	}
}
