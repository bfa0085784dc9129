// Package barlowtwins is Barlow Twins (Zbontar et al., ICML 2021,
// arXiv:2103.03230) as a siambench method: a 3-layer projector and the
// cross-correlation loss (invariance on the diagonal, redundancy reduction
// off it). No negatives, no momentum encoder, no stop-gradient. See
// ../README.md.
package barlowtwins

import (
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, H=hidden, K=dim.

// New returns an uninitialised Barlow Twins.
func New() *kit.Method {
	return kit.NewMethod(sdk.Spec{
		Name: "barlowtwins", Version: "1.0.0",
		Paper:       "Zbontar, Jing, Misra, LeCun & Deny, Barlow Twins: Self-Supervised Learning via Redundancy Reduction, ICML 2021, arXiv:2103.03230",
		Description: "projector + cross-correlation of the two views' standardised projections: diagonal → 1 (invariance), off-diagonal → 0 (redundancy reduction)",
		Views:       []sdk.ViewSpec{{Count: 1, Preset: "byol1"}, {Count: 1, Preset: "byol2"}}, // BYOL's asymmetric pair, as the paper
		Hyper:       sdk.Hyper{Optimizer: "sgd", BaseLR: 0.05, LRBatchDiv: 256, WeightDecay: 5e-4, Momentum: 0.9},
		Options: []sdk.OptionSpec{
			{Name: "dim", Type: "int", Default: "512", Min: new(2.0), Help: "projector output width K (paper 8192)"},
			{Name: "hidden", Type: "int", Default: "512", Min: new(1.0), Help: "projector hidden width (paper 8192)"},
			{Name: "lambda", Type: "float", Default: "0", Min: new(0.0), Help: "weight λ of the off-diagonal term; 0 means 1/dim (paper 0.0051 at dim 8192)"},
			{Name: "scale", Type: "float", Default: "0", Min: new(0.0), Help: "factor on the whole loss; 0 means 1/dim, so the loss is a per-channel mean whatever the width"},
		},
	}, build)
}

// model is Barlow Twins' heads: one projector.
type model struct {
	lambda, scale float64
	proj          *nn.Sequential // D→H→H→K
}

func build(b *kit.Build) (kit.Model, error) {
	dim, hidden := b.IntAtLeast("dim", 2), b.IntAtLeast("hidden", 1)
	m := &model{lambda: b.Opts.Float("lambda"), scale: b.Opts.Float("scale")}
	if m.lambda == 0 {
		m.lambda = 1 / float64(dim)
	}
	if m.scale == 0 {
		m.scale = 1 / float64(dim)
	}
	var err error
	m.proj, err = kit.NewMLP(b.RNG(0xba27), "projector", b.Config.FeatureDim,
		kit.Layer{Out: hidden, BN: kit.Affine, ReLU: true}, kit.Layer{Out: hidden, BN: kit.Affine, ReLU: true},
		kit.Layer{Out: dim, BN: kit.NoBN})
	return m, err
}

func (m *model) Heads() kit.HeadSet { return kit.HeadSet{Train: []*nn.Sequential{m.proj}} }

// Loss is the cross-correlation loss of the two views' projections (each
// view its own BN batch, as in the paper's code).
func (m *model) Loss(in sdk.StepInput) (kit.Loss, error) {
	z1, z2 := m.proj.Forward(in.Views[0]), m.proj.Forward(in.Views[1])
	loss, c := Loss(z1, z2, m.lambda, m.scale)
	on, off := diagonals(c.Data, c.Dim(0))
	return kit.Loss{Value: loss, Outputs: []*nn.Tensor{z1, z2}, Metrics: map[string]float64{
		"on_diag":     on,  // mean C_ii: 1 when every channel is invariant
		"off_diag_sq": off, // mean C_ij² over i ≠ j: 0 when the channels are decorrelated
	}}, nil
}

// diagonals returns the mean diagonal entry of the (K,K) matrix c and the
// mean square of its off-diagonal entries.
func diagonals(c []float32, k int) (on, offSq float64) {
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			v := float64(c[i*k+j])
			if i == j {
				on += v
			} else {
				offSq += v * v
			}
		}
	}
	return on / float64(k), offSq / float64(k*(k-1))
}
