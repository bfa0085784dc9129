package kit

import (
	"math"

	"github.com/siambench/siambench/nn"
)

// OutputStd is the collapse monitor of the SimSiam paper (Figure 2): the
// rows of z (N,K) are l2-normalised, the standard deviation of each channel
// over the N rows is taken (population std, as the harness's eval package),
// and the K stds are averaged. Outputs spread isotropically on the sphere
// give ≈ 1/√K; a collapsed output (every row the same direction) gives 0.
// It returns 0 for N < 2. Computed in float64; z is not changed.
func OutputStd(z *nn.Tensor) float64 {
	if z.NDim() != 2 {
		return 0
	}
	n, k := z.Dim(0), z.Dim(1)
	if n < 2 || k == 0 {
		return 0
	}
	sum := make([]float64, k)
	sq := make([]float64, k)
	for i := 0; i < n; i++ {
		row := z.Data[i*k : (i+1)*k]
		var norm float64
		for _, v := range row {
			norm += float64(v) * float64(v)
		}
		norm = math.Max(math.Sqrt(norm), 1e-12)
		for j, v := range row {
			u := float64(v) / norm
			sum[j] += u
			sq[j] += u * u
		}
	}
	var total float64
	for j := range sum {
		mean := sum[j] / float64(n)
		v := sq[j]/float64(n) - mean*mean
		total += math.Sqrt(math.Max(v, 0))
	}
	return total / float64(k)
}
