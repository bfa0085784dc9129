package nn

import "math"

// Row-wise softmax family over x (N,D): each of the N rows is independent.

func check2D(op string, x *Tensor) (n, d int) {
	if len(x.shape) != 2 {
		panic(shapeErrorf(op, [][]int{x.shape}, "want a 2-D (N,D) tensor"))
	}
	return x.shape[0], x.shape[1]
}

// rowLSE returns log Σ_j exp(row[j]) computed stably in float64.
func rowLSE(row []float32) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, -1) {
		return m
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// LogSumExp returns log Σ_j exp(x[n,j]) for each row: (N,D) → (N).
func LogSumExp(x *Tensor) *Tensor {
	n, d := check2D("LogSumExp", x)
	out := empty(n)
	for i := 0; i < n; i++ {
		out.Data[i] = float32(rowLSE(x.Data[i*d : (i+1)*d]))
	}
	return record(out, "LogSumExp", func(dout []float32) {
		dx := gradOf(x)
		if dx == nil {
			return
		}
		for i := 0; i < n; i++ {
			lse := float64(out.Data[i])
			for j := 0; j < d; j++ {
				dx[i*d+j] += dout[i] * float32(math.Exp(float64(x.Data[i*d+j])-lse))
			}
		}
	}, x)
}

// LogSoftmax returns x[n,j] − logΣexp(x[n,:]) for each row: (N,D) → (N,D).
func LogSoftmax(x *Tensor) *Tensor {
	n, d := check2D("LogSoftmax", x)
	out := empty(n, d)
	for i := 0; i < n; i++ {
		lse := rowLSE(x.Data[i*d : (i+1)*d])
		for j := 0; j < d; j++ {
			out.Data[i*d+j] = float32(float64(x.Data[i*d+j]) - lse)
		}
	}
	return record(out, "LogSoftmax", func(dout []float32) {
		dx := gradOf(x)
		if dx == nil {
			return
		}
		// dx = dout − softmax·Σ dout
		for i := 0; i < n; i++ {
			var s float64
			for j := 0; j < d; j++ {
				s += float64(dout[i*d+j])
			}
			for j := 0; j < d; j++ {
				p := math.Exp(float64(out.Data[i*d+j]))
				dx[i*d+j] += dout[i*d+j] - float32(p*s)
			}
		}
	}, x)
}

// Softmax returns exp(x[n,j]) / Σexp(x[n,:]) for each row: (N,D) → (N,D).
func Softmax(x *Tensor) *Tensor {
	n, d := check2D("Softmax", x)
	out := empty(n, d)
	for i := 0; i < n; i++ {
		lse := rowLSE(x.Data[i*d : (i+1)*d])
		for j := 0; j < d; j++ {
			out.Data[i*d+j] = float32(math.Exp(float64(x.Data[i*d+j]) - lse))
		}
	}
	return record(out, "Softmax", func(dout []float32) {
		dx := gradOf(x)
		if dx == nil {
			return
		}
		// dx = y ⊙ (dout − Σ dout·y)
		for i := 0; i < n; i++ {
			var s float64
			for j := 0; j < d; j++ {
				s += float64(dout[i*d+j]) * float64(out.Data[i*d+j])
			}
			for j := 0; j < d; j++ {
				dx[i*d+j] += out.Data[i*d+j] * (dout[i*d+j] - float32(s))
			}
		}
	}, x)
}

// CrossEntropy returns the mean over rows of −log softmax(logits)[n, labels[n]]
// as a scalar; logits is (N,D), labels has N entries in [0,D). A label out
// of range or a length mismatch panics with a *ShapeError.
func CrossEntropy(logits *Tensor, labels []int) *Tensor {
	n, d := check2D("CrossEntropy", logits)
	if len(labels) != n {
		panic(shapeErrorf("CrossEntropy", [][]int{logits.shape, {len(labels)}}, "%d labels for %d rows", len(labels), n))
	}
	if n == 0 {
		panic(shapeErrorf("CrossEntropy", [][]int{logits.shape}, "empty batch"))
	}
	lses := make([]float64, n)
	var loss float64
	for i, y := range labels {
		if y < 0 || y >= d {
			panic(shapeErrorf("CrossEntropy", [][]int{logits.shape}, "label %d of row %d outside [0,%d)", y, i, d))
		}
		lses[i] = rowLSE(logits.Data[i*d : (i+1)*d])
		loss += lses[i] - float64(logits.Data[i*d+y])
	}
	out := Scalar(float32(loss / float64(n)))
	return record(out, "CrossEntropy", func(dout []float32) {
		dx := gradOf(logits)
		if dx == nil {
			return
		}
		// ∂/∂x[n,j] = (softmax[n,j] − [j==y_n]) / N
		s := float64(dout[0]) / float64(n)
		for i, y := range labels {
			for j := 0; j < d; j++ {
				p := math.Exp(float64(logits.Data[i*d+j]) - lses[i]) // saved for backward: lses
				if j == y {
					p--
				}
				dx[i*d+j] += float32(p * s)
			}
		}
	}, logits)
}
