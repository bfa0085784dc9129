package kit

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/sdk"
)

// A method built on kit is its spec, its heads and its loss:
//
//	func New() *kit.Method { return kit.NewMethod(spec, build) }
//
//	func build(b *kit.Build) (kit.Model, error) { ... heads from b ... }
//
//	func (m *model) Heads() kit.HeadSet          { return kit.HeadSet{Train: ...} }
//	func (m *model) Loss(in sdk.StepInput) (kit.Loss, error) { ... }
//
// Method does the rest of sdk.Method: option parsing and range checks, the
// seeded head RNG, the head optimizer, EMA target heads, the step
// (ZeroGrad, Backward, optimizer step, feature gradients), the metrics the
// host needs (output_std, output_dim) and State/SetState. A method that
// needs more control implements sdk.Method itself.

// Model is a method's heads and loss, made by a Build function in Init.
type Model interface {
	// Heads returns the model's heads. Method calls it once, after Build.
	Heads() HeadSet
	// Loss computes the step's loss. in is the host's input except that
	// in.Views are fresh leaves that require gradients (kit.Leaves), so the
	// gradient Backward leaves in them is the one Step returns; in.Targets
	// are the target backbone's features as sent. Loss must not call
	// Backward or step an optimizer. An error fails the step and changes
	// nothing but BN statistics.
	Loss(in sdk.StepInput) (Loss, error)
}

// HeadSet are a model's heads. The "params" state section holds the
// parameters of Train, Fixed then Frozen heads in order, "buffers" their buffers
// (kit.Heads); nil heads are skipped (an optional predictor).
type HeadSet struct {
	// Train are trained at the host's scheduled lr (StepInput.LR).
	Train []*nn.Sequential
	// Fixed are trained at the un-decayed lr (StepInput.BaseLR): SimSiam's
	// predictor. See HeadOptimizer.
	Fixed []*nn.Sequential
	// Frozen are never trained: they keep their initial weights (SimSiam's
	// predictor fixed at random init, the paper's Table 1b). Their BN
	// statistics still follow the batches, and they are saved with the
	// other heads.
	Frozen []*nn.Sequential
	// Targets are momentum (EMA) copies of online heads (BYOL's target
	// projector): Init copies each online head into its target, and after
	// each step's update the target moves by StepInput.Momentum. Their
	// parameters and buffers are the state section "target", target by
	// target.
	Targets []Target
	// State are further tensors the model owns and updates itself (MoCo's
	// queue of keys), saved and restored with the heads under their own
	// section names. They get no gradient and no optimizer.
	State []Section
}

// AfterStepper is a Model that updates its own state once a step has
// succeeded: after the optimizer step and the target heads' move (MoCo
// enqueues the step's keys). A step that fails before it leaves the state
// as it was.
type AfterStepper interface {
	AfterStep(in sdk.StepInput)
}

// Target is an EMA head and the online head it follows. EMA must have the
// layout of Online; it gets no gradient and no optimizer.
type Target struct {
	EMA, Online *nn.Sequential
}

// Loss is what Model.Loss returns.
type Loss struct {
	// Value is the scalar loss; Step calls Value.Backward.
	Value *nn.Tensor
	// Outputs are the method's outputs whose collapse the host watches,
	// (N,K) each: metric "output_std" is the mean of their OutputStd, and
	// "output_dim" the width K of the first.
	Outputs []*nn.Tensor
	// Metrics are the method's own further metrics (may be nil).
	Metrics map[string]float64
}

// Build is what a Build function gets: the host's config and the parsed
// options. Read options through the embedded Checker (its first range
// error is Init's error, before any error Build returns) or Opts.
type Build struct {
	Config sdk.InitConfig // FeatureDim, BatchSize, Seed, ...
	Opts   Options        // validated against the spec, defaults filled in
	*Checker
}

// RNG returns the generator to initialise heads from: PCG seeded with
// (Config.Seed, stream). Each method picks its own stream constant.
func (b *Build) RNG(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(b.Config.Seed), stream))
}

// Method is an sdk.Method made of a spec and a Build function; see Model.
// Create it with NewMethod.
type Method struct {
	spec  sdk.Spec
	build func(*Build) (Model, error)

	// Set by a successful Init.
	model Model
	heads HeadSet
	opts  Options
	opt   *HeadOptimizer
	bn    bool // some head has buffers (BatchNorm): a step needs a batch of 2
	steps int64
}

var _ sdk.Method = (*Method)(nil)

// NewMethod returns an uninitialised method with the given spec whose Init
// makes its model with build.
func NewMethod(spec sdk.Spec, build func(*Build) (Model, error)) *Method {
	return &Method{spec: spec, build: build}
}

// Describe returns the spec given to NewMethod.
func (m *Method) Describe() sdk.Spec { return m.spec }

// Model returns the model the last successful Init built, nil before: for
// a method's own tests.
func (m *Method) Model() Model { return m.model }

// Init parses cfg.Options against the spec, calls build, copies online
// heads into their targets and makes the head optimizer from
// RunHyper(cfg, spec.Hyper). On error nothing is changed.
func (m *Method) Init(cfg sdk.InitConfig) error {
	o, err := ParseOptions(m.spec.Options, cfg.Options)
	if err != nil {
		return err
	}
	b := &Build{Config: cfg, Opts: o, Checker: o.Check()}
	model, err := m.build(b)
	if b.Err != nil {
		return b.Err
	}
	if err != nil {
		return err
	}
	h := model.Heads()
	var sched, fixed []*nn.Param
	bn := false
	for _, s := range h.Train {
		if s != nil {
			sched = append(sched, s.Params()...)
			bn = bn || len(s.Buffers()) > 0
		}
	}
	for _, s := range h.Fixed {
		if s != nil {
			fixed = append(fixed, s.Params()...)
			bn = bn || len(s.Buffers()) > 0
		}
	}
	for _, f := range h.Frozen {
		if f != nil {
			for _, p := range f.Params() {
				p.T.SetRequiresGrad(false) // no gradient, so nothing to apply
			}
			bn = bn || len(f.Buffers()) > 0
		}
	}
	for _, t := range h.Targets {
		if err := optim.CopyParams(t.EMA, t.Online); err != nil {
			return fmt.Errorf("%s: target head: %w", m.spec.Name, err)
		}
	}
	opt, err := NewHeadOptimizer(RunHyper(cfg, m.spec.Hyper), sched, fixed)
	if err != nil {
		return err
	}
	*m = Method{spec: m.spec, build: m.build, model: model, heads: h, opts: o, opt: opt, bn: bn}
	return nil
}

// Step computes the model's loss and the feature gradients, steps the head
// optimizer, moves the target heads, and reports output_std, output_dim and
// the model's metrics.
func (m *Method) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	return m.step(ctx, in, nil, false)
}

// step is Step, with Model.Loss or, if isDetached, DetachedModel.LossDetached.
func (m *Method) step(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor, isDetached bool) (sdk.StepOutput, error) {
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	if m.model == nil {
		return sdk.StepOutput{}, fmt.Errorf("%w: Step before Init", sdk.ErrBadInput)
	}
	loss := m.model.Loss
	if isDetached {
		dm, ok := m.model.(DetachedModel)
		if !ok {
			return sdk.StepOutput{}, fmt.Errorf("%s: StepDetached: %w (the model has no LossDetached)", m.spec.Name, sdk.ErrNotSupported)
		}
		loss = func(in sdk.StepInput) (Loss, error) { return dm.LossDetached(in, detached) }
	}
	if len(in.Views) == 0 {
		return sdk.StepOutput{}, fmt.Errorf("%w: no views", sdk.ErrBadInput)
	}
	if b := in.Views[0].Dim(0); m.bn && b < 2 {
		return sdk.StepOutput{}, fmt.Errorf("%w: batch of %d: %s's BatchNorm heads need at least 2 images per step", sdk.ErrBadInput, b, m.spec.Name)
	}
	if m.spec.Target != nil && len(in.Targets) != len(in.Views) {
		return sdk.StepOutput{}, fmt.Errorf("%w: %s needs the target backbone's features of all %d views (got %d)", sdk.ErrBadInput, m.spec.Name, len(in.Views), len(in.Targets))
	}
	if len(m.heads.Targets) > 0 && (in.Momentum < 0 || in.Momentum > 1) {
		return sdk.StepOutput{}, fmt.Errorf("%w: target momentum %v, want in [0, 1]", sdk.ErrBadInput, in.Momentum)
	}
	m.opt.ZeroGrad()
	x := Leaves(in.Views)
	leafIn := in
	leafIn.Views = x
	l, err := loss(leafIn)
	if err != nil {
		return sdk.StepOutput{}, err
	}
	l.Value.Backward()
	if err := ctx.Err(); err != nil {
		return sdk.StepOutput{}, err
	}
	m.opt.Step(in)
	for _, t := range m.heads.Targets {
		if err := optim.EMAModule(t.EMA, t.Online, in.Momentum); err != nil {
			return sdk.StepOutput{}, err
		}
	}
	if a, ok := m.model.(AfterStepper); ok {
		a.AfterStep(leafIn)
	}
	m.steps++
	return sdk.StepOutput{Loss: float64(l.Value.Item()), Grads: Grads(x), Metrics: l.metrics()}, nil
}

// metrics returns output_std and output_dim of the outputs, then the
// model's own metrics.
func (l Loss) metrics() map[string]float64 {
	out := map[string]float64{}
	if len(l.Outputs) > 0 {
		var std float64
		for _, z := range l.Outputs {
			std += OutputStd(z)
		}
		out["output_std"] = std / float64(len(l.Outputs))
		out["output_dim"] = float64(l.Outputs[0].Dim(1))
	}
	for k, v := range l.Metrics {
		out[k] = v
	}
	return out
}

// ---  stop-gradient

// DetachedModel is a Model whose loss treats some function of the features
// as a constant (stop-gradient: SimSiam's sg(z)). Build it into a
// DetachedMethod, so the conformance suite can check its gradient (see
// sdk.DetachedStepper).
type DetachedModel interface {
	Model
	// LossDetached is Loss with every stop-gradient branch computed from
	// detached, one (N,D) tensor per view, instead of from in.Views.
	// LossDetached(in, in.Views) must equal Loss(in).
	LossDetached(in sdk.StepInput, detached []*nn.Tensor) (Loss, error)
}

// DetachedMethod is a Method that is also an sdk.DetachedStepper; its
// Build must return a DetachedModel. Create it with NewDetachedMethod.
type DetachedMethod struct{ *Method }

var _ sdk.DetachedStepper = DetachedMethod{}

// NewDetachedMethod is NewMethod for a build that returns a DetachedModel.
func NewDetachedMethod(spec sdk.Spec, build func(*Build) (DetachedModel, error)) DetachedMethod {
	return DetachedMethod{NewMethod(spec, func(b *Build) (Model, error) { return build(b) })}
}

// StepDetached is Step with the model's LossDetached(in, detached).
func (m DetachedMethod) StepDetached(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor) (sdk.StepOutput, error) {
	return m.step(ctx, in, detached, true)
}

// ---  state

// sections are the state sections besides the optimizer's: "params" and
// "buffers" of the trained heads, "target" when there are targets, then the
// model's own (HeadSet.State).
func (m *Method) sections() []Section {
	s := Heads(append(append(m.heads.Train[:len(m.heads.Train):len(m.heads.Train)], m.heads.Fixed...), m.heads.Frozen...)...)
	if len(m.heads.Targets) > 0 {
		var ps []*nn.Param
		for _, t := range m.heads.Targets {
			ps = append(append(ps, t.EMA.Params()...), t.EMA.Buffers()...)
		}
		s = append(s, Section{Name: "target", Params: ps})
	}
	return append(s, m.heads.State...)
}

// State serialises the options, the step count, the heads (SaveState) and
// the optimizer state.
func (m *Method) State() ([]byte, error) {
	return SaveState(m.spec.Name, m.opts, m.steps, m.opt, m.sections()...)
}

// SetState restores a State blob saved by the same method initialised with
// the same options and feature dim; anything else is an error wrapping
// sdk.ErrBadInput and changes nothing.
func (m *Method) SetState(blob []byte) error {
	return LoadState(blob, m.spec.Name, m.opts, m.opt, &m.steps, m.sections()...)
}
