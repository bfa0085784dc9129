// Package simsiam is SimSiam (Chen & He, CVPR 2021, arXiv:2011.10566) as a
// siambench method: a 3-layer projector, a bottleneck predictor and the
// symmetric negative cosine with stop-gradient, plus the options that
// reproduce the paper's ablations. See ../README.md for what follows the
// paper and what is scaled for small images.
package simsiam

import (
	"fmt"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, K=dim (projector output), H=hidden.

// New returns an uninitialised SimSiam: two "simsiam" views, no target,
// SGD with the paper's lr 0.05·bs/256, wd 1e-4, momentum 0.9.
func New() kit.DetachedMethod { return kit.NewDetachedMethod(spec(), build) }

// NewAsym2x returns SimSiam's "asymmetric 2×" (paper Section 4.6), the
// method simsiam2x: two pairs of views per image, each pair with the
// asymmetric loss D(p1, sg(z2)), averaged over the pairs, so it computes
// as many loss terms as the symmetric loss (the paper: 67.3 against the
// symmetric 68.1 and the asymmetric 64.8). Its views are part of its spec,
// hence a method of its own rather than an option.
func NewAsym2x() kit.DetachedMethod {
	s := spec()
	s.Name, s.Description = "simsiam2x", "SimSiam's asymmetric 2×: two pairs of views per image, the asymmetric loss on each (paper Section 4.6)"
	s.Views = []sdk.ViewSpec{{Count: 4, Preset: "simsiam"}}
	for i := range s.Options {
		if s.Options[i].Name == "symmetric" {
			s.Options[i].Default = "false"
		}
	}
	return kit.NewDetachedMethod(s, build)
}

func spec() sdk.Spec {
	return sdk.Spec{
		Name: "simsiam", Version: "1.0.0",
		Paper:       "Chen & He, Exploring Simple Siamese Representation Learning, CVPR 2021, arXiv:2011.10566",
		Description: "projector + predictor, symmetric negative cosine with stop-gradient; no negatives, no momentum encoder",
		Views:       []sdk.ViewSpec{{Count: 2, Preset: "simsiam"}},
		Hyper:       sdk.Hyper{Optimizer: "sgd", BaseLR: 0.05, LRBatchDiv: 256, WeightDecay: 1e-4, Momentum: 0.9},
		Options: []sdk.OptionSpec{
			{Name: "stopgrad", Type: "bool", Default: "true", Help: "stop-gradient on the target branch (false collapses: paper Fig. 2)"},
			{Name: "predictor", Type: "bool", Default: "true", Help: "use the predictor; false = identity (paper Table 1a)"},
			{Name: "symmetric", Type: "bool", Default: "true", Help: "symmetrised loss; false = D(p1, z2) only (paper Table 5)"},
			{Name: "pred_lr_fixed", Type: "bool", Default: "true", Help: "predictor lr not decayed (paper Table 1c)"},
			{Name: "pred_frozen", Type: "bool", Default: "false", Help: "predictor kept at its random init, never trained (paper Table 1b: does not work)"},
			{Name: "head_bn", Type: "enum", Default: "default", Choices: []string{"none", "hidden", "default", "all"},
				Help: "BN in the heads (paper Table 3): none; hidden layers only; + projector output (default); + predictor output"},
			{Name: "similarity", Type: "enum", Default: "cosine", Choices: []string{"cosine", "xent"}, Help: "D(p,z): negative cosine or cross-entropy (paper Table 4)"},
			{Name: "dim", Type: "int", Default: "512", Min: new(1.0), Help: "projector output width K (paper 2048, Table 6)"},
			{Name: "hidden", Type: "int", Default: "512", Min: new(1.0), Help: "projector hidden width (paper 2048)"},
			{Name: "pred_hidden", Type: "int", Default: "0", Min: new(0.0), Help: "predictor bottleneck width; 0 = dim/4 (paper 512 for 2048)"},
		},
	}
}

// model is SimSiam's heads and its ablation switches.
type model struct {
	stopgrad, symmetric, predFixed, xent bool
	predFrozen                           bool
	proj                                 *nn.Sequential // D→H→H→K
	pred                                 *nn.Sequential // K→K/4→K; nil with predictor=false
}

// heads returns the projector and predictor layer lists for the options.
func heads(headBN string, dim, hidden, predHidden int) (proj, pred []kit.Layer) {
	hid, out, predOut := kit.Affine, kit.Plain, kit.NoBN
	switch headBN {
	case "none":
		hid, out = kit.NoBN, kit.NoBN
	case "hidden":
		out = kit.NoBN
	case "all":
		predOut = kit.Affine
	}
	proj = []kit.Layer{{Out: hidden, BN: hid, ReLU: true}, {Out: hidden, BN: hid, ReLU: true}, {Out: dim, BN: out}}
	pred = []kit.Layer{{Out: predHidden, BN: hid, ReLU: true}, {Out: dim, BN: predOut}}
	return proj, pred
}

// build makes the heads from the seed.
func build(b *kit.Build) (kit.DetachedModel, error) {
	dim, hidden, ph := b.IntAtLeast("dim", 1), b.IntAtLeast("hidden", 1), b.IntAtLeast("pred_hidden", 0)
	if ph == 0 {
		ph = max(1, dim/4)
	}
	o := b.Opts
	m := &model{stopgrad: o.Bool("stopgrad"), symmetric: o.Bool("symmetric"), predFixed: o.Bool("pred_lr_fixed"), xent: o.String("similarity") == "xent",
		predFrozen: o.Bool("pred_frozen")}
	projL, predL := heads(o.String("head_bn"), dim, hidden, ph)
	rng := b.RNG(0x51a5)
	var err error
	if m.proj, err = kit.NewMLP(rng, "projector", b.Config.FeatureDim, projL...); err != nil {
		return nil, err
	}
	if o.Bool("predictor") {
		m.pred, err = kit.NewMLP(rng, "predictor", dim, predL...)
	}
	return m, err
}

// Heads: the predictor trains at the un-decayed lr with pred_lr_fixed.
func (m *model) Heads() kit.HeadSet {
	if m.predFrozen {
		return kit.HeadSet{Train: []*nn.Sequential{m.proj}, Frozen: []*nn.Sequential{m.pred}}
	}
	if m.predFixed {
		return kit.HeadSet{Train: []*nn.Sequential{m.proj}, Fixed: []*nn.Sequential{m.pred}}
	}
	return kit.HeadSet{Train: []*nn.Sequential{m.proj, m.pred}}
}

// Loss is D(p1, sg(z2))/2 + D(p2, sg(z1))/2 (see Loss in loss.go).
func (m *model) Loss(in sdk.StepInput) (kit.Loss, error) { return m.loss(in, nil) }

// LossDetached computes the stop-gradient targets from detached instead of
// in.Views (kit.DetachedModel); without stop-gradient it is Loss.
func (m *model) LossDetached(in sdk.StepInput, detached []*nn.Tensor) (kit.Loss, error) {
	if !m.stopgrad {
		detached = nil
	}
	return m.loss(in, detached)
}

func (m *model) loss(in sdk.StepInput, detached []*nn.Tensor) (kit.Loss, error) {
	if b := in.Views[0].Dim(0); b < 2 {
		return kit.Loss{}, fmt.Errorf("%w: batch of %d: SimSiam's BatchNorm heads need at least 2 images per step", sdk.ErrBadInput, b)
	}
	if len(in.Views)%2 != 0 {
		return kit.Loss{}, fmt.Errorf("%w: %d views: SimSiam takes views in pairs", sdk.ErrBadInput, len(in.Views))
	}
	d := NegCosine
	if m.xent {
		d = CrossEntropy
	}
	// Each pair of views (2 for simsiam, 4 for simsiam2x) gives its loss;
	// with several pairs the loss is their mean.
	var loss *nn.Tensor
	var outputs []*nn.Tensor
	for k := 0; k < len(in.Views); k += 2 {
		z1, z2 := m.proj.Forward(in.Views[k]), m.proj.Forward(in.Views[k+1])
		p1, p2 := z1, z2
		if m.pred != nil {
			p1, p2 = m.pred.Forward(z1), m.pred.Forward(z2)
		}
		t1, t2 := z1, z2
		switch {
		case !m.stopgrad:
		case detached == nil:
			t1, t2 = z1.Detach(), z2.Detach()
		default:
			nn.NoGrad(func() {
				t1, t2 = kit.ForwardKeepStats(m.proj, detached[k]), kit.ForwardKeepStats(m.proj, detached[k+1])
			})
		}
		l := Loss(d, p1, p2, t1, t2, m.symmetric)
		if loss == nil {
			loss = l
		} else {
			loss = nn.Add(loss, l)
		}
		outputs = append(outputs, z1, z2)
	}
	if pairs := len(in.Views) / 2; pairs > 1 {
		loss = nn.Scale(loss, float32(1/float64(pairs)))
	}
	return kit.Loss{Value: loss, Outputs: outputs}, nil
}
