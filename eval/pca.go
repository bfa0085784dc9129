package eval

// Shape legend: N = points, D = feature width, K = components kept.

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// PCA is a principal component analysis of a point set, first K components.
type PCA struct {
	K     int
	Proj  []float64 // (N,K) centred points projected on the components
	Axes  []float64 // (K,D) unit principal axes, by decreasing variance
	Ratio []float64 // (K) fraction of the total variance along each axis
}

// FitPCA fits a PCA to x, (N,D) row-major, with gonum's stat.PC (SVD of the
// centred data), and keeps the first k components. Each axis's sign is fixed
// so that its largest-magnitude coordinate (the first, on a tie) is
// positive: SVD leaves the sign free, and this makes the result a function
// of x alone. A point set with no variance gets Ratio 0. It returns an error
// when k is not in [1, min(N,D)] or the SVD fails; x is not modified.
func FitPCA(x []float64, n, d, k int) (PCA, error) {
	if len(x) != n*d {
		return PCA{}, fmt.Errorf("pca: %d values for %d×%d points", len(x), n, d)
	}
	if k < 1 || k > min(n, d) || n < 2 {
		return PCA{}, fmt.Errorf("pca: %d components of %d points in %d dimensions", k, n, d)
	}
	a := mat.NewDense(n, d, x)
	var pc stat.PC
	if ok := pc.PrincipalComponents(a, nil); !ok {
		return PCA{}, fmt.Errorf("pca: SVD of %d×%d points failed", n, d)
	}
	var vecs mat.Dense // (D, min(N,D)) axes as columns
	pc.VectorsTo(&vecs)
	vars := pc.VarsTo(nil)
	var total float64
	for _, v := range vars {
		total += v
	}
	out := PCA{K: k, Proj: make([]float64, n*k), Axes: make([]float64, k*d), Ratio: make([]float64, k)}
	for j := 0; j < k; j++ {
		best := 0
		for i := 1; i < d; i++ {
			if math.Abs(vecs.At(i, j)) > math.Abs(vecs.At(best, j)) {
				best = i
			}
		}
		sign := 1.0
		if vecs.At(best, j) < 0 {
			sign = -1
		}
		for i := 0; i < d; i++ {
			out.Axes[j*d+i] = sign * vecs.At(i, j)
		}
		if total > 0 {
			out.Ratio[j] = vars[j] / total
		}
	}
	// Project the centred points: Proj[r,j] = Σ_i (x[r,i] − mean_i)·Axes[j,i].
	mean := make([]float64, d)
	for r := 0; r < n; r++ {
		for i := 0; i < d; i++ {
			mean[i] += x[r*d+i]
		}
	}
	for i := range mean {
		mean[i] /= float64(n)
	}
	for r := 0; r < n; r++ {
		row := x[r*d : (r+1)*d]
		for j := 0; j < k; j++ {
			ax := out.Axes[j*d : (j+1)*d]
			var s float64
			for i, v := range row {
				s += (v - mean[i]) * ax[i]
			}
			out.Proj[r*k+j] = s
		}
	}
	return out, nil
}
