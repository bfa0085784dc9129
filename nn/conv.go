package nn

import (
	"runtime"

	"github.com/siambench/siambench/nn/gemm"
	"github.com/siambench/siambench/nn/internal/parallel"
)

// 2-D convolution. N=batch, C=input channels, H,W=input size, O=output
// channels, KH,KW=kernel size, OH,OW=output size, P=OH·OW, K=C·KH·KW.
// OH = (H + 2·pad − KH)/stride + 1 (floor), likewise OW.
//
// The fast path lowers a chunk of nb images to a column matrix
// col (K, nb·P) (im2col) and computes out (O, nb·P) = W (O,K) · col with one
// GEMM, then scatters it to NCHW. Backward recomputes col rather than
// keeping it (memory), and runs dW += dout·colᵀ and dcol = Wᵀ·dout, then
// col2im. Conv2dNaive (nn's tests) is the direct-loop reference twin.

// convGeom holds a convolution's sizes.
type convGeom struct {
	n, c, h, w, o, kh, kw, stride, pad, oh, ow int
}

func (g convGeom) p() int { return g.oh * g.ow }
func (g convGeom) k() int { return g.c * g.kh * g.kw }

func convCheck(op string, x, w, b *Tensor, stride, pad int) convGeom {
	if len(x.shape) != 4 || len(w.shape) != 4 {
		panic(shapeErrorf(op, [][]int{x.shape, w.shape}, "want x (N,C,H,W) and w (O,C,KH,KW)"))
	}
	if x.shape[1] != w.shape[1] {
		panic(shapeErrorf(op, [][]int{x.shape, w.shape}, "input has %d channels, weight expects %d", x.shape[1], w.shape[1]))
	}
	if stride < 1 || pad < 0 {
		panic(shapeErrorf(op, [][]int{x.shape, w.shape}, "stride %d must be ≥ 1 and pad %d ≥ 0", stride, pad))
	}
	g := convGeom{n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3],
		o: w.shape[0], kh: w.shape[2], kw: w.shape[3], stride: stride, pad: pad}
	if g.h+2*pad < g.kh || g.w+2*pad < g.kw {
		panic(shapeErrorf(op, [][]int{x.shape, w.shape}, "kernel %dx%d larger than padded input %dx%d", g.kh, g.kw, g.h+2*pad, g.w+2*pad))
	}
	g.oh = (g.h+2*pad-g.kh)/stride + 1
	g.ow = (g.w+2*pad-g.kw)/stride + 1
	if b != nil && (len(b.shape) != 1 || b.shape[0] != g.o) {
		panic(shapeErrorf(op, [][]int{w.shape, b.shape}, "bias must be (%d)", g.o))
	}
	return g
}

// Conv2d convolves x (N,C,H,W) with w (O,C,KH,KW), adds b (O) when non-nil,
// and returns (N,O,OH,OW). Any kernel size, stride ≥ 1 and pad ≥ 0 (zero
// padding) are allowed.
func Conv2d(x, w, b *Tensor, stride, pad int) *Tensor {
	g := convCheck("Conv2d", x, w, b, stride, pad)
	out := empty(g.n, g.o, g.oh, g.ow)
	var bias []float32
	if b != nil {
		bias = b.Data
	}
	convForward(out.Data, x.Data, w.Data, bias, g)
	return record(out, "Conv2d", func(dout []float32) {
		var db []float32
		if b != nil {
			db = gradOf(b)
		}
		dx, fresh := gradFor(x)
		convBackward(dx, fresh, gradOf(w), db, dout, x.Data, w.Data, g)
	}, x, w, b)
}

// ---------------------------------------------------------------------------
// fast kernels

// colTarget is the size (floats) of one chunk's column matrix: 1 MiB, so
// im2col writes and the GEMM reads it in L2 rather than DRAM. Large layers
// run one image per chunk, which also needs no scatter/gather copies.
const colTarget = 1 << 18

// chunk is the number of images whose columns make up about colTarget
// floats (at least one); convRun may cut it further.
func (g convGeom) chunk() int {
	per := g.k() * g.p()
	nb := colTarget / max(per, 1)
	return max(1, min(nb, g.n))
}

// im2col writes the columns of images [n0, n0+nb) of x into col (K, nb·P).
// r.inner spreads the work over the cores unless chunks already run
// concurrently.
func im2col(col, x []float32, g convGeom, n0, nb int, r convRun) {
	P := g.p()
	ld := nb * P
	r.inner(nb*g.c, 1, func(lo, hi int) {
		g := g // a local copy, passed by pointer to the row functions (a
		// by-value convGeom per row call cost store-forwarding stalls)
		for ic := lo; ic < hi; ic++ {
			i, c := ic/g.c, ic%g.c
			img := x[((n0+i)*g.c+c)*g.h*g.w : ((n0+i)*g.c+c+1)*g.h*g.w]
			for kh := 0; kh < g.kh; kh++ {
				for kw := 0; kw < g.kw; kw++ {
					k := (c*g.kh+kh)*g.kw + kw
					dst := col[k*ld+i*P : k*ld+(i+1)*P]
					im2colRow(dst, img, &g, kh, kw)
				}
			}
		}
	})
}

// same reports whether the convolution keeps the spatial size with stride
// 1 ("same" padding), where a kernel tap is a constant shift of the plane.
func (g convGeom) same() bool { return g.stride == 1 && g.oh == g.h && g.ow == g.w }

// im2colRow fills dst (P) with input pixels seen by kernel tap (kh,kw).
func im2colRow(dst, img []float32, g *convGeom, kh, kw int) {
	if g.same() {
		im2colSame(dst, img, g, kh, kw)
		return
	}
	// valid output columns: 0 ≤ ow·stride − pad + kw < W
	lo, hi := owRange(g, kw)
	if g.stride == 2 && useAVX512 && hi > lo {
		im2colRow2(dst, img, g, kh, kw, lo, hi)
		return
	}
	for oh := 0; oh < g.oh; oh++ {
		ih := oh*g.stride - g.pad + kh
		row := dst[oh*g.ow : (oh+1)*g.ow]
		if ih < 0 || ih >= g.h {
			clear(row)
			continue
		}
		src := img[ih*g.w : (ih+1)*g.w]
		clear(row[:lo])
		clear(row[hi:])
		if hi <= lo {
			continue // the tap sees only padding
		}
		if g.stride == 1 { // contiguous run
			copy(row[lo:hi], src[lo-g.pad+kw:hi-g.pad+kw])
			continue
		}
		gatherStrided(row[lo:hi], src[lo*g.stride-g.pad+kw:], g.stride)
	}
}

// gather2Idx picks the even floats of two concatenated 16-float vectors.
var gather2Idx = [16]int32{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}

// rows2 returns the output rows [r0, r1) of a stride-2 convolution whose
// input row 2·oh − pad + kh lies in the image (r1 ≤ r0 when none does).
func rows2(g *convGeom, kh int) (r0, r1 int) {
	r0 = max(0, (g.pad-kh+1)/2)
	r1 = min(g.oh, (g.h-1+g.pad-kh)/2+1)
	if g.h-1+g.pad-kh < 0 {
		r1 = 0
	}
	return r0, r1
}

// im2colRow2 is im2colRow for stride 2 with the AVX-512 gather: the valid
// output columns [lo, hi) (hi > lo) of all rows whose input row lies in the
// image in one kernel call, padding written as plain stores (a memclr call
// per one-float run costs more than the run).
func im2colRow2(dst, img []float32, g *convGeom, kh, kw, lo, hi int) {
	r0, r1 := rows2(g, kh)
	if r1 <= r0 {
		clear(dst[:g.oh*g.ow])
		return
	}
	clear(dst[:r0*g.ow])
	clear(dst[r1*g.ow : g.oh*g.ow])
	for r := r0; r < r1; r++ {
		row := dst[r*g.ow : (r+1)*g.ow]
		for j := 0; j < lo; j++ {
			row[j] = 0
		}
		for j := hi; j < g.ow; j++ {
			row[j] = 0
		}
	}
	ih0 := 2*r0 - g.pad + kh
	iw0 := 2*lo - g.pad + kw
	gather2Rows(dst[r0*g.ow+lo:], img[ih0*g.w+iw0:], r1-r0, hi-lo, g.ow, 2*g.w)
}

// gather2Rows sets dst[r·ds+j] = src[r·ss+2j] for r < rows, j < n.
func gather2Rows(dst, src []float32, rows, n, ds, ss int) {
	_ = dst[(rows-1)*ds+n-1]
	_ = src[(rows-1)*ss+2*(n-1)]
	if useAVX512 {
		gather2AVX512(&dst[0], &src[0], rows, n, ds, ss, &gather2Idx)
		return
	}
	for r := 0; r < rows; r++ {
		gatherStrided(dst[r*ds:r*ds+n], src[r*ss:], 2)
	}
}

// scatterAdd2Rows adds src[r·ss+j] to dst[r·ds+2j] for r < rows, j < n.
func scatterAdd2Rows(dst, src []float32, rows, n, ds, ss int) {
	_ = dst[(rows-1)*ds+2*(n-1)]
	_ = src[(rows-1)*ss+n-1]
	if useAVX512 {
		scatterAdd2AVX512(&dst[0], &src[0], rows, n, ds, ss)
		return
	}
	for r := 0; r < rows; r++ {
		d, s := dst[r*ds:], src[r*ss:r*ss+n]
		for j, v := range s {
			d[2*j] += v
		}
	}
}

// gatherStrided sets dst[j] = src[j·stride]; src must hold the last index.
func gatherStrided(dst, src []float32, stride int) {
	if len(dst) == 0 {
		return
	}
	src = src[:(len(dst)-1)*stride+1] // one bounds check here, none in the loop
	if stride == 2 {
		for j := range dst {
			dst[j] = src[2*j]
		}
		return
	}
	for j := range dst {
		dst[j] = src[j*stride]
	}
}

// owRange returns the output columns [lo, hi) whose input column
// ow·stride − pad + kw lies inside the image (hi ≥ lo).
func owRange(g *convGeom, kw int) (lo, hi int) {
	// smallest ow with ow·s ≥ pad − kw
	if d := g.pad - kw; d > 0 {
		lo = (d + g.stride - 1) / g.stride
	}
	// ow·s − pad + kw ≤ W − 1  ⇔  ow ≤ (W − 1 + pad − kw)/s
	if e := g.w - 1 + g.pad - kw; e >= 0 {
		hi = min(g.ow, e/g.stride+1)
	}
	lo = min(lo, g.ow)
	return lo, max(lo, hi)
}

// im2colSame is im2colRow for same-size stride-1 convolutions: the tap
// (kh,kw) sees pixel p+off of the flattened plane, off = (kh−pad)·W +
// (kw−pad), so the row is one shifted copy; rows outside the image are
// zero and the one or few columns that would wrap into the neighbouring
// row are zeroed afterwards.
func im2colSame(dst, img []float32, g *convGeom, kh, kw int) {
	w, h := g.w, g.h
	dh, dw := kh-g.pad, kw-g.pad
	off := dh*w + dw
	// output rows oh with 0 ≤ oh+dh < H
	r0, r1 := max(0, -dh), min(h, h-dh)
	if r1 <= r0 || dw >= w || -dw >= w {
		clear(dst) // the tap sees only padding
		return
	}
	lo, hi := r0*w, r1*w // flat range of valid rows
	clear(dst[:lo])
	clear(dst[hi:])
	// copy the valid rows in one go; element p reads img[p+off], clamped to the plane
	a := min(max(lo, -off), hi)
	b := max(min(hi, len(img)-off), a)
	clear(dst[lo:a])
	copy(dst[a:b], img[a+off:b+off])
	clear(dst[b:hi])
	// columns ow with ow+dw outside [0,W) wrapped into a neighbouring row: zero them
	// (plain stores: a memclr call per one-element run costs more than the
	// run; the j-loop form is not turned into memclr by the compiler)
	first, n := 0, 0 // columns [first, first+n) of each row are zeroed
	if dw < 0 {
		first, n = 0, -dw
	} else if dw > 0 {
		first, n = w-dw, dw
	}
	for r := r0; r < r1 && n > 0; r++ {
		base := r*w + first
		for j := 0; j < n; j++ {
			dst[base+j] = 0
		}
	}
}

// col2imSame is the adjoint of im2colSame: it adds each valid element of
// src (P) to the pixel it was copied from.
func col2imSame(img, src []float32, g *convGeom, kh, kw int) {
	w, h := g.w, g.h
	dh, dw := kh-g.pad, kw-g.pad
	r0, r1 := max(0, -dh), min(h, h-dh)
	c0, c1 := max(0, -dw), min(w, w-dw) // valid output columns
	if c1 <= c0 {
		return
	}
	for r := r0; r < r1; r++ {
		s := src[r*w+c0 : r*w+c1]
		d := img[(r+dh)*w+c0+dw : (r+dh)*w+c1+dw]
		d = d[:len(s)]
		for j, v := range s {
			d[j] += v
		}
	}
}

// col2im adds the columns dcol (K, nb·P) back into dx for images [n0, n0+nb).
// A fresh dx (see gradFor) has each plane cleared before the adds.
func col2im(dx []float32, fresh bool, dcol []float32, g convGeom, n0, nb int, r convRun) {
	P := g.p()
	ld := nb * P
	r.inner(nb*g.c, 1, func(lo, hi int) {
		g := g // a local copy, passed by pointer to the row functions (a
		// by-value convGeom per row call cost store-forwarding stalls)
		for ic := lo; ic < hi; ic++ {
			i, c := ic/g.c, ic%g.c
			img := dx[((n0+i)*g.c+c)*g.h*g.w : ((n0+i)*g.c+c+1)*g.h*g.w]
			if fresh {
				clear(img)
			}
			for kh := 0; kh < g.kh; kh++ {
				for kw := 0; kw < g.kw; kw++ {
					k := (c*g.kh+kh)*g.kw + kw
					src := dcol[k*ld+i*P : k*ld+(i+1)*P]
					if g.same() {
						col2imSame(img, src, &g, kh, kw)
						continue
					}
					col2imRow(img, src, &g, kh, kw)
				}
			}
		}
	})
}

// col2imRow adds src (P), the columns of kernel tap (kh,kw) of one
// channel of one image, back into that channel's plane img (H·W).
func col2imRow(img, src []float32, g *convGeom, kh, kw int) {
	lo, hi := owRange(g, kw)
	if hi <= lo {
		return // the tap sees only padding
	}
	if g.stride == 2 && useAVX512 {
		if r0, r1 := rows2(g, kh); r1 > r0 {
			ih0, iw0 := 2*r0-g.pad+kh, 2*lo-g.pad+kw
			scatterAdd2Rows(img[ih0*g.w+iw0:], src[r0*g.ow+lo:], r1-r0, hi-lo, 2*g.w, g.ow)
		}
		return
	}
	for oh := 0; oh < g.oh; oh++ {
		ih := oh*g.stride - g.pad + kh
		if ih < 0 || ih >= g.h {
			continue
		}
		dst := img[ih*g.w : (ih+1)*g.w]
		s := src[oh*g.ow : (oh+1)*g.ow]
		iw := lo*g.stride - g.pad + kw
		if g.stride == 1 {
			d := dst[iw : iw+hi-lo]
			ss := s[lo:hi]
			ss = ss[:len(d)]
			for j := range d {
				d[j] += ss[j]
			}
			continue
		}
		for ow := lo; ow < hi; ow++ {
			dst[iw] += s[ow]
			iw += g.stride
		}
	}
}

// convRun says how a convolution's work is spread over the cores. When the
// GEMM backend has a serial variant (gemm.Serializer) and there are several
// cores, whole chunks of images go to the cores: each core runs im2col and
// the GEMMs of its own images on its own scratch, so its operands stay in its
// own cache and the cores synchronise once per layer rather than several
// times per image. Otherwise the chunks run one after another and each
// im2col and GEMM spreads itself over the cores.
type convRun struct {
	be    gemm.Backend // the backend every GEMM call of this op uses
	outer bool         // chunks of images run concurrently (be is serial)
	nb    int          // images per chunk
	count int          // number of chunks
}

func newConvRun(g convGeom) convRun {
	r := convRun{be: gemm.Current(), nb: g.chunk()}
	workers := runtime.GOMAXPROCS(0)
	if s, ok := gemm.SerialOf(r.be); ok && workers > 1 && g.n > 1 {
		r.be, r.outer = s, true
		// at least two chunks per core, so a preempted core does not hold
		// the others up for long
		r.nb = max(1, min(r.nb, (g.n+2*workers-1)/(2*workers)))
	}
	r.count = (g.n + r.nb - 1) / r.nb
	return r
}

// groups is how many contiguous groups of its items (chunks or images) a
// backward pass splits into, each accumulating its own dW partial sum:
// two per core when they run concurrently (a preempted core holds the
// others up less), else one. It depends on GOMAXPROCS, never on timing.
func (r convRun) groups(items int) int {
	if !r.outer {
		return 1
	}
	return min(items, 2*runtime.GOMAXPROCS(0))
}

// chunk returns the first image and the number of images of chunk ci.
func (r convRun) chunk(g convGeom, ci int) (n0, nb int) {
	n0 = ci * r.nb
	return n0, min(r.nb, g.n-n0)
}

// each runs fn over chunk ranges: concurrently when outer, else in one call.
func (r convRun) each(n int, fn func(lo, hi int)) {
	if r.outer {
		parallel.For(n, 1, fn)
		return
	}
	fn(0, n)
}

// inner runs a loop inside one chunk: in this goroutine when the chunks
// themselves run concurrently, else spread over the cores.
func (r convRun) inner(n, grain int, fn func(lo, hi int)) {
	if r.outer {
		fn(0, n)
		return
	}
	parallel.For(n, grain, fn)
}

// convForward computes out (N,O,P) = W·im2col(x) + b chunk by chunk.
func convForward(out, x, w, bias []float32, g convGeom) {
	if g.implicit() {
		convForwardImplicit(out, x, w, bias, g)
		return
	}
	r := newConvRun(g)
	if f, ok := gemm.TapsOf(r.be); ok && g.phased() {
		convForwardPhased(out, x, w, bias, g, r, f)
		return
	}
	P, K := g.p(), g.k()
	perImage := r.nb == 1
	// W stored transposed (K, O): GEMM then packs it with whole rows of
	// output channels, once per chunk
	wT := getScratch(K * g.o)
	defer putScratch(wT)
	for o := 0; o < g.o; o++ {
		for k := 0; k < K; k++ {
			wT[k*g.o+o] = w[o*K+k]
		}
	}
	r.each(r.count, func(lo, hi int) {
		col := getScratch(K * r.nb * P)
		defer putScratch(col)
		var tmp []float32
		if !perImage {
			tmp = getScratch(g.o * r.nb * P)
			defer putScratch(tmp)
		}
		for ci := lo; ci < hi; ci++ {
			n0, nb := r.chunk(g, ci)
			ld := nb * P
			im2col(col, x, g, n0, nb, r)
			if perImage {
				// the image's (O, P) output block is already NCHW
				dst := out[n0*g.o*P : (n0+1)*g.o*P]
				r.be.Sgemm(true, false, g.o, P, K, 1, wT, g.o, col, ld, 0, dst, P)
				addBias(dst, bias, P)
				continue
			}
			r.be.Sgemm(true, false, g.o, ld, K, 1, wT, g.o, col, ld, 0, tmp, ld)
			// scatter tmp (O, nb, P) → out (nb, O, P), adding bias
			r.inner(nb*g.o, 4, func(lo, hi int) {
				for io := lo; io < hi; io++ {
					i, o := io/g.o, io%g.o
					dst := out[((n0+i)*g.o+o)*P : ((n0+i)*g.o+o+1)*P]
					copy(dst, tmp[o*ld+i*P:o*ld+(i+1)*P])
					if bias != nil {
						addBias(dst, bias[o:o+1], P)
					}
				}
			})
		}
	})
}

// addBias adds bias[o] to row o (length p) of dst (O, p); nil bias is a no-op.
func addBias(dst, bias []float32, p int) {
	for o, bv := range bias {
		row := dst[o*p : (o+1)*p]
		for j := range row {
			row[j] += bv
		}
	}
}

// convBackward accumulates dx, dw, db (each may be nil) from dout (N,O,P).
// dxFresh: dx is uninitialised (see gradFor); each image's block is
// written (GEMM with beta 0) or cleared before col2im adds into it.
//
// When chunks run concurrently (convRun.outer), the chunks are cut into a
// fixed number of contiguous groups; group 0 accumulates its dW into dw, each
// other group into a private buffer, and those are added to dw in group
// order afterwards: the result depends on GOMAXPROCS but never on timing.
func convBackward(dx []float32, dxFresh bool, dw, db, dout, x, w []float32, g convGeom) {
	P, K := g.p(), g.k()
	if db != nil {
		// per-channel sums, each channel sequential: deterministic
		parallel.For(g.o, 1, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				var s float64
				for i := 0; i < g.n; i++ {
					var ss float32
					for _, v := range dout[(i*g.o+o)*P : (i*g.o+o+1)*P] {
						ss += v
					}
					s += float64(ss)
				}
				db[o] += float32(s)
			}
		})
	}
	if dx == nil && dw == nil {
		return
	}
	if g.implicit() {
		convBackwardImplicit(dx, dxFresh, dw, dout, x, w, g)
		return
	}
	r := newConvRun(g)
	if f, ok := gemm.TapsOf(r.be); ok && g.phased() {
		convBackwardPhased(dx, dxFresh, dw, dout, x, w, g, r, f)
		return
	}
	// For odd square "same" kernels the input gradient is itself a same
	// convolution of dout with the spatially flipped, channel-transposed
	// kernel: wFlip (C, O·KH·KW), geometry gT (O input channels, C outputs).
	var wFlip []float32
	var gT convGeom
	if dx != nil && g.same() && g.kh == g.kw && g.kh == 2*g.pad+1 {
		gT = g
		gT.c, gT.o = g.o, g.c
		wFlip = getScratch(g.c * g.o * g.kh * g.kw)
		defer putScratch(wFlip)
		flipKernel(wFlip, w, g)
	}
	groups := r.groups(r.count)
	var parts [][]float32 // dW partial sums of groups 1..groups-1
	if dw != nil && groups > 1 {
		parts = make([][]float32, groups)
		for gi := 1; gi < groups; gi++ {
			parts[gi] = getScratch(g.o * K)
			clear(parts[gi])
		}
	}
	r.each(groups, func(lo, hi int) {
		col := getScratch(K * r.nb * P)
		defer putScratch(col)
		var colD, dtmp []float32
		if wFlip != nil {
			colD = getScratch(g.o * g.kh * g.kw * r.nb * P)
			defer putScratch(colD)
		}
		if r.nb > 1 {
			dtmp = getScratch(g.o * r.nb * P)
			defer putScratch(dtmp)
		}
		for gi := lo; gi < hi; gi++ {
			dwg := dw
			if gi > 0 && dw != nil {
				dwg = parts[gi]
			}
			for ci := gi * r.count / groups; ci < (gi+1)*r.count/groups; ci++ {
				convBackwardChunk(r, ci, dx, dxFresh, dwg, dout, x, w, col, colD, dtmp, wFlip, g, gT)
			}
		}
	})
	for gi := 1; gi < len(parts); gi++ {
		p := parts[gi]
		for j := range dw {
			dw[j] += p[j]
		}
		putScratch(p)
	}
}

// convBackwardChunk adds chunk ci's share of dW into dw and writes (or adds
// to) its images' dx, with the caller's scratch: col (K, nb·P), colD
// (O·KH·KW, nb·P) when wFlip is set, dtmp (O, nb·P) when chunks hold more
// than one image.
func convBackwardChunk(r convRun, ci int, dx []float32, dxFresh bool, dw, dout, x, w, col, colD, dtmp, wFlip []float32, g, gT convGeom) {
	P, K := g.p(), g.k()
	KT := g.o * g.kh * g.kw
	n0, nb := r.chunk(g, ci)
	ld := nb * P
	beta := float32(1) // accumulate into dx, or overwrite a fresh one
	if dxFresh {
		beta = 0
	}
	// dout of the chunk as an (O, nb·P) matrix: in place for one image,
	// else gathered from (nb, O, P)
	dch, ldd := dout[n0*g.o*P:(n0+1)*g.o*P], P
	if nb > 1 {
		dch, ldd = dtmp, ld
		r.inner(nb*g.o, 4, func(lo, hi int) {
			for io := lo; io < hi; io++ {
				i, o := io/g.o, io%g.o
				copy(dtmp[o*ld+i*P:o*ld+(i+1)*P], dout[((n0+i)*g.o+o)*P:((n0+i)*g.o+o+1)*P])
			}
		})
	}
	if dw != nil {
		im2col(col, x, g, n0, nb, r)
		// dW (O,K) += dout (O, nb·P) · colᵀ
		r.be.Sgemm(false, true, g.o, K, ld, 1, dch, ldd, col, ld, 1, dw, K)
	}
	switch {
	case dx != nil && wFlip != nil:
		// dx = conv(dout, flipped Wᵀ): im2col of dout, then one GEMM per
		// image that writes or accumulates straight into dx (no col2im)
		im2col(colD, dout, gT, n0, nb, r)
		for i := 0; i < nb; i++ {
			dxi := dx[(n0+i)*g.c*P : (n0+i+1)*g.c*P]
			r.be.Sgemm(false, false, g.c, P, KT, 1, wFlip, KT, colD[i*P:], ld, beta, dxi, P)
		}
	case dx != nil:
		// dcol (K, nb·P) = Wᵀ · dout, into col's storage, then col2im
		r.be.Sgemm(true, false, K, ld, g.o, 1, w, K, dch, ldd, 0, col, ld)
		col2im(dx, dxFresh, col, g, n0, nb, r)
	}
}

// flipKernel writes wf[c, (o,kh,kw)] = w[o, c, KH−1−kh, KW−1−kw].
func flipKernel(wf, w []float32, g convGeom) {
	kk := g.kh * g.kw
	for o := 0; o < g.o; o++ {
		for c := 0; c < g.c; c++ {
			src := w[(o*g.c+c)*kk : (o*g.c+c+1)*kk]
			dst := wf[(c*g.o+o)*kk : (c*g.o+o+1)*kk]
			for j := range dst {
				dst[j] = src[kk-1-j]
			}
		}
	}
}

// ---------------------------------------------------------------------------
// naive kernels (reference)

func convForwardNaive(out, x, w, bias []float32, g convGeom) {
	for n := 0; n < g.n; n++ {
		for o := 0; o < g.o; o++ {
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					var s float32
					if bias != nil {
						s = bias[o]
					}
					for c := 0; c < g.c; c++ {
						for kh := 0; kh < g.kh; kh++ {
							for kw := 0; kw < g.kw; kw++ {
								ih, iw := oh*g.stride-g.pad+kh, ow*g.stride-g.pad+kw
								if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
									continue
								}
								s += x[((n*g.c+c)*g.h+ih)*g.w+iw] * w[((o*g.c+c)*g.kh+kh)*g.kw+kw]
							}
						}
					}
					out[((n*g.o+o)*g.oh+oh)*g.ow+ow] = s
				}
			}
		}
	}
}

func convBackwardNaive(dx, dw, db, dout, x, w []float32, g convGeom) {
	for n := 0; n < g.n; n++ {
		for o := 0; o < g.o; o++ {
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					d := dout[((n*g.o+o)*g.oh+oh)*g.ow+ow]
					if db != nil {
						db[o] += d
					}
					for c := 0; c < g.c; c++ {
						for kh := 0; kh < g.kh; kh++ {
							for kw := 0; kw < g.kw; kw++ {
								ih, iw := oh*g.stride-g.pad+kh, ow*g.stride-g.pad+kw
								if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
									continue
								}
								xi := ((n*g.c+c)*g.h+ih)*g.w + iw
								wi := ((o*g.c+c)*g.kh+kh)*g.kw + kw
								if dw != nil {
									dw[wi] += d * x[xi]
								}
								if dx != nil {
									dx[xi] += d * w[wi]
								}
							}
						}
					}
				}
			}
		}
	}
}
