package kit

import (
	"github.com/siambench/siambench/eval"
	"github.com/siambench/siambench/nn"
)

// OutputStd is the collapse monitor of the SimSiam paper (Figure 2), the
// statistic the harness watches (eval.ChannelStd): the rows of z (N,K) are
// l2-normalised, the standard deviation of each channel over the N rows is
// taken (population std), and the K stds are averaged. Outputs spread
// isotropically on the sphere give ≈ 1/√K; a collapsed output (every row
// the same direction) gives 0. It returns 0 for N < 2 or a z that is not
// (N,K). z is not changed.
func OutputStd(z *nn.Tensor) float64 {
	if z.NDim() != 2 {
		return 0
	}
	return eval.ChannelStd(z.Data, z.Dim(0), z.Dim(1))
}
