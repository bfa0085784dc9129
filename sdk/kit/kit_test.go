package kit

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/sdktest"
)

func names(ps []*nn.Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func TestNewMLPLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := NewMLP(rng, "proj", 4,
		Layer{Out: 6, BN: Affine, ReLU: true},
		Layer{Out: 5, BN: Plain},
		Layer{Out: 3, BN: NoBN})
	if err != nil {
		t.Fatal(err)
	}
	wantParams := "proj.0.0.weight proj.0.1.gamma proj.0.1.beta proj.1.0.weight proj.2.0.weight proj.2.0.bias"
	if got := strings.Join(names(m.Params()), " "); got != wantParams {
		t.Errorf("params %q, want %q", got, wantParams)
	}
	wantBufs := "proj.0.1.running_mean proj.0.1.running_var proj.1.1.running_mean proj.1.1.running_var"
	if got := strings.Join(names(m.Buffers()), " "); got != wantBufs {
		t.Errorf("buffers %q, want %q", got, wantBufs)
	}
	x := nn.Randn(rng, 1, 8, 4)
	y := m.Forward(x)
	if s := y.Shape(); s[0] != 8 || s[1] != 3 {
		t.Errorf("output shape %v, want (8,3)", s)
	}
	if _, err := NewMLP(rng, "bad", 4, Layer{Out: 0}); err == nil || !strings.Contains(err.Error(), "widths must be at least 1") {
		t.Errorf("zero width: err = %v", err)
	}
	if !HasBN(Layer{BN: NoBN}, Layer{BN: Plain}) || HasBN(Layer{BN: NoBN}) {
		t.Error("HasBN wrong")
	}
}

// A Plain BN output has zero mean and unit (biased) variance per channel.
func TestPlainBNNormalises(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, _ := NewMLP(rng, "p", 3, Layer{Out: 2, BN: Plain})
	y := m.Forward(nn.Randn(rng, 2, 16, 3))
	for j := 0; j < 2; j++ {
		var s, s2 float64
		for i := 0; i < 16; i++ {
			v := float64(y.Data[i*2+j])
			s += v
			s2 += v * v
		}
		mean, vr := s/16, s2/16-(s/16)*(s/16)
		if math.Abs(mean) > 1e-5 || math.Abs(vr-1) > 1e-3 {
			t.Errorf("channel %d: mean %v var %v, want 0 and 1", j, mean, vr)
		}
	}
}

func TestForwardKeepStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m, _ := NewMLP(rng, "p", 3, Layer{Out: 4, BN: Affine})
	before := append([]float32(nil), m.Buffers()[0].T.Data...)
	x := nn.Randn(rng, 1, 8, 3)
	y1 := ForwardKeepStats(m, x)
	for i, v := range m.Buffers()[0].T.Data {
		if v != before[i] {
			t.Fatalf("running mean changed: %v → %v", before, m.Buffers()[0].T.Data)
		}
	}
	y2 := m.Forward(x) // a normal forward gives the same output and does update
	for i := range y1.Data {
		if y1.Data[i] != y2.Data[i] {
			t.Fatalf("outputs differ at %d", i)
		}
	}
	changed := false
	for i, v := range m.Buffers()[0].T.Data {
		changed = changed || v != before[i]
	}
	if !changed {
		t.Error("a normal training forward should update the running mean")
	}
}

func TestLeavesAndGrads(t *testing.T) {
	x := nn.New([]float32{1, 2, 3, 4}, 2, 2)
	l := Leaves([]*nn.Tensor{x, x})
	nn.SumAll(nn.Mul(l[0], l[0])).Backward()
	g := Grads(l)
	want := []float32{2, 4, 6, 8}
	for i, v := range g[0].Data {
		if v != want[i] {
			t.Errorf("grad[0][%d] = %v, want %v", i, v, want[i])
		}
	}
	for i, v := range g[1].Data {
		if v != 0 {
			t.Errorf("untouched leaf grad[%d] = %v, want 0", i, v)
		}
	}
	if &l[0].Data[0] == &x.Data[0] {
		t.Error("Leaves must copy the data")
	}
}

// ---  optimizer

func param(name string, vals ...float32) *nn.Param {
	return &nn.Param{Name: name, T: nn.New(vals).SetRequiresGrad(true)}
}

func TestHeadOptimizerSGD(t *testing.T) {
	w := param("w", 1, -2)
	b := param("b", 0.5)
	b.NoDecay = true
	pred := param("pred", 3)
	h := sdk.Hyper{Optimizer: "sgd", Momentum: 0.9, WeightDecay: 0.1}
	o, err := NewHeadOptimizer(h, []*nn.Param{w, b}, []*nn.Param{pred})
	if err != nil {
		t.Fatal(err)
	}
	in := sdk.StepInput{LR: 0.1, BaseLR: 1}
	for step := 0; step < 2; step++ {
		o.ZeroGrad()
		w.T.Grad = []float32{1, 1}
		b.T.Grad = []float32{1}
		pred.T.Grad = []float32{1}
		o.Step(in)
	}
	// Hand-computed torch.optim.SGD: d = g + wd·p; buf = d, then 0.9·buf + d; p −= lr·buf.
	// w[0]: d1 = 1.1 → buf 1.1, p = 1 − 0.11 = 0.89; d2 = 1.089 → buf 2.079, p = 0.89 − 0.2079 = 0.6821.
	// b (no decay): buf 1 → p 0.4; buf 1.9 → p 0.21.
	// pred at BaseLR 1, wd 0.1: d1 = 1.3 → p 1.7; d2 = 1.17, buf 2.34 → p −0.64.
	checks := []struct {
		name      string
		got, want float32
	}{{"w[0]", w.T.Data[0], 0.6821}, {"b", b.T.Data[0], 0.21}, {"pred (fixed lr)", pred.T.Data[0], -0.64}}
	for _, c := range checks {
		if math.Abs(float64(c.got-c.want)) > 1e-5 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// State round trip into a fresh optimizer continues identically.
	w2, b2, p2 := param("w", w.T.Data...), param("b", b.T.Data...), param("pred", pred.T.Data...)
	b2.NoDecay = true
	o2, _ := NewHeadOptimizer(h, []*nn.Param{w2, b2}, []*nn.Param{p2})
	if err := o2.SetState(o.State()); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*nn.Param{{w, w2}, {b, b2}, {pred, p2}} {
		pair[0].T.Grad = make([]float32, pair[0].T.Len())
		pair[1].T.Grad = make([]float32, pair[1].T.Len())
		pair[0].T.Grad[0], pair[1].T.Grad[0] = 0.3, 0.3
	}
	o.Step(in)
	o2.Step(in)
	for _, pair := range [][2]*nn.Param{{w, w2}, {b, b2}, {pred, p2}} {
		for i := range pair[0].T.Data {
			if pair[0].T.Data[i] != pair[1].T.Data[i] {
				t.Errorf("%s[%d] after restore: %v vs %v", pair[0].Name, i, pair[1].T.Data[i], pair[0].T.Data[i])
			}
		}
	}
	// A state naming an unknown parameter is refused.
	if err := o2.SetState([]*nn.Param{{Name: "momentum/nope", T: nn.Zeros(1)}}); err == nil {
		t.Error("SetState with an unknown entry should fail")
	}
}

func TestHeadOptimizerNilGradSkipped(t *testing.T) {
	p := param("proto", 1, 1)
	o, _ := NewHeadOptimizer(sdk.Hyper{Momentum: 0.9, WeightDecay: 0.5}, []*nn.Param{p}, nil)
	p.T.Grad = nil
	o.Step(sdk.StepInput{LR: 1})
	if p.T.Data[0] != 1 || p.T.Data[1] != 1 {
		t.Errorf("a parameter without gradient moved: %v", p.T.Data)
	}
}

func TestHeadOptimizerLARS(t *testing.T) {
	// One LARS step from p=(3,4) (‖p‖=5), g=(1,0), wd 0: trust = 0.001·5/1,
	// p −= lr·trust·g.
	p := param("w", 3, 4)
	o, err := NewHeadOptimizer(sdk.Hyper{Optimizer: "lars"}, []*nn.Param{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.T.Grad = []float32{1, 0}
	o.Step(sdk.StepInput{LR: 2})
	if math.Abs(float64(p.T.Data[0])-(3-2*0.005)) > 1e-6 || p.T.Data[1] != 4 {
		t.Errorf("after LARS step p = %v, want [2.99 4]", p.T.Data)
	}
	if _, err := NewHeadOptimizer(sdk.Hyper{Optimizer: "adam"}, []*nn.Param{p}, nil); err == nil || !strings.Contains(err.Error(), "use sgd or lars") {
		t.Errorf("adam: err = %v", err)
	}
	if _, err := NewHeadOptimizer(sdk.Hyper{}, []*nn.Param{p}, []*nn.Param{p}); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate: err = %v", err)
	}
}

// ---  state

type testMeta struct {
	Step int               `json:"step"`
	Opts map[string]string `json:"opts"`
}

func TestStateRoundTrip(t *testing.T) {
	a := []*nn.Param{param("a", 1, 2, 3), {Name: "m", T: nn.New([]float32{4, 5, 6, 7}, 2, 2)}}
	q := []*nn.Param{{Name: "queue", T: nn.New([]float32{-1.5, float32(math.Inf(1))}, 1, 2)}}
	blob, err := EncodeState("demo", testMeta{Step: 7, Opts: map[string]string{"dim": "2"}}, Section{"params", a}, Section{"queue", q})
	if err != nil {
		t.Fatal(err)
	}
	var meta testMeta
	d, err := DecodeState(blob, "demo", &meta)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Step != 7 || meta.Opts["dim"] != "2" {
		t.Errorf("meta = %+v", meta)
	}
	dst := []*nn.Param{param("a", 0, 0, 0), {Name: "m", T: nn.Zeros(2, 2)}}
	if err := d.Fit("params", dst); err != nil {
		t.Fatal(err)
	}
	d.CopyInto("params", dst)
	for i, p := range dst {
		for j, v := range p.T.Data {
			if v != a[i].T.Data[j] {
				t.Errorf("%s[%d] = %v, want %v", p.Name, j, v, a[i].T.Data[j])
			}
		}
	}
	if got := d["queue"][0].T.Data; got[0] != -1.5 || !math.IsInf(float64(got[1]), 1) {
		t.Errorf("queue = %v", got)
	}

	bad := []struct {
		name string
		blob []byte
		meth string
		want string
	}{
		{"empty", nil, "demo", "not a siambench checkpoint"},
		{"other format", []byte("SBKS\x01\x00\x00\x00{}junk"), "demo", "not a siambench checkpoint"},
		{"other method", blob, "byol", `saved by method "demo"`},
		{"flipped byte", flip(blob, len(blob)/2), "demo", "checksum mismatch"},
		{"truncated", blob[:len(blob)-9], "demo", "checksum mismatch"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeState(tc.blob, tc.meth, &meta)
			if err == nil || !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadInput containing %q", err, tc.want)
			}
		})
	}
	// Fit names the first mismatch.
	if err := d.Fit("params", []*nn.Param{param("a", 0, 0), {Name: "m", T: nn.Zeros(2, 2)}}); err == nil || !strings.Contains(err.Error(), "entry 0 is a[3], this method has a[2]") {
		t.Errorf("Fit size mismatch: err = %v", err)
	}
	if err := d.Fit("params", dst[:1]); err == nil || !strings.Contains(err.Error(), "has 2 tensors, this method has 1") {
		t.Errorf("Fit count mismatch: err = %v", err)
	}
}

func TestStateSectionName(t *testing.T) {
	if _, err := EncodeState("demo", nil, Section{Name: "a/b"}); err == nil || !strings.Contains(err.Error(), "contains '/'") {
		t.Errorf("err = %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

func TestRNGRoundTrip(t *testing.T) {
	r := NewRNG(42)
	r.Float64()
	s, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := r.Float64()
	r2 := NewRNG(1)
	if err := r2.UnmarshalBinary(s); err != nil {
		t.Fatal(err)
	}
	if got := r2.Float64(); got != want {
		t.Errorf("after restore %v, want %v", got, want)
	}
	if err := r2.UnmarshalBinary([]byte("junk")); err == nil || !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("junk state: err = %v", err)
	}
}

// ---  metrics

func TestOutputStd(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	iso := nn.Randn(rng, 3, 4096, 64)
	tests := []struct {
		name string
		z    *nn.Tensor
		want float64
		tol  float64
	}{
		// Rows e1 and e2 (any scale): each channel is {1,0} → std 0.5.
		{"two axes", nn.New([]float32{2, 0, 0, 5}, 2, 2), 0.5, 1e-12},
		// Same direction, different lengths: collapsed.
		{"collapsed", nn.New([]float32{1, 2, 2, 4, 3, 6}, 3, 2), 0, 1e-7},
		// Isotropic Gaussian rows: each coordinate of a unit vector has variance 1/K.
		{"isotropic", iso, 1 / math.Sqrt(64), 0.003},
		{"one row", nn.New([]float32{1, 2}, 1, 2), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := OutputStd(tc.z); math.Abs(got-tc.want) > tc.tol {
				t.Errorf("OutputStd = %v, want %v ± %v", got, tc.want, tc.tol)
			}
		})
	}
}

// SaveState/LoadState round-trip heads, optimizer state and step count, and
// refuse other options, other methods and use before Init, changing nothing.
func TestSaveLoadState(t *testing.T) {
	build := func(dim string) (Options, *nn.Sequential, *HeadOptimizer) {
		o, err := ParseOptions([]sdk.OptionSpec{{Name: "dim", Type: "int", Default: "3"}}, map[string]string{"dim": dim})
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewMLP(rand.New(rand.NewPCG(1, 1)), "h", 2, Layer{Out: o.Int("dim"), BN: Affine})
		if err != nil {
			t.Fatal(err)
		}
		opt, err := NewHeadOptimizer(sdk.Hyper{Momentum: 0.9}, h.Params(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return o, h, opt
	}
	o, h, opt := build("3")
	h.Forward(nn.Randn(rand.New(rand.NewPCG(2, 2)), 1, 4, 2)) // move the BN statistics
	for _, p := range h.Params() {
		p.T.Grad = make([]float32, p.T.Len())
		p.T.Grad[0] = 1
	}
	opt.Step(sdk.StepInput{LR: 0.1})
	if secs := Heads(h, nil); len(secs) != 2 || secs[0].Name != "params" || len(secs[0].Params) != 3 || secs[1].Name != "buffers" || len(secs[1].Params) != 2 {
		t.Fatalf("Heads(h, nil) = %+v", secs)
	}
	blob, err := SaveState("demo", o, 7, opt, Heads(h)...)
	if err != nil {
		t.Fatal(err)
	}
	o2, h2, opt2 := build("3")
	var steps int64
	if err := LoadState(blob, "demo", o2, opt2, &steps, Heads(h2)...); err != nil {
		t.Fatal(err)
	}
	if steps != 7 {
		t.Errorf("steps = %d, want 7", steps)
	}
	for i, s := range Heads(h) {
		for j, p := range s.Params {
			if q := Heads(h2)[i].Params[j]; !slices.Equal(p.T.Data, q.T.Data) {
				t.Errorf("%s %s: %v, want %v", s.Name, p.Name, q.T.Data, p.T.Data)
			}
		}
	}
	if got, want := opt2.State(), opt.State(); len(got) != len(want) || !slices.Equal(got[0].T.Data, want[0].T.Data) {
		t.Errorf("optimizer state not restored")
	}
	o3, h3, opt3 := build("4")
	before := append([]float32(nil), h3.Params()[0].T.Data...)
	for _, tc := range []struct {
		name, method string
		opt          *HeadOptimizer
		want         string
	}{
		{"other options", "demo", opt3, "state saved with options map[dim:3], this demo was initialised with map[dim:4]"},
		{"other method", "other", opt3, `saved by method "demo"`},
		{"before Init", "demo", nil, "SetState before Init"},
	} {
		if err := LoadState(blob, tc.method, o3, tc.opt, &steps, Heads(h3)...); err == nil || !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrBadInput containing %q", tc.name, err, tc.want)
		}
	}
	if !slices.Equal(h3.Params()[0].T.Data, before) || steps != 7 {
		t.Error("a refused LoadState changed the heads or the step count")
	}
	if _, err := SaveState("demo", o, 0, nil); err == nil || !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "State before Init") {
		t.Errorf("SaveState before Init: err = %v", err)
	}
	if _, err := NewMLP(rand.New(rand.NewPCG(1, 1)), "bad", 0, Layer{Out: 1}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("NewMLP with zero input width: err = %v, want ErrBadInput", err)
	}
}

// RunHyper: the host's recipe when it sent one, the spec's otherwise; and
// a head optimizer built from it follows the host's weight decay.
func TestRunHyper(t *testing.T) {
	spec := sdk.Hyper{Optimizer: "sgd", BaseLR: 0.05, LRBatchDiv: 256, WeightDecay: 1e-4, Momentum: 0.9}
	host := spec
	host.WeightDecay = 0.5
	if got := RunHyper(sdk.InitConfig{}, spec); got != spec {
		t.Errorf("no host recipe: got %+v, want the spec's %+v", got, spec)
	}
	if got := RunHyper(sdk.InitConfig{Hyper: host}, spec); got != host {
		t.Errorf("host recipe: got %+v, want %+v", got, host)
	}
	// one SGD step with zero gradient: p ← p − lr·wd·p
	for _, c := range []struct {
		cfg  sdk.InitConfig
		want float32
	}{{sdk.InitConfig{}, 1 - 0.1*1e-4}, {sdk.InitConfig{Hyper: host}, 1 - 0.1*0.5}} {
		p := param("w", 1)
		o, err := NewHeadOptimizer(RunHyper(c.cfg, spec), []*nn.Param{p}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.T.Grad = []float32{0}
		o.Step(sdk.StepInput{LR: 0.1})
		if math.Abs(float64(p.T.Data[0]-c.want)) > 1e-7 {
			t.Errorf("host recipe %+v: p = %v after one step, want %v", c.cfg.Hyper, p.T.Data[0], c.want)
		}
	}
}

// ---  Method

// demo is a method on Method with every kind of head: a projector
// trained at the scheduled lr, a predictor at the fixed lr (option
// "fixed"), and an EMA target of the projector (option "target"). Its loss
// is the negative cosine between each view's prediction and the other
// view's projection (target projection with "target").
type demo struct {
	proj, pred, target *nn.Sequential
	fixed              bool
}

func newDemo(target bool) *Method { return NewMethod(demoSpec(target), buildDemo(target)) }

func demoSpec(target bool) sdk.Spec {
	spec := sdk.Spec{
		Name: "demo", Version: "0.0.1",
		Views: []sdk.ViewSpec{{Count: 2, Preset: "simsiam"}},
		Hyper: sdk.Hyper{Optimizer: "sgd", BaseLR: 0.05, LRBatchDiv: 256, WeightDecay: 1e-4, Momentum: 0.9},
		Options: []sdk.OptionSpec{
			{Name: "dim", Type: "int", Default: "8", Help: "output width"},
			{Name: "fixed", Type: "bool", Default: "false", Help: "predictor at the fixed lr"},
		},
	}
	if target {
		spec.Target = &sdk.TargetSpec{BaseMomentum: 0.9, Schedule: "constant"}
	}
	return spec
}

func buildDemo(target bool) func(*Build) (Model, error) {
	return func(b *Build) (Model, error) {
		dim := b.IntAtLeast("dim", 1)
		rng := b.RNG(0xde)
		m := &demo{fixed: b.Opts.Bool("fixed")}
		var err error
		if m.proj, err = NewMLP(rng, "projector", b.Config.FeatureDim, Layer{Out: 12, BN: Affine, ReLU: true}, Layer{Out: dim}); err != nil {
			return nil, err
		}
		if m.pred, err = NewMLP(rng, "predictor", dim, Layer{Out: dim}); err != nil {
			return nil, err
		}
		if target {
			m.target, err = NewMLP(rng, "target", b.Config.FeatureDim, Layer{Out: 12, BN: Affine, ReLU: true}, Layer{Out: dim})
		}
		return m, err
	}
}

func (m *demo) Heads() HeadSet {
	h := HeadSet{Train: []*nn.Sequential{m.proj, m.pred}}
	if m.fixed {
		h = HeadSet{Train: []*nn.Sequential{m.proj}, Fixed: []*nn.Sequential{m.pred}}
	}
	if m.target != nil {
		h.Targets = []Target{{EMA: m.target, Online: m.proj}}
	}
	return h
}

func (m *demo) Loss(in sdk.StepInput) (Loss, error) {
	z1, z2 := m.proj.Forward(in.Views[0]), m.proj.Forward(in.Views[1])
	t1, t2 := z1, z2
	if m.target != nil {
		nn.NoGrad(func() { t1, t2 = m.target.Forward(in.Targets[0]), m.target.Forward(in.Targets[1]) })
	}
	p1, p2 := m.pred.Forward(z1), m.pred.Forward(z2)
	loss := nn.Neg(nn.Add(nn.MeanAll(nn.CosineSimilarity(p1, t2)), nn.MeanAll(nn.CosineSimilarity(p2, t1))))
	return Loss{Value: loss, Outputs: []*nn.Tensor{z1, z2}, Metrics: map[string]float64{"demo": 1}}, nil
}

// The conformance suite on the base: the gradient Step returns matches
// finite differences of the loss it returns, State round-trips into a fresh
// process and continues identically, bad input is refused, output_std is
// reported, a cancelled ctx stops the step: for each kind of head.
func TestMethodConformance(t *testing.T) {
	run := func(name string, target bool, opts map[string]string) {
		t.Run(name, func(t *testing.T) {
			sdktest.Run(t, func() sdk.Method { return newDemo(target) }, sdktest.Config{
				Init: sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 5, Options: opts},
			})
		})
	}
	run("scheduled", false, nil)
	run("fixed_lr_head", false, map[string]string{"fixed": "true"})
	run("ema_target", true, nil)
}

// sgDemo is demo with SimSiam's stop-gradient, sg(z) for the targets: a
// DetachedModel.
type sgDemo struct{ *demo }

func (m sgDemo) Loss(in sdk.StepInput) (Loss, error) { return m.LossDetached(in, nil) }

func (m sgDemo) LossDetached(in sdk.StepInput, detached []*nn.Tensor) (Loss, error) {
	z1, z2 := m.proj.Forward(in.Views[0]), m.proj.Forward(in.Views[1])
	t1, t2 := z1.Detach(), z2.Detach()
	if detached != nil {
		nn.NoGrad(func() { t1, t2 = ForwardKeepStats(m.proj, detached[0]), ForwardKeepStats(m.proj, detached[1]) })
	}
	p1, p2 := m.pred.Forward(z1), m.pred.Forward(z2)
	loss := nn.Neg(nn.Add(nn.MeanAll(nn.CosineSimilarity(p1, t2)), nn.MeanAll(nn.CosineSimilarity(p2, t1))))
	return Loss{Value: loss, Outputs: []*nn.Tensor{z1, z2}}, nil
}

// A DetachedMethod is an sdk.DetachedStepper, and the conformance suite
// checks its gradient with the stop-gradient branch held fixed; a plain
// Method is not one.
func TestDetachedMethod(t *testing.T) {
	newSG := func() sdk.Method {
		return NewDetachedMethod(demoSpec(false), func(b *Build) (DetachedModel, error) {
			m, err := buildDemo(false)(b)
			if err != nil {
				return nil, err
			}
			return sgDemo{m.(*demo)}, nil
		})
	}
	sdktest.Run(t, newSG, sdktest.Config{Init: sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 5}})
	if _, ok := sdk.Method(newDemo(false)).(sdk.DetachedStepper); ok {
		t.Error("a plain Method must not claim to be a DetachedStepper")
	}
}

func TestMethodInitErrors(t *testing.T) {
	sdktest.InitErrors(t, func() sdk.Method { return newDemo(false) }, sdk.InitConfig{FeatureDim: 6, BatchSize: 4},
		// An unknown option names the valid ones.
		sdktest.InitError{Options: map[string]string{"dmi": "4"}, Want: "dim (int, default 8)"},
		// A value of the wrong type.
		sdktest.InitError{Options: map[string]string{"dim": "four"}, Want: "dim"},
		// A failed range check is the error, not what building with the
		// zero value it returned then said.
		sdktest.InitError{Options: map[string]string{"dim": "0"}, Want: "option dim=0: must be at least 1; valid options:"})
	m := newDemo(false)
	if m.Model() != nil {
		t.Error("Model before Init should be nil")
	}
	if _, err := m.State(); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("State before Init: err = %v", err)
	}
	if _, err := m.Step(context.Background(), sdk.StepInput{}); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "before Init") {
		t.Errorf("Step before Init: err = %v", err)
	}
}

// feats returns n (b,6) feature tensors drawn from rng.
func feats(rng *rand.Rand, n, b int) []*nn.Tensor {
	var out []*nn.Tensor
	for range n {
		out = append(out, nn.Randn(rng, 1, b, 6))
	}
	return out
}

// Step's metrics, the EMA target's update, the momentum check, and that a
// state from other options is refused.
func TestMethodStep(t *testing.T) {
	m := newDemo(true)
	if err := m.Init(sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	md := m.Model().(*demo)
	// Target weight w of the first layer, online weight o: w = o at Init,
	// then w ← m·w + (1−m)·o after the step's update of o.
	w, o := md.target.Params()[0].T.Data, md.proj.Params()[0].T.Data
	if !slices.Equal(w, o) {
		t.Fatal("the target differs from the online head at Init")
	}
	w0 := slices.Clone(w)
	const mom = 0.75
	rng := rand.New(rand.NewPCG(1, 1))
	in := sdk.StepInput{LR: 0.5, Momentum: mom, Views: feats(rng, 2, 8), Targets: feats(rng, 2, 8)}
	out, err := m.Step(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Metrics["output_dim"] != 8 || out.Metrics["demo"] != 1 || !(out.Metrics["output_std"] > 0) {
		t.Errorf("metrics %v, want output_dim 8, demo 1, output_std > 0", out.Metrics)
	}
	if slices.Equal(o, w0) {
		t.Error("the online head did not move")
	}
	for j := range w {
		if want := mom*w0[j] + (1-mom)*o[j]; math.Abs(float64(w[j]-want)) > 1e-6 {
			t.Fatalf("target[%d] = %v, want m·old + (1−m)·online = %v", j, w[j], want)
		}
	}
	in.Momentum = 1.5
	if _, err := m.Step(context.Background(), in); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "target momentum 1.5") {
		t.Errorf("momentum 1.5: err = %v", err)
	}
	in.Momentum, in.Views, in.Targets = 0.5, feats(rng, 2, 1), feats(rng, 2, 1)
	if _, err := m.Step(context.Background(), in); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "batch of 1") {
		t.Errorf("batch of 1 with BN heads: err = %v", err)
	}

	other := newDemo(true)
	_ = other.Init(sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 1, Options: map[string]string{"dim": "4"}})
	blob, _ := other.State()
	if err := m.SetState(blob); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "state saved with options") {
		t.Errorf("SetState from other options: err = %v", err)
	}
}

// Fixed heads train at BaseLR, Train heads at LR: with LR 0 only the
// predictor moves.
func TestMethodFixedHeads(t *testing.T) {
	m := newDemo(false)
	if err := m.Init(sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 1, Options: map[string]string{"fixed": "true"}}); err != nil {
		t.Fatal(err)
	}
	md := m.Model().(*demo)
	proj, pred := append([]float32(nil), md.proj.Params()[0].T.Data...), append([]float32(nil), md.pred.Params()[0].T.Data...)
	if _, err := m.Step(context.Background(), sdk.StepInput{LR: 0, BaseLR: 1, Views: feats(rand.New(rand.NewPCG(2, 2)), 2, 8)}); err != nil {
		t.Fatal(err)
	}
	for j, v := range md.proj.Params()[0].T.Data {
		if v != proj[j] {
			t.Fatalf("projector moved at LR 0: [%d] %v → %v", j, proj[j], v)
		}
	}
	moved := false
	for j, v := range md.pred.Params()[0].T.Data {
		moved = moved || v != pred[j]
	}
	if !moved {
		t.Error("the fixed-lr predictor did not move at BaseLR 1")
	}
}

// counted is demo with a model-owned state section (a step counter, as
// MoCo's queue) that AfterStep advances.
type counted struct {
	*demo
	n *nn.Param
}

func (m counted) Heads() HeadSet {
	h := m.demo.Heads()
	h.State = []Section{{Name: "counter", Params: []*nn.Param{m.n}}}
	return h
}

func (m counted) AfterStep(sdk.StepInput) { m.n.T.Data[0]++ }

// A model's own state is saved and restored with the heads, and AfterStep
// runs once per successful step, never for a failed one.
func TestMethodAfterStepAndOwnState(t *testing.T) {
	newCounted := func() *Method {
		return NewMethod(demoSpec(false), func(b *Build) (Model, error) {
			d, err := buildDemo(false)(b)
			if err != nil {
				return nil, err
			}
			return counted{d.(*demo), &nn.Param{Name: "n", T: nn.Zeros(1)}}, nil
		})
	}
	cfg := sdk.InitConfig{FeatureDim: 6, BatchSize: 4, Seed: 1, TotalSteps: 10}
	m := newCounted()
	if err := m.Init(cfg); err != nil {
		t.Fatal(err)
	}
	n := m.Model().(counted).n
	rng := rand.New(rand.NewPCG(1, 2))
	in := func() sdk.StepInput {
		return sdk.StepInput{Views: []*nn.Tensor{nn.Randn(rng, 1, 4, 6), nn.Randn(rng, 1, 4, 6)}, LR: 0.1, BaseLR: 0.1}
	}
	for i := 0; i < 3; i++ {
		if _, err := m.Step(t.Context(), in()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Step(ctx, in()); err == nil {
		t.Fatal("a step with a cancelled ctx succeeded")
	}
	if got := n.T.Data[0]; got != 3 {
		t.Fatalf("AfterStep ran %v times for 3 good steps and a failed one, want 3", got)
	}
	blob, err := m.State()
	if err != nil {
		t.Fatal(err)
	}
	fresh := newCounted()
	if err := fresh.Init(cfg); err != nil {
		t.Fatal(err)
	}
	if err := fresh.SetState(blob); err != nil {
		t.Fatal(err)
	}
	if got := fresh.Model().(counted).n.T.Data[0]; got != 3 {
		t.Errorf("restored counter %v, want 3: the model's own section was not saved or restored", got)
	}
}
