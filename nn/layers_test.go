package nn_test

import (
	"math"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gradcheck"
)

func TestBatchNormGradients(t *testing.T) {
	r := rng(2)
	cases := []struct {
		name     string
		shape    []int
		training bool
		affine   bool
		relu     bool // the fused BatchNormReLU
	}{
		{"1d-train-relu", []int{6, 3}, true, true, true},
		{"1d-train-wide", []int{6, 130}, true, true, false}, // several channel blocks
		{"1d-train-wide-relu", []int{6, 130}, true, true, true},
		{"2d-train-relu", []int{3, 2, 2, 3}, true, true, true},
		{"2d-eval-relu", []int{2, 3, 2, 2}, false, true, true},
		{"1d-train-affine", []int{5, 3}, true, true, false},
		{"1d-train-plain", []int{4, 3}, true, false, false},
		{"1d-eval-affine", []int{4, 3}, false, true, false},
		{"2d-train-affine", []int{3, 2, 2, 3}, true, true, false},
		{"2d-eval-affine", []int{2, 3, 2, 2}, false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.shape[1]
			x := req(nn.Randn(r, 1, tc.shape...))
			rm, rv := nn.Randn(r, 0.3, c), positive(r, c)
			ins := []gradcheck.Input{{Name: "x", T: x}}
			var g, b *nn.Tensor
			if tc.affine {
				g, b = req(positive(r, c)), req(nn.Randn(r, 1, c))
				ins = append(ins, gradcheck.Input{Name: "gamma", T: g}, gradcheck.Input{Name: "beta", T: b})
			}
			// a random projection makes Σ-over-channel gradients non-trivial
			w := nn.Randn(r, 1, tc.shape...)
			bn := nn.BatchNorm
			if tc.relu {
				bn = nn.BatchNormReLU
			}
			// x through an op, so BN's input is an intermediate whose
			// gradient takes over dout's storage (adoptGrad)
			f := func() *nn.Tensor {
				return nn.Mul(bn(nn.Scale(x, 1), g, b, rm.Clone(), rv.Clone(), tc.training, 0.1, 1e-5), w)
			}
			// AllowKinks: with the fused ReLU a BN output may lie within the step of 0
			gradcheck.Check(t, f, ins, gradcheck.Options{AllowKinks: tc.relu})
			if tc.relu {
				// fused equals unfused exactly in forward
				var fused, plain *nn.Tensor
				nn.NoGrad(func() {
					fused = nn.BatchNormReLU(x, g, b, rm.Clone(), rv.Clone(), tc.training, 0.1, 1e-5)
					plain = nn.ReLU(nn.BatchNorm(x, g, b, rm.Clone(), rv.Clone(), tc.training, 0.1, 1e-5))
				})
				if d := maxRelDiff(fused.Data, plain.Data); d != 0 {
					t.Fatalf("BatchNormReLU differs from ReLU(BatchNorm) by %g", d)
				}
			}
		})
	}
}

// TestBatchNormLargeMean checks the variance is not lost to cancellation
// when the mean is large relative to the spread.
func TestBatchNormLargeMean(t *testing.T) {
	x := nn.Zeros(64, 1)
	for i := range x.Data {
		x.Data[i] = 1000 + 0.01*float32(i%2*2-1) // ±0.01 around 1000: var 1e-4
	}
	rv := nn.Full(1, 1)
	nn.BatchNorm(x, nil, nil, nn.Zeros(1), rv, true, 1, 0)
	// momentum 1: running var = unbiased batch var = 1e-4·64/63
	want := 1e-4 * 64.0 / 63
	if math.Abs(float64(rv.Data[0])-want) > 1e-2*want { // float32 holds 1000±0.01 to ~1e-3
		t.Fatalf("variance around a large mean: want %g, got %g", want, rv.Data[0])
	}
}

// TestBatchNormAddReLU checks the fused end of a residual block against
// finite differences (x, the residual, γ, β) and, exactly, against
// AddReLU(BatchNorm(x), res).
func TestBatchNormAddReLU(t *testing.T) {
	r := rng(5)
	for _, tc := range []struct {
		name     string
		shape    []int
		training bool
	}{
		{"2d-train", []int{3, 2, 5, 4}, true},
		{"2d-eval", []int{2, 3, 2, 2}, false},
		{"1d-train", []int{6, 3}, true},
		{"2d-train-long-rows", []int{2, 2, 6, 6}, true}, // rows of 36: the AVX-512 path and a tail
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.shape[1]
			x, res := req(nn.Randn(r, 1, tc.shape...)), req(nn.Randn(r, 1, tc.shape...))
			g, b := req(positive(r, c)), req(nn.Randn(r, 1, c))
			rm, rv := nn.Randn(r, 0.3, c), positive(r, c)
			w := nn.Randn(r, 1, tc.shape...)
			f := func() *nn.Tensor {
				return nn.Mul(nn.BatchNormAddReLU(nn.Scale(x, 1), res, g, b, rm.Clone(), rv.Clone(), tc.training, 0.1, 1e-5), w)
			}
			gradcheck.Check(t, f, []gradcheck.Input{{Name: "x", T: x}, {Name: "res", T: res}, {Name: "gamma", T: g}, {Name: "beta", T: b}},
				gradcheck.Options{AllowKinks: true})
			var fused, plain *nn.Tensor
			nn.NoGrad(func() {
				fused = nn.BatchNormAddReLU(x, res, g, b, rm.Clone(), rv.Clone(), tc.training, 0.1, 1e-5)
				plain = nn.AddReLU(nn.BatchNorm(x, g, b, rm.Clone(), rv.Clone(), tc.training, 0.1, 1e-5), res)
			})
			if d := maxRelDiff(fused.Data, plain.Data); d != 0 {
				t.Fatalf("BatchNormAddReLU differs from AddReLU(BatchNorm) by %g", d)
			}
		})
	}
	x := nn.Randn(r, 1, 2, 3, 2, 2)
	for _, bad := range []*nn.Tensor{nil, nn.Zeros(2, 3, 2, 1)} {
		err := nn.Catch(func() { nn.BatchNormAddReLU(x, bad, nil, nil, nil, nil, true, 0.1, 0) })
		if err == nil || !strings.Contains(err.Error(), "residual must have the input's shape") {
			t.Fatalf("residual %v: want a shape error, got %v", bad, err)
		}
	}
}

func TestAddReLU(t *testing.T) {
	r := rng(4)
	a, b := req(randAway(r, 0.05, 3, 4)), req(nn.Randn(r, 0.01, 3, 4))
	gradcheck.Check(t, func() *nn.Tensor { return nn.AddReLU(a, b) }, []gradcheck.Input{{Name: "a", T: a}, {Name: "b", T: b}}, gradcheck.Options{})
	fused, plain := nn.AddReLU(a, b), nn.ReLU(nn.Add(a, b))
	if d := maxRelDiff(fused.Data, plain.Data); d != 0 {
		t.Fatalf("AddReLU differs from ReLU(Add) by %g", d)
	}
	if err := nn.Catch(func() { nn.AddReLU(a, nn.Zeros(4)) }); err == nil {
		t.Fatal("AddReLU accepted a broadcast shape")
	}
}

func TestBatchNormTrainEval(t *testing.T) {
	// x (4,2): channel 0 = {1,2,3,4}, channel 1 = {10,10,10,14}
	x := nn.New([]float32{1, 10, 2, 10, 3, 10, 4, 14}, 4, 2)
	bn := nn.NewBatchNorm(2, true)
	y := bn.Forward(x)
	// batch stats: mean (2.5, 11), biased var (1.25, 3)
	want0 := (1 - 2.5) / math.Sqrt(1.25+1e-5)
	if math.Abs(float64(y.Data[0])-want0) > 1e-5 {
		t.Fatalf("train output[0]: want %g, got %g", want0, y.Data[0])
	}
	// running: 0.9·0 + 0.1·mean ; 0.9·1 + 0.1·unbiased var (1.6667, 4)
	wantRM := []float32{0.25, 1.1}
	wantRV := []float32{0.9 + 0.1*5.0/3, 0.9 + 0.4}
	for c := 0; c < 2; c++ {
		if math.Abs(float64(bn.RunMean.T.Data[c]-wantRM[c])) > 1e-6 {
			t.Errorf("running mean[%d]: want %g, got %g", c, wantRM[c], bn.RunMean.T.Data[c])
		}
		if math.Abs(float64(bn.RunVar.T.Data[c]-wantRV[c])) > 1e-6 {
			t.Errorf("running var[%d]: want %g, got %g", c, wantRV[c], bn.RunVar.T.Data[c])
		}
	}
	bn.SetTraining(false)
	ye := bn.Forward(x)
	wantE := (1 - 0.25) / math.Sqrt(float64(wantRV[0])+1e-5)
	if math.Abs(float64(ye.Data[0])-wantE) > 1e-5 {
		t.Fatalf("eval output[0]: want %g, got %g", wantE, ye.Data[0])
	}
	if bn.RunMean.T.Data[0] != wantRM[0] {
		t.Fatal("eval mode changed the running mean")
	}
}

func TestLinearAndMLPGradients(t *testing.T) {
	r := rng(3)
	x := req(nn.Randn(r, 1, 4, 3))
	mlp := newMLP(r, "proj", 3,
		block{Out: 5, BN: true, ReLU: true},
		block{Out: 2, BN: false, Bias: true},
	)
	ins := []gradcheck.Input{{Name: "x", T: x}}
	for _, p := range mlp.Params() {
		ins = append(ins, gradcheck.Input{Name: p.Name, T: p.T})
	}
	gradcheck.Check(t, func() *nn.Tensor { return mlp.Forward(x) }, ins, gradcheck.Options{})

	var names []string
	for _, p := range mlp.Params() {
		names = append(names, p.Name)
	}
	want := []string{"proj.0.0.weight", "proj.0.1.gamma", "proj.0.1.beta", "proj.1.0.weight", "proj.1.0.bias"}
	if len(names) != len(want) {
		t.Fatalf("params %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("params %v, want %v", names, want)
		}
	}
	if got := len(mlp.Buffers()); got != 2 {
		t.Fatalf("buffers: want 2 (BN running mean, var), got %d", got)
	}
	if !mlp.Params()[1].NoDecay || mlp.Params()[0].NoDecay {
		t.Fatal("NoDecay: want BN γ excluded and weights included")
	}
}

// TestNoGradRecycle: intermediates made inside are recycled (their Data is
// gone), results and views of results survive with the right values, the
// storage comes back from the pool, and a nested call's results live until
// the outer call decides.
func TestNoGradRecycle(t *testing.T) {
	r := rng(31)
	x := nn.Randn(r, 1, 4, 8)
	want := nn.Scale(nn.ReLU(nn.Add(x, x)), 3).Data
	var mid, inner, innerMid *nn.Tensor
	out := nn.NoGradRecycle(func() []*nn.Tensor {
		mid = nn.ReLU(nn.Add(x, x))
		inner = nn.NoGradRecycle(func() []*nn.Tensor {
			innerMid = nn.Scale(mid, 0.5)
			return []*nn.Tensor{nn.Scale(innerMid, 2)}
		})[0]
		if innerMid.Data != nil {
			t.Error("inner intermediate not recycled by the inner call")
		}
		if inner.Data == nil || mid.Data == nil {
			t.Fatal("inner result or outer intermediate recycled by the inner call")
		}
		return []*nn.Tensor{nn.Scale(mid, 3).Reshape(32)}
	})
	if mid.Data != nil || inner.Data != nil {
		t.Errorf("outer intermediates not recycled: mid %v, inner result %v", mid.Data != nil, inner.Data != nil)
	}
	if len(out) != 1 || len(out[0].Data) != 32 {
		t.Fatalf("result lost: %v", out)
	}
	// reuse the recycled storage, then check the result was not touched
	for i := 0; i < 8; i++ {
		junk := nn.Scale(x, 100)
		junk.FreeGraph()
	}
	for i, v := range out[0].Data {
		if v != want[i] {
			t.Fatalf("result[%d] = %v, want %v (storage reused?)", i, v, want[i])
		}
	}
	if nn.GradEnabled() != true {
		t.Error("gradients still disabled after NoGradRecycle")
	}
}

// TestForwardBytes: ForwardBytes counts the storage every op inside made
// (each buffer's power-of-two capacity), results included, and recycles it
// all: the result's storage is gone too.
func TestForwardBytes(t *testing.T) {
	r := rng(32)
	x := nn.Randn(r, 1, 3, 5) // 15 floats: capacity 16
	var res *nn.Tensor
	got := nn.ForwardBytes(func() []*nn.Tensor {
		res = nn.Scale(nn.ReLU(nn.Add(x, x)), 2)
		return []*nn.Tensor{res}
	})
	if want := int64(3 * 16 * 4); got != want {
		t.Errorf("ForwardBytes = %d, want %d (three tensors of capacity 16)", got, want)
	}
	if res.Data != nil {
		t.Error("ForwardBytes kept its result's storage; it recycles everything")
	}
	// a layer's footprint grows with the batch
	lin := nn.NewLinear(r, 8, 32, true)
	x4, x8 := nn.Randn(r, 1, 4, 8), nn.Randn(r, 1, 8, 8)
	one := nn.ForwardBytes(func() []*nn.Tensor { return []*nn.Tensor{lin.Forward(x4)} })
	two := nn.ForwardBytes(func() []*nn.Tensor { return []*nn.Tensor{lin.Forward(x8)} })
	if one < 4*32*4 || two != 2*one {
		t.Errorf("Linear's footprint: %d bytes at 4 rows, %d at 8; want positive and doubling", one, two)
	}
}
