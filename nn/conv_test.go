package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gemm"
	"github.com/siambench/siambench/nn/gradcheck"
	"golang.org/x/sys/cpu"
)

func TestConv2dGradients(t *testing.T) {
	cases := []struct {
		name                   string
		n, c, h, w, o, k, s, p int
		bias                   bool
	}{
		{"3x3-pad1", 2, 2, 5, 4, 3, 3, 1, 1, true},
		{"3x3-stride2", 2, 2, 5, 5, 2, 3, 2, 1, false},
		{"1x1", 2, 3, 3, 3, 2, 1, 1, 0, true},
		{"2x2-nopad-odd", 1, 2, 5, 3, 2, 2, 2, 0, true},
		{"5x5-pad2", 1, 1, 4, 4, 2, 5, 1, 2, false},
	}
	r := rng(5)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := req(nn.Randn(r, 1, tc.n, tc.c, tc.h, tc.w))
			w := req(nn.Randn(r, 0.5, tc.o, tc.c, tc.k, tc.k))
			ins := []gradcheck.Input{{Name: "x", T: x}, {Name: "w", T: w}}
			var b *nn.Tensor
			if tc.bias {
				b = req(nn.Randn(r, 1, tc.o))
				ins = append(ins, gradcheck.Input{Name: "b", T: b})
			}
			gradcheck.Check(t, func() *nn.Tensor { return nn.Conv2d(x, w, b, tc.s, tc.p) }, ins, gradcheck.Options{})
		})
	}
}

// TestConv2dMatchesNaive compares the im2col+GEMM path with the direct
// loops, forward and all three gradients, on odd shapes, including batches
// big enough to span several im2col chunks.
// convCases are the convolution shapes checked against the naive kernel:
// every path (im2col, implicit GEMM with and without stacking, phased
// stride 2, shifted planes) with ragged sizes.
var convCases = []struct{ n, c, h, w, o, k, s, p int }{
	{3, 3, 7, 5, 4, 3, 1, 1},
	{2, 5, 9, 9, 3, 3, 2, 1},
	{4, 2, 6, 7, 5, 1, 1, 0},
	{1, 1, 11, 13, 2, 4, 3, 2},
	{2, 3, 6, 5, 2, 5, 1, 2},     // "same" 5×5: the shifted-plane path
	{2, 2, 3, 2, 3, 7, 1, 3},     // "same" kernel larger than the image
	{70, 16, 32, 32, 2, 3, 1, 1}, // 16·9·1024 per image: three im2col chunks
	{3, 9, 7, 6, 4, 5, 1, 2},     // same 5×5, ≥ 8 channels: implicit GEMM
	{2, 8, 5, 5, 3, 1, 1, 0},     // 1×1, ≥ 8 channels: implicit GEMM, no border
	{4, 12, 16, 16, 5, 3, 1, 1},  // 16×16 planes: padded plane stride adjusted
	{3, 8, 9, 9, 5, 3, 2, 1},     // stride 2, ≥ 8 channels: phase-split implicit GEMM, odd size
	{2, 10, 8, 7, 4, 3, 2, 0},    // stride 2, no padding
	{2, 8, 6, 6, 3, 4, 2, 1},     // stride 2, even kernel
	{2, 9, 7, 5, 3, 1, 2, 0},     // stride 2, 1×1 (a ResNet shortcut)
	{2, 8, 5, 6, 3, 5, 2, 2},     // stride 2, 5×5 larger than half the image
	{4, 16, 28, 28, 8, 3, 2, 1},  // the reference network's downsampling layer, smaller
	{19, 16, 4, 4, 24, 3, 1, 1},  // 4×4 planes: stacked 16 to a buffer, the last stack of 3
	{7, 8, 8, 8, 9, 3, 1, 1},     // 8×8 planes: stacks of 5, then 2
	{5, 12, 6, 5, 8, 5, 1, 2},    // stacked 5×5 kernel: two shared border rows and columns
	{9, 8, 3, 3, 4, 1, 1, 0},     // stacked 1×1: images back to back, no border
	{3, 40, 10, 10, 36, 3, 1, 1}, // channels past one AMX tile step (32), ragged 32-row blocks
}

// convVsNaive runs one case of convCases through Conv2d and Conv2dNaive,
// forward and backward from the same random dout, and returns the pairs
// (fast, naive) of the output and of the x, w and b gradients.
func convVsNaive(r *rand.Rand, tc struct{ n, c, h, w, o, k, s, p int }) [4][2][]float32 {
	x := req(nn.Randn(r, 1, tc.n, tc.c, tc.h, tc.w))
	w := req(nn.Randn(r, 1, tc.o, tc.c, tc.k, tc.k))
	b := req(nn.Randn(r, 1, tc.o))
	// through an op, so the convolution's dx is a fresh (recycled,
	// NaN-poisoned) buffer it must write in full, not += into
	fast := nn.Conv2d(nn.Scale(x, 1), w, b, tc.s, tc.p)
	seed := nn.Randn(r, 1, fast.Shape()...).Data
	fast.BackwardWith(seed)
	fx, fw, fb := x.Grad, w.Grad, b.Grad
	x.Grad, w.Grad, b.Grad = nil, nil, nil
	slow := nn.Conv2dNaive(x, w, b, tc.s, tc.p)
	slow.BackwardWith(seed)
	return [4][2][]float32{{fast.Data, slow.Data}, {fx, x.Grad}, {fw, w.Grad}, {fb, b.Grad}}
}

var convParts = [4]string{"out", "dx", "dw", "db"}

func convCaseName(tc struct{ n, c, h, w, o, k, s, p int }) string {
	return fmt.Sprintf("n%d-c%d-%dx%d-o%d-k%d-s%d-p%d", tc.n, tc.c, tc.h, tc.w, tc.o, tc.k, tc.s, tc.p)
}

func TestConv2dMatchesNaive(t *testing.T) {
	r := rng(6)
	for _, tc := range convCases {
		t.Run(convCaseName(tc), func(t *testing.T) {
			for i, pair := range convVsNaive(r, tc) {
				if d := maxRelDiff(pair[0], pair[1]); d > 1e-4 {
					t.Errorf("%s: max relative diff %.3g vs naive", convParts[i], d)
				}
			}
		})
	}
}

// TestConv2dBF16 runs convCases with bf16 precision (AMX) against the
// float32 naive kernel: forward and input gradient within bf16's rounding
// (two roundings of 2⁻⁹ per product), and the weight gradient too; the
// bias gradient (a float32 sum) as tight as fp32's; and the tap-product
// layers (odd same kernels, stride 2, ≥ 8 channels) must really differ
// from fp32 in the output and the weight gradient, or bf16 was not used.
func TestConv2dBF16(t *testing.T) {
	if err := nn.SetPrecision(nn.BF16); err != nil {
		if cpu.X86.HasAMXBF16 {
			t.Fatalf("the CPU has AMX-BF16 but SetPrecision(BF16) refused: %v", err)
		}
		t.Skipf("no AMX here: %v", err)
	}
	defer nn.SetPrecision(nn.FP32)
	r := rng(16)
	rounded := 0
	tol := [4]float64{2e-2, 2e-2, 2e-2, 1e-4}
	for _, tc := range convCases {
		t.Run(convCaseName(tc), func(t *testing.T) {
			pairs := convVsNaive(r, tc)
			for i, pair := range pairs {
				if d := maxRelDiff(pair[0], pair[1]); d > tol[i] {
					t.Errorf("%s: max relative diff %.3g vs naive (bf16: within %g)", convParts[i], d, tol[i])
				}
			}
			if maxRelDiff(pairs[0][0], pairs[0][1]) > 3e-4 && maxRelDiff(pairs[2][0], pairs[2][1]) > 3e-4 {
				rounded++
			}
		})
	}
	// implicit GEMM (odd same kernels at ≥ 8 channels: 9 cases) and phased
	// stride 2 at ≥ 8 channels (6)
	if rounded < 15 {
		t.Fatalf("only %d of %d cases differ from fp32 by bf16's rounding: bf16 was not used where it should be", rounded, len(convCases))
	}
}

// maxRelDiff returns max|a−b| / max(1, max|b|): the error relative to the
// tensor's scale (float32 sums of many terms differ in their last bits).
func maxRelDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m, scale float64 = 0, 1
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		if math.IsNaN(d) {
			return math.Inf(1) // NaN would compare false against any tolerance
		}
		m = math.Max(m, d)
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return m / scale
}

func TestPoolGradients(t *testing.T) {
	r := rng(7)
	x := req(nn.Randn(r, 1, 2, 3, 4, 5))
	gradcheck.Check(t, func() *nn.Tensor { return nn.GlobalAvgPool(x) }, []gradcheck.Input{{Name: "x", T: x}}, gradcheck.Options{})
	// distinct, well-separated values so the finite-difference step never changes the argmax
	xm := nn.Zeros(2, 2, 5, 5)
	perm := r.Perm(len(xm.Data))
	for i, p := range perm {
		xm.Data[i] = float32(p) * 0.1
	}
	req(xm)
	t.Run("MaxPool2d", func(t *testing.T) {
		gradcheck.Check(t, func() *nn.Tensor { return nn.MaxPool2d(xm, 2, 2) }, []gradcheck.Input{{Name: "x", T: xm}}, gradcheck.Options{})
		gradcheck.Check(t, func() *nn.Tensor { return nn.MaxPool2d(xm, 3, 1) }, []gradcheck.Input{{Name: "x-overlap", T: xm}}, gradcheck.Options{})
	})
	got := nn.MaxPool2d(nn.New([]float32{1, 5, 2, 3, 4, 0, 7, 6, 9}, 1, 1, 3, 3), 2, 1).Data
	want := []float32{5, 5, 7, 9}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("MaxPool2d values %v, want %v", got, want)
		}
	}
}

func TestConvShapeErrors(t *testing.T) {
	err := nn.Catch(func() { nn.Conv2d(nn.Zeros(1, 3, 8, 8), nn.Zeros(4, 2, 3, 3), nil, 1, 1) })
	want := "nn.Conv2d: input has 3 channels, weight expects 2 (shapes (1,3,8,8), (4,2,3,3))"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	err = nn.Catch(func() { nn.Conv2d(nn.Zeros(1, 1, 2, 2), nn.Zeros(1, 1, 5, 5), nil, 1, 0) })
	if err == nil {
		t.Fatal("kernel larger than input accepted")
	}
}

// TestConv2dRandomShapes compares fast and naive convolution on random
// small geometries (odd sizes, kernels larger than the image, every
// stride/padding mix), forward and all gradients.
func TestConv2dRandomShapes(t *testing.T) {
	r := rng(9)
	for trial := 0; trial < 60; trial++ {
		n, c, o := 1+r.IntN(3), 1+r.IntN(4), 1+r.IntN(4)
		h, w := 1+r.IntN(9), 1+r.IntN(9)
		k, s, p := 1+r.IntN(5), 1+r.IntN(3), r.IntN(4)
		if h+2*p < k || w+2*p < k {
			continue
		}
		name := fmt.Sprintf("n%d-c%d-%dx%d-o%d-k%d-s%d-p%d", n, c, h, w, o, k, s, p)
		x := req(nn.Randn(r, 1, n, c, h, w))
		wt := req(nn.Randn(r, 1, o, c, k, k))
		fast := nn.Conv2d(x, wt, nil, s, p)
		seed := nn.Randn(r, 1, fast.Shape()...).Data
		fast.BackwardWith(seed)
		fx, fw := x.Grad, wt.Grad
		x.Grad, wt.Grad = nil, nil
		slow := nn.Conv2dNaive(x, wt, nil, s, p)
		slow.BackwardWith(seed)
		for _, cmp := range []struct {
			what      string
			got, want []float32
		}{{"out", fast.Data, slow.Data}, {"dx", fx, x.Grad}, {"dw", fw, wt.Grad}} {
			if d := maxRelDiff(cmp.got, cmp.want); d > 1e-5 {
				t.Errorf("%s %s: max relative diff %.3g vs naive", name, cmp.what, d)
			}
		}
	}
}

// TestConv2dSchedules runs the same convolutions under every way the work
// can be spread: one core; images split over 2 and 3 cores with serial GEMMs
// (per-core dW partial sums added in group order); and a backend without a
// serial variant (gonum), where chunks run in turn and each GEMM and im2col
// spreads itself. Every schedule must match the naive loops, including dx
// accumulated over two uses of x (the second use adds into an existing
// gradient), and two runs of a schedule must agree bit for bit.
func TestConv2dSchedules(t *testing.T) {
	defer gemm.Use(gemm.Current())
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cases := []struct{ n, c, h, w, o, k, s, p int }{
		{13, 3, 9, 9, 5, 3, 1, 1},   // same 3×3: flipped-kernel dx
		{11, 4, 10, 9, 6, 3, 2, 1},  // stride 2, few channels: im2col, col2im dx
		{7, 9, 10, 9, 6, 3, 2, 1},   // stride 2: phase-split implicit GEMM
		{5, 40, 20, 20, 4, 3, 1, 1}, // chunks of one image: dout used in place
		{6, 8, 13, 11, 9, 5, 1, 2},  // same 5×5, ragged tiles for every kernel
		{4, 10, 11, 13, 7, 1, 2, 0}, // stride-2 1×1: three phases without taps
	}
	schedules := []struct {
		name  string
		procs int
		be    gemm.Backend
	}{
		{"1core-go", 1, gemm.Go{}},
		{"2cores-go", 2, gemm.Go{}},
		{"3cores-go", 3, gemm.Go{}},
		{"2cores-gonum", 2, gemm.Gonum{}},
	}
	// the fused tap products of the AVX2 micro-kernel too, where this CPU
	// runs it (its 6×16 tiles leave ragged edges the 8×32 ones do not)
	if be, err := gemm.Parse("go:avx2-6x16"); err == nil {
		schedules = append(schedules, struct {
			name  string
			procs int
			be    gemm.Backend
		}{"2cores-go-avx2", 2, be})
	}
	r := rng(17)
	for _, tc := range cases {
		x := nn.Randn(r, 1, tc.n, tc.c, tc.h, tc.w)
		w1 := nn.Randn(r, 1, tc.o, tc.c, tc.k, tc.k)
		w2 := nn.Randn(r, 1, tc.o, tc.c, tc.k, tc.k)
		oh := (tc.h+2*tc.p-tc.k)/tc.s + 1
		ow := (tc.w+2*tc.p-tc.k)/tc.s + 1
		seed := nn.Randn(r, 1, tc.n, tc.o, oh, ow).Data
		// run returns out, dx, dw1, dw2 of conv(x,w1)+conv(x,w2)
		run := func(conv func(x, w, b *nn.Tensor, s, p int) *nn.Tensor) [4][]float32 {
			xs, a, b := req(x.Detach()), req(w1.Detach()), req(w2.Detach())
			xs.Grad, a.Grad, b.Grad = nil, nil, nil
			y := nn.Add(conv(xs, a, nil, tc.s, tc.p), conv(xs, b, nil, tc.s, tc.p))
			y.BackwardWith(seed)
			return [4][]float32{slices.Clone(y.Data), xs.Grad, a.Grad, b.Grad}
		}
		want := run(nn.Conv2dNaive)
		for _, sc := range schedules {
			name := fmt.Sprintf("n%d-c%d-%dx%d-o%d-s%d/%s", tc.n, tc.c, tc.h, tc.w, tc.o, tc.s, sc.name)
			t.Run(name, func(t *testing.T) {
				runtime.GOMAXPROCS(sc.procs)
				gemm.Use(sc.be)
				got := run(nn.Conv2d)
				again := run(nn.Conv2d)
				for i, what := range []string{"out", "dx", "dw1", "dw2"} {
					if d := maxRelDiff(got[i], want[i]); d > 1e-5 {
						t.Errorf("%s: max relative diff %.3g vs naive", what, d)
					}
					if !slices.Equal(got[i], again[i]) {
						t.Errorf("%s: two runs differ", what)
					}
				}
			})
		}
	}
}

// TestSetPrecisionErrors checks that bf16 is refused with a reason where
// it cannot run (here: the naive GEMM backend) and that an unknown
// precision names the choices; neither changes the precision.
func TestSetPrecisionErrors(t *testing.T) {
	prev := gemm.Current()
	defer gemm.Use(prev)
	gemm.Use(gemm.Naive{})
	if err := nn.SetPrecision(nn.BF16); err == nil || !strings.Contains(err.Error(), "Go backend") && !strings.Contains(err.Error(), "AMX") {
		t.Fatalf("bf16 on the naive backend: want an error naming the Go backend or AMX, got %v", err)
	}
	if err := nn.SetPrecision("fp16"); err == nil || !strings.Contains(err.Error(), "fp32 or bf16") {
		t.Fatalf("precision fp16: want an error naming fp32 and bf16, got %v", err)
	}
	if p := nn.CurrentPrecision(); p != nn.FP32 {
		t.Fatalf("a refused SetPrecision left the precision at %s", p)
	}
}
