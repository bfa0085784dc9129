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

// accDeriv computes dx[i] += dout[i]·deriv(x[i], y[i]).
func accDeriv(dx, dout, x, y []float32, deriv func(x, y float32) float32) {
	parallel.For(len(dx), grainElems, func(lo, hi int) {
		d, g, xs, ys := dx[lo:hi], dout[lo:hi], x[lo:hi], y[lo:hi]
		for i := range d {
			d[i] += g[i] * deriv(xs[i], ys[i])
		}
	})
}

// copyTo computes dst[i] = src[i] in parallel chunks.
func copyTo(dst, src []float32) {
	parallel.For(len(dst), grainElems, func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
}

// reluBackward computes dx[i] += dout[i] where y[i] > 0 (dx cleared
// chunk by chunk first when fresh, see gradFor).
func reluBackward(dx []float32, fresh bool, dout, y []float32) {
	parallel.For(len(dx), grainElems, func(lo, hi int) {
		d, g, ys := dx[lo:hi], dout[lo:hi], y[lo:hi]
		g = g[:len(d)]
		ys = ys[:len(d)]
		if useRowKern && len(d) >= 16 {
			v := len(d) &^ 15
			rowGateAdd(&d[0], nil, &g[0], &ys[0], v, fresh, false)
			d, g, ys = d[v:], g[v:], ys[v:]
		}
		if fresh {
			clear(d)
		}
		for i := range d {
			d[i] += reluGate(g[i], ys[i])
		}
	})
}

// reluGate returns g where the ReLU output y is > 0, else 0, without a
// data-dependent branch: y ≥ 0, so y > 0 exactly when its bits are non-zero.
func reluGate(g, y float32) float32 {
	bits := math.Float32bits(y)
	keep := ^uint32(int32(bits-1) >> 31) // all ones iff bits ≠ 0
	return math.Float32frombits(math.Float32bits(g) & keep)
}

// AddReLU-style fused kernels

// addReLU computes y = max(a+b, 0).
func addReLU(y, a, b []float32) {
	parallel.For(len(y), grainElems, func(lo, hi int) { addReLURow(y[lo:hi], a[lo:hi], b[lo:hi]) })
}

// addReLURow is addReLU on one thread; ys may be as or bs.
func addReLURow(ys, as, bs []float32) {
	as, bs = as[:len(ys)], bs[:len(ys)]
	if useRowKern && len(ys) >= 16 {
		v := len(ys) &^ 15
		rowAddReLU(&ys[0], &as[0], &bs[0], v)
		ys, as, bs = ys[v:], as[v:], bs[v:]
	}
	for i := range ys {
		ys[i] = max(as[i]+bs[i], 0)
	}
}

// addReLUBackward accumulates the gated gradient into da and db (either
// may be nil; a fresh one is cleared chunk by chunk first, see gradFor).
func addReLUBackward(da, db []float32, freshA, freshB bool, dout, y []float32) {
	parallel.For(len(dout), grainElems, func(lo, hi int) {
		g, ys := dout[lo:hi], y[lo:hi]
		ys = ys[:len(g)]
		if useRowKern && len(g) >= 16 && (da != nil || db != nil) {
			v := len(g) &^ 15
			d, d2, f, f2 := da, db, freshA, freshB
			if d == nil {
				d, d2, f, f2 = db, nil, freshB, false
			}
			dd := d[lo : lo+v] // bounds-checked: the kernel writes v floats
			var p2 *float32
			if d2 != nil {
				p2 = &d2[lo : lo+v][0]
			}
			rowGateAdd(&dd[0], p2, &g[0], &ys[0], v, f, f2)
			lo += v
			g, ys = g[v:], ys[v:]
		}
		if freshA {
			clear(da[lo:hi])
		}
		if freshB {
			clear(db[lo:hi])
		}
		switch {
		case da != nil && db != nil:
			das, dbs := da[lo:hi], db[lo:hi]
			das, dbs = das[:len(g)], dbs[:len(g)]
			for i := range g {
				v := reluGate(g[i], ys[i])
				das[i] += v
				dbs[i] += v
			}
		case da != nil:
			das := da[lo:hi]
			das = das[:len(g)]
			for i := range g {
				das[i] += reluGate(g[i], ys[i])
			}
		case db != nil:
			dbs := db[lo:hi]
			dbs = dbs[:len(g)]
			for i := range g {
				dbs[i] += reluGate(g[i], ys[i])
			}
		}
	})
}
