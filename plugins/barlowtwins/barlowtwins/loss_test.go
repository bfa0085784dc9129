package barlowtwins

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gradcheck"
)

// loss64 is the Barlow Twins loss written plainly in float64.
func loss64(z1, z2 []float32, n, k int, lambda, scale float64) float64 {
	std := func(z []float32) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			out[i] = make([]float64, k)
		}
		for j := 0; j < k; j++ {
			var m, v float64
			for i := 0; i < n; i++ {
				m += float64(z[i*k+j])
			}
			m /= float64(n)
			for i := 0; i < n; i++ {
				d := float64(z[i*k+j]) - m
				v += d * d
			}
			v /= float64(n)
			for i := 0; i < n; i++ {
				out[i][j] = (float64(z[i*k+j]) - m) / math.Sqrt(v+1e-5)
			}
		}
		return out
	}
	a, b := std(z1), std(z2)
	total := 0.0
	for p := 0; p < k; p++ {
		for q := 0; q < k; q++ {
			c := 0.0
			for i := 0; i < n; i++ {
				c += a[i][p] * b[i][q]
			}
			c /= float64(n)
			if p == q {
				total += (1 - c) * (1 - c)
			} else {
				total += lambda * c * c
			}
		}
	}
	return scale * total
}

func TestLossValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		n, k          int
		lambda, scale float64
	}{{4, 3, 0.5, 1}, {16, 8, 1.0 / 8, 1.0 / 8}, {32, 5, 0.005, 2}} {
		z1, z2 := nn.Randn(rng, 1, tc.n, tc.k), nn.Randn(rng, 3, tc.n, tc.k)
		l, _ := Loss(z1, z2, tc.lambda, tc.scale)
		want := loss64(z1.Data, z2.Data, tc.n, tc.k, tc.lambda, tc.scale)
		if math.Abs(float64(l.Item())-want) > 1e-4*math.Max(1, want) {
			t.Errorf("n=%d k=%d λ=%v: loss %v, want %v", tc.n, tc.k, tc.lambda, l.Item(), want)
		}
	}
	// Two views equal up to a per-channel affine map, channels uncorrelated
	// (orthogonal ±1 columns): C = I, so the loss is 0.
	z1 := nn.New([]float32{1, 1, -1, 1, 1, -1, -1, -1}, 4, 2)
	z2 := nn.New([]float32{3, 3, -1, 3, 3, -1, -1, -1}, 4, 2) // 2·z1+1 per channel
	if l, _ := Loss(z1, z2, 1, 1); math.Abs(float64(l.Item())) > 1e-4 {
		t.Errorf("invariant, decorrelated views: loss %v, want 0", l.Item())
	}
	// Collapsed channels (both channels the same feature): C_ii = 1 but
	// C_01 = C_10 = 1, so only the redundancy term is left: 2λ.
	z := nn.New([]float32{1, 1, -1, -1, 1, 1, -1, -1}, 4, 2)
	if l, _ := Loss(z, z, 0.25, 1); math.Abs(float64(l.Item())-0.5) > 1e-4 {
		t.Errorf("redundant channels: loss %v, want 2λ = 0.5", l.Item())
	}
}

func TestLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	z1 := nn.Randn(rng, 1, 6, 4).SetRequiresGrad(true)
	z2 := nn.Randn(rng, 1, 6, 4).SetRequiresGrad(true)
	gradcheck.Check(t, func() *nn.Tensor { l, _ := Loss(z1, z2, 0.3, 0.5); return l },
		[]gradcheck.Input{{Name: "z1", T: z1}, {Name: "z2", T: z2}}, gradcheck.Options{Step: 1e-3})
}
