package nn

import (
	"github.com/siambench/siambench/nn/gemm"
	"github.com/siambench/siambench/nn/internal/parallel"
)

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

// padGeom is the layout of a buffer of zero-padded planes: one image's, or
// a stack of imgs images' (see stackImages).
type padGeom struct {
	wp, hp int // padded row length and number of rows
	stride int // floats from one plane to the next (≥ hp·wp)
	grid   int // output grid size of a full buffer (gridOf its images)
	ld     int // row stride of a grid buffer: grid rounded up to the tap product's tile
	size   int // floats of a padded buffer of ch planes (with read slack)
	slot   int // floats from one image's rows to the next image's (imgs > 1)
	h      int // image rows
}

// gridOf is the output grid of a buffer holding its first u images: every
// image's h rows of wp, and the shared padding rows between them.
func (p padGeom) gridOf(u int) int { return (u-1)*p.slot + p.h*p.wp }

// Stacking small planes. A tap product computes its grid in whole tiles of
// nr columns (48 for the AVX-512 kernel), and one image's grid is h rows of
// w+2·pad: at ResNet-18-CIFAR's 4×4 stage that is 24 columns in one tile of
// 48, a third of the work useful, and the weights (9.4 MB at 512 channels)
// are streamed once per tile. Images whose grid is under stackBelow
// columns are therefore stacked, imgs to a buffer, one under the other:
// pad zero rows between two images serve as the bottom border of one and
// the top border of the next, and rows are w+pad long, the pad zeros at
// the end of one row being the right border of that row and the left
// border of the next. A 4×4 image then costs 5·5 = 25 grid columns, and a
// buffer's grid spans about stackCols. Each output column is the same sum
// of the same products as unstacked, so the forward pass and the input
// gradient are bit for bit unchanged; the weight gradient sums over the
// longer grid in other blocks.
const (
	stackBelow = 192
	stackCols  = 384
)

// stackImages returns how many images g's padded buffers hold.
func stackImages(g convGeom) int {
	if g.h*(g.w+2*g.pad) >= stackBelow || g.n == 1 {
		return 1
	}
	return max(1, min(g.n, ceilDiv(stackCols, (g.h+g.pad)*(g.w+g.pad))))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// newPadGeom lays out buffers of ch padded planes for g, stacks of imgs
// images (1: unstacked), read by a tap product whose tiles are nr columns
// wide (1 for one Sgemm per tap).
func newPadGeom(g convGeom, ch, nr, imgs int) padGeom {
	p := padGeom{wp: g.w + 2*g.pad, hp: g.h + 2*g.pad, h: g.h}
	if imgs > 1 {
		p.wp = g.w + g.pad
		p.slot = (g.h + g.pad) * p.wp
		p.hp = g.pad + imgs*(g.h+g.pad)
	}
	s := planeStride(p.hp * p.wp)
	p.stride = s
	p.grid = p.gridOf(max(1, imgs))
	p.ld = (p.grid + nr - 1) / nr * nr
	// the last tap of the last plane reads up to kw−1 floats past it, and
	// a tile product reads up to ld−grid more columns past the grid
	lastTap := (g.kh-1)*p.wp + g.kw - 1
	p.size = max(ch*s+g.kw, (ch-1)*s+lastTap+p.ld)
	return p
}

// padImage writes the ch planes (h×w each) of src into dst as image s of
// the buffer, laid out as pg says, with a zero border of pad pixels and
// zeros in every gap. Only the image rows and the zeros after each are
// written: the caller clears dst once (newPadBuffer) and reuses it for
// image after image, whose borders and gaps stay zero.
func padImage(dst, src []float32, ch, h, w, pad int, pg padGeom, s int) {
	dst = dst[:pg.size]
	for c := 0; c < ch; c++ {
		plane := dst[c*pg.stride+s*pg.slot : (c+1)*pg.stride]
		// each row, then the right border of this row and the left border
		// of the next (wp−w zeros)
		copyRows(plane[pad*pg.wp+pad:], src[c*h*w:(c+1)*h*w], h, w, pg.wp, w, pg.wp-w, false)
	}
}

// newPadBuffer returns a cleared scratch buffer for padImage with layout pg.
func newPadBuffer(pg padGeom) []float32 {
	b := getScratch(pg.size)
	clear(b)
	return b
}

// unpadGrid writes (or adds, when add) the valid part of the output grid
// src (ch rows pg.ld apart; an image's part of a stacked grid starts at
// its slot) into dst (ch planes of h×w), plus bias[c] when bias is non-nil.
func unpadGrid(dst, src []float32, ch, h, w int, pg padGeom, add bool, bias []float32) {
	for c := 0; c < ch; c++ {
		out := dst[c*h*w : (c+1)*h*w]
		copyRows(out, src[c*pg.ld:c*pg.ld+(h-1)*pg.wp+w], h, w, w, pg.wp, 0, add)
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
	if useRowKern && zero <= 16 && cols > 0 {
		rowCopyRows(&dst[0], &src[0], rows, cols, dstStride, srcStride, zero, add)
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
// padded plane of rows wp long.
func tapOffsets(g convGeom, wp int) []int {
	offs := make([]int, g.kh*g.kw)
	for t := range offs {
		offs[t] = (t/g.kw)*wp + t%g.kw
	}
	return offs
}

// convForwardImplicit computes out = conv(x, w) + bias for an implicit g.
func convForwardImplicit(out, x, w, bias []float32, g convGeom) {
	r := newConvRun(g)
	P := g.p()
	imgs := stackImages(g)
	pg := newPadGeom(g, g.c, tapTileNR(r.be), imgs)
	tp := newTapProduct(r.be, w, g, false, tapOffsets(g, pg.wp))
	defer tp.free()
	r.each(ceilDiv(g.n, imgs), func(lo, hi int) {
		xp := newPadBuffer(pg)
		defer putScratch(xp)
		grid := getScratch(tp.rows * pg.ld)
		defer putScratch(grid)
		for b := lo; b < hi; b++ {
			i0, i1 := b*imgs, min(g.n, (b+1)*imgs)
			for i := i0; i < i1; i++ {
				padImage(xp, x[i*g.c*P:(i+1)*g.c*P], g.c, g.h, g.w, g.pad, pg, i-i0)
			}
			tp.run(pg.gridOf(i1-i0), pg, xp, grid)
			for i := i0; i < i1; i++ {
				unpadGrid(out[i*g.o*P:(i+1)*g.o*P], grid[(i-i0)*pg.slot:], g.o, g.h, g.w, pg, false, bias)
			}
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
	fused, _ := gemm.TapsOf(r.be)
	nr := tapTileNR(r.be)
	imgs := stackImages(g)
	pgx := newPadGeom(g, g.c, nr, imgs) // padded x; its grid layout is dx's
	pgd := newPadGeom(g, g.o, nr, imgs) // padded dout (same spatial layout)
	offs := tapOffsets(g, pgx.wp)
	var tp tapProduct
	if dx != nil {
		tp = newTapProduct(r.be, w, g, true, offs)
		defer tp.free()
	}
	groups := r.groups(g.n)
	bt, bf := bf16Taps(r.be)
	parts := newTapParts(dw, groups, g, bf) // per group: dW tap-major
	// dout's junk grid columns are the padded buffer's zero borders: the
	// grid view of dout starts pad rows and pad columns into it
	gridOff := g.pad*pgd.wp + g.pad
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
			// the group's images, a stack at a time
			end := (gi + 1) * g.n / groups
			for i0 := gi * g.n / groups; i0 < end; i0 += imgs {
				i1 := min(end, i0+imgs)
				n := pgx.gridOf(i1 - i0)
				for i := i0; i < i1; i++ {
					padImage(dp, dout[i*g.o*P:(i+1)*g.o*P], g.o, g.h, g.w, g.pad, pgd, i-i0)
				}
				if dw != nil {
					for i := i0; i < i1; i++ {
						padImage(xp, x[i*g.c*P:(i+1)*g.c*P], g.c, g.h, g.w, g.pad, pgx, i-i0)
					}
					// dW_t (O,C) += dout (O, grid) · X_tapᵀ; the grid's
					// junk columns (borders, rows between images) read
					// dout's zeros
					switch {
					case bf:
						bt.SgemmTapsNT(g.o, g.c, n, dp[gridOff:pgd.size], pgd.stride,
							xp[:pgx.size], pgx.stride, offs, parts[gi])
					case fused != nil:
						fused.SgemmTapsNT(g.o, g.c, n, dp[gridOff:pgd.size], pgd.stride,
							xp[:pgx.size], pgx.stride, offs, parts[gi])
					default:
						for t, off := range offs {
							r.be.Sgemm(false, true, g.o, g.c, n, 1, dp[gridOff:], pgd.stride,
								xp[off:], pgx.stride, 1, parts[gi][t*g.o*g.c:], g.c)
						}
					}
				}
				if dx != nil {
					tp.run(n, pgd, dp, grid)
					for i := i0; i < i1; i++ {
						unpadGrid(dx[i*g.c*P:(i+1)*g.c*P], grid[(i-i0)*pgx.slot:], g.c, g.h, g.w, pgx, !dxFresh, nil)
					}
				}
			}
		}
	})
	addTapParts(dw, parts, g, bf)
}

// newTapParts returns groups cleared tap-major weight gradient buffers,
// or nil when dw is nil: (taps, O, C), or with bf the layout of
// gemm.BF16Taps.SgemmTapsNT, (taps, C, O) rounded up to 32 both ways.
func newTapParts(dw []float32, groups int, g convGeom, bf bool) [][]float32 {
	if dw == nil {
		return nil
	}
	n := g.kh * g.kw * g.o * g.c
	if bf {
		n = gemm.BF16Taps{}.TapsNTLen(g.o, g.c, g.kh*g.kw)
	}
	parts := make([][]float32, groups)
	for gi := range parts {
		parts[gi] = getScratch(n)
		clear(parts[gi])
	}
	return parts
}

// addTapParts adds the partial weight gradients of newTapParts into dw
// (O, C, KH, KW) in order, and returns them to the scratch pool.
func addTapParts(dw []float32, parts [][]float32, g convGeom, bf bool) {
	taps := g.kh * g.kw
	if bf {
		// (taps, C, O) rounded up: the parts summed first (contiguous),
		// then one transposing pass
		p := parts[0]
		for _, q := range parts[1:] {
			addTo(p, q)
			putScratch(q)
		}
		op, cp := ceilDiv(g.o, 32)*32, ceilDiv(g.c, 32)*32
		for t := 0; t < taps; t++ {
			for c := 0; c < g.c; c++ {
				row := p[(t*cp+c)*op:][:g.o]
				for o, v := range row {
					dw[(o*g.c+c)*taps+t] += v
				}
			}
		}
		putScratch(p)
		return
	}
	// over the cores by output channel; each element adds the parts in
	// group order, whatever the split
	parallel.For(g.o, 8, func(lo, hi int) {
		for _, p := range parts {
			for o := lo; o < hi; o++ {
				for c := 0; c < g.c; c++ {
					d := dw[(o*g.c+c)*taps : (o*g.c+c+1)*taps]
					for t := range d {
						d[t] += p[(t*g.o+o)*g.c+c]
					}
				}
			}
		}
	})
	for _, p := range parts {
		putScratch(p)
	}
}

// tapPanels returns w (O,C,KH,KW) as the per-tap A blocks tapGemms
// multiplies, each stored transposed (k × m; GEMM packs a transposed A by
// copying whole rows): for the forward pass m = O, k = C, element [t][c][o]
// = w[o][c][t]; for the input gradient (dx) m = C, k = O with the kernel
// flipped, [t][o][c] = w[o][c][taps−1−t]. From the scratch pool.
//
// Both are transposes, written in runs of 16 output floats (a cache line)
// while few lines are live. Element by element over w, the writes of one
// (o, c) went to 9 rows and the rows' power-of-two strides (2 KB at 512
// channels) to a handful of L1 sets: the two panels of a 512×512×3×3
// layer took 20.8 ms, now 10.5 (a plain copy of its weights: 1.4-1.9 ms;
// timed in a one-off benchmark with a sweep running beside it).
func tapPanels(w []float32, g convGeom, dx bool) []float32 {
	const tile = 16
	taps := g.kh * g.kw
	K := g.c * taps
	out := getScratch(taps * g.o * g.c)
	// tiles over the cores (each writes its own elements: a serial pass
	// here left the second core idle for 2.5% of a ResNet-18 step)
	if dx {
		// [t][o][c] = w[o][c][taps−1−t]: rows of c, tile by tile of c
		parallel.For(ceilDiv(g.c, tile), 1, func(lo, hi int) {
			for c0 := lo * tile; c0 < min(hi*tile, g.c); c0 += tile {
				c1 := min(c0+tile, g.c)
				for o := 0; o < g.o; o++ {
					src := w[o*K:]
					for t := 0; t < taps; t++ {
						row := out[((taps-1-t)*g.o+o)*g.c:]
						for c := c0; c < c1; c++ {
							row[c] = src[c*taps+t]
						}
					}
				}
			}
		})
		return out
	}
	// [t][c][o] = w[o][c][t]: rows of o, 16 o's at a time for each c (the
	// taps' 9 rows are live while the 16 o's fill them)
	parallel.For(ceilDiv(g.o, tile), 1, func(lo, hi int) {
		for o0 := lo * tile; o0 < min(hi*tile, g.o); o0 += tile {
			o1 := min(o0+tile, g.o)
			for c := 0; c < g.c; c++ {
				for o := o0; o < o1; o++ {
					src := w[(o*g.c+c)*taps : (o*g.c+c+1)*taps]
					for t, v := range src {
						out[(t*g.c+c)*g.o+o] = v
					}
				}
			}
		}
	})
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
	bf16  bool      // on AMX with bf16 operands (see SetPrecision): a is packed for gemm.BF16Taps
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
	// the packing both fused products share
	var pk interface {
		TapTile() (mr, nr int)
		PackedTapsLen(m, k, taps int) int
		PackTaps(dst, a []float32, m, k, taps int)
	}
	if bt, ok := bf16Taps(be); ok {
		tp.bf16, pk = true, bt
	} else if f, ok := gemm.TapsOf(be); ok {
		tp.fused, pk = f, f
	}
	if pk == nil {
		tp.a = panels
		return tp
	}
	mr, nr := pk.TapTile()
	tp.nr = nr
	tp.rows = (tp.m + mr - 1) / mr * mr
	tp.a = getScratch(pk.PackedTapsLen(tp.m, tp.k, taps))
	pk.PackTaps(tp.a, panels, tp.m, tp.k, taps)
	putScratch(panels)
	return tp
}

// free returns the weight panels to the scratch pool.
func (tp tapProduct) free() { putScratch(tp.a) }

// run computes the first n columns of grid = Σ_t A_t · X_t for the padded
// buffer xp laid out as pg.
func (tp tapProduct) run(n int, pg padGeom, xp, grid []float32) {
	if tp.bf16 {
		// the padded planes as bf16 pair rows, then the AMX product
		var bt gemm.BF16Taps
		src := xp[:pg.size]
		pairs := getScratch(gemm.BF16PairsLen(len(src), tp.k, pg.stride))
		gemm.BF16Pairs(pairs, src, tp.k, pg.stride)
		bt.SgemmTaps(tp.a, tp.m, n, tp.k, pairs, pg.stride, tp.offs, grid, pg.ld)
		putScratch(pairs)
		return
	}
	if tp.fused != nil {
		tp.fused.SgemmTaps(tp.a, tp.m, n, tp.k, xp[:pg.size], pg.stride, tp.offs, grid, pg.ld)
		return
	}
	for t, off := range tp.offs {
		beta := float32(1)
		if t == 0 {
			beta = 0
		}
		tp.be.Sgemm(true, false, tp.m, n, tp.k, 1, tp.a[t*tp.k*tp.m:], tp.m,
			xp[off:], pg.stride, beta, grid, pg.ld)
	}
}
