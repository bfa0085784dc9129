package nn

import "math"

// Row-wise normalisation of x (N,D).

// L2Normalize returns each row of x (N,D) divided by max(‖row‖₂, eps), as
// PyTorch's F.normalize. If eps is 0, 1e-12 is used.
func L2Normalize(x *Tensor, eps float32) *Tensor {
	n, d := check2D("L2Normalize", x)
	if eps == 0 {
		eps = 1e-12
	}
	out := empty(n, d)
	norms := make([]float32, n) // saved for backward: max(‖x_n‖, eps)
	for i := 0; i < n; i++ {
		row := x.Data[i*d : (i+1)*d]
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		nr := float32(math.Sqrt(s))
		if nr < eps {
			nr = eps
		}
		norms[i] = nr
		for j, v := range row {
			out.Data[i*d+j] = v / nr
		}
	}
	return record(out, "L2Normalize", func(dout []float32) {
		dx := gradOf(x)
		if dx == nil {
			return
		}
		for i := 0; i < n; i++ {
			y := out.Data[i*d : (i+1)*d]
			g := dout[i*d : (i+1)*d]
			if norms[i] == eps { // clamped: y = x/eps, a linear map
				for j := range g {
					dx[i*d+j] += g[j] / eps
				}
				continue
			}
			// dx = (g − y·(y·g)) / ‖x‖
			var yg float64
			for j := range g {
				yg += float64(y[j]) * float64(g[j])
			}
			for j := range g {
				dx[i*d+j] += (g[j] - y[j]*float32(yg)) / norms[i]
			}
		}
	}, x)
}

// CosineSimilarity returns the cosine similarity of matching rows of a and
// b, both (N,D), as (N). Rows are normalised with L2Normalize(·, 1e-8).
func CosineSimilarity(a, b *Tensor) *Tensor {
	if len(a.shape) != 2 || !sameShape(a.shape, b.shape) {
		panic(shapeErrorf("CosineSimilarity", [][]int{a.shape, b.shape}, "want two (N,D) tensors of the same shape"))
	}
	return Sum(Mul(L2Normalize(a, 1e-8), L2Normalize(b, 1e-8)), 1)
}
