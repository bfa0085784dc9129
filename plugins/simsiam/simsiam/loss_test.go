package simsiam

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gradcheck"
)

// Plain float64 re-implementations of the paper's formulas.

func negCos64(p, z []float32, n, k int) float64 {
	s := 0.0
	for i := 0; i < n; i++ {
		var pz, pp, zz float64
		for j := 0; j < k; j++ {
			a, b := float64(p[i*k+j]), float64(z[i*k+j])
			pz += a * b
			pp += a * a
			zz += b * b
		}
		s += pz / (math.Sqrt(pp) * math.Sqrt(zz))
	}
	return -s / float64(n)
}

func xent64(p, z []float32, n, k int) float64 {
	s := 0.0
	for i := 0; i < n; i++ {
		var zmax, pmax = math.Inf(-1), math.Inf(-1)
		for j := 0; j < k; j++ {
			zmax = math.Max(zmax, float64(z[i*k+j]))
			pmax = math.Max(pmax, float64(p[i*k+j]))
		}
		var zs, ps float64
		for j := 0; j < k; j++ {
			zs += math.Exp(float64(z[i*k+j]) - zmax)
			ps += math.Exp(float64(p[i*k+j]) - pmax)
		}
		for j := 0; j < k; j++ {
			q := math.Exp(float64(z[i*k+j])-zmax) / zs
			logp := float64(p[i*k+j]) - pmax - math.Log(ps)
			s -= q * logp
		}
	}
	return s / float64(n)
}

func TestLossKnownValues(t *testing.T) {
	// Hand-computed: p=(1,0), z=(1,1): cos = 1/√2; p=(0,2), z=(0,-3): cos = −1.
	p := nn.New([]float32{1, 0, 0, 2}, 2, 2)
	z := nn.New([]float32{1, 1, 0, -3}, 2, 2)
	want := -(1/math.Sqrt2 - 1) / 2
	if got := float64(NegCosine(p, z).Item()); math.Abs(got-want) > 1e-6 {
		t.Errorf("NegCosine = %v, want %v", got, want)
	}
	// Equal logits over K=2 channels: −Σ ½·log ½ = log 2.
	e := nn.New([]float32{3, 3}, 1, 2)
	if got := float64(CrossEntropy(e, e).Item()); math.Abs(got-math.Ln2) > 1e-6 {
		t.Errorf("CrossEntropy = %v, want ln 2", got)
	}
	// Symmetric loss of identical pairs is −1, asymmetric uses only (p1, t2).
	a := nn.New([]float32{1, 2, 3, 4}, 2, 2)
	b := nn.New([]float32{-1, 0.5, 2, -2}, 2, 2)
	if got := float64(Loss(NegCosine, a, b, b, a, true).Item()); math.Abs(got+1) > 1e-6 {
		t.Errorf("symmetric loss of matching pairs = %v, want −1", got)
	}
	if got, want := float64(Loss(NegCosine, a, b, b, b, false).Item()), negCos64(a.Data, b.Data, 2, 2); math.Abs(got-want) > 1e-6 {
		t.Errorf("asymmetric loss = %v, want D(p1,t2) = %v", got, want)
	}
}

func TestLossAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 5, 16} {
		for _, k := range []int{2, 7, 64} {
			p, z := nn.Randn(rng, 2, n, k), nn.Randn(rng, 2, n, k)
			if got, want := float64(NegCosine(p, z).Item()), negCos64(p.Data, z.Data, n, k); math.Abs(got-want) > 1e-5 {
				t.Errorf("NegCosine n=%d k=%d: %v, want %v", n, k, got, want)
			}
			if got, want := float64(CrossEntropy(p, z).Item()), xent64(p.Data, z.Data, n, k); math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
				t.Errorf("CrossEntropy n=%d k=%d: %v, want %v", n, k, got, want)
			}
		}
	}
}

func TestLossGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, tc := range []struct {
		name string
		d    func(p, z *nn.Tensor) *nn.Tensor
	}{{"cosine", NegCosine}, {"xent", CrossEntropy}} {
		t.Run(tc.name, func(t *testing.T) {
			p := nn.Randn(rng, 1, 4, 6).SetRequiresGrad(true)
			z := nn.Randn(rng, 1, 4, 6).SetRequiresGrad(true)
			gradcheck.Check(t, func() *nn.Tensor { return tc.d(p, z) },
				[]gradcheck.Input{{Name: "p", T: p}, {Name: "z", T: z}}, gradcheck.Options{})
		})
	}
	// With stop-gradient (eq. 3) nothing reaches z.
	p := nn.Randn(rng, 1, 3, 4).SetRequiresGrad(true)
	z := nn.Randn(rng, 1, 3, 4).SetRequiresGrad(true)
	Loss(NegCosine, p, p, z.Detach(), z.Detach(), true).Backward()
	if z.Grad != nil {
		t.Errorf("gradient reached the stop-gradient branch: %v", z.Grad)
	}
	if p.Grad == nil {
		t.Error("no gradient reached p")
	}
}
