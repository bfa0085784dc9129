package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/nn"
)

func param(name string, noDecay bool, data ...float32) *nn.Param {
	t := nn.New(data, len(data)).SetRequiresGrad(true)
	return &nn.Param{Name: name, T: t, NoDecay: noDecay}
}

func near(t *testing.T, what string, got, want float32) {
	t.Helper()
	if math.Abs(float64(got-want)) > 1e-6*math.Max(1, math.Abs(float64(want))) {
		t.Errorf("%s: want %.7g, got %.7g", what, want, got)
	}
}

func TestSGDHandComputed(t *testing.T) {
	cases := []struct {
		name     string
		nesterov bool
		noDecay  bool
		want     []float32 // p after each of two steps with grad 0.5
	}{
		// d=0.5+0.1·1=0.6, buf=0.6, p=0.94; d=0.5+0.094=0.594, buf=1.134, p=0.8266
		{"momentum-wd", false, false, []float32{0.94, 0.8266}},
		// upd = d + 0.9·buf = 1.14 → 0.886; d=0.5886, buf=1.1286, upd=1.60434 → 0.725566
		{"nesterov-wd", true, false, []float32{0.886, 0.725566}},
		// no decay: d=0.5, buf=0.5 → 0.95; buf=0.95 → 0.855
		{"momentum-nodecay", false, true, []float32{0.95, 0.855}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := param("w", tc.noDecay, 1)
			o := NewSGD([]Group{{Params: []*nn.Param{p}, WeightDecay: 0.1}}, 0.9, tc.nesterov)
			for step, want := range tc.want {
				o.ZeroGrad()
				if p.T.Grad == nil {
					p.T.Grad = make([]float32, 1)
				}
				p.T.Grad[0] = 0.5
				o.Step(0.1)
				near(t, "step "+string(rune('1'+step)), p.T.Data[0], want)
			}
		})
	}
}

func TestLARSHandComputed(t *testing.T) {
	w := param("w", false, 3, 4) // ‖w‖ = 5
	b := param("b", true, 2)
	w.T.Grad = []float32{0, 1} // ‖∇‖ = 1
	b.T.Grad = []float32{1}
	o := NewLARS([]Group{{Params: []*nn.Param{w, b}, WeightDecay: 0.1}}, 0.9, 0.001)
	o.Step(1)
	// trust = 0.001·5/(1 + 0.1·5 + 1e-8); d = (∇ + 0.1·w)·trust
	trust := float32(0.005 / 1.5)
	near(t, "w[0]", w.T.Data[0], 3-0.3*trust)
	near(t, "w[1]", w.T.Data[1], 4-1.4*trust)
	near(t, "b (NoDecay: plain step)", b.T.Data[0], 1)
}

func TestGroupsLR(t *testing.T) {
	fixed := param("pred", false, 1)
	scaled := param("head", false, 1)
	plain := param("bb", false, 1)
	for _, p := range []*nn.Param{fixed, scaled, plain} {
		p.T.Grad = []float32{1}
	}
	o := NewSGD([]Group{
		{Params: []*nn.Param{fixed}, FixedLR: true, LR: 0.5},
		{Params: []*nn.Param{scaled}, LRScale: 0.1},
		{Params: []*nn.Param{plain}},
	}, 0, false)
	o.Step(0.2)
	near(t, "fixed-lr group ignores the schedule", fixed.T.Data[0], 0.5)
	near(t, "scaled group", scaled.T.Data[0], 0.98)
	near(t, "plain group", plain.T.Data[0], 0.8)
}

func TestCosine(t *testing.T) {
	cases := []struct {
		step int
		want float64
	}{
		{0, 0.5}, {1, 1}, {2, 1}, {6, 0.55}, {10, 0.1}, {12, 0.1},
	}
	for _, tc := range cases {
		// total 10, warm-up 2, base 1, final 0.1: step 6 is half-way → 0.1+0.9/2
		if got := Cosine(tc.step, 10, 2, 1, 0.1); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Cosine(step %d): want %g, got %g", tc.step, tc.want, got)
		}
	}
}

func TestEMA(t *testing.T) {
	tp, op := param("w", false, 1, 2), param("w", false, 3, 6)
	if err := EMA([]*nn.Param{tp}, []*nn.Param{op}, 0.9); err != nil {
		t.Fatal(err)
	}
	near(t, "ema[0]", tp.T.Data[0], 1.2)
	near(t, "ema[1]", tp.T.Data[1], 2.4)
	err := EMA([]*nn.Param{tp}, []*nn.Param{param("w", false, 1)}, 0.9)
	if err == nil || err.Error() != `optim.EMA: "w" has 2 elements, online "w" has 1` {
		t.Fatalf("mismatch error: %v", err)
	}

	r := rand.New(rand.NewPCG(1, 2))
	online := nn.NewSequential("m", nn.NewLinear(r, 3, 2, false), nn.NewBatchNorm(2, true))
	target := nn.NewSequential("m", nn.NewLinear(r, 3, 2, false), nn.NewBatchNorm(2, true))
	online.Buffers()[0].T.Data[0] = 7
	if err := EMAModule(target, online, 0.5); err != nil {
		t.Fatal(err)
	}
	if target.Buffers()[0].T.Data[0] != 7 {
		t.Fatal("EMAModule did not copy buffers")
	}
}

func TestStateRoundTrip(t *testing.T) {
	mk := func() (*nn.Param, *SGD) {
		p := param("w", false, 1, 2)
		return p, NewSGD([]Group{{Params: []*nn.Param{p}, WeightDecay: 0.01}}, 0.9, false)
	}
	p1, o1 := mk()
	p1.T.Grad = []float32{0.3, -0.2}
	o1.Step(0.1)
	p2, o2 := mk()
	copy(p2.T.Data, p1.T.Data)
	if err := o2.SetState(o1.State()); err != nil {
		t.Fatal(err)
	}
	p2.T.Grad = []float32{0.3, -0.2}
	o1.Step(0.1)
	o2.Step(0.1)
	for i := range p1.T.Data {
		if p1.T.Data[i] != p2.T.Data[i] {
			t.Fatalf("after restore, param[%d]: %g vs %g", i, p1.T.Data[i], p2.T.Data[i])
		}
	}
	bad := []*nn.Param{{Name: "momentum/zz", T: nn.Zeros(2)}}
	if err := o2.SetState(bad); err == nil {
		t.Fatal("state for an unknown parameter accepted")
	}
}
