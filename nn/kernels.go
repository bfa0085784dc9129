package nn

import (
	"math"

	"github.com/siambench/siambench/nn/internal/parallel"
)

// Kernels: the plain-slice compute functions the ops call. Everything that
// touches tensor data in bulk goes through a function here or in the
// conv/bn kernel files, so a device backend replaces a short list of
// functions rather than the ops.

// grainElems is the smallest elementwise chunk worth a goroutine.
const grainElems = 1 << 15

// addTo computes dst[i] += src[i].
func addTo(dst, src []float32) {
	parallel.For(len(dst), grainElems, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}

// mapTo computes dst[i] = f(src[i]) in parallel chunks.
func mapTo(dst, src []float32, f func(float32) float32) {
	parallel.For(len(dst), grainElems, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] = f(s[i])
		}
	})
}

// zip computes dst[i] = f(a[i], b[i]) in parallel chunks.
func zip(dst, a, b []float32, f func(x, y float32) float32) {
	parallel.For(len(dst), grainElems, func(lo, hi int) {
		d, x, y := dst[lo:hi], a[lo:hi], b[lo:hi]
		for i := range d {
			d[i] = f(x[i], y[i])
		}
	})
}

// accZip computes dst[i] += f(a[i], b[i]) in parallel chunks.
func accZip(dst, a, b []float32, f func(x, y float32) float32) {
	parallel.For(len(dst), grainElems, func(lo, hi int) {
		d, x, y := dst[lo:hi], a[lo:hi], b[lo:hi]
		for i := range d {
			d[i] += f(x[i], y[i])
		}
	})
}

// accDeriv computes dx[i] += dout[i]·deriv(x[i], y[i]).
func accDeriv(dx, dout, x, y []float32, deriv func(x, y float32) float32) {
	parallel.For(len(dx), grainElems, func(lo, hi int) {
		d, g, xs, ys := dx[lo:hi], dout[lo:hi], x[lo:hi], y[lo:hi]
		for i := range d {
			d[i] += g[i] * deriv(xs[i], ys[i])
		}
	})
}

// reluBackward computes dx[i] += dout[i] where y[i] > 0.
func reluBackward(dx, dout, y []float32) {
	parallel.For(len(dx), grainElems, func(lo, hi int) {
		d, g, ys := dx[lo:hi], dout[lo:hi], y[lo:hi]
		g = g[:len(d)]
		ys = ys[:len(d)]
		for i := range d {
			// y ≥ 0 (a ReLU output): pass g where y's bits are non-zero, i.e.
			// y > 0, without a data-dependent branch
			bits := math.Float32bits(ys[i])
			keep := ^uint32(int32(bits-1) >> 31) // all ones iff bits ≠ 0
			d[i] += math.Float32frombits(math.Float32bits(g[i]) & keep)
		}
	})
}
