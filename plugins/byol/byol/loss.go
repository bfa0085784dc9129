package byol

import "github.com/siambench/siambench/nn"

// Regression is BYOL's loss term (Grill et al., "Bootstrap Your Own Latent",
// NeurIPS 2020, arXiv:2006.07733, eq. 2): the mean over the N rows of
// ‖p̄ − z̄‖² = 2 − 2·cos(p, z), with p̄, z̄ the l2-normalised online
// prediction and target projection, both (N,K). The target is the caller's
// to detach (it comes from the EMA target network).
func Regression(p, z *nn.Tensor) *nn.Tensor {
	return nn.AddScalar(nn.Scale(nn.MeanAll(nn.CosineSimilarity(p, z)), -2), 2)
}

// Loss is BYOL's symmetrised loss L + L̃ (eq. 2 and its swapped twin):
// view 1's prediction regresses view 2's target projection and vice versa.
// It lies in [0, 8].
func Loss(p1, p2, zt1, zt2 *nn.Tensor) *nn.Tensor {
	return nn.Add(Regression(p1, zt2), Regression(p2, zt1))
}
