package mocov2

import "github.com/siambench/siambench/nn"

// InfoNCE is MoCo's contrastive loss for one direction (He et al., "Momentum
// Contrast for Unsupervised Visual Representation Learning", CVPR 2020,
// arXiv:1911.05722, eq. 1; Chen et al., "Improved Baselines with Momentum
// Contrastive Learning", arXiv:2003.04297). q is (N,K), the query head's
// output for one view (l2-normalised here); keys is (N,K), the momentum
// key head's l2-normalised output for the other view of the same images
// (constants: no gradient reaches them); queue is (Q,K), earlier steps'
// keys. For each image i the logits are q_i·k_i/τ (its positive) and
// q_i·queue_j/τ (Q negatives); the loss is the mean over i of −log softmax
// at the positive. It also returns the normalised queries.
func InfoNCE(q, keys, queue *nn.Tensor, temperature float64) (loss, qn *nn.Tensor) {
	n, k, nq := q.Dim(0), q.Dim(1), queue.Dim(0)
	qn = nn.L2Normalize(q, 1e-12)
	// One product against [keys; queue]: row i's positive is column i, and
	// the other images' keys (columns j ≠ i, j < N) are masked out, so the
	// negatives are the queue's alone, as in MoCo.
	all := nn.Zeros(n+nq, k)
	copy(all.Data, keys.Data)
	copy(all.Data[n*k:], queue.Data)
	logits := nn.Scale(nn.MatMul(qn, all, false, true), float32(1/temperature))
	mask := nn.Zeros(n, n+nq)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		labels[i] = i
		for j := 0; j < n; j++ {
			if j != i {
				mask.Data[i*(n+nq)+j] = -1e9
			}
		}
	}
	return nn.CrossEntropy(nn.Add(logits, mask), labels), qn
}
