package nn

import "github.com/siambench/siambench/nn/gemm"

// Implicit-GEMM convolution for the common backbone case: stride 1, an odd
// square kernel and "same" padding (3×3, pad 1), at least implicitMinC input
// channels.
//
// Each image's planes are copied once into a zero-padded buffer whose rows
// are Wp = W+2·pad wide. On the output grid q = oh·Wp + ow (ow < Wp; the
// last 2·pad columns of each row are junk), kernel tap (kh,kw) reads pixel
// q + kh·Wp + kw of the padded plane. With the kernel reordered tap-major,
// the columns im2col would build for one tap are the padded planes
// themselves, read in place at that offset with the plane stride as row
// stride, so a convolution is a sum of KH·KW GEMMs over the taps with no
// column matrix at all. The output grid is then compacted into NCHW.
//
// The weight gradient uses the same views: dW_tap (O,C) += dout (O, grid) ·
// X_tapᵀ, where dout is itself zero-padded so that the junk columns
// contribute exactly zero. The input gradient is the same-padded
// convolution of dout with the flipped, channel-transposed kernel, and runs
// on the same machinery.

// implicitMinC is the fewest input channels run as implicit GEMM: with a
// handful of channels each tap's GEMM is too thin to pay, and im2col is cheap.
const implicitMinC = 8

// implicit reports whether g runs as implicit GEMM.
func (g convGeom) implicit() bool {
	return g.stride == 1 && g.kh == g.kw && g.kh%2 == 1 && g.pad == g.kh/2 &&
		g.oh == g.h && g.ow == g.w && g.c >= implicitMinC
}

// padGeom is the layout of one image's zero-padded planes.
type padGeom struct {
	wp, hp int // padded row length and number of rows
	stride int // floats from one plane to the next (≥ hp·wp)
	grid   int // output grid size h·wp
	ld     int // row stride of a grid buffer: grid rounded up to the tap product's tile
	size   int // floats of a padded image of ch planes (with read slack)
}

// newPadGeom lays out ch padded planes for g, read by a tap product whose
// tiles are nr columns wide (1 for one Sgemm per tap).
func newPadGeom(g convGeom, ch, nr int) padGeom {
	p := padGeom{wp: g.w + 2*g.pad, hp: g.h + 2*g.pad}
	s := planeStride(p.hp * p.wp)
	p.stride = s
	p.grid = g.h * p.wp
	p.ld = (p.grid + nr - 1) / nr * nr
	// the last tap of the last plane reads up to kw−1 floats past it, and
	// a tile product reads up to ld−grid more columns past the grid
	lastTap := (g.kh-1)*p.wp + g.kw - 1
	p.size = max(ch*s+g.kw, (ch-1)*s+lastTap+p.ld)
	return p
}

// padImage writes the ch planes (h×w each) of src into dst, laid out as pg
// says, with a zero border of pad pixels and zeros in every gap. Only the
// image rows and the 2·pad zeros between them are written: the caller
// clears dst once (newPadBuffer) and reuses it for image after image, whose
// borders and gaps stay zero.
func padImage(dst, src []float32, ch, h, w, pad int, pg padGeom) {
	dst = dst[:pg.size]
	for c := 0; c < ch; c++ {
		plane := dst[c*pg.stride : (c+1)*pg.stride]
		// each row, then the right border of this row and the left border
		// of the next (2·pad zeros)
		copyRows(plane[pad*pg.wp+pad:], src[c*h*w:(c+1)*h*w], h, w, pg.wp, w, 2*pad, false)
	}
}

// newPadBuffer returns a cleared scratch buffer for padImage with layout pg.
func newPadBuffer(pg padGeom) []float32 {
	b := getScratch(pg.size)
	clear(b)
	return b
}

// unpadGrid writes (or adds, when add) the valid part of the output grid
// src (ch rows pg.ld apart) into dst (ch planes of h×w), plus bias[c] when
// bias is non-nil.
func unpadGrid(dst, src []float32, ch, h, w int, pg padGeom, add bool, bias []float32) {
	for c := 0; c < ch; c++ {
		out := dst[c*h*w : (c+1)*h*w]
		copyRows(out, src[c*pg.ld:c*pg.ld+pg.grid], h, w, w, pg.wp, 0, add)
		if bias != nil && bias[c] != 0 {
			b := bias[c]
			for j := range out {
				out[j] += b
			}
		}
	}
}

// copyRows copies (or adds, when add) rows×cols floats from src (row
// stride srcStride) to dst (row stride dstStride), then writes zero zeros
// after each destination row. It checks the bounds once and runs the
// AVX-512 kernel where there is one.
func copyRows(dst, src []float32, rows, cols, dstStride, srcStride, zero int, add bool) {
	if rows <= 0 {
		return
	}
	_ = dst[(rows-1)*dstStride+cols+zero-1]
	_ = src[(rows-1)*srcStride+cols-1]
	if useAVX512 && zero <= 16 && cols > 0 {
		copyRowsAVX512(&dst[0], &src[0], rows, cols, dstStride, srcStride, zero, add)
		return
	}
	for r := 0; r < rows; r++ {
		d := dst[r*dstStride : r*dstStride+cols+zero]
		s := src[r*srcStride : r*srcStride+cols]
		if add {
			for j, v := range s {
				d[j] += v
			}
		} else {
			copy(d, s)
		}
		clear(d[cols:])
	}
}

// tapOffsets lists the offset of each kernel tap t = kh·KW + kw in a
// padded plane.
func tapOffsets(g convGeom) []int {
	offs := make([]int, g.kh*g.kw)
	for t := range offs {
		offs[t] = (t/g.kw)*(g.w+2*g.pad) + t%g.kw
	}
	return offs
}

// convForwardImplicit computes out = conv(x, w) + bias for an implicit g.
func convForwardImplicit(out, x, w, bias []float32, g convGeom) {
	r := newConvRun(g)
	P := g.p()
	tp := newTapProduct(r.be, w, g, false, tapOffsets(g))
	defer tp.free()
	pg := newPadGeom(g, g.c, tp.nr)
	r.each(g.n, func(lo, hi int) {
		xp := newPadBuffer(pg)
		defer putScratch(xp)
		grid := getScratch(tp.rows * pg.ld)
		defer putScratch(grid)
		for i := lo; i < hi; i++ {
			padImage(xp, x[i*g.c*P:(i+1)*g.c*P], g.c, g.h, g.w, g.pad, pg)
			tp.run(pg, xp, grid)
			unpadGrid(out[i*g.o*P:(i+1)*g.o*P], grid, g.o, g.h, g.w, pg, false, bias)
		}
	})
}

// convBackwardImplicit accumulates dx and dw (either may be nil) for an
// implicit g; dxFresh as in convBackward. The images are cut into a fixed
// number of contiguous groups, each with its own tap-major dW buffer; the
// buffers are added into dw in group order (deterministic for a given
// GOMAXPROCS).
func convBackwardImplicit(dx []float32, dxFresh bool, dw, dout, x, w []float32, g convGeom) {
	r := newConvRun(g)
	P := g.p()
	offs := tapOffsets(g)
	var tp tapProduct
	nr := 1
	if dx != nil {
		tp = newTapProduct(r.be, w, g, true, offs)
		defer tp.free()
		nr = tp.nr
	}
	pgx := newPadGeom(g, g.c, nr) // padded x; its grid layout is dx's
	pgd := newPadGeom(g, g.o, nr) // padded dout (same spatial layout)
	groups := r.groups(g.n)
	parts := newTapParts(dw, groups, g) // per group: dW tap-major, (taps, O, C)
	// dout's junk grid columns are the padded buffer's zero borders: the
	// grid view of dout starts pad rows and pad columns into it
	gridOff := g.pad*pgd.wp + g.pad
	fused, _ := gemm.TapsOf(r.be)
	r.each(groups, func(lo, hi int) {
		dp := newPadBuffer(pgd)
		defer putScratch(dp)
		var xp, grid []float32
		if dw != nil {
			xp = newPadBuffer(pgx)
			defer putScratch(xp)
		}
		if dx != nil {
			grid = getScratch(tp.rows * pgx.ld)
			defer putScratch(grid)
		}
		for gi := lo; gi < hi; gi++ {
			for i := gi * g.n / groups; i < (gi+1)*g.n/groups; i++ {
				padImage(dp, dout[i*g.o*P:(i+1)*g.o*P], g.o, g.h, g.w, g.pad, pgd)
				if dw != nil {
					padImage(xp, x[i*g.c*P:(i+1)*g.c*P], g.c, g.h, g.w, g.pad, pgx)
					// dW_t (O,C) += dout (O, grid) · X_tapᵀ
					if fused != nil {
						fused.SgemmTapsNT(g.o, g.c, pgx.grid, dp[gridOff:pgd.size], pgd.stride,
							xp[:pgx.size], pgx.stride, offs, parts[gi])
					} else {
						for t, off := range offs {
							r.be.Sgemm(false, true, g.o, g.c, pgx.grid, 1, dp[gridOff:], pgd.stride,
								xp[off:], pgx.stride, 1, parts[gi][t*g.o*g.c:], g.c)
						}
					}
				}
				if dx != nil {
					tp.run(pgd, dp, grid)
					unpadGrid(dx[i*g.c*P:(i+1)*g.c*P], grid, g.c, g.h, g.w, pgx, !dxFresh, nil)
				}
			}
		}
	})
	addTapParts(dw, parts, g)
}

// newTapParts returns groups cleared tap-major (taps, O, C) weight
// gradient buffers, or nil when dw is nil.
func newTapParts(dw []float32, groups int, g convGeom) [][]float32 {
	if dw == nil {
		return nil
	}
	parts := make([][]float32, groups)
	for gi := range parts {
		parts[gi] = getScratch(g.kh * g.kw * g.o * g.c)
		clear(parts[gi])
	}
	return parts
}

// addTapParts adds the tap-major (taps, O, C) partial weight gradients
// into dw (O, C, KH, KW) in order, and returns them to the scratch pool.
func addTapParts(dw []float32, parts [][]float32, g convGeom) {
	taps := g.kh * g.kw
	for _, p := range parts {
		for o := 0; o < g.o; o++ {
			for c := 0; c < g.c; c++ {
				d := dw[(o*g.c+c)*taps : (o*g.c+c+1)*taps]
				for t := range d {
					d[t] += p[(t*g.o+o)*g.c+c]
				}
			}
		}
		putScratch(p)
	}
}

// tapPanels returns w (O,C,KH,KW) as the per-tap A blocks tapGemms
// multiplies, each stored transposed (k × m; GEMM packs a transposed A by
// copying whole rows): for the forward pass m = O, k = C, element [t][c][o]
// = w[o][c][t]; for the input gradient (dx) m = C, k = O with the kernel
// flipped, [t][o][c] = w[o][c][taps−1−t]. From the scratch pool.
func tapPanels(w []float32, g convGeom, dx bool) []float32 {
	taps := g.kh * g.kw
	out := getScratch(taps * g.o * g.c)
	for o := 0; o < g.o; o++ {
		for c := 0; c < g.c; c++ {
			for t := 0; t < taps; t++ {
				if dx {
					out[(t*g.o+o)*g.c+c] = w[(o*g.c+c)*taps+taps-1-t]
				} else {
					out[(t*g.c+c)*g.o+o] = w[(o*g.c+c)*taps+t]
				}
			}
		}
	}
	return out
}

// tapProduct computes an output grid (m × grid, rows pg.ld apart) as the
// sum over the kernel taps of A_t · X_t, where A_t (m × k) is tap t's slice
// of the weights and X_t (k × grid) is a padded image read in place at tap
// t's offset, row stride pg.stride: with the backend's fused tap product
// (gemm.Taps) when it has one, which keeps each tile of the grid in
// registers across all taps and writes it once (32×840×32 per image, one
// core: 160 against 125 GFLOP/s for one Sgemm per tap), else one Sgemm per
// tap accumulating into the grid.
type tapProduct struct {
	m, k  int
	fused gemm.Taps // nil: one Sgemm per tap
	rows  int       // rows of the grid buffer (m rounded up to the tile)
	nr    int       // the tile's width: newPadGeom's nr
	a     []float32 // tapPanels (Sgemm per tap) or the packed form (fused)
	be    gemm.Backend
	offs  []int // tap t's offset in a padded plane
}

// newTapProduct prepares w (O,C,KH,KW) for the forward pass (m = O, k = C)
// or, when dx, for the input gradient (m = C, k = O, kernel flipped), with
// tap t read at offs[t] of the padded planes.
func newTapProduct(be gemm.Backend, w []float32, g convGeom, dx bool, offs []int) tapProduct {
	tp := tapProduct{m: g.o, k: g.c, rows: g.o, nr: 1, be: be, offs: offs}
	if dx {
		tp.m, tp.k, tp.rows = g.c, g.o, g.c
	}
	panels := tapPanels(w, g, dx)
	taps := g.kh * g.kw
	if f, ok := gemm.TapsOf(be); ok {
		mr, nr := f.TapTile()
		tp.fused, tp.nr = f, nr
		tp.rows = (tp.m + mr - 1) / mr * mr
		tp.a = getScratch(f.PackedTapsLen(tp.m, tp.k, taps))
		f.PackTaps(tp.a, panels, tp.m, tp.k, taps)
		putScratch(panels)
	} else {
		tp.a = panels
	}
	return tp
}

// free returns the weight panels to the scratch pool.
func (tp tapProduct) free() { putScratch(tp.a) }

// run computes grid = Σ_t A_t · X_t for the padded image xp laid out as pg.
func (tp tapProduct) run(pg padGeom, xp, grid []float32) {
	if tp.fused != nil {
		tp.fused.SgemmTaps(tp.a, tp.m, pg.grid, tp.k, xp[:pg.size], pg.stride, tp.offs, grid, pg.ld)
		return
	}
	for t, off := range tp.offs {
		beta := float32(1)
		if t == 0 {
			beta = 0
		}
		tp.be.Sgemm(true, false, tp.m, pg.grid, tp.k, 1, tp.a[t*tp.k*tp.m:], tp.m,
			xp[off:], pg.stride, beta, grid, pg.ld)
	}
}
