package simsiam

import "github.com/siambench/siambench/nn"

// Losses of SimSiam, Chen & He, "Exploring Simple Siamese Representation
// Learning", CVPR 2021, arXiv:2011.10566. p and z are (N,K): predictor and
// projector outputs of N images.

// NegCosine is D(p, z) = −mean_n cos(p_n, z_n) (the paper's eq. 1), a scalar
// in [−1, 1]. Gradients flow into both arguments; stop-gradient is the
// caller's (pass z.Detach()).
func NegCosine(p, z *nn.Tensor) *nn.Tensor {
	return nn.Neg(nn.MeanAll(nn.CosineSimilarity(p, z)))
}

// CrossEntropy is the paper's cross-entropy similarity (Sec. 4.4, Table 4
// "cross-entropy" row): D(p, z) = −mean_n Σ_k softmax(z_n)_k · log softmax(p_n)_k,
// softmax along the channel dimension, on the raw (un-normalised) outputs.
func CrossEntropy(p, z *nn.Tensor) *nn.Tensor {
	return nn.Neg(nn.MeanAll(nn.Sum(nn.Mul(nn.Softmax(z), nn.LogSoftmax(p)), 1)))
}

// Loss combines a similarity D over the two views: symmetric
// L = ½D(p1, t2) + ½D(p2, t1) (eq. 2), or the asymmetric L = D(p1, t2) of the
// paper's Table 5. t1, t2 are the target branches: z1.Detach(), z2.Detach()
// with stop-gradient (eq. 3), z1, z2 without.
func Loss(d func(p, z *nn.Tensor) *nn.Tensor, p1, p2, t1, t2 *nn.Tensor, symmetric bool) *nn.Tensor {
	if !symmetric {
		return d(p1, t2)
	}
	return nn.Scale(nn.Add(d(p1, t2), d(p2, t1)), 0.5)
}
