package swav

import (
	"math"

	"github.com/siambench/siambench/nn"
)

// SwAV, Caron et al., "Unsupervised Learning of Visual Features by
// Contrasting Cluster Assignments", NeurIPS 2020, arXiv:2006.09882.
// N=rows (images, or queue + images), K=prototypes.

// Sinkhorn returns the codes Q (N,K) for scores (N,K), the cosine
// similarities of N embeddings with K prototypes, as SwAV's
// distributed_sinkhorn on one process: Q ∝ exp(scores/eps), then iters
// rounds of (each prototype's total mass → 1/K; each sample's mass → 1/N),
// and finally ×N so that each row sums to 1 (a soft assignment). It works
// in float64 and subtracts the largest score before exp (the first
// normalisation divides the constant out again). No gradient flows through
// it: SwAV treats codes as targets.
func Sinkhorn(scores []float32, n, k int, eps float64, iters int) []float32 {
	q := make([]float64, n*k)
	mx := math.Inf(-1)
	for _, s := range scores {
		mx = math.Max(mx, float64(s))
	}
	var total float64
	for i, s := range scores {
		q[i] = math.Exp((float64(s) - mx) / eps)
		total += q[i]
	}
	for i := range q {
		q[i] /= total
	}
	colSum := make([]float64, k)
	for it := 0; it < iters; it++ {
		// each prototype (column) gets total mass 1/K
		clear(colSum)
		for i := 0; i < n; i++ {
			for j := 0; j < k; j++ {
				colSum[j] += q[i*k+j]
			}
		}
		for i := 0; i < n; i++ {
			for j := 0; j < k; j++ {
				q[i*k+j] /= colSum[j] * float64(k)
			}
		}
		// each sample (row) gets total mass 1/N
		for i := 0; i < n; i++ {
			var rs float64
			for j := 0; j < k; j++ {
				rs += q[i*k+j]
			}
			for j := 0; j < k; j++ {
				q[i*k+j] /= rs * float64(n)
			}
		}
	}
	out := make([]float32, n*k)
	for i, v := range q {
		out[i] = float32(v * float64(n))
	}
	return out
}

// SwappedLoss is SwAV's swapped prediction over all crops (eq. 3 and the
// official main_swav.py): for each crop i with codes (i in 0..len(codes)−1,
// the global crops), the mean over the other crops v of
// −mean_n Σ_k codes_i[n,k] · log softmax(scores_v[n]/τ)_k, averaged over i.
// scores[v] is (N,K) per crop; codes[i] is (N,K), a constant.
func SwappedLoss(scores []*nn.Tensor, codes [][]float32, temperature float64) *nn.Tensor {
	n, k := scores[0].Dim(0), scores[0].Dim(1)
	logp := make([]*nn.Tensor, len(scores))
	for v, s := range scores {
		logp[v] = nn.LogSoftmax(nn.Scale(s, float32(1/temperature)))
	}
	var total *nn.Tensor
	for i, c := range codes {
		q := nn.New(c, n, k)
		for v := range scores {
			if v == i {
				continue
			}
			term := nn.MeanAll(nn.Sum(nn.Mul(q, logp[v]), 1))
			if total == nil {
				total = term
			} else {
				total = nn.Add(total, term)
			}
		}
	}
	return nn.Scale(total, float32(-1/float64(len(codes)*(len(scores)-1))))
}
