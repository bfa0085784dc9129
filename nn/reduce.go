package nn

// Reductions. Sum and Mean over one axis remove that axis:
// a (A0,…,Ak,…) → (A0,…,Ak−1,Ak+1,…). SumAll and MeanAll return 0-d scalars.

// splitAxis returns (outer, dim, inner) sizes around axis, panicking with a
// *ShapeError when axis is out of range. Negative axis counts from the end.
func splitAxis(op string, a *Tensor, axis int) (outer, dim, inner, ax int) {
	if axis < 0 {
		axis += len(a.shape)
	}
	if axis < 0 || axis >= len(a.shape) {
		panic(shapeErrorf(op, [][]int{a.shape}, "axis %d out of range", axis))
	}
	outer, inner = 1, 1
	for i := 0; i < axis; i++ {
		outer *= a.shape[i]
	}
	for i := axis + 1; i < len(a.shape); i++ {
		inner *= a.shape[i]
	}
	return outer, a.shape[axis], inner, axis
}

func removeAxis(shape []int, axis int) []int {
	out := append([]int{}, shape[:axis]...)
	return append(out, shape[axis+1:]...)
}

func sumAxis(op string, a *Tensor, axis int, scale float32) *Tensor {
	outer, dim, inner, ax := splitAxis(op, a, axis)
	out := zeroed(removeAxis(a.shape, ax)...)
	for o := 0; o < outer; o++ {
		for d := 0; d < dim; d++ {
			src := a.Data[(o*dim+d)*inner : (o*dim+d+1)*inner]
			dst := out.Data[o*inner : (o+1)*inner]
			for i, v := range src {
				dst[i] += v
			}
		}
	}
	if scale != 1 {
		for i := range out.Data {
			out.Data[i] *= scale
		}
	}
	return record(out, op, func(dout []float32) {
		g := gradOf(a)
		if g == nil {
			return
		}
		for o := 0; o < outer; o++ {
			src := dout[o*inner : (o+1)*inner]
			for d := 0; d < dim; d++ {
				dst := g[(o*dim+d)*inner : (o*dim+d+1)*inner]
				for i, v := range src {
					dst[i] += scale * v
				}
			}
		}
	}, a)
}

// Sum sums a over axis (negative counts from the end).
func Sum(a *Tensor, axis int) *Tensor { return sumAxis("Sum", a, axis, 1) }

// Mean averages a over axis (negative counts from the end).
func Mean(a *Tensor, axis int) *Tensor {
	_, dim, _, _ := splitAxis("Mean", a, axis)
	if dim == 0 {
		panic(shapeErrorf("Mean", [][]int{a.shape}, "mean over an empty axis %d", axis))
	}
	return sumAxis("Mean", a, axis, 1/float32(dim))
}

func sumAll(op string, a *Tensor, scale float64) *Tensor {
	var s float64
	for _, v := range a.Data {
		s += float64(v)
	}
	out := Scalar(float32(s * scale))
	return record(out, op, func(dout []float32) {
		if g := gradOf(a); g != nil {
			d := dout[0] * float32(scale)
			for i := range g {
				g[i] += d
			}
		}
	}, a)
}

// SumAll returns the sum of all elements as a scalar (accumulated in float64).
func SumAll(a *Tensor) *Tensor { return sumAll("SumAll", a, 1) }

// MeanAll returns the mean of all elements as a scalar. It panics with a
// *ShapeError on an empty tensor.
func MeanAll(a *Tensor) *Tensor {
	if len(a.Data) == 0 {
		panic(shapeErrorf("MeanAll", [][]int{a.shape}, "mean of an empty tensor"))
	}
	return sumAll("MeanAll", a, 1/float64(len(a.Data)))
}
