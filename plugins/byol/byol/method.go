// Package byol is BYOL (Grill et al., NeurIPS 2020, arXiv:2006.07733) as a
// siambench method: online projector and predictor, a target projector kept
// as an EMA of the online one (the host keeps the EMA target backbone), and
// the symmetric regression loss between normalised vectors. See ../README.md.
package byol

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, H=hidden, K=dim (projection width).

// Method is BYOL. The zero value is not usable; call New, then Init.
type Method struct {
	opts       kit.Options
	proj, pred *nn.Sequential // online: D→H→K, K→H→K
	target     *nn.Sequential // EMA of proj, no gradients
	opt        *kit.HeadOptimizer
	steps      int64
}

var _ sdk.Method = (*Method)(nil)

// New returns an uninitialised BYOL.
func New() *Method { return &Method{} }

// Describe returns BYOL's spec: views byol1 and byol2, a cosine-scheduled
// EMA target from 0.99, and SGD settings for small batches (see README).
func (m *Method) Describe() sdk.Spec {
	return sdk.Spec{
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
	}
}

func mlp(hidden, out int) []kit.Layer {
	return []kit.Layer{{Out: hidden, BN: kit.Affine, ReLU: true}, {Out: out, BN: kit.NoBN}}
}

// Init parses the options, builds the heads from cfg.Seed and copies the
// online projector into the target projector.
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
		ph = hidden
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xb701))
	proj, err := kit.NewMLP(rng, "projector", cfg.FeatureDim, mlp(hidden, dim)...)
	if err != nil {
		return err
	}
	pred, err := kit.NewMLP(rng, "predictor", dim, mlp(ph, dim)...)
	if err != nil {
		return err
	}
	target, _ := kit.NewMLP(rng, "target", cfg.FeatureDim, mlp(hidden, dim)...)
	if err := optim.CopyParams(target, proj); err != nil {
		return err
	}
	opt, err := kit.NewHeadOptimizer(kit.RunHyper(cfg, m.Describe().Hyper), append(proj.Params(), pred.Params()...), nil)
	if err != nil {
		return err
	}
	*m = Method{opts: o, proj: proj, pred: pred, target: target, opt: opt}
	return nil
}

// Step computes the loss and feature gradients, updates the online heads
// and moves the target projector towards the online one with in.Momentum.
func (m *Method) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	if m.proj == nil {
		return sdk.StepOutput{}, fmt.Errorf("%w: Step before Init", sdk.ErrBadInput)
	}
	if len(in.Targets) != 2 {
		return sdk.StepOutput{}, fmt.Errorf("%w: BYOL needs the target backbone's features of both views (got %d)", sdk.ErrBadInput, len(in.Targets))
	}
	if b := in.Views[0].Dim(0); b < 2 {
		return sdk.StepOutput{}, fmt.Errorf("%w: batch of %d: BYOL's BatchNorm heads need at least 2 images per step", sdk.ErrBadInput, b)
	}
	if in.Momentum < 0 || in.Momentum > 1 {
		return sdk.StepOutput{}, fmt.Errorf("%w: target momentum %v, want in [0, 1]", sdk.ErrBadInput, in.Momentum)
	}
	m.opt.ZeroGrad()
	x := kit.Leaves(in.Views)
	z1, z2 := m.proj.Forward(x[0]), m.proj.Forward(x[1])
	p1, p2 := m.pred.Forward(z1), m.pred.Forward(z2)
	var zt1, zt2 *nn.Tensor
	nn.NoGrad(func() { zt1, zt2 = m.target.Forward(in.Targets[0]), m.target.Forward(in.Targets[1]) })
	loss := Loss(p1, p2, zt1, zt2)
	loss.Backward()
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	m.opt.Step(in)
	if err := optim.EMAModule(m.target, m.proj, in.Momentum); err != nil {
		return sdk.StepOutput{}, err
	}
	m.steps++
	return sdk.StepOutput{
		Loss:  float64(loss.Item()),
		Grads: kit.Grads(x),
		Metrics: map[string]float64{
			"output_std":        (kit.OutputStd(z1) + kit.OutputStd(z2)) / 2,
			"output_dim":        float64(z1.Dim(1)),
			"target_output_std": (kit.OutputStd(zt1) + kit.OutputStd(zt2)) / 2,
		},
	}, nil
}

// ---  state

func (m *Method) sections() []kit.Section {
	if m.proj == nil {
		return nil
	}
	return append(kit.Heads(m.proj, m.pred), kit.Section{Name: "target", Params: append(m.target.Params(), m.target.Buffers()...)})
}

// State serialises the online and target heads and the optimizer state.
func (m *Method) State() ([]byte, error) {
	return kit.SaveState("byol", m.opts, m.steps, m.opt, m.sections()...)
}

// SetState restores a State blob saved by a BYOL initialised with the same
// options and feature dim; anything else is an error and changes nothing.
func (m *Method) SetState(blob []byte) error {
	return kit.LoadState(blob, "byol", m.opts, m.opt, &m.steps, m.sections()...)
}
