package eval

import "math"

// ChannelStd returns the mean over channels of the per-channel standard
// deviation (population, over rows) of the l2-normalised rows of x (n,d):
// the collapse monitor of the SimSiam paper (Figure 2). For outputs spread
// isotropically on the unit sphere it is ≈ 1/√d; for a collapsed
// representation (every row the same vector) it is 0. It returns 0 when n < 2.
func ChannelStd(x []float32, n, d int) float64 {
	if n < 2 || d == 0 {
		return 0
	}
	z := L2NormalizeRows(x, n, d)
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range z[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	vars := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range z[i*d : (i+1)*d] {
			dv := float64(v) - mean[j]
			vars[j] += dv * dv
		}
	}
	var s float64
	for _, v := range vars {
		s += math.Sqrt(v / float64(n))
	}
	return s / float64(d)
}

// CollapseFactor is the fraction of the healthy per-channel std 1/√d below
// which a representation counts as collapsed.
//
// Why 0.1: for unit vectors the per-channel variances sum to V = 1 − ‖mean‖²,
// the share of each output that varies across images. Spread evenly over d
// channels the mean per-channel std is √(V/d), so std < 0.1/√d means V < 1%:
// 99% of every output is one shared vector (any two outputs have cosine
// similarity above ≈ 0.98). Variance concentrated in few channels
// (dimensional collapse) lowers the mean std further and is caught too. A
// healthy run sits near 1/√d (the paper's Figure 2), far above the threshold.
const CollapseFactor = 0.1

// CollapseThreshold returns CollapseFactor/√d, the std below which an output
// of width d is flagged collapsed.
func CollapseThreshold(d int) float64 {
	if d <= 0 {
		return 0
	}
	return CollapseFactor / math.Sqrt(float64(d))
}

// Collapsed reports whether a per-channel std of l2-normalised outputs of
// width d lies below CollapseThreshold(d). A non-finite std counts as collapsed.
func Collapsed(std float64, d int) bool {
	if math.IsNaN(std) || math.IsInf(std, 0) {
		return true
	}
	return std < CollapseThreshold(d)
}
