package simclr

import "github.com/siambench/siambench/nn"

// NTXent is SimCLR's normalised temperature-scaled cross-entropy (Chen et
// al., "A Simple Framework for Contrastive Learning of Visual
// Representations", ICML 2020, arXiv:2002.05709, eq. 1). z is (2N,K): rows
// 0..N−1 are view 1 of the N images, rows N..2N−1 view 2 in the same order.
// Rows are l2-normalised; for each row i the logits are cos(z_i, z_k)/τ over
// the 2N−1 rows k ≠ i, its positive is the other view of the same image
// (i ± N), the other 2N−2 rows are negatives; the loss is the mean over all
// 2N rows of −log softmax at the positive. It also returns the normalised
// rows (for metrics).
func NTXent(z *nn.Tensor, temperature float64) (loss, zn *nn.Tensor) {
	n2 := z.Dim(0)
	n := n2 / 2
	zn = nn.L2Normalize(z, 1e-12)
	sim := nn.Scale(nn.MatMul(zn, zn, false, true), float32(1/temperature))
	// Exclude k = i: a constant −1e9 on the diagonal makes exp vanish
	// (LogSumExp works in float64, so nothing overflows).
	mask := nn.Zeros(n2, n2)
	for i := 0; i < n2; i++ {
		mask.Data[i*n2+i] = -1e9
	}
	labels := make([]int, n2)
	for i := 0; i < n; i++ {
		labels[i], labels[n+i] = n+i, i
	}
	return nn.CrossEntropy(nn.Add(sim, mask), labels), zn
}

// positives returns the mean cosine of the positive pairs and the fraction
// of rows whose nearest other row is their positive, for zn (2N,K) unit rows.
func positives(zn []float32, n, k int) (pos, top1 float64) {
	dot := func(a, b int) float64 {
		s := 0.0
		for j := 0; j < k; j++ {
			s += float64(zn[a*k+j]) * float64(zn[b*k+j])
		}
		return s
	}
	hits := 0
	for i := 0; i < 2*n; i++ {
		p := (i + n) % (2 * n)
		sp := dot(i, p)
		pos += sp
		best := true
		for r := 0; r < 2*n && best; r++ {
			if r != i && r != p && dot(i, r) >= sp {
				best = false
			}
		}
		if best {
			hits++
		}
	}
	return pos / float64(2*n), float64(hits) / float64(2*n)
}
