package nn_test

import (
	"math"
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
	}{
		{"1d-train-affine", []int{5, 3}, true, true},
		{"1d-train-plain", []int{4, 3}, true, false},
		{"1d-eval-affine", []int{4, 3}, false, true},
		{"2d-train-affine", []int{3, 2, 2, 3}, true, true},
		{"2d-eval-affine", []int{2, 3, 2, 2}, false, true},
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
			f := func() *nn.Tensor {
				return nn.Mul(nn.BatchNorm(x, g, b, rm.Clone(), rv.Clone(), tc.training, 0.1, 1e-5), w)
			}
			gradcheck.Check(t, f, ins, gradcheck.Options{})
		})
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
	mlp := nn.NewMLP(r, "proj", 3,
		nn.Block{Out: 5, BN: true, ReLU: true},
		nn.Block{Out: 2, BN: false, Bias: true},
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
