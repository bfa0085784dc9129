// Package byol is BYOL (Grill et al., NeurIPS 2020, arXiv:2006.07733) as a
// siambench method: online projector and predictor, a target projector kept
// as an EMA of the online one (the host keeps the EMA target backbone), and
// the symmetric regression loss between normalised vectors. See ../README.md.
package byol

import (
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, H=hidden, K=dim (projection width).

// New returns an uninitialised BYOL: views byol1 and byol2, a
// cosine-scheduled EMA target from 0.99, and SGD settings for small batches
// (see README).
func New() *kit.Method {
	return kit.NewMethod(sdk.Spec{
		Name: "byol", Version: "1.0.0",
		Paper:       "Grill et al., Bootstrap Your Own Latent, NeurIPS 2020, arXiv:2006.07733",
		Description: "online projector + predictor regress an EMA target's projection; no negatives, momentum encoder",
		Views:       []sdk.ViewSpec{{Count: 1, Preset: "byol1"}, {Count: 1, Preset: "byol2"}},
		Target:      &sdk.TargetSpec{BaseMomentum: 0.99, Schedule: "cosine"},
		Hyper:       sdk.Hyper{Optimizer: "sgd", BaseLR: 0.06, LRBatchDiv: 128, WeightDecay: 5e-4, Momentum: 0.9},
		Options: []sdk.OptionSpec{
			{Name: "dim", Type: "int", Default: "128", Min: new(1.0), Help: "projection width K (paper 256)"},
			{Name: "hidden", Type: "int", Default: "512", Min: new(1.0), Help: "projector hidden width (paper 4096)"},
			{Name: "pred_hidden", Type: "int", Default: "0", Min: new(0.0), Help: "predictor hidden width; 0 = hidden (paper 4096)"},
		},
	}, build)
}

// model is BYOL's heads.
type model struct {
	proj, pred *nn.Sequential // online: D→H→K, K→H→K
	target     *nn.Sequential // EMA of proj (kit.Target), no gradients
}

func mlp(hidden, out int) []kit.Layer {
	return []kit.Layer{{Out: hidden, BN: kit.Affine, ReLU: true}, {Out: out, BN: kit.NoBN}}
}

// build makes the heads from the seed; kit.Method copies proj into target.
func build(b *kit.Build) (kit.Model, error) {
	dim, hidden, ph := b.IntAtLeast("dim", 1), b.IntAtLeast("hidden", 1), b.IntAtLeast("pred_hidden", 0)
	if ph == 0 {
		ph = hidden
	}
	rng := b.RNG(0xb701)
	proj, err := kit.NewMLP(rng, "projector", b.Config.FeatureDim, mlp(hidden, dim)...)
	if err != nil {
		return nil, err
	}
	pred, err := kit.NewMLP(rng, "predictor", dim, mlp(ph, dim)...)
	if err != nil {
		return nil, err
	}
	target, err := kit.NewMLP(rng, "target", b.Config.FeatureDim, mlp(hidden, dim)...)
	return &model{proj: proj, pred: pred, target: target}, err
}

func (m *model) Heads() kit.HeadSet {
	return kit.HeadSet{Train: []*nn.Sequential{m.proj, m.pred}, Targets: []kit.Target{{EMA: m.target, Online: m.proj}}}
}

// Loss: each view's prediction regresses the target projection of the
// other view, which gets no gradient.
func (m *model) Loss(in sdk.StepInput) (kit.Loss, error) {
	z1, z2 := m.proj.Forward(in.Views[0]), m.proj.Forward(in.Views[1])
	p1, p2 := m.pred.Forward(z1), m.pred.Forward(z2)
	var zt1, zt2 *nn.Tensor
	nn.NoGrad(func() { zt1, zt2 = m.target.Forward(in.Targets[0]), m.target.Forward(in.Targets[1]) })
	return kit.Loss{Value: Loss(p1, p2, zt1, zt2), Outputs: []*nn.Tensor{z1, z2}, Metrics: map[string]float64{
		"target_output_std": (kit.OutputStd(zt1) + kit.OutputStd(zt2)) / 2,
	}}, nil
}
