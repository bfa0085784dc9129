package nn_test

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gradcheck"
)

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

// randAway returns normal samples kept at least gap away from 0 (so ReLU
// and similar kinks are not straddled by the finite-difference step).
func randAway(r *rand.Rand, gap float32, shape ...int) *nn.Tensor {
	t := nn.Randn(r, 1, shape...)
	for i, v := range t.Data {
		if v >= 0 && v < gap {
			t.Data[i] = v + gap
		} else if v < 0 && v > -gap {
			t.Data[i] = v - gap
		}
	}
	return t
}

func positive(r *rand.Rand, shape ...int) *nn.Tensor {
	return nn.Uniform(r, 0.5, 2, shape...)
}

func req(t *nn.Tensor) *nn.Tensor { return t.SetRequiresGrad(true) }

func TestOpGradients(t *testing.T) {
	r := rng(1)
	a := req(nn.Randn(r, 1, 3, 4))
	b := req(nn.Randn(r, 1, 3, 4))
	row := req(nn.Randn(r, 1, 4))
	one := req(nn.Randn(r, 1, 1))
	pos := req(positive(r, 3, 4))
	posRow := req(positive(r, 4))
	away := req(randAway(r, 0.05, 3, 4))
	m1 := req(nn.Randn(r, 1, 3, 5))
	m2 := req(nn.Randn(r, 1, 5, 2))
	m1t := req(nn.Randn(r, 1, 5, 3))
	m2t := req(nn.Randn(r, 1, 2, 5))
	t3 := req(nn.Randn(r, 1, 2, 3, 4))
	tiny := req(nn.Randn(r, 1e-9, 2, 3))
	c1 := req(nn.Randn(r, 1, 2, 4))
	c2 := req(nn.Randn(r, 1, 3, 4))
	labels := []int{3, 0, 2}

	cases := []struct {
		name string
		f    func() *nn.Tensor
		in   map[string]*nn.Tensor
		opt  gradcheck.Options // zero: defaults
	}{
		{"Add", func() *nn.Tensor { return nn.Add(a, b) }, map[string]*nn.Tensor{"a": a, "b": b}, gradcheck.Options{}},
		{"AddBroadcastRow", func() *nn.Tensor { return nn.Add(a, row) }, map[string]*nn.Tensor{"a": a, "row": row}, gradcheck.Options{}},
		{"AddBroadcastScalar", func() *nn.Tensor { return nn.Add(a, one) }, map[string]*nn.Tensor{"a": a, "one": one}, gradcheck.Options{}},
		{"Sub", func() *nn.Tensor { return nn.Sub(a, row) }, map[string]*nn.Tensor{"a": a, "row": row}, gradcheck.Options{}},
		{"Mul", func() *nn.Tensor { return nn.Mul(a, b) }, map[string]*nn.Tensor{"a": a, "b": b}, gradcheck.Options{}},
		{"MulBroadcast", func() *nn.Tensor { return nn.Mul(a, row) }, map[string]*nn.Tensor{"a": a, "row": row}, gradcheck.Options{}},
		{"Div", func() *nn.Tensor { return nn.Div(a, pos) }, map[string]*nn.Tensor{"a": a, "pos": pos}, gradcheck.Options{}},
		{"DivBroadcast", func() *nn.Tensor { return nn.Div(a, posRow) }, map[string]*nn.Tensor{"a": a, "posRow": posRow}, gradcheck.Options{}},
		{"Scale", func() *nn.Tensor { return nn.Scale(a, -2.5) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"AddScalar", func() *nn.Tensor { return nn.AddScalar(a, 3) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"Neg", func() *nn.Tensor { return nn.Neg(a) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"Exp", func() *nn.Tensor { return nn.Exp(a) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"Log", func() *nn.Tensor { return nn.Log(pos) }, map[string]*nn.Tensor{"pos": pos}, gradcheck.Options{}},
		{"Sqrt", func() *nn.Tensor { return nn.Sqrt(pos) }, map[string]*nn.Tensor{"pos": pos}, gradcheck.Options{}},
		{"Square", func() *nn.Tensor { return nn.Square(a) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"ReLU", func() *nn.Tensor { return nn.ReLU(away) }, map[string]*nn.Tensor{"away": away}, gradcheck.Options{}},
		{"Sum0", func() *nn.Tensor { return nn.Sum(t3, 0) }, map[string]*nn.Tensor{"t3": t3}, gradcheck.Options{}},
		{"Sum1", func() *nn.Tensor { return nn.Sum(t3, 1) }, map[string]*nn.Tensor{"t3": t3}, gradcheck.Options{}},
		{"SumLast", func() *nn.Tensor { return nn.Sum(t3, -1) }, map[string]*nn.Tensor{"t3": t3}, gradcheck.Options{}},
		{"Mean1", func() *nn.Tensor { return nn.Mean(t3, 1) }, map[string]*nn.Tensor{"t3": t3}, gradcheck.Options{}},
		{"SumAll", func() *nn.Tensor { return nn.SumAll(t3) }, map[string]*nn.Tensor{"t3": t3}, gradcheck.Options{}},
		{"MeanAll", func() *nn.Tensor { return nn.MeanAll(t3) }, map[string]*nn.Tensor{"t3": t3}, gradcheck.Options{}},
		{"MatMul", func() *nn.Tensor { return nn.MatMul(m1, m2, false, false) }, map[string]*nn.Tensor{"a": m1, "b": m2}, gradcheck.Options{}},
		{"MatMulTA", func() *nn.Tensor { return nn.MatMul(m1t, m2, true, false) }, map[string]*nn.Tensor{"a": m1t, "b": m2}, gradcheck.Options{}},
		{"MatMulTB", func() *nn.Tensor { return nn.MatMul(m1, m2t, false, true) }, map[string]*nn.Tensor{"a": m1, "b": m2t}, gradcheck.Options{}},
		{"MatMulTATB", func() *nn.Tensor { return nn.MatMul(m1t, m2t, true, true) }, map[string]*nn.Tensor{"a": m1t, "b": m2t}, gradcheck.Options{}},
		{"Softmax", func() *nn.Tensor { return nn.Softmax(a) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"LogSoftmax", func() *nn.Tensor { return nn.LogSoftmax(a) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"LogSumExp", func() *nn.Tensor { return nn.LogSumExp(a) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"CrossEntropy", func() *nn.Tensor { return nn.CrossEntropy(a, labels) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"L2Normalize", func() *nn.Tensor { return nn.L2Normalize(a, 0) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
		{"L2NormalizeClamped", func() *nn.Tensor { return nn.L2Normalize(tiny, 1e-3) }, map[string]*nn.Tensor{"tiny": tiny}, gradcheck.Options{Step: 1e-5}},
		{"CosineSimilarity", func() *nn.Tensor { return nn.CosineSimilarity(a, b) }, map[string]*nn.Tensor{"a": a, "b": b}, gradcheck.Options{}},
		{"Concat", func() *nn.Tensor { return nn.Concat([]*nn.Tensor{c1, c2}) }, map[string]*nn.Tensor{"c1": c1, "c2": c2}, gradcheck.Options{}},
		{"Split", func() *nn.Tensor {
			p := nn.Split(c2, 1, 2)
			return nn.Concat([]*nn.Tensor{nn.Scale(p[1], 2), p[0]})
		}, map[string]*nn.Tensor{"c2": c2}, gradcheck.Options{}},
		{"Reshape", func() *nn.Tensor {
			return nn.Mul(nn.Sum(t3.Reshape(2, -1), 0).Reshape(6, 2), a.Reshape(1, 12).Reshape(6, 2))
		}, map[string]*nn.Tensor{"t3": t3, "a": a}, gradcheck.Options{}},
		{"UsedTwice", func() *nn.Tensor { return nn.Add(nn.Mul(a, a), nn.Exp(a)) }, map[string]*nn.Tensor{"a": a}, gradcheck.Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ins []gradcheck.Input
			for _, name := range slices.Sorted(maps.Keys(tc.in)) {
				ins = append(ins, gradcheck.Input{Name: name, T: tc.in[name]})
			}
			gradcheck.Check(t, tc.f, ins, tc.opt)
		})
	}
}

func TestForwardValues(t *testing.T) {
	x := nn.New([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	cases := []struct {
		name string
		got  *nn.Tensor
		want []float32
	}{
		{"MatMul", nn.MatMul(x, x, false, true), []float32{14, 32, 32, 77}},
		{"MatMulTA", nn.MatMul(x, x, true, false), []float32{17, 22, 27, 22, 29, 36, 27, 36, 45}},
		{"Sum0", nn.Sum(x, 0), []float32{5, 7, 9}},
		{"Sum1", nn.Sum(x, 1), []float32{6, 15}},
		{"Mean1", nn.Mean(x, 1), []float32{2, 5}},
		{"AddRow", nn.Add(x, nn.New([]float32{10, 20, 30}, 3)), []float32{11, 22, 33, 14, 25, 36}},
		{"ReLU", nn.ReLU(nn.New([]float32{-1, 0, 2}, 3)), []float32{0, 0, 2}},
		{"LogSumExp", nn.LogSumExp(nn.New([]float32{0, 0, 1000, 1000}, 2, 2)), []float32{float32(math.Log(2)), 1000 + float32(math.Log(2))}},
		{"L2Normalize", nn.L2Normalize(nn.New([]float32{3, 4}, 1, 2), 0), []float32{0.6, 0.8}},
		{"Cosine", nn.CosineSimilarity(nn.New([]float32{1, 0, 1, 1}, 2, 2), nn.New([]float32{0, 1, 2, 2}, 2, 2)), []float32{0, 1}},
		{"CrossEntropyUniform", nn.CrossEntropy(nn.Zeros(2, 4), []int{1, 3}), []float32{float32(math.Log(4))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.got.Data) != len(tc.want) {
				t.Fatalf("got %d values %v, want %v", len(tc.got.Data), tc.got.Data, tc.want)
			}
			for i := range tc.want {
				if math.Abs(float64(tc.got.Data[i]-tc.want[i])) > 1e-4*math.Max(1, math.Abs(float64(tc.want[i]))) {
					t.Errorf("[%d]: want %g, got %g", i, tc.want[i], tc.got.Data[i])
				}
			}
		})
	}
}

func TestAutogradSemantics(t *testing.T) {
	t.Run("AccumulatesAcrossBackward", func(t *testing.T) {
		x := req(nn.New([]float32{2}, 1))
		nn.SumAll(nn.Mul(x, x)).Backward()
		nn.SumAll(nn.Mul(x, x)).Backward()
		if x.Grad[0] != 8 {
			t.Fatalf("grad after two backward passes of x²: want 8, got %g", x.Grad[0])
		}
		x.ZeroGrad()
		if x.Grad[0] != 0 {
			t.Fatalf("ZeroGrad left %g", x.Grad[0])
		}
	})
	t.Run("DetachStopsGradient", func(t *testing.T) {
		x := req(nn.New([]float32{3}, 1))
		// d/dx [x · sg(x)] = sg(x) = 3, not 2x = 6
		nn.SumAll(nn.Mul(x, x.Detach())).Backward()
		if x.Grad[0] != 3 {
			t.Fatalf("want 3, got %g", x.Grad[0])
		}
	})
	t.Run("NoGradRecordsNothing", func(t *testing.T) {
		x := req(nn.New([]float32{3}, 1))
		var y *nn.Tensor
		nn.NoGrad(func() { y = nn.Mul(x, x) })
		if y.RequiresGrad() || !y.IsLeaf() {
			t.Fatal("op inside NoGrad recorded graph")
		}
		if !nn.GradEnabled() {
			t.Fatal("grad mode not restored after NoGrad")
		}
	})
	t.Run("BackwardWithSeed", func(t *testing.T) {
		x := req(nn.New([]float32{1, 2}, 2))
		y := nn.Scale(x, 3)
		y.BackwardWith([]float32{1, 10})
		if x.Grad[0] != 3 || x.Grad[1] != 30 {
			t.Fatalf("want [3 30], got %v", x.Grad)
		}
	})
	t.Run("IntermediateGradsDropped", func(t *testing.T) {
		x := req(nn.New([]float32{1, 2}, 2))
		h := nn.Exp(x)
		nn.SumAll(h).Backward()
		if h.Grad != nil {
			t.Fatalf("intermediate gradient kept: %v", h.Grad)
		}
	})
	t.Run("LeafWithoutGradUntouched", func(t *testing.T) {
		x := nn.New([]float32{1, 2}, 2)
		w := req(nn.New([]float32{1, 1}, 2))
		nn.SumAll(nn.Mul(x, w)).Backward()
		if x.Grad != nil {
			t.Fatal("gradient allocated for a tensor that does not require it")
		}
	})
}

func TestShapeErrors(t *testing.T) {
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"MatMulInner", func() { nn.MatMul(nn.Zeros(2, 3), nn.Zeros(4, 5), false, false) }, "nn.MatMul: inner dimensions differ: 3 vs 4 (transA=false, transB=false) (shapes (2,3), (4,5))"},
		{"AddMismatch", func() { nn.Add(nn.Zeros(2, 3), nn.Zeros(2)) }, "nn.Add: shapes do not match: b must have a's shape, a suffix of it, or one element (shapes (2,3), (2))"},
		{"NewLen", func() { nn.New(make([]float32, 5), 2, 3) }, "nn.New: shape holds 6 elements but data has 5 (shapes (2,3))"},
		{"CrossEntropyLabel", func() { nn.CrossEntropy(nn.Zeros(2, 3), []int{0, 3}) }, "nn.CrossEntropy: label 3 of row 1 outside [0,3) (shapes (2,3))"},
		{"BackwardNonScalar", func() { nn.Zeros(2).Backward() }, "nn.Backward: Backward needs a scalar; use BackwardWith to seed a gradient of this shape (shapes (2))"},
		{"Split", func() { nn.Split(nn.Zeros(4, 2), 1, 2) }, "nn.Split: sizes sum to 3, dimension 0 is 4 (shapes (4,2), (1,2))"},
		{"Concat", func() { nn.Concat([]*nn.Tensor{nn.Zeros(1, 2), nn.Zeros(1, 3)}) }, "nn.Concat: shapes differ beyond axis 0 (shapes (1,2), (1,3))"},
		{"Reshape", func() { nn.Zeros(2, 3).Reshape(4, -1) }, "nn.Reshape: cannot infer -1 for 6 elements (shapes (2,3), (4,-1))"},
		{"SumAxis", func() { nn.Sum(nn.Zeros(2, 3), 2) }, "nn.Sum: axis 2 out of range (shapes (2,3))"},
		{"Softmax3D", func() { nn.Softmax(nn.Zeros(2, 3, 4)) }, "nn.Softmax: want a 2-D (N,D) tensor (shapes (2,3,4))"},
		{"Cosine", func() { nn.CosineSimilarity(nn.Zeros(2, 3), nn.Zeros(2, 4)) }, "nn.CosineSimilarity: want two (N,D) tensors of the same shape (shapes (2,3), (2,4))"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := nn.Catch(tc.f)
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := err.(*nn.ShapeError); !ok {
				t.Fatalf("error type %T, want *nn.ShapeError", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got %q\nwant %q", err.Error(), tc.want)
			}
		})
	}
	t.Run("OtherPanicsPropagate", func(t *testing.T) {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		_ = nn.Catch(func() { panic("boom") })
	})
}

// TestFreeGraphReuse runs the same step repeatedly with FreeGraph between
// steps (so op outputs reuse pooled, dirty buffers) and checks the outputs
// and gradients stay identical to the first step's.
func TestFreeGraphReuse(t *testing.T) {
	r := rng(8)
	x := nn.Randn(r, 1, 4, 3, 6, 6)
	w := req(nn.Randn(r, 0.3, 5, 3, 3, 3))
	g, b := req(nn.Full(1, 5)), req(nn.Zeros(5))
	fc := req(nn.Randn(r, 0.3, 2, 5))
	w2 := req(nn.Randn(r, 0.3, 5, 5, 3, 3))
	w3 := req(nn.Randn(r, 0.3, 5, 5, 3, 3))
	step := func() (float32, []float32) {
		h := nn.ReLU(nn.BatchNorm(nn.Conv2d(x, w, nil, 1, 1), g, b, nil, nil, true, 0.1, 0))
		// residual block with the fused ops; h feeds two consumers
		r := nn.AddReLU(nn.BatchNorm(nn.Conv2d(h, w2, nil, 1, 1), nil, nil, nil, nil, true, 0.1, 0), h)
		r = nn.BatchNormReLU(nn.Conv2d(nn.Add(r, r), w3, nil, 2, 1), g, b, nil, nil, true, 0.1, 0)
		h = nn.Add(nn.MaxPool2d(h, 2, 2), r)
		loss := nn.CrossEntropy(nn.MatMul(nn.GlobalAvgPool(h), fc, false, true), []int{0, 1, 1, 0})
		loss.Backward()
		v := loss.Item()
		grad := append([]float32(nil), w.Grad...)
		loss.FreeGraph()
		if loss.Data != nil || h.Data != nil {
			t.Fatal("FreeGraph left intermediate data in place")
		}
		for _, p := range []*nn.Tensor{w, w2, w3, g, b, fc} {
			p.ZeroGrad()
		}
		return v, grad
	}
	// TestMain poisons every recycled buffer (NaN): an op that reads an
	// output or gradient buffer before writing all of it yields NaN here
	l0, g0 := step()
	for i := 0; i < 3; i++ {
		l, gr := step()
		if l != l0 {
			t.Fatalf("step %d: loss %g, first step %g", i+1, l, l0)
		}
		if d := maxRelDiff(gr, g0); d != 0 {
			t.Fatalf("step %d: weight gradient differs from the first step by %g", i+1, d)
		}
	}
	if x.Data == nil || w.Data == nil {
		t.Fatal("FreeGraph released a leaf")
	}
}

func TestFreeGraphLeaves(t *testing.T) {
	x := nn.New([]float32{1, 2}, 2)
	x.FreeGraph()
	if x.Data == nil {
		t.Fatal("FreeGraph released a caller-made tensor")
	}
	var y *nn.Tensor
	nn.NoGrad(func() { y = nn.Exp(x) })
	y.FreeGraph()
	if y.Data != nil {
		t.Fatal("FreeGraph kept a NoGrad op output")
	}
	if x.Data == nil || x.Data[1] != 2 {
		t.Fatal("FreeGraph of an output touched its input")
	}
}

// TestCustomOp defines y = a·b² elementwise as a user op and checks its
// gradients through the public Custom hook.
func TestCustomOp(t *testing.T) {
	r := rng(10)
	a, b := req(nn.Randn(r, 1, 2, 3)), req(nn.Randn(r, 1, 2, 3))
	f := func() *nn.Tensor {
		out := nn.Zeros(2, 3)
		for i := range out.Data {
			out.Data[i] = a.Data[i] * b.Data[i] * b.Data[i]
		}
		return nn.Custom("ab2", out, func(dout []float32, dins [][]float32) {
			for i, g := range dout {
				if dins[0] != nil {
					dins[0][i] += g * b.Data[i] * b.Data[i]
				}
				if dins[1] != nil {
					dins[1][i] += g * 2 * a.Data[i] * b.Data[i]
				}
			}
		}, a, b)
	}
	gradcheck.Check(t, func() *nn.Tensor { return nn.Exp(f()) }, []gradcheck.Input{{Name: "a", T: a}, {Name: "b", T: b}}, gradcheck.Options{})
}

// TestBackwardFree checks BackwardFree against Backward then FreeGraph: the
// same leaf gradients bit for bit (with recycled buffers poisoned, so a
// tensor released while a later backward step still reads it shows as
// NaN or a changed gradient), on a graph where stop-gradient views of
// intermediates feed other branches (SimSiam's cross terms) and a Reshape
// view is taken; and that it does release as it goes: when the first op's
// backward runs, the activations above it are gone under BackwardFree and
// still there under Backward.
func TestBackwardFree(t *testing.T) {
	r := rng(9)
	x1, x2 := nn.Randn(r, 1, 4, 3, 6, 6), nn.Randn(r, 1, 4, 3, 6, 6)
	w := req(nn.Randn(r, 0.3, 5, 3, 3, 3))
	g, b := req(nn.Full(1, 5)), req(nn.Zeros(5))
	w2 := req(nn.Randn(r, 0.3, 5, 5, 3, 3))
	fc := req(nn.Randn(r, 0.3, 5, 5))
	params := []*nn.Tensor{w, g, b, w2, fc}
	var watched []*nn.Tensor // activations above the first op of view 1
	var seen []bool          // whether each still held data when that op's backward ran
	step := func(free bool) (float32, [][]float32) {
		watched, seen = nil, nil
		first := nn.Custom("probe", x1.Clone(), func(dout []float32, dins [][]float32) {
			for _, a := range watched {
				seen = append(seen, a.Data != nil)
			}
		}, req(nn.Zeros(1)))
		enc := func(x *nn.Tensor) *nn.Tensor {
			h := nn.BatchNormReLU(nn.Conv2d(x, w, nil, 1, 1), g, b, nil, nil, true, 0.1, 0)
			h = nn.BatchNormAddReLU(nn.Conv2d(h, w2, nil, 1, 1), h, g, b, nil, nil, true, 0.1, 0)
			watched = append(watched, h)
			z := nn.GlobalAvgPool(h).Reshape(4, 5)
			return z
		}
		z1, z2 := enc(nn.Add(first, x1)), enc(x2)
		p1, p2 := nn.MatMul(z1, fc, false, true), nn.MatMul(z2, fc, false, true)
		// symmetric loss against stop-gradient targets, as SimSiam's
		loss := nn.Add(nn.SumAll(nn.Mul(p1, z2.Detach())), nn.SumAll(nn.Mul(p2, z1.Detach())))
		v := loss.Item()
		if free {
			loss.BackwardFree()
		} else {
			loss.Backward()
			loss.FreeGraph()
		}
		var grads [][]float32
		for _, p := range params {
			grads = append(grads, append([]float32(nil), p.Grad...))
			p.ZeroGrad()
		}
		return v, grads
	}
	l0, g0 := step(false)
	if !slices.Contains(seen, true) || slices.Contains(seen, false) {
		t.Fatalf("under Backward the activations were not all held when the first op ran: %v", seen)
	}
	for i := 0; i < 3; i++ {
		l, gr := step(true)
		if l != l0 {
			t.Fatalf("BackwardFree step %d: loss %g, Backward's %g", i+1, l, l0)
		}
		for j := range gr {
			if d := maxRelDiff(gr[j], g0[j]); d != 0 || !nn.Finite(gr[j]) {
				t.Fatalf("BackwardFree step %d: parameter %d's gradient differs from Backward's by %g", i+1, j, d)
			}
		}
		// view 1's activations were released before its first op ran;
		// view 2's too (its branch finished earlier in the backward order)
		if slices.Contains(seen, true) {
			t.Fatalf("BackwardFree step %d: activations still held when the first op's backward ran: %v", i+1, seen)
		}
		for _, a := range watched {
			if a.Data != nil {
				t.Fatal("BackwardFree left an intermediate's data in place")
			}
		}
	}
	if x1.Data == nil || w.Data == nil {
		t.Fatal("BackwardFree released a leaf")
	}
	// a gradient of the wrong size is a shape error, not a panic elsewhere
	y := nn.Exp(w)
	if err := nn.Catch(func() { y.BackwardWithFree([]float32{1}) }); err == nil {
		t.Fatal("BackwardWithFree accepted a gradient of the wrong size")
	}
}

// TestReleaseScratch checks that a freed graph's buffers are held for the
// next step and that ReleaseScratch lets them go.
func TestReleaseScratch(t *testing.T) {
	x := req(nn.Randn(rng(3), 1, 64, 1024))
	y := nn.SumAll(nn.Exp(nn.Exp(x)))
	before := nn.ScratchHeld()
	y.BackwardFree()
	if held := nn.ScratchHeld(); held < before+2*4*64*1024 {
		t.Fatalf("after BackwardFree the free lists hold %d bytes, want at least %d more than %d", held, 2*4*64*1024, before)
	}
	nn.ReleaseScratch()
	if held := nn.ScratchHeld(); held != 0 {
		t.Fatalf("after ReleaseScratch the free lists hold %d bytes", held)
	}
}
