package nn

import (
	"math"

	"github.com/siambench/siambench/nn/internal/parallel"
)

// Batch normalisation. N=batch, C=channels (or features D), HW=H·W (1 for
// 1-d input). M = N·HW values per channel.

// BatchNorm normalises x, which is (N,C) or (N,C,H,W), per channel C.
//
// With training set it uses the batch statistics (biased variance) and,
// when runMean and runVar are non-nil, updates them in place:
// run = (1−momentum)·run + momentum·batch, with the unbiased variance
// (PyTorch's convention). Otherwise it uses runMean and runVar, which must
// then be non-nil. gamma (scale) and beta (shift) are (C) or nil (1 and 0).
// If eps is 0, 1e-5 is used. Training needs more than one value per channel.
func BatchNorm(x, gamma, beta, runMean, runVar *Tensor, training bool, momentum, eps float32) *Tensor {
	return batchNorm("BatchNorm", x, nil, gamma, beta, runMean, runVar, training, momentum, eps, false)
}

// BatchNormReLU is ReLU(BatchNorm(...)) fused: one pass over the data
// forward and no intermediate tensor; the ReLU mask is re-derived from the
// output in backward. Arguments as BatchNorm.
func BatchNormReLU(x, gamma, beta, runMean, runVar *Tensor, training bool, momentum, eps float32) *Tensor {
	return batchNorm("BatchNormReLU", x, nil, gamma, beta, runMean, runVar, training, momentum, eps, true)
}

// BatchNormAddReLU is ReLU(BatchNorm(x, ...) + res) fused, for the end of a
// residual block: res has x's shape. One output tensor is kept for
// backward, not two (the normalised x is never stored), and the sum is
// made row by row while the row is in cache. Other arguments as BatchNorm.
func BatchNormAddReLU(x, res, gamma, beta, runMean, runVar *Tensor, training bool, momentum, eps float32) *Tensor {
	if res == nil || !sameShape(x.shape, res.shape) {
		var rs []int
		if res != nil {
			rs = res.shape
		}
		panic(shapeErrorf("BatchNormAddReLU", [][]int{x.shape, rs}, "the residual must have the input's shape"))
	}
	return batchNorm("BatchNormAddReLU", x, res, gamma, beta, runMean, runVar, training, momentum, eps, true)
}

// batchNorm is the three ops above: res (may be nil) is added before the
// ReLU, which needs relu set.
func batchNorm(op string, x, res, gamma, beta, runMean, runVar *Tensor, training bool, momentum, eps float32, relu bool) *Tensor {
	if len(x.shape) != 2 && len(x.shape) != 4 {
		panic(shapeErrorf(op, [][]int{x.shape}, "want (N,C) or (N,C,H,W)"))
	}
	n, c := x.shape[0], x.shape[1]
	hw := 1
	if len(x.shape) == 4 {
		hw = x.shape[2] * x.shape[3]
	}
	for _, p := range []struct {
		name string
		t    *Tensor
	}{{"gamma", gamma}, {"beta", beta}, {"running mean", runMean}, {"running var", runVar}} {
		if p.t != nil && len(p.t.Data) != c {
			panic(shapeErrorf(op, [][]int{x.shape, p.t.shape}, "%s must have %d elements (one per channel)", p.name, c))
		}
	}
	if eps == 0 {
		eps = 1e-5
	}
	m := n * hw
	mean := make([]float32, c)   // saved for backward
	invstd := make([]float32, c) // saved for backward
	if training {
		if m <= 1 {
			panic(shapeErrorf(op, [][]int{x.shape}, "training needs more than 1 value per channel; use a larger batch or eval mode"))
		}
		bnStats(x.Data, mean, invstd, n, c, hw, eps)
		if runMean != nil && runVar != nil {
			for ch := 0; ch < c; ch++ {
				v := 1/(invstd[ch]*invstd[ch]) - eps
				unbiased := v * float32(m) / float32(m-1)
				runMean.Data[ch] = (1-momentum)*runMean.Data[ch] + momentum*mean[ch]
				runVar.Data[ch] = (1-momentum)*runVar.Data[ch] + momentum*unbiased
			}
		}
	} else {
		if runMean == nil || runVar == nil {
			panic(shapeErrorf(op, [][]int{x.shape}, "eval mode needs running mean and variance"))
		}
		copy(mean, runMean.Data)
		for ch := range invstd {
			invstd[ch] = float32(1 / math.Sqrt(float64(runVar.Data[ch])+float64(eps)))
		}
	}
	var g, b []float32
	if gamma != nil {
		g = gamma.Data
	}
	if beta != nil {
		b = beta.Data
	}
	var r []float32
	if res != nil {
		r = res.Data
	}
	out := empty(x.shape...)
	bnApply(out.Data, x.Data, r, mean, invstd, g, b, n, c, hw, relu)
	var mask []float32 // the output, when fused with ReLU: dout counts where it is > 0
	if relu {
		mask = out.Data
	}
	return record(out, op, func(dout []float32) {
		if dr, fresh := gradFor(res); dr != nil {
			reluBackward(dr, fresh, dout, mask) // ∂/∂res: dout where the output is > 0
		}
		// x's gradient takes dout's storage when it can (one buffer fewer
		// in flight): bnBackward reads each element of dy before writing it
		dx, fresh := dout, true
		if hw == 1 || !adoptGrad(x, out) {
			dx, fresh = gradFor(x)
		}
		bnBackward(dx, fresh, gradOf(gamma), gradOf(beta), dout, mask, x.Data, mean, invstd, g, n, c, hw, training)
	}, x, gamma, beta, res)
}

// ---------------------------------------------------------------------------
// kernels (parallel over channels; each channel reduces sequentially, so
// results do not depend on scheduling)

// bnStats fills mean[c] and invstd[c] = 1/sqrt(var_c + eps) (biased var)
// in one pass, with the shifted-data algorithm: sums of (x−s) and (x−s)²
// with s the channel's first value, accumulated in float64 per row, so a
// large mean does not cancel the variance away.
func bnStats(x, mean, invstd []float32, n, c, hw int, eps float32) {
	m := float64(n * hw)
	if hw == 1 {
		bnStats1d(x, mean, invstd, n, c, eps)
		return
	}
	parallel.For(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			shift := x[ch*hw]
			var s, q float64
			for i := 0; i < n; i++ {
				ss, qq := shiftedSums(x[(i*c+ch)*hw:(i*c+ch+1)*hw], shift)
				s += float64(ss)
				q += float64(qq)
			}
			mu := s / m
			variance := max(q/m-mu*mu, 0)
			mean[ch] = float32(mu + float64(shift))
			invstd[ch] = float32(1 / math.Sqrt(variance+float64(eps)))
		}
	})
}

// bnApply computes y = (x−mean)·invstd·γ + β per channel, then adds res
// when it is non-nil, then max(·, 0) when relu (which res needs); γ, β may
// be nil. y may be x.
func bnApply(y, x, res, mean, invstd, gamma, beta []float32, n, c, hw int, relu bool) {
	if hw == 1 {
		if res != nil {
			bnApply1d(y, x, mean, invstd, gamma, beta, n, c, false)
			addReLU(y, y, res)
			return
		}
		bnApply1d(y, x, mean, invstd, gamma, beta, n, c, relu)
		return
	}
	parallel.For(n*c, 1, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			ch := nc % c
			scale := invstd[ch]
			if gamma != nil {
				scale *= gamma[ch]
			}
			shift := -mean[ch] * scale
			if beta != nil {
				shift += beta[ch]
			}
			xs := x[nc*hw : (nc+1)*hw]
			ys := y[nc*hw : (nc+1)*hw]
			ys = ys[:len(xs)]
			if res != nil {
				// the affine map, then the sum and ReLU on the row in cache
				rs := res[nc*hw : (nc+1)*hw]
				affineRow(ys, xs, scale, shift, false)
				addReLURow(ys, ys, rs[:len(ys)])
				continue
			}
			affineRow(ys, xs, scale, shift, relu)
		}
	})
}

// affineRow sets ys[i] = xs[i]·scale + shift (then max(·, 0) when relu).
func affineRow(ys, xs []float32, scale, shift float32, relu bool) {
	if useRowKern && len(xs) >= 16 {
		v := len(xs) &^ 15
		rowAffine(&ys[0], &xs[0], v, scale, shift, relu)
		xs, ys = xs[v:], ys[v:]
	}
	if relu {
		for i, v := range xs {
			ys[i] = max(v*scale+shift, 0)
		}
		return
	}
	for i, v := range xs {
		ys[i] = v*scale + shift
	}
}

// bnBackward accumulates dx, dgamma, dbeta (each may be nil) from dy.
// training: dx = γ·invstd/M·(M·dy − Σdy − x̂·Σ(dy·x̂)); eval: dx = γ·invstd·dy.
// A non-nil mask (the fused ReLU's output) zeroes dy where mask ≤ 0.
// dxFresh: dx is uninitialised (see gradFor) and is cleared row by row.
func bnBackward(dx []float32, dxFresh bool, dgamma, dbeta, dy, mask, x, mean, invstd, gamma []float32, n, c, hw int, training bool) {
	if hw == 1 {
		bnBackward1d(dx, dxFresh, dgamma, dbeta, dy, mask, x, mean, invstd, gamma, n, c, training)
		return
	}
	m := float32(n * hw)
	sumDy := make([]float32, c)
	sumDyXhat := make([]float32, c)
	parallel.For(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s, sx float64
			mu, is := mean[ch], invstd[ch]
			for i := 0; i < n; i++ {
				off := (i*c + ch) * hw
				xs, gs := x[off:off+hw], dy[off:off+hw]
				var a, b float32
				if mask != nil {
					a, b = dySumsMasked(xs, gs, mask[off:off+hw], mu)
					b *= is
				} else {
					a, b = dySums(xs, gs, mu)
					b *= is
				}
				s += float64(a)
				sx += float64(b)
			}
			sumDy[ch], sumDyXhat[ch] = float32(s), float32(sx)
		}
	})
	for ch := 0; ch < c; ch++ {
		if dgamma != nil {
			dgamma[ch] += sumDyXhat[ch]
		}
		if dbeta != nil {
			dbeta[ch] += sumDy[ch]
		}
	}
	if dx == nil {
		return
	}
	parallel.For(n*c, 1, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			ch := nc % c
			g := float32(1)
			if gamma != nil {
				g = gamma[ch]
			}
			mu, is := mean[ch], invstd[ch]
			xs, gs, ds := x[nc*hw:(nc+1)*hw], dy[nc*hw:(nc+1)*hw], dx[nc*hw:(nc+1)*hw]
			gs, ds = gs[:len(xs)], ds[:len(xs)]
			// a fresh dx is overwritten, not added to; dx may be dy itself
			// (an adopted gradient, see adoptGrad): each element of dy is
			// read before the same element of dx is written
			fresh := dxFresh
			var ms []float32
			if mask != nil {
				ms = mask[nc*hw : (nc+1)*hw]
				ms = ms[:len(xs)]
			}
			if !training {
				k := g * is
				for j := range xs {
					gj := gs[j]
					if ms != nil {
						gj = reluGate(gj, ms[j])
					}
					if fresh {
						ds[j] = k * gj
					} else {
						ds[j] += k * gj
					}
				}
				continue
			}
			k := g * is / m
			a, b := sumDy[ch], sumDyXhat[ch]
			if useRowKern && len(xs) >= 16 {
				v := len(xs) &^ 15
				c := [6]float32{mu, is, k, m, a, b}
				var mp *float32
				if ms != nil {
					mp = &ms[0]
					ms = ms[v:]
				}
				rowBnDx(&ds[0], &xs[0], &gs[0], mp, v, &c, fresh)
				xs, gs, ds = xs[v:], gs[v:], ds[v:]
			}
			for j, v := range xs {
				xhat := (v - mu) * is
				gj := gs[j]
				if ms != nil {
					gj = reluGate(gj, ms[j])
				}
				if fresh {
					ds[j] = k * (m*gj - a - xhat*b)
				} else {
					ds[j] += k * (m*gj - a - xhat*b)
				}
			}
		}
	})
}

// shiftedSums returns Σ(x−shift) and Σ(x−shift)² over xs, with four
// independent accumulators so the adds pipeline (a fixed order: deterministic).
func shiftedSums(xs []float32, shift float32) (s, q float32) {
	if useRowKern && len(xs) >= 16 {
		v := len(xs) &^ 15
		var lanes [32]float32
		rowShiftedSums(&xs[0], v, shift, &lanes)
		s, q = sumLanes(&lanes)
		ts, tq := shiftedSumsGo(xs[v:], shift)
		return s + ts, q + tq
	}
	return shiftedSumsGo(xs, shift)
}

// sumLanes adds up the two 16-lane accumulators of an AVX-512 row kernel
// in a fixed order.
func sumLanes(l *[32]float32) (a, b float32) {
	for i := 0; i < 16; i++ {
		a += l[i]
		b += l[16+i]
	}
	return a, b
}

// shiftedSumsGo is shiftedSums in Go (tails; builds without the kernels).
func shiftedSumsGo(xs []float32, shift float32) (s, q float32) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float32
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		d0, d1, d2, d3 := xs[i]-shift, xs[i+1]-shift, xs[i+2]-shift, xs[i+3]-shift
		s0, s1, s2, s3 = s0+d0, s1+d1, s2+d2, s3+d3
		q0, q1, q2, q3 = q0+d0*d0, q1+d1*d1, q2+d2*d2, q3+d3*d3
	}
	for ; i < len(xs); i++ {
		d := xs[i] - shift
		s0 += d
		q0 += d * d
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// dySums returns Σdy and Σdy·(x−mu) over a row, four accumulators wide.
func dySums(xs, dy []float32, mu float32) (a, b float32) {
	dy = dy[:len(xs)]
	if useRowKern && len(xs) >= 16 {
		v := len(xs) &^ 15
		var lanes [32]float32
		rowDySums(&xs[0], &dy[0], nil, v, mu, &lanes)
		a, b = sumLanes(&lanes)
		ta, tb := dySumsGo(xs[v:], dy[v:], mu)
		return a + ta, b + tb
	}
	return dySumsGo(xs, dy, mu)
}

// dySumsGo is dySums in Go.
func dySumsGo(xs, dy []float32, mu float32) (a, b float32) {
	dy = dy[:len(xs)]
	var a0, a1, a2, a3, b0, b1, b2, b3 float32
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		g0, g1, g2, g3 := dy[i], dy[i+1], dy[i+2], dy[i+3]
		a0, a1, a2, a3 = a0+g0, a1+g1, a2+g2, a3+g3
		b0 += g0 * (xs[i] - mu)
		b1 += g1 * (xs[i+1] - mu)
		b2 += g2 * (xs[i+2] - mu)
		b3 += g3 * (xs[i+3] - mu)
	}
	for ; i < len(xs); i++ {
		a0 += dy[i]
		b0 += dy[i] * (xs[i] - mu)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// dySumsMasked is dySums with dy gated by the fused ReLU's output mask.
func dySumsMasked(xs, dy, mask []float32, mu float32) (a, b float32) {
	dy, mask = dy[:len(xs)], mask[:len(xs)]
	if useRowKern && len(xs) >= 16 {
		v := len(xs) &^ 15
		var lanes [32]float32
		rowDySums(&xs[0], &dy[0], &mask[0], v, mu, &lanes)
		a, b = sumLanes(&lanes)
		ta, tb := dySumsMaskedGo(xs[v:], dy[v:], mask[v:], mu)
		return a + ta, b + tb
	}
	return dySumsMaskedGo(xs, dy, mask, mu)
}

// dySumsMaskedGo is dySumsMasked in Go.
func dySumsMaskedGo(xs, dy, mask []float32, mu float32) (a, b float32) {
	dy, mask = dy[:len(xs)], mask[:len(xs)]
	var a0, a1, a2, a3, b0, b1, b2, b3 float32
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		g0, g1 := reluGate(dy[i], mask[i]), reluGate(dy[i+1], mask[i+1])
		g2, g3 := reluGate(dy[i+2], mask[i+2]), reluGate(dy[i+3], mask[i+3])
		a0, a1, a2, a3 = a0+g0, a1+g1, a2+g2, a3+g3
		b0 += g0 * (xs[i] - mu)
		b1 += g1 * (xs[i+1] - mu)
		b2 += g2 * (xs[i+2] - mu)
		b3 += g3 * (xs[i+3] - mu)
	}
	for ; i < len(xs); i++ {
		g := reluGate(dy[i], mask[i])
		a0 += g
		b0 += g * (xs[i] - mu)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// ---------------------------------------------------------------------------
// 1-d kernels: x (N,C) row-major. Walking a channel down the rows would
// touch a new cache line per value, so these go row by row over a block of
// channels (statistics; each block reduces its channels over the rows in
// order: deterministic) or over rows (elementwise passes).

// chanGrain is the smallest channel block worth a goroutine.
const chanGrain = 64

func bnStats1d(x, mean, invstd []float32, n, c int, eps float32) {
	m := float64(n)
	parallel.For(c, chanGrain, func(lo, hi int) {
		shift := x[lo:hi] // row 0
		s := make([]float64, hi-lo)
		q := make([]float64, hi-lo)
		for i := 0; i < n; i++ {
			row := x[i*c+lo : i*c+hi]
			row = row[:len(shift)]
			for j, v := range row {
				d := float64(v - shift[j])
				s[j] += d
				q[j] += d * d
			}
		}
		for j := range s {
			mu := s[j] / m
			variance := max(q[j]/m-mu*mu, 0)
			mean[lo+j] = float32(mu + float64(shift[j]))
			invstd[lo+j] = float32(1 / math.Sqrt(variance+float64(eps)))
		}
	})
}

func bnApply1d(y, x, mean, invstd, gamma, beta []float32, n, c int, relu bool) {
	scale, shift := make([]float32, c), make([]float32, c)
	for ch := range scale {
		scale[ch] = invstd[ch]
		if gamma != nil {
			scale[ch] *= gamma[ch]
		}
		shift[ch] = -mean[ch] * scale[ch]
		if beta != nil {
			shift[ch] += beta[ch]
		}
	}
	parallel.For(n, max(1, grainElems/max(c, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xs, ys := x[i*c:(i+1)*c], y[i*c:(i+1)*c]
			ys = ys[:len(xs)]
			sc, sh := scale[:len(xs)], shift[:len(xs)]
			if relu {
				for j, v := range xs {
					ys[j] = max(v*sc[j]+sh[j], 0)
				}
				continue
			}
			for j, v := range xs {
				ys[j] = v*sc[j] + sh[j]
			}
		}
	})
}

func bnBackward1d(dx []float32, dxFresh bool, dgamma, dbeta, dy, mask, x, mean, invstd, gamma []float32, n, c int, training bool) {
	sumDy := make([]float32, c)
	sumDyXhat := make([]float32, c)
	parallel.For(c, chanGrain, func(lo, hi int) {
		a := make([]float64, hi-lo)
		b := make([]float64, hi-lo)
		mu := mean[lo:hi]
		for i := 0; i < n; i++ {
			xs, gs := x[i*c+lo:i*c+hi], dy[i*c+lo:i*c+hi]
			xs, gs = xs[:len(mu)], gs[:len(mu)]
			var ms []float32
			if mask != nil {
				ms = mask[i*c+lo : i*c+hi]
				ms = ms[:len(mu)]
			}
			for j, v := range xs {
				g := gs[j]
				if ms != nil {
					g = reluGate(g, ms[j])
				}
				a[j] += float64(g)
				b[j] += float64(g * (v - mu[j]))
			}
		}
		for j := range a {
			sumDy[lo+j] = float32(a[j])
			sumDyXhat[lo+j] = float32(b[j]) * invstd[lo+j]
		}
	})
	for ch := 0; ch < c; ch++ {
		if dgamma != nil {
			dgamma[ch] += sumDyXhat[ch]
		}
		if dbeta != nil {
			dbeta[ch] += sumDy[ch]
		}
	}
	if dx == nil {
		return
	}
	// dx = k·(M·dy − Σdy − x̂·Σdy·x̂) with k = γ·invstd/M (training), or γ·invstd·dy (eval)
	m := float32(n)
	k := make([]float32, c)
	for ch := range k {
		g := float32(1)
		if gamma != nil {
			g = gamma[ch]
		}
		k[ch] = g * invstd[ch]
		if training {
			k[ch] /= m
		}
	}
	parallel.For(n, max(1, grainElems/max(c, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xs, gs, ds := x[i*c:(i+1)*c], dy[i*c:(i+1)*c], dx[i*c:(i+1)*c]
			gs, ds = gs[:len(xs)], ds[:len(xs)]
			if dxFresh {
				clear(ds)
			}
			var ms []float32
			if mask != nil {
				ms = mask[i*c : (i+1)*c]
				ms = ms[:len(xs)]
			}
			for j, v := range xs {
				g := gs[j]
				if ms != nil {
					g = reluGate(g, ms[j])
				}
				if !training {
					ds[j] += k[j] * g
					continue
				}
				xhat := (v - mean[j]) * invstd[j]
				ds[j] += k[j] * (m*g - sumDy[j] - xhat*sumDyXhat[j])
			}
		}
	})
}
