// Package sdktest is the conformance suite every method runs in one line:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Run(t, func() sdk.Method { return mymethod.New() }, sdktest.Config{})
//	}
//
// It checks, through the same guard Serve runs a method in:
//   - spec: Describe is valid and does not change with Init;
//   - options: unknown options and bad values are errors naming the valid ones;
//   - gradients: the returned feature gradients match central finite
//     differences of the returned loss, per coordinate and along a random
//     direction, with the method's state restored (State/SetState) before
//     every evaluation so its parameter updates do not perturb it. Methods
//     whose loss stops gradients implement sdk.DetachedStepper;
//   - state: a State/SetState round trip into a fresh instance gives a
//     bit-identical next step; a corrupt blob is an error;
//   - determinism: the same seed gives bit-identical steps;
//   - bad input: wrong view count, shapes, targets, NaNs are errors
//     (sdk.ErrBadInput), never panics, and the method keeps working;
//   - metrics: "output_std" is reported and lies in [0, 1];
//   - context: a cancelled context is honoured.
//
// newMethod may return a remote method (a plugin client): instances that
// implement io.Closer are closed when the test ends.
package sdktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

// Config tunes the suite; the zero value is a sensible default.
type Config struct {
	// Init is the config every instance is initialised with. Zero fields
	// get defaults: FeatureDim 16, BatchSize 8, StepsPerEpoch 10,
	// TotalSteps 100. Seed is used as given (0 is a valid seed).
	Init sdk.InitConfig
	// Coords is the number of coordinates per view checked by finite
	// differences (half the largest gradients, half random); 0 means 4.
	Coords int
	// Eps is the finite-difference step on features of unit scale; 0 means 1e-2.
	Eps float64
	// RelTol is the relative tolerance of the gradient check; 0 means 3e-2.
	// The absolute floor is RelTol·(largest |gradient| of the view)/10.
	RelTol float64
	// WarmupSteps are taken before the checks, so they run on trained
	// parameters rather than the initial ones; 0 means 2.
	WarmupSteps int
	// LR is the learning rate passed to Step; 0 means 0.05.
	LR float64
}

func (c Config) withDefaults() Config {
	if c.Init.FeatureDim == 0 {
		c.Init.FeatureDim = 16
	}
	if c.Init.BatchSize == 0 {
		c.Init.BatchSize = 8
	}
	if c.Init.StepsPerEpoch == 0 {
		c.Init.StepsPerEpoch = 10
	}
	if c.Init.TotalSteps == 0 {
		c.Init.TotalSteps = 100
	}
	if c.Init.Options == nil {
		c.Init.Options = map[string]string{}
	}
	if c.Coords == 0 {
		c.Coords = 4
	}
	if c.Eps == 0 {
		c.Eps = 1e-2
	}
	if c.RelTol == 0 {
		c.RelTol = 3e-2
	}
	if c.WarmupSteps == 0 {
		c.WarmupSteps = 2
	}
	if c.LR == 0 {
		c.LR = 0.05
	}
	return c
}

// suite carries what every check needs.
type suite struct {
	t         *testing.T
	newMethod func() sdk.Method
	cfg       Config
	spec      sdk.Spec
}

// Run runs the conformance suite on the methods newMethod makes; each call
// must return a fresh, uninitialised instance.
func Run(t *testing.T, newMethod func() sdk.Method, cfg Config) {
	t.Helper()
	s := &suite{t: t, newMethod: newMethod, cfg: cfg.withDefaults()}
	s.spec = s.fresh(t).Describe()
	t.Run("spec", s.testSpec)
	t.Run("options", s.testOptions)
	t.Run("gradients", s.testGradients)
	t.Run("state_round_trip", s.testState)
	t.Run("determinism", s.testDeterminism)
	t.Run("bad_input", s.testBadInput)
	t.Run("metrics", s.testMetrics)
	t.Run("context", s.testContext)
}

// fresh returns a new guarded, uninitialised instance, closed at the end of t.
func (s *suite) fresh(t *testing.T) sdk.Method {
	t.Helper()
	m := s.newMethod()
	if m == nil {
		t.Fatal("newMethod returned nil")
	}
	if c, ok := m.(io.Closer); ok {
		t.Cleanup(func() { _ = c.Close() })
	}
	return sdk.InProcess(m)
}

// ready returns a fresh instance initialised with the suite's config.
func (s *suite) ready(t *testing.T) sdk.Method {
	t.Helper()
	m := s.fresh(t)
	if err := m.Init(s.cfg.Init); err != nil {
		t.Fatalf("Init(%+v): %v", s.cfg.Init, err)
	}
	return m
}

// input returns the deterministic input of step k: per image a random
// feature vector, each view a noisy copy of it (so views agree as augmented
// views do), targets a further noisy copy.
func (s *suite) input(k int) sdk.StepInput {
	rng := rand.New(rand.NewSource(int64(1000 + k)))
	b, d, v := s.cfg.Init.BatchSize, s.cfg.Init.FeatureDim, s.spec.NumViews()
	base := make([]float32, b*d)
	for i := range base {
		base[i] = float32(rng.NormFloat64())
	}
	noisy := func() *nn.Tensor {
		x := make([]float32, b*d)
		for i := range x {
			x[i] = base[i] + float32(0.5*rng.NormFloat64())
		}
		return nn.New(x, b, d)
	}
	in := sdk.StepInput{
		Step: k, Epoch: k / s.cfg.Init.StepsPerEpoch,
		LR: s.cfg.LR, BaseLR: s.cfg.LR,
	}
	for i := 0; i < v; i++ {
		in.Views = append(in.Views, noisy())
	}
	if s.spec.Target != nil {
		in.Momentum = s.spec.Target.BaseMomentum
		for i := 0; i < v; i++ {
			in.Targets = append(in.Targets, noisy())
		}
	}
	return in
}

// warm takes the configured warm-up steps.
func (s *suite) warm(t *testing.T, m sdk.Method) {
	t.Helper()
	for k := 0; k < s.cfg.WarmupSteps; k++ {
		if _, err := m.Step(context.Background(), s.input(k)); err != nil {
			t.Fatalf("warm-up step %d: %v", k, err)
		}
	}
}

// ---  spec and options

func (s *suite) testSpec(t *testing.T) {
	if err := s.spec.Validate(); err != nil {
		t.Fatalf("Describe: %v", err)
	}
	m := s.ready(t)
	if got := m.Describe(); !reflect.DeepEqual(got, s.spec) {
		t.Fatalf("Describe changed after Init:\nbefore %+v\nafter  %+v", s.spec, got)
	}
}

func (s *suite) testOptions(t *testing.T) {
	type tc struct {
		name string
		opts map[string]string
		want string // substring of the error; "" means Init must succeed
	}
	cases := []tc{{"unknown", map[string]string{"no_such_option": "1"}, "no_such_option"}}
	defaults := map[string]string{}
	for _, o := range s.spec.Options {
		defaults[o.Name] = o.Default
		bad := map[string]string{"bool": "maybe", "int": "1.5x", "float": "fast", "enum": "no-such-choice"}[o.Type]
		if bad != "" {
			cases = append(cases, tc{"bad_" + o.Name, map[string]string{o.Name: bad}, o.Name})
		}
	}
	cases = append(cases, tc{"explicit_defaults", defaults, ""})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := s.cfg.Init
			cfg.Options = c.opts
			err := s.fresh(t).Init(cfg)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Init with every option at its default: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Init(options %v) succeeded, want an error", c.opts)
			}
			if !errors.Is(err, sdk.ErrBadInput) {
				t.Errorf("error does not wrap sdk.ErrBadInput: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
			for _, o := range s.spec.Options {
				if !strings.Contains(err.Error(), o.Name) {
					t.Errorf("error %q does not list valid option %q", err, o.Name)
				}
			}
		})
	}
}

// ---  gradients

// lossAt evaluates the loss at views from state s0; detached (if not nil)
// feeds the stop-gradient branches.
func lossAt(t *testing.T, m sdk.Method, s0 []byte, in sdk.StepInput, views, detached []*nn.Tensor) float64 {
	t.Helper()
	if err := m.SetState(s0); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	in.Views = views
	var out sdk.StepOutput
	var err error
	if detached != nil {
		out, err = m.(sdk.DetachedStepper).StepDetached(context.Background(), in, detached)
	} else {
		out, err = m.Step(context.Background(), in)
	}
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	return out.Loss
}

func clone(ts []*nn.Tensor) []*nn.Tensor {
	out := make([]*nn.Tensor, len(ts))
	for i, x := range ts {
		out[i] = nn.New(append([]float32(nil), x.Data...), x.Shape()...)
	}
	return out
}

func (s *suite) testGradients(t *testing.T) {
	m := s.ready(t)
	s.warm(t, m)
	s0, err := m.State()
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	in := s.input(s.cfg.WarmupSteps)
	out, err := m.Step(context.Background(), in)
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	if math.IsNaN(out.Loss) || math.IsInf(out.Loss, 0) {
		t.Fatalf("loss = %v", out.Loss)
	}
	// Detached mode when the method stops gradients.
	var detached []*nn.Tensor
	if err := m.SetState(s0); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	dout, derr := m.(sdk.DetachedStepper).StepDetached(context.Background(), in, clone(in.Views))
	switch {
	case errors.Is(derr, sdk.ErrNotSupported):
	case derr != nil:
		t.Fatalf("StepDetached: %v", derr)
	default:
		detached = clone(in.Views)
		if !close64(dout.Loss, out.Loss, 1e-6) {
			t.Fatalf("StepDetached(in, in.Views) loss %v ≠ Step(in) loss %v: they must compute the same step", dout.Loss, out.Loss)
		}
	}
	hint := ""
	if detached == nil {
		hint = " (if the loss stops gradients through some branch, implement sdk.DetachedStepper)"
	}
	eps := s.cfg.Eps
	rng := rand.New(rand.NewSource(7))
	for v := range in.Views {
		g := out.Grads[v].Data
		maxAbs := 0.0
		for _, x := range g {
			maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		}
		if maxAbs == 0 {
			t.Errorf("∂loss/∂views[%d] is all zeros: the loss must depend on every view", v)
			continue
		}
		if floor := 1e-6 * math.Max(1, math.Abs(out.Loss)) / eps; maxAbs < floor {
			t.Errorf("∂loss/∂views[%d]: the largest gradient, %.3g, is below the finite-difference rounding floor %.3g: raise Config.Eps so the check means something", v, maxAbs, floor)
			continue
		}
		atol := s.cfg.RelTol * maxAbs / 10
		for _, j := range pickCoords(g, s.cfg.Coords, rng) {
			fd := func(h float64) float64 {
				plus, minus := clone(in.Views), clone(in.Views)
				plus[v].Data[j] += float32(h)
				minus[v].Data[j] -= float32(h)
				return (lossAt(t, m, s0, in, plus, detached) - lossAt(t, m, s0, in, minus, detached)) / (2 * h)
			}
			got := float64(g[j])
			if ok, fds := agrees(fd, eps, got, atol, s.cfg.RelTol, out.Loss); !ok {
				t.Errorf("∂loss/∂views[%d][%d]: want %s (finite differences), got %.6g%s", v, j, fds, got, hint)
			}
		}
	}
	// A random direction through every coordinate of every view at once.
	// The direction u has unit norm, so the step moves the input by eps.
	u := make([][]float64, len(in.Views))
	norm := 0.0
	for v := range in.Views {
		u[v] = make([]float64, len(in.Views[v].Data))
		for j := range u[v] {
			u[v][j] = rng.NormFloat64()
			norm += u[v][j] * u[v][j]
		}
	}
	dot, gradNorm := 0.0, 0.0
	for v := range in.Views {
		for j := range u[v] {
			u[v][j] /= math.Sqrt(norm)
			g := float64(out.Grads[v].Data[j])
			dot += u[v][j] * g
			gradNorm += g * g
		}
	}
	fd := func(h float64) float64 {
		plus, minus := clone(in.Views), clone(in.Views)
		for v := range in.Views {
			for j := range u[v] {
				plus[v].Data[j] += float32(h * u[v][j])
				minus[v].Data[j] -= float32(h * u[v][j])
			}
		}
		return (lossAt(t, m, s0, in, plus, detached) - lossAt(t, m, s0, in, minus, detached)) / (2 * h)
	}
	// |∇L·u| ≤ |∇L| (Cauchy-Schwarz) scales the absolute floor.
	if ok, fds := agrees(fd, eps, dot, s.cfg.RelTol*math.Sqrt(gradNorm)/10, s.cfg.RelTol, out.Loss); !ok {
		t.Errorf("directional derivative along a random direction: want %s (finite differences), got %.6g (gradient · direction)%s", fds, dot, hint)
	}
}

// agrees compares got with central differences at step eps and, when that
// disagrees, at eps/10: a ReLU kink or a BN batch statistic crossed by the
// large step spoils the first, float32 rounding the second, a wrong
// gradient both. It returns the differences it computed, for the message.
//
// The tolerance is atol + rtol·|fd| + noise(h), where noise(h) =
// 1e-6·max(1, |loss|)/h bounds what float32 rounding of the loss (a few
// ulps, accumulated over a batch) does to a central difference.
func agrees(fd func(h float64) float64, eps, got, atol, rtol, loss float64) (bool, string) {
	var tried []string
	for _, h := range []float64{eps, eps / 10} {
		d := fd(h)
		noise := 1e-6 * math.Max(1, math.Abs(loss)) / h
		tried = append(tried, fmt.Sprintf("%.6g (h=%g, ±%.2g rounding)", d, h, noise))
		if math.Abs(d-got) <= atol+rtol*math.Abs(d)+noise {
			return true, ""
		}
	}
	return false, strings.Join(tried, " or ")
}

// pickCoords returns up to n indices: the largest |g| first, then random ones.
func pickCoords(g []float32, n int, rng *rand.Rand) []int {
	idx := make([]int, len(g))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return math.Abs(float64(g[idx[a]])) > math.Abs(float64(g[idx[b]])) })
	seen := map[int]bool{}
	var out []int
	for _, j := range idx[:min(len(idx), (n+1)/2)] {
		out, seen[j] = append(out, j), true
	}
	for tries := 0; len(out) < min(n, len(g)) && tries < 10*n; tries++ {
		if j := rng.Intn(len(g)); !seen[j] {
			out, seen[j] = append(out, j), true
		}
	}
	return out
}

func close64(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// ---  state, determinism

// sameOutput reports the first difference between two step outputs, bitwise.
func sameOutput(a, b sdk.StepOutput) error {
	if math.Float64bits(a.Loss) != math.Float64bits(b.Loss) {
		return fmt.Errorf("loss %v vs %v", a.Loss, b.Loss)
	}
	if len(a.Grads) != len(b.Grads) {
		return fmt.Errorf("%d vs %d gradients", len(a.Grads), len(b.Grads))
	}
	for i := range a.Grads {
		if !reflect.DeepEqual(a.Grads[i].Shape(), b.Grads[i].Shape()) {
			return fmt.Errorf("gradient %d shape %v vs %v", i, a.Grads[i].Shape(), b.Grads[i].Shape())
		}
		for j := range a.Grads[i].Data {
			if math.Float32bits(a.Grads[i].Data[j]) != math.Float32bits(b.Grads[i].Data[j]) {
				return fmt.Errorf("gradient %d[%d]: %v vs %v", i, j, a.Grads[i].Data[j], b.Grads[i].Data[j])
			}
		}
	}
	if len(a.Metrics) != len(b.Metrics) {
		return fmt.Errorf("metrics %v vs %v", a.Metrics, b.Metrics)
	}
	for k, v := range a.Metrics {
		if w, ok := b.Metrics[k]; !ok || math.Float64bits(v) != math.Float64bits(w) {
			return fmt.Errorf("metric %s: %v vs %v", k, v, b.Metrics[k])
		}
	}
	return nil
}

func (s *suite) testState(t *testing.T) {
	m1 := s.ready(t)
	s.warm(t, m1)
	blob, err := m1.State()
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	next := s.input(s.cfg.WarmupSteps)
	o1, err := m1.Step(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	m2 := s.ready(t)
	if err := m2.SetState(blob); err != nil {
		t.Fatalf("SetState on a fresh instance: %v", err)
	}
	o2, err := m2.Step(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameOutput(o1, o2); err != nil {
		t.Errorf("the step after a State/SetState round trip differs: %v", err)
	}
	// The step after that too: the restored instance updated itself the same way.
	after := s.input(s.cfg.WarmupSteps + 1)
	p1, err1 := m1.Step(context.Background(), after)
	p2, err2 := m2.Step(context.Background(), after)
	if err1 != nil || err2 != nil {
		t.Fatalf("second step: %v, %v", err1, err2)
	}
	if err := sameOutput(p1, p2); err != nil {
		t.Errorf("the second step after a round trip differs (did SetState restore optimizer/EMA state?): %v", err)
	}
	for name, bad := range map[string][]byte{"empty": nil, "garbage": []byte("not a state blob"), "truncated": blob[:len(blob)/2]} {
		if err := s.ready(t).SetState(bad); err == nil {
			t.Errorf("SetState(%s blob) succeeded, want an error", name)
		}
	}
}

func (s *suite) testDeterminism(t *testing.T) {
	a, b := s.ready(t), s.ready(t)
	for k := 0; k < 3; k++ {
		in := s.input(k)
		oa, err := a.Step(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		ob, err := b.Step(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameOutput(oa, ob); err != nil {
			t.Fatalf("step %d: two instances with seed %d differ: %v", k, s.cfg.Init.Seed, err)
		}
	}
}

// ---  bad input, metrics, context

func (s *suite) testBadInput(t *testing.T) {
	b, d := s.cfg.Init.BatchSize, s.cfg.Init.FeatureDim
	cases := []struct {
		name string
		mod  func(in *sdk.StepInput)
	}{
		{"one_view_missing", func(in *sdk.StepInput) { in.Views = in.Views[1:] }},
		{"one_view_too_many", func(in *sdk.StepInput) { in.Views = append(in.Views, in.Views[0]) }},
		{"wrong_feature_dim", func(in *sdk.StepInput) { in.Views[0] = nn.Zeros(b, d+1) }},
		{"batch_mismatch", func(in *sdk.StepInput) { in.Views[len(in.Views)-1] = nn.Zeros(b-1, d) }},
		{"not_a_matrix", func(in *sdk.StepInput) { in.Views[0] = nn.Zeros(b * d) }},
		{"nil_view", func(in *sdk.StepInput) { in.Views[0] = nil }},
		{"nan_feature", func(in *sdk.StepInput) { in.Views[0].Data[3] = float32(math.NaN()) }},
		{"wrong_targets", func(in *sdk.StepInput) {
			if in.Targets == nil {
				in.Targets = clone(in.Views)
			} else {
				in.Targets = in.Targets[1:]
			}
		}},
	}
	m := s.ready(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := s.input(0)
			c.mod(&in)
			_, err := m.Step(context.Background(), in)
			if err == nil {
				t.Fatal("Step succeeded, want an error")
			}
			if !errors.Is(err, sdk.ErrBadInput) {
				t.Errorf("error does not wrap sdk.ErrBadInput: %v", err)
			}
		})
	}
	if _, err := m.Step(context.Background(), s.input(0)); err != nil {
		t.Errorf("a good step after the bad ones failed: %v", err)
	}
	if _, err := s.fresh(t).Step(context.Background(), s.input(0)); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Step before Init: err = %v, want sdk.ErrBadInput", err)
	}
}

func (s *suite) testMetrics(t *testing.T) {
	m := s.ready(t)
	out, err := m.Step(context.Background(), s.input(0))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := out.Metrics["output_std"]
	if !ok {
		t.Fatalf("metrics %v lack output_std (the collapse monitor)", out.Metrics)
	}
	if math.IsNaN(v) || v < 0 || v > 1 {
		t.Errorf("output_std = %v, want in [0, 1] (std of l2-normalised rows)", v)
	}
}

func (s *suite) testContext(t *testing.T) {
	m := s.ready(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Step(ctx, s.input(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("Step with a cancelled context: err = %v, want context.Canceled", err)
	}
}
