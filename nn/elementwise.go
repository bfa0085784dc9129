package nn

import (
	"math"

	"github.com/siambench/siambench/nn/internal/parallel"
)

// Elementwise ops. Binary ops take a and b of the same shape, or b
// broadcast over a's leading dimensions: b's shape is a suffix of a's
// shape ((N,D)+(D), (N,C,H,W)+(C,H,W)), or b has one element.

// broadcastCheck returns how many times b repeats inside a, panicking with a
// *ShapeError when the shapes do not broadcast.
func broadcastCheck(op string, a, b *Tensor) int {
	if len(b.Data) == 1 && len(a.Data) >= 1 {
		return len(a.Data)
	}
	as, bs := a.shape, b.shape
	if len(bs) <= len(as) && sameShape(as[len(as)-len(bs):], bs) && len(b.Data) > 0 {
		return len(a.Data) / len(b.Data)
	}
	if len(a.Data) == 0 && sameShape(as, bs) {
		return 1
	}
	panic(shapeErrorf(op, [][]int{as, bs}, "shapes do not match: b must have a's shape, a suffix of it, or one element"))
}

// reduceBroadcast adds g (len(a)) into db (len(b)), summing over repeats.
func reduceBroadcast(db, g []float32, f func(i int) float32) {
	nb := len(db)
	for i := range g {
		db[i%nb] += f(i)
	}
}

// binary builds a broadcast binary op. fwd computes out from (x, y);
// da and db give ∂out/∂a and ∂out/∂b at element i (with y = b[i%len(b)]).
func binary(op string, a, b *Tensor, fwd func(x, y float32) float32,
	da, db func(x, y float32) float32) *Tensor {
	broadcastCheck(op, a, b)
	out := empty(a.shape...)
	nb := len(b.Data)
	if nb == len(a.Data) {
		zip(out.Data, a.Data, b.Data, fwd)
	} else {
		for i, x := range a.Data {
			out.Data[i] = fwd(x, b.Data[i%nb])
		}
	}
	return record(out, op, func(dout []float32) {
		if g := gradOf(a); g != nil {
			if nb == len(a.Data) {
				for i, d := range dout {
					g[i] += d * da(a.Data[i], b.Data[i])
				}
			} else {
				for i, d := range dout {
					g[i] += d * da(a.Data[i], b.Data[i%nb])
				}
			}
		}
		if g := gradOf(b); g != nil {
			reduceBroadcast(g, dout, func(i int) float32 { return dout[i] * db(a.Data[i], b.Data[i%nb]) })
		}
	}, a, b)
}

// Add returns a + b (b may broadcast, see above).
func Add(a, b *Tensor) *Tensor {
	if len(a.Data) == len(b.Data) && sameShape(a.shape, b.shape) {
		// fast path used by residual connections
		out := empty(a.shape...)
		zip(out.Data, a.Data, b.Data, func(x, y float32) float32 { return x + y })
		return record(out, "Add", func(dout []float32) {
			for _, t := range []*Tensor{a, b} {
				if g, fresh := gradFor(t); fresh {
					copyTo(g, dout)
				} else if g != nil {
					addTo(g, dout)
				}
			}
		}, a, b)
	}
	if rep := broadcastCheck("Add", a, b); rep > 1 && len(b.Data) > 1 {
		// (…, D) + (D): the bias of a Linear layer
		d := len(b.Data)
		out := empty(a.shape...)
		parallel.For(rep, max(1, grainElems/d), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				xs, ys := a.Data[i*d:(i+1)*d], out.Data[i*d:(i+1)*d]
				ys = ys[:len(xs)]
				bs := b.Data[:len(xs)]
				for j, v := range xs {
					ys[j] = v + bs[j]
				}
			}
		})
		return record(out, "Add", func(dout []float32) {
			if g := gradOf(a); g != nil {
				addTo(g, dout)
			}
			if g := gradOf(b); g != nil {
				// column sums over the repeats, rows in order
				for i := 0; i < rep; i++ {
					row := dout[i*d : (i+1)*d]
					row = row[:len(g)]
					for j, v := range row {
						g[j] += v
					}
				}
			}
		}, a, b)
	}
	return binary("Add", a, b, func(x, y float32) float32 { return x + y },
		func(x, y float32) float32 { return 1 }, func(x, y float32) float32 { return 1 })
}

// Sub returns a − b (b may broadcast).
func Sub(a, b *Tensor) *Tensor {
	return binary("Sub", a, b, func(x, y float32) float32 { return x - y },
		func(x, y float32) float32 { return 1 }, func(x, y float32) float32 { return -1 })
}

// Mul returns the elementwise product a·b (b may broadcast).
func Mul(a, b *Tensor) *Tensor {
	return binary("Mul", a, b, func(x, y float32) float32 { return x * y },
		func(x, y float32) float32 { return y }, func(x, y float32) float32 { return x })
}

// Div returns the elementwise quotient a/b (b may broadcast).
func Div(a, b *Tensor) *Tensor {
	return binary("Div", a, b, func(x, y float32) float32 { return x / y },
		func(x, y float32) float32 { return 1 / y }, func(x, y float32) float32 { return -x / (y * y) })
}

// unaryIdx builds an elementwise op whose derivative is expressed through
// the input x and output y: ∂y/∂x = deriv(x, y).
func unaryIdx(op string, a *Tensor, fwd func(x float32) float32, deriv func(x, y float32) float32) *Tensor {
	out := empty(a.shape...)
	mapTo(out.Data, a.Data, fwd)
	return record(out, op, func(dout []float32) {
		if g := gradOf(a); g != nil {
			accDeriv(g, dout, a.Data, out.Data, deriv)
		}
	}, a)
}

// Scale returns s·a.
func Scale(a *Tensor, s float32) *Tensor {
	return unaryIdx("Scale", a, func(x float32) float32 { return s * x }, func(x, y float32) float32 { return s })
}

// AddScalar returns a + s.
func AddScalar(a *Tensor, s float32) *Tensor {
	return unaryIdx("AddScalar", a, func(x float32) float32 { return x + s }, func(x, y float32) float32 { return 1 })
}

// Neg returns −a.
func Neg(a *Tensor) *Tensor { return Scale(a, -1) }

// Exp returns e^a elementwise.
func Exp(a *Tensor) *Tensor {
	return unaryIdx("Exp", a, func(x float32) float32 { return float32(math.Exp(float64(x))) },
		func(x, y float32) float32 { return y })
}

// Log returns the natural logarithm elementwise (NaN/−Inf for x ≤ 0, as in IEEE).
func Log(a *Tensor) *Tensor {
	return unaryIdx("Log", a, func(x float32) float32 { return float32(math.Log(float64(x))) },
		func(x, y float32) float32 { return 1 / x })
}

// Sqrt returns the square root elementwise.
func Sqrt(a *Tensor) *Tensor {
	return unaryIdx("Sqrt", a, func(x float32) float32 { return float32(math.Sqrt(float64(x))) },
		func(x, y float32) float32 { return 0.5 / y })
}

// Square returns a² elementwise.
func Square(a *Tensor) *Tensor {
	return unaryIdx("Square", a, func(x float32) float32 { return x * x },
		func(x, y float32) float32 { return 2 * x })
}

// ReLU returns max(a, 0) elementwise. Its derivative at 0 is taken as 0.
func ReLU(a *Tensor) *Tensor {
	out := empty(a.shape...)
	mapTo(out.Data, a.Data, func(x float32) float32 { return max(x, 0) })
	return record(out, "ReLU", func(dout []float32) {
		if g, fresh := gradFor(a); g != nil {
			reluBackward(g, fresh, dout, out.Data)
		}
	}, a)
}

// AddReLU returns max(a+b, 0) for a and b of the same shape (a residual
// connection followed by ReLU), fused: one pass and one output tensor.
func AddReLU(a, b *Tensor) *Tensor {
	if !sameShape(a.shape, b.shape) {
		panic(shapeErrorf("AddReLU", [][]int{a.shape, b.shape}, "shapes must be equal"))
	}
	out := empty(a.shape...)
	addReLU(out.Data, a.Data, b.Data)
	return record(out, "AddReLU", func(dout []float32) {
		da, freshA := gradFor(a)
		db, freshB := gradFor(b)
		addReLUBackward(da, db, freshA, freshB, dout, out.Data)
	}, a, b)
}
