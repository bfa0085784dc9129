package barlowtwins

import "github.com/siambench/siambench/nn"

// Loss is the Barlow Twins objective (Zbontar, Jing, Misra, LeCun & Deny,
// "Barlow Twins: Self-Supervised Learning via Redundancy Reduction", ICML
// 2021, arXiv:2103.03230, eq. 1-2). z1 and z2 are (N,K): the projections of
// the two views of N images, rows in the same order. Each is standardised
// per channel over the batch (mean 0, biased variance 1: a BatchNorm
// without γ and β, as the paper's code does), C = z1ᵀz2 / N is their (K,K)
// cross-correlation, and
//
//	loss = scale · [ Σ_i (1 − C_ii)²  +  λ · Σ_{i≠j} C_ij² ]
//
// The first term makes each channel invariant to the augmentation, the
// second decorrelates the channels (redundancy reduction): without it, every
// channel can carry the same feature and the representation collapses to a
// line. It also returns C (for metrics).
func Loss(z1, z2 *nn.Tensor, lambda, scale float64) (loss, c *nn.Tensor) {
	n, k := z1.Dim(0), z1.Dim(1)
	a := nn.BatchNorm(z1, nil, nil, nil, nil, true, 0, 1e-5)
	b := nn.BatchNorm(z2, nil, nil, nil, nil, true, 0, 1e-5)
	c = nn.Scale(nn.MatMul(a, b, true, false), float32(1/float64(n)))
	// (C − I)² weighted 1 on the diagonal, λ off it: the two terms in one sum.
	eye, w := nn.Zeros(k, k), nn.Full(float32(lambda), k, k)
	for i := 0; i < k; i++ {
		eye.Data[i*k+i], w.Data[i*k+i] = 1, 1
	}
	loss = nn.Scale(nn.SumAll(nn.Mul(nn.Square(nn.Sub(c, eye)), w)), float32(scale))
	return loss, c
}
