package nn

import (
	"math"

	"github.com/siambench/siambench/nn/internal/parallel"
)

// Pooling over x (N,C,H,W).

// GlobalAvgPool averages each channel over H,W: (N,C,H,W) → (N,C).
func GlobalAvgPool(x *Tensor) *Tensor {
	if len(x.shape) != 4 {
		panic(shapeErrorf("GlobalAvgPool", [][]int{x.shape}, "want (N,C,H,W)"))
	}
	n, c, hw := x.shape[0], x.shape[1], x.shape[2]*x.shape[3]
	if hw == 0 {
		panic(shapeErrorf("GlobalAvgPool", [][]int{x.shape}, "empty spatial size"))
	}
	out := empty(n, c)
	inv := 1 / float32(hw)
	parallel.For(n*c, 16, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			var s float32
			for _, v := range x.Data[nc*hw : (nc+1)*hw] {
				s += v
			}
			out.Data[nc] = s * inv
		}
	})
	return record(out, "GlobalAvgPool", func(dout []float32) {
		dx, fresh := gradFor(x)
		if dx == nil {
			return
		}
		parallel.For(n*c, 16, func(lo, hi int) {
			for nc := lo; nc < hi; nc++ {
				d := dout[nc] * inv
				row := dx[nc*hw : (nc+1)*hw]
				if fresh {
					for i := range row {
						row[i] = d
					}
					continue
				}
				for i := range row {
					row[i] += d
				}
			}
		})
	}, x)
}

// MaxPool2d takes the maximum over k×k windows moved by stride (no
// padding): (N,C,H,W) → (N,C,(H−k)/stride+1,(W−k)/stride+1). The gradient
// goes to the first maximal element of each window.
func MaxPool2d(x *Tensor, k, stride int) *Tensor {
	if len(x.shape) != 4 {
		panic(shapeErrorf("MaxPool2d", [][]int{x.shape}, "want (N,C,H,W)"))
	}
	if k < 1 || stride < 1 {
		panic(shapeErrorf("MaxPool2d", [][]int{x.shape}, "kernel %d and stride %d must be ≥ 1", k, stride))
	}
	n, c, h, w := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	if h < k || w < k {
		panic(shapeErrorf("MaxPool2d", [][]int{x.shape}, "kernel %d larger than input %dx%d", k, h, w))
	}
	oh, ow := (h-k)/stride+1, (w-k)/stride+1
	out := empty(n, c, oh, ow)
	arg := make([]int32, len(out.Data)) // saved for backward: flat index within the (h,w) plane
	parallel.For(n*c, 4, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			img := x.Data[nc*h*w : (nc+1)*h*w]
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					best, bi := float32(math.Inf(-1)), int32(-1)
					for a := 0; a < k; a++ {
						for b := 0; b < k; b++ {
							idx := (i*stride+a)*w + j*stride + b
							if v := img[idx]; v > best || bi < 0 {
								best, bi = v, int32(idx)
							}
						}
					}
					o := (nc*oh+i)*ow + j
					out.Data[o], arg[o] = best, bi
				}
			}
		}
	})
	return record(out, "MaxPool2d", func(dout []float32) {
		dx := gradOf(x)
		if dx == nil {
			return
		}
		parallel.For(n*c, 4, func(lo, hi int) {
			for nc := lo; nc < hi; nc++ {
				for o := nc * oh * ow; o < (nc+1)*oh*ow; o++ {
					dx[nc*h*w+int(arg[o])] += dout[o]
				}
			}
		})
	}, x)
}
