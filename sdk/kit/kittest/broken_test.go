package kittest

// Small methods, each in a full and a broken variant, that prove the
// learning check fails a method that optimises only part of its objective.
//
// Shapes: N = batch, D = encoder feature dim, K = projector output width.

import (
	"math"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

const testK = 32 // projector output width of the test methods

// lossMethod is a projector D → 64 → K and loss on the two views' projections.
func lossMethod(name string, loss func(z1, z2 *nn.Tensor) *nn.Tensor) *kit.Method {
	return kit.NewMethod(sdk.Spec{Name: name, Version: "0", Views: []sdk.ViewSpec{{Count: 2, Preset: "simsiam"}},
		Hyper: sdk.Hyper{Optimizer: "sgd", BaseLR: 0.1, WeightDecay: 1e-4, Momentum: 0.9}},
		func(b *kit.Build) (kit.Model, error) {
			proj, err := kit.NewMLP(b.RNG(1), "proj", b.Config.FeatureDim,
				kit.Layer{Out: 64, BN: kit.Affine, ReLU: true}, kit.Layer{Out: testK, BN: kit.NoBN})
			return &lossModel{proj, loss}, err
		})
}

type lossModel struct {
	proj *nn.Sequential
	loss func(z1, z2 *nn.Tensor) *nn.Tensor
}

func (m *lossModel) Heads() kit.HeadSet { return kit.HeadSet{Train: []*nn.Sequential{m.proj}} }
func (m *lossModel) Loss(in sdk.StepInput) (kit.Loss, error) {
	z1, z2 := m.proj.Forward(in.Views[0]), m.proj.Forward(in.Views[1])
	return kit.Loss{Value: m.loss(z1, z2), Outputs: []*nn.Tensor{z1}}, nil
}

// barlow is Barlow Twins' loss Σ(1−C_ii)² + λΣ_{i≠j}C_ij² (arXiv:2103.03230);
// λ = 0 drops the redundancy-reduction term.
func barlow(lambda float64) func(z1, z2 *nn.Tensor) *nn.Tensor {
	return func(z1, z2 *nn.Tensor) *nn.Tensor {
		n, k := z1.Dim(0), z1.Dim(1)
		a := nn.BatchNorm(z1, nil, nil, nil, nil, true, 0, 1e-5)
		b := nn.BatchNorm(z2, nil, nil, nil, nil, true, 0, 1e-5)
		c := nn.Scale(nn.MatMul(a, b, true, false), float32(1/float64(n))) // (K,K)
		eye, w := nn.Zeros(k, k), nn.Full(float32(lambda), k, k)
		for i := 0; i < k; i++ {
			eye.Data[i*k+i], w.Data[i*k+i] = 1, 1
		}
		return nn.SumAll(nn.Mul(nn.Square(nn.Sub(c, eye)), w))
	}
}

// ntXent is SimCLR's loss (arXiv:2002.05709) at temperature 0.2: each of
// the 2N projections picks its positive among the other 2N−1.
func ntXent(z1, z2 *nn.Tensor) *nn.Tensor {
	n := z1.Dim(0)
	zn := nn.L2Normalize(nn.Concat([]*nn.Tensor{z1, z2}), 1e-12)       // (2N,K)
	logits := nn.Scale(nn.MatMul(zn, zn, false, true), float32(1/0.2)) // (2N,2N)
	mask := nn.Zeros(2*n, 2*n)                                         // −∞ on the diagonal: no self-pairs
	labels := make([]int, 2*n)
	for i := range labels {
		mask.Data[i*2*n+i] = -1e9
		labels[i] = (i + n) % (2 * n)
	}
	return nn.CrossEntropy(nn.Add(logits, mask), labels)
}

// positiveOnly is NT-Xent without its negatives: −mean cos(z1, z2).
func positiveOnly(z1, z2 *nn.Tensor) *nn.Tensor {
	return nn.Neg(nn.MeanAll(nn.CosineSimilarity(z1, z2)))
}

// swapped is SwAV's swapped prediction (arXiv:2006.09882) with the K
// projector outputs as prototype scores: each view predicts the other's
// codes. With equipartition the codes are Sinkhorn's (every prototype used
// equally over the batch); without, they are the other view's softmax, and
// every image can go to one prototype.
func swapped(equipartition bool) func(z1, z2 *nn.Tensor) *nn.Tensor {
	return func(z1, z2 *nn.Tensor) *nn.Tensor {
		s1, s2 := nn.L2Normalize(z1, 1e-12), nn.L2Normalize(z2, 1e-12) // scores (N,K)
		codes := func(s *nn.Tensor) []float32 {
			if equipartition {
				return sinkhorn(s.Data, s.Dim(0), s.Dim(1), 0.05, 3)
			}
			var q []float32
			nn.NoGrad(func() { q = nn.Softmax(nn.Scale(s.Detach(), 1/0.1)).Data })
			return q
		}
		q1, q2 := nn.New(codes(s1), s1.Shape()...), nn.New(codes(s2), s2.Shape()...)
		ce := func(q, s *nn.Tensor) *nn.Tensor {
			return nn.Neg(nn.SumAll(nn.Mul(q, nn.LogSoftmax(nn.Scale(s, 1/0.1)))))
		}
		return nn.Scale(nn.Add(ce(q2, s1), ce(q1, s2)), float32(0.5/float64(z1.Dim(0))))
	}
}

// sinkhorn returns codes (N,K) from scores (N,K): exp(scores/eps) scaled
// in turn so that each prototype gets N/K of the mass and each image 1.
func sinkhorn(scores []float32, n, k int, eps float64, iters int) []float32 {
	q := make([]float64, n*k)
	for i, s := range scores {
		q[i] = math.Exp(float64(s) / eps)
	}
	for it := 0; it < iters; it++ {
		for j := 0; j < k; j++ {
			var s float64
			for i := 0; i < n; i++ {
				s += q[i*k+j]
			}
			for i := 0; i < n; i++ {
				q[i*k+j] /= s * float64(k)
			}
		}
		for i := 0; i < n; i++ {
			var s float64
			for j := 0; j < k; j++ {
				s += q[i*k+j]
			}
			for j := 0; j < k; j++ {
				q[i*k+j] /= s
			}
		}
	}
	out := make([]float32, n*k)
	for i, v := range q {
		out[i] = float32(v)
	}
	return out
}

// TestLearnsCatchesPartialObjectives: each full loss passes Learns, and the
// same loss without its anti-collapse term fails it.
func TestLearnsCatchesPartialObjectives(t *testing.T) {
	for _, tc := range []struct {
		name     string
		loss     func(z1, z2 *nn.Tensor) *nn.Tensor
		wantFail bool
	}{
		{"barlow twins", barlow(1.0 / testK), false},
		{"barlow twins without off-diagonal", barlow(0), true},
		{"nt-xent", ntXent, false},
		{"nt-xent without negatives", positiveOnly, true},
		{"swapped prediction", swapped(true), false},
		{"swapped prediction without equipartition", swapped(false), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Train(t.Context(), lossMethod(tc.name, tc.loss), Config{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v", res)
			why := Check(res, testK)
			if failed := len(why) > 0; failed != tc.wantFail {
				t.Errorf("Check fails = %v, want %v; reasons: %q", failed, tc.wantFail, why)
			}
		})
	}
}
