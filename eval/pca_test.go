package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

// orthonormal returns k orthonormal vectors of width d (Gram-Schmidt on
// seeded Gaussian vectors).
func orthonormal(rng *rand.Rand, k, d int) [][]float64 {
	var us [][]float64
	for len(us) < k {
		v := make([]float64, d)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		for _, u := range us {
			var dot float64
			for i := range v {
				dot += v[i] * u[i]
			}
			for i := range v {
				v[i] -= dot * u[i]
			}
		}
		var n float64
		for _, x := range v {
			n += x * x
		}
		n = math.Sqrt(n)
		for i := range v {
			v[i] /= n
		}
		us = append(us, v)
	}
	return us
}

func TestFitPCARecoversKnownAxes(t *testing.T) {
	const d = 7
	rng := rand.New(rand.NewPCG(1, 2))
	u := orthonormal(rng, 3, d)
	scales := []float64{3, 1, 0.5}
	// All 8 sign patterns s·scale along u, shifted by an offset: the
	// population covariance is exactly Σ scale_j² u_j u_jᵀ.
	offset := []float64{5, -2, 1, 0, 3, 3, -1}
	var x []float64
	var signs [][3]float64
	for p := 0; p < 8; p++ {
		s := [3]float64{1, 1, 1}
		for j := 0; j < 3; j++ {
			if p>>j&1 == 1 {
				s[j] = -1
			}
		}
		signs = append(signs, s)
		for i := 0; i < d; i++ {
			v := offset[i]
			for j := 0; j < 3; j++ {
				v += s[j] * scales[j] * u[j][i]
			}
			x = append(x, v)
		}
	}
	pca, err := FitPCA(x, 8, d, 2)
	if err != nil {
		t.Fatal(err)
	}
	total := 9 + 1 + 0.25
	for j, want := range []float64{9 / total, 1 / total} {
		if math.Abs(pca.Ratio[j]-want) > 1e-9 {
			t.Errorf("explained variance ratio of PC%d: want %.6f, got %.6f", j+1, want, pca.Ratio[j])
		}
	}
	for j := 0; j < 2; j++ {
		// The axis is ±u_j, with the sign that makes its largest coordinate positive.
		best := 0
		for i := range u[j] {
			if math.Abs(u[j][i]) > math.Abs(u[j][best]) {
				best = i
			}
		}
		sign := math.Copysign(1, u[j][best])
		for i := 0; i < d; i++ {
			if got, want := pca.Axes[j*d+i], sign*u[j][i]; math.Abs(got-want) > 1e-9 {
				t.Errorf("PC%d axis[%d]: want %.6f, got %.6f", j+1, i, want, got)
			}
		}
		for p, s := range signs {
			if got, want := pca.Proj[p*2+j], sign*s[j]*scales[j]; math.Abs(got-want) > 1e-9 {
				t.Errorf("point %d on PC%d: want %.6f, got %.6f", p, j+1, want, got)
			}
		}
	}
}

func TestFitPCASignIsFixed(t *testing.T) {
	// Negating the data leaves the axes as they are (the sign convention,
	// not the SVD, picks them) and negates the projections.
	const n, d = 200, 6
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.NormFloat64() * float64(1+i%d)
	}
	neg := make([]float64, len(x))
	for i, v := range x {
		neg[i] = -v
	}
	a, err := FitPCA(x, n, d, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FitPCA(neg, n, d, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Axes {
		if math.Abs(a.Axes[i]-b.Axes[i]) > 1e-9 {
			t.Fatalf("axis value %d: %.6f for x, %.6f for −x", i, a.Axes[i], b.Axes[i])
		}
	}
	for i := range a.Proj {
		if math.Abs(a.Proj[i]+b.Proj[i]) > 1e-9 {
			t.Fatalf("projection %d: %.6f for x, %.6f for −x", i, a.Proj[i], b.Proj[i])
		}
	}
}

func TestFitPCAEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		x       []float64
		n, d, k int
		wantErr bool
	}{
		{"too many components", make([]float64, 6), 3, 2, 3, true},
		{"wrong length", make([]float64, 5), 3, 2, 1, true},
		{"one point", make([]float64, 2), 1, 2, 1, true},
		{"no variance", []float64{1, 2, 1, 2, 1, 2}, 3, 2, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FitPCA(tc.x, tc.n, tc.d, tc.k)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			for j, r := range p.Ratio {
				if r != 0 || math.IsNaN(p.Proj[j]) {
					t.Errorf("constant points: ratio %v, projection %v; want 0", r, p.Proj[j])
				}
			}
		})
	}
}
