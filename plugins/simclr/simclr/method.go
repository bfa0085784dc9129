// Package simclr is SimCLR (Chen et al., ICML 2020, arXiv:2002.05709) as a
// siambench method: a 2-layer projector and the NT-Xent loss with 2B−2
// negatives per positive. See ../README.md.
package simclr

import (
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, H=hidden, K=dim.

// New returns an uninitialised SimCLR: two "simclr" views, negatives, SGD
// settings for small batches (see README).
func New() *kit.Method {
	return kit.NewMethod(sdk.Spec{
		Name: "simclr", Version: "1.0.0",
		Paper:       "Chen, Kornblith, Norouzi & Hinton, A Simple Framework for Contrastive Learning of Visual Representations, ICML 2020, arXiv:2002.05709",
		Description: "projector + NT-Xent: each view's positive is the other view of its image, the other 2B−2 views are negatives",
		Views:       []sdk.ViewSpec{{Count: 2, Preset: "simclr"}},
		Negatives:   true,
		Hyper:       sdk.Hyper{Optimizer: "sgd", BaseLR: 0.06, LRBatchDiv: 128, WeightDecay: 5e-4, Momentum: 0.9},
		Options: []sdk.OptionSpec{
			{Name: "temperature", Type: "float", Default: "0.5", Min: new(0.0), MinExclusive: true, Max: new(100.0), Help: "NT-Xent temperature τ (paper: 0.5 on CIFAR-10, 0.1 on ImageNet at batch 4096)"},
			{Name: "dim", Type: "int", Default: "128", Min: new(1.0), Help: "projection width (paper 128)"},
			{Name: "hidden", Type: "int", Default: "512", Min: new(1.0), Help: "projector hidden width (paper 2048)"},
		},
	}, build)
}

// model is SimCLR's heads: one projector.
type model struct {
	temp float64
	proj *nn.Sequential // D→H→K
}

// build makes the projector from the seed.
func build(b *kit.Build) (kit.Model, error) {
	temp, dim, hidden := b.FloatIn("temperature", 0, 100), b.IntAtLeast("dim", 1), b.IntAtLeast("hidden", 1)
	proj, err := kit.NewMLP(b.RNG(0x5c1), "projector", b.Config.FeatureDim,
		kit.Layer{Out: hidden, BN: kit.Affine, ReLU: true}, kit.Layer{Out: dim, BN: kit.NoBN})
	return &model{temp: temp, proj: proj}, err
}

func (m *model) Heads() kit.HeadSet { return kit.HeadSet{Train: []*nn.Sequential{m.proj}} }

// Loss is NT-Xent over both views' projections (one BN batch of 2B, as
// SimCLR normalises over the whole batch).
func (m *model) Loss(in sdk.StepInput) (kit.Loss, error) {
	loss, zn := NTXent(m.proj.Forward(nn.Concat(in.Views)), m.temp)
	pos, top1 := positives(zn.Data, in.Views[0].Dim(0), zn.Dim(1))
	return kit.Loss{Value: loss, Outputs: []*nn.Tensor{zn}, Metrics: map[string]float64{
		"pos_cos": pos,  // mean cosine of positive pairs
		"top1":    top1, // fraction of rows whose positive is their most similar row
	}}, nil
}
