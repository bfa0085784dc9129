// Package simsiam is SimSiam (Chen & He, CVPR 2021, arXiv:2011.10566) as a
// siambench method: a 3-layer projector, a bottleneck predictor and the
// symmetric negative cosine with stop-gradient, plus the options that
// reproduce the paper's ablations. See ../README.md for what follows the
// paper and what is scaled for small images.
package simsiam

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, K=dim (projector output), H=hidden.

// Method is SimSiam. The zero value is not usable; call New, then Init.
type Method struct {
	opts                                 kit.Options
	stopgrad, symmetric, predFixed, xent bool
	proj                                 *nn.Sequential // D→H→H→K
	pred                                 *nn.Sequential // K→K/4→K; nil with predictor=false
	opt                                  *kit.HeadOptimizer
	steps                                int64
}

var (
	_ sdk.Method          = (*Method)(nil)
	_ sdk.DetachedStepper = (*Method)(nil)
)

// New returns an uninitialised SimSiam.
func New() *Method { return &Method{} }

// Describe returns SimSiam's spec: two "simsiam" views, no target, SGD with
// the paper's lr 0.05·bs/256, wd 1e-4, momentum 0.9.
func (m *Method) Describe() sdk.Spec {
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
			{Name: "head_bn", Type: "enum", Default: "default", Choices: []string{"none", "hidden", "default", "all"},
				Help: "BN in the heads (paper Table 3): none; hidden layers only; + projector output (default); + predictor output"},
			{Name: "similarity", Type: "enum", Default: "cosine", Choices: []string{"cosine", "xent"}, Help: "D(p,z): negative cosine or cross-entropy (paper Table 4)"},
			{Name: "dim", Type: "int", Default: "512", Min: new(1.0), Help: "projector output width K (paper 2048, Table 6)"},
			{Name: "hidden", Type: "int", Default: "512", Min: new(1.0), Help: "projector hidden width (paper 2048)"},
			{Name: "pred_hidden", Type: "int", Default: "0", Min: new(0.0), Help: "predictor bottleneck width; 0 = dim/4 (paper 512 for 2048)"},
		},
	}
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

// Init parses the options and builds the heads from cfg.Seed.
func (m *Method) Init(cfg sdk.InitConfig) error {
	o, err := kit.ParseOptions(m.Describe().Options, cfg.Options)
	if err != nil {
		return err
	}
	c := o.Check()
	dim, hidden, ph := c.IntAtLeast("dim", 1), c.IntAtLeast("hidden", 1), c.IntAtLeast("pred_hidden", 0)
	if c.Err != nil {
		return c.Err
	}
	if ph == 0 {
		ph = max(1, dim/4)
	}
	projL, predL := heads(o.String("head_bn"), dim, hidden, ph)
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x51a5))
	proj, err := kit.NewMLP(rng, "projector", cfg.FeatureDim, projL...)
	if err != nil {
		return err
	}
	var pred *nn.Sequential
	var predParams []*nn.Param
	if o.Bool("predictor") {
		if pred, err = kit.NewMLP(rng, "predictor", dim, predL...); err != nil {
			return err
		}
		predParams = pred.Params()
	}
	sched := proj.Params()
	var fixed []*nn.Param
	if o.Bool("pred_lr_fixed") {
		fixed = predParams
	} else {
		sched = append(sched, predParams...)
	}
	opt, err := kit.NewHeadOptimizer(kit.RunHyper(cfg, m.Describe().Hyper), sched, fixed)
	if err != nil {
		return err
	}
	*m = Method{opts: o, stopgrad: o.Bool("stopgrad"), symmetric: o.Bool("symmetric"),
		xent: o.String("similarity") == "xent",
		proj: proj, pred: pred, opt: opt}
	return nil
}

// Step computes the loss and feature gradients and updates the heads.
func (m *Method) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	return m.step(ctx, in, nil)
}

// StepDetached computes the stop-gradient targets from detached instead of
// in.Views (sdk.DetachedStepper); without stop-gradient it is Step.
func (m *Method) StepDetached(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor) (sdk.StepOutput, error) {
	if !m.stopgrad {
		return m.step(ctx, in, nil)
	}
	return m.step(ctx, in, detached)
}

func (m *Method) step(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor) (sdk.StepOutput, error) {
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	if m.proj == nil {
		return sdk.StepOutput{}, fmt.Errorf("%w: Step before Init", sdk.ErrBadInput)
	}
	if b := in.Views[0].Dim(0); b < 2 {
		return sdk.StepOutput{}, fmt.Errorf("%w: batch of %d: SimSiam's BatchNorm heads need at least 2 images per step", sdk.ErrBadInput, b)
	}
	m.opt.ZeroGrad()
	x := kit.Leaves(in.Views)
	z1, z2 := m.proj.Forward(x[0]), m.proj.Forward(x[1])
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
			t1, t2 = kit.ForwardKeepStats(m.proj, detached[0]), kit.ForwardKeepStats(m.proj, detached[1])
		})
	}
	d := NegCosine
	if m.xent {
		d = CrossEntropy
	}
	loss := Loss(d, p1, p2, t1, t2, m.symmetric)
	loss.Backward()
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	m.opt.Step(in)
	m.steps++
	return sdk.StepOutput{
		Loss:  float64(loss.Item()),
		Grads: kit.Grads(x),
		Metrics: map[string]float64{
			"output_std": (kit.OutputStd(z1) + kit.OutputStd(z2)) / 2,
			"output_dim": float64(z1.Dim(1)),
		},
	}, nil
}

// ---  state

// State serialises the heads, their BN statistics and the optimizer state.
func (m *Method) State() ([]byte, error) {
	return kit.SaveState("simsiam", m.opts, m.steps, m.opt, kit.Heads(m.proj, m.pred)...)
}

// SetState restores a State blob saved by a SimSiam initialised with the
// same options and feature dim; anything else is an error and changes nothing.
func (m *Method) SetState(blob []byte) error {
	return kit.LoadState(blob, "simsiam", m.opts, m.opt, &m.steps, kit.Heads(m.proj, m.pred)...)
}
