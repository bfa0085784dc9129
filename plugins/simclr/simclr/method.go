// Package simclr is SimCLR (Chen et al., ICML 2020, arXiv:2002.05709) as a
// siambench method: a 2-layer projector and the NT-Xent loss with 2B−2
// negatives per positive. See ../README.md.
package simclr

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=backbone feature dim, H=hidden, K=dim.

// Method is SimCLR. The zero value is not usable; call New, then Init.
type Method struct {
	opts  kit.Options
	temp  float64
	proj  *nn.Sequential // D→H→K
	opt   *kit.HeadOptimizer
	steps int64
}

var _ sdk.Method = (*Method)(nil)

// New returns an uninitialised SimCLR.
func New() *Method { return &Method{} }

// Describe returns SimCLR's spec: two "simclr" views, negatives, SGD settings
// for small batches (see README).
func (m *Method) Describe() sdk.Spec {
	return sdk.Spec{
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
	}
}

// Init parses the options and builds the projector from cfg.Seed.
func (m *Method) Init(cfg sdk.InitConfig) error {
	o, err := kit.ParseOptions(m.Describe().Options, cfg.Options)
	if err != nil {
		return err
	}
	c := o.Check()
	temp, dim, hidden := c.FloatIn("temperature", 0, 100), c.IntAtLeast("dim", 1), c.IntAtLeast("hidden", 1)
	if c.Err != nil {
		return c.Err
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5c1))
	proj, err := kit.NewMLP(rng, "projector", cfg.FeatureDim,
		kit.Layer{Out: hidden, BN: kit.Affine, ReLU: true}, kit.Layer{Out: dim, BN: kit.NoBN})
	if err != nil {
		return err
	}
	opt, err := kit.NewHeadOptimizer(kit.RunHyper(cfg, m.Describe().Hyper), proj.Params(), nil)
	if err != nil {
		return err
	}
	*m = Method{opts: o, temp: temp, proj: proj, opt: opt}
	return nil
}

// Step computes NT-Xent over both views' projections (one BN batch of 2B,
// as SimCLR normalises over the whole batch) and updates the projector.
func (m *Method) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	if m.proj == nil {
		return sdk.StepOutput{}, fmt.Errorf("%w: Step before Init", sdk.ErrBadInput)
	}
	b := in.Views[0].Dim(0)
	if b < 2 {
		return sdk.StepOutput{}, fmt.Errorf("%w: batch of %d: SimCLR needs at least 2 images per step (its negatives are the other images)", sdk.ErrBadInput, b)
	}
	m.opt.ZeroGrad()
	x := kit.Leaves(in.Views)
	z := m.proj.Forward(nn.Concat(x))
	loss, zn := NTXent(z, m.temp)
	loss.Backward()
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	m.opt.Step(in)
	m.steps++
	pos, top1 := positives(zn.Data, b, zn.Dim(1))
	return sdk.StepOutput{
		Loss:  float64(loss.Item()),
		Grads: kit.Grads(x),
		Metrics: map[string]float64{
			"output_std": kit.OutputStd(zn),
			"output_dim": float64(zn.Dim(1)),
			"pos_cos":    pos,  // mean cosine of positive pairs
			"top1":       top1, // fraction of rows whose positive is their most similar row
		},
	}, nil
}

// positives returns the mean cosine of the positive pairs and the fraction
// of rows whose nearest other row is their positive, for zn (2N,K) unit rows.
func positives(zn []float32, n, k int) (pos, top1 float64) {
	dot := func(a, b int) float64 {
		s := 0.0
		for j := 0; j < k; j++ {
			s += float64(zn[a*k+j]) * float64(zn[b*k+j])
		}
		return s
	}
	hits := 0
	for i := 0; i < 2*n; i++ {
		p := (i + n) % (2 * n)
		sp := dot(i, p)
		pos += sp
		best := true
		for r := 0; r < 2*n && best; r++ {
			if r != i && r != p && dot(i, r) >= sp {
				best = false
			}
		}
		if best {
			hits++
		}
	}
	return pos / float64(2*n), float64(hits) / float64(2*n)
}

// ---  state

// State serialises the projector, its BN statistics and the optimizer state.
func (m *Method) State() ([]byte, error) {
	return kit.SaveState("simclr", m.opts, m.steps, m.opt, kit.Heads(m.proj)...)
}

// SetState restores a State blob saved by a SimCLR initialised with the same
// options and feature dim; anything else is an error and changes nothing.
func (m *Method) SetState(blob []byte) error {
	return kit.LoadState(blob, "simclr", m.opts, m.opt, &m.steps, kit.Heads(m.proj)...)
}
