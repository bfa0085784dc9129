package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"sync"

	"github.com/siambench/siambench/nn"
)

// InProcess returns m wrapped exactly as Serve runs it, for tests, debugging
// and running a method inside the host process:
//   - calls are serialised (a Method need not be safe for concurrent use);
//   - Init validates cfg and cfg.Options against Describe().Options (errors
//     list the valid options) before m sees them;
//   - Step checks the input against the Spec and InitConfig (number of views
//     and targets, (B, D) shapes, finite values) and the output (one (B, D)
//     gradient per view), and returns ctx.Err() without calling m when ctx
//     is already done;
//   - a panic inside m becomes an error wrapping ErrPanicked and m stays
//     usable; restore its state with SetState before going on.
//
// The result also implements DetachedStepper; it returns ErrNotSupported
// when m does not. Wrapping twice is a no-op.
func InProcess(m Method) Method { return newGuard(m, slog.Default()) }

// guard is the wrapper InProcess and Serve put around every Method.
type guard struct {
	mu     sync.Mutex
	m      Method
	spec   Spec
	log    *slog.Logger
	cfg    InitConfig
	inited bool
}

var _ DetachedStepper = (*guard)(nil)

func newGuard(m Method, log *slog.Logger) *guard {
	if g, ok := m.(*guard); ok {
		return g
	}
	return &guard{m: m, spec: m.Describe(), log: log}
}

// recoverTo turns a panic into an error on *err, logging the stack.
func (g *guard) recoverTo(call string, err *error) {
	if r := recover(); r != nil {
		g.log.Error("method panicked", "method", g.spec.Name, "call", call, "panic", r, "stack", string(debug.Stack()))
		*err = fmt.Errorf("method %s: %s: %w: %v", g.spec.Name, call, ErrPanicked, r)
	}
}

// Describe returns the spec read when the guard was made.
func (g *guard) Describe() Spec { return g.spec }

// Init validates cfg and calls m.Init.
func (g *guard) Init(cfg InitConfig) (err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.recoverTo("init", &err)
	if cfg.FeatureDim < 1 || cfg.BatchSize < 1 || cfg.StepsPerEpoch < 0 || cfg.TotalSteps < 0 {
		return fmt.Errorf("method %s: init: %w: feature dim %d, batch size %d, steps per epoch %d, total steps %d: dims must be ≥ 1 and step counts ≥ 0",
			g.spec.Name, ErrBadInput, cfg.FeatureDim, cfg.BatchSize, cfg.StepsPerEpoch, cfg.TotalSteps)
	}
	if _, err := ParseOptions(g.spec.Options, cfg.Options); err != nil {
		return fmt.Errorf("method %s: init: %w", g.spec.Name, err)
	}
	g.inited = false
	if err := g.m.Init(cfg); err != nil {
		return fmt.Errorf("method %s: init: %w", g.spec.Name, err)
	}
	g.cfg, g.inited = cfg, true
	return nil
}

// Step validates in, calls m.Step and validates its output.
func (g *guard) Step(ctx context.Context, in StepInput) (StepOutput, error) {
	return g.step(ctx, in, nil, false)
}

// StepDetached is Step through m's DetachedStepper.
func (g *guard) StepDetached(ctx context.Context, in StepInput, detached []*nn.Tensor) (StepOutput, error) {
	return g.step(ctx, in, detached, true)
}

func (g *guard) step(ctx context.Context, in StepInput, detached []*nn.Tensor, isDetached bool) (out StepOutput, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.recoverTo(fmt.Sprintf("step %d", in.Step), &err)
	if err := ctx.Err(); err != nil {
		return StepOutput{}, fmt.Errorf("method %s: step %d: %w", g.spec.Name, in.Step, err)
	}
	if !g.inited {
		return StepOutput{}, fmt.Errorf("method %s: step %d: %w: Step called before a successful Init", g.spec.Name, in.Step, ErrBadInput)
	}
	b, err := g.checkInput(in)
	if err != nil {
		return StepOutput{}, fmt.Errorf("method %s: step %d: %w", g.spec.Name, in.Step, err)
	}
	if isDetached {
		ds, ok := g.m.(DetachedStepper)
		if !ok {
			return StepOutput{}, fmt.Errorf("method %s: StepDetached: %w", g.spec.Name, ErrNotSupported)
		}
		if err := checkGroup("detached", detached, len(in.Views), b, g.cfg.FeatureDim); err != nil {
			return StepOutput{}, fmt.Errorf("method %s: step %d: %w", g.spec.Name, in.Step, err)
		}
		out, err = ds.StepDetached(ctx, in, detached)
	} else {
		out, err = g.m.Step(ctx, in)
	}
	if err != nil {
		return StepOutput{}, fmt.Errorf("method %s: step %d: %w", g.spec.Name, in.Step, err)
	}
	if len(out.Grads) != len(in.Views) {
		return StepOutput{}, fmt.Errorf("method %s: step %d: returned %d gradients for %d views (a bug in the method)", g.spec.Name, in.Step, len(out.Grads), len(in.Views))
	}
	for i, gr := range out.Grads {
		if gr == nil || !shapeIs(gr, b, g.cfg.FeatureDim) {
			return StepOutput{}, fmt.Errorf("method %s: step %d: gradient %d has shape %v, want [%d %d] (a bug in the method)", g.spec.Name, in.Step, i, shapeOf(gr), b, g.cfg.FeatureDim)
		}
	}
	return out, nil
}

// checkInput validates views and targets and returns the batch size B.
func (g *guard) checkInput(in StepInput) (int, error) {
	want := g.spec.NumViews()
	if len(in.Views) != want {
		return 0, fmt.Errorf("%w: got %d views, the method wants %d (Spec.Views)", ErrBadInput, len(in.Views), want)
	}
	if in.Views[0] == nil || len(in.Views[0].Shape()) != 2 {
		return 0, fmt.Errorf("%w: view 0 has shape %v, want (B, %d)", ErrBadInput, shapeOf(in.Views[0]), g.cfg.FeatureDim)
	}
	b := in.Views[0].Shape()[0]
	if b < 1 {
		return 0, fmt.Errorf("%w: empty batch", ErrBadInput)
	}
	if err := checkGroup("view", in.Views, want, b, g.cfg.FeatureDim); err != nil {
		return 0, err
	}
	wantTargets := 0
	if g.spec.Target != nil {
		wantTargets = want
	}
	if len(in.Targets) != wantTargets {
		return 0, fmt.Errorf("%w: got %d target tensors, want %d (one per view when Spec.Target is set, else none)", ErrBadInput, len(in.Targets), wantTargets)
	}
	if err := checkGroup("target", in.Targets, wantTargets, b, g.cfg.FeatureDim); err != nil {
		return 0, err
	}
	return b, nil
}

// checkGroup checks that ts holds n finite (b, d) tensors.
func checkGroup(what string, ts []*nn.Tensor, n, b, d int) error {
	if len(ts) != n {
		return fmt.Errorf("%w: got %d %s tensors, want %d", ErrBadInput, len(ts), what, n)
	}
	for i, t := range ts {
		if t == nil || !shapeIs(t, b, d) {
			return fmt.Errorf("%w: %s %d has shape %v, want [%d %d] (B = batch of view 0, D = InitConfig.FeatureDim)", ErrBadInput, what, i, shapeOf(t), b, d)
		}
		for j, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%w: %s %d holds %v at index %d: the backbone diverged or the input is corrupt", ErrBadInput, what, i, v, j)
			}
		}
	}
	return nil
}

func shapeIs(t *nn.Tensor, b, d int) bool {
	s := t.Shape()
	return len(s) == 2 && s[0] == b && s[1] == d && len(t.Data) == b*d
}

func shapeOf(t *nn.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape()
}

// State returns m's state; it requires a successful Init.
func (g *guard) State() (blob []byte, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.recoverTo("state", &err)
	if !g.inited {
		return nil, fmt.Errorf("method %s: state: %w: call Init first", g.spec.Name, ErrBadInput)
	}
	blob, err = g.m.State()
	if err != nil {
		return nil, fmt.Errorf("method %s: state: %w", g.spec.Name, err)
	}
	return blob, nil
}

// SetState restores m's state; it requires a successful Init with the same
// config as the run the state came from.
func (g *guard) SetState(blob []byte) (err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.recoverTo("set state", &err)
	if !g.inited {
		return fmt.Errorf("method %s: set state: %w: call Init (with the run's config) first", g.spec.Name, ErrBadInput)
	}
	if err := g.m.SetState(blob); err != nil {
		return fmt.Errorf("method %s: set state: %w", g.spec.Name, err)
	}
	return nil
}
