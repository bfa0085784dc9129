package nn

import "github.com/siambench/siambench/nn/gemm"

// Stride-2 convolutions as fused tap products over phase planes.
//
// Split the zero-padded input (Hp×Wp per channel) into its four phases,
// P_ab[i][j] = xpad[2i+a][2j+b]. Tap (kh,kw) = (2u+a, 2v+b) of output pixel
// (oh,ow) reads xpad[2(oh+u)+a][2(ow+v)+b] = P_ab[oh+u][ow+v]: a stride-1
// read of one phase plane at a constant offset. With each channel's four
// phase planes stored one after another (rows wr floats long), the
// convolution is one gemm.Taps product over all KH·KW taps, each with its
// own offset (phase plane, row u, column v), on an output grid of OH rows
// of wr columns (columns ≥ OW are junk).
//
// The input gradient splits the same way: phase ab of the padded dx is a
// stride-1 "full" correlation of dout with the taps of that phase, read
// from dout padded by pu rows and pv columns, which is one Taps product per
// phase; its grid is scattered back into dx at stride 2. The weight
// gradient dW_t += dout·X_tᵀ is Taps.SgemmTapsNT over the forward taps,
// with dout read from the same padded buffer (its row length is wr too, so
// the junk grid columns meet zeros).
//
// Only with a fused tap product: one Sgemm per tap over these short grids
// measured slower than im2col (docs/engine.md).

// phaseGeom is the layout of a stride-2 convolution's phase planes.
type phaseGeom struct {
	hh, wh int // phase plane size: ceil(Hp/2) × ceil(Wp/2)
	pu, pv int // rows and columns dout is padded by for dx: ceil(K/2)−1
	wr     int // row length of phase planes, padded dout and every grid: wh+pv
	xs     int // floats from one phase plane to the next
	x      padGeom
	d      padGeom // padded dout; its grid is one phase of dx (hh×wr)
	offs   []int   // forward taps' offsets in a channel's four phase planes
}

// phased reports whether g runs on phase planes (when the backend has a
// fused tap product).
func (g convGeom) phased() bool { return g.stride == 2 && g.c >= implicitMinC }

func newPhaseGeom(g convGeom, nr int) phaseGeom {
	var p phaseGeom
	hp, wp := g.h+2*g.pad, g.w+2*g.pad
	p.hh, p.wh = (hp+1)/2, (wp+1)/2
	p.pu, p.pv = (g.kh+1)/2-1, (g.kw+1)/2-1
	p.wr = p.wh + p.pv
	// one slack row: junk grid columns of the last row read past the plane
	p.xs = planeStride((p.hh + 1) * p.wr)
	p.offs = make([]int, g.kh*g.kw)
	last := 0
	for t := range p.offs {
		kh, kw := t/g.kw, t%g.kw
		p.offs[t] = (2*(kh%2)+kw%2)*p.xs + (kh/2)*p.wr + kw/2
		last = max(last, p.offs[t])
	}
	// forward: channel planes 4·xs apart; the grid is OH rows of wr
	p.x = padGeom{wp: p.wr, stride: 4 * p.xs, grid: g.oh * p.wr}
	p.x.ld = (p.x.grid + nr - 1) / nr * nr
	p.x.size = max(g.c*p.x.stride, (g.c-1)*p.x.stride+last+p.x.ld)
	// padded dout: pu rows above, pv columns left, row length wr; each
	// phase of dx is a grid of hh rows of wr read at offsets ≤ pu·wr+pv
	p.d = padGeom{wp: p.wr, grid: p.hh * p.wr}
	p.d.stride = planeStride((p.hh + p.pu + 1) * p.wr)
	p.d.ld = (p.d.grid + nr - 1) / nr * nr
	p.d.size = max(g.o*p.d.stride, (g.o-1)*p.d.stride+p.pu*p.wr+p.pv+p.d.ld)
	return p
}

// planeStride rounds a plane of n floats up to 64 bytes, avoiding
// multiples of 1 KiB (planes that far apart share L1 sets).
func planeStride(n int) int {
	s := (n + 15) &^ 15
	if (s*4)%1024 == 0 {
		s += 16
	}
	return s
}

// phaseImage writes the ch planes (h×w) of src into dst as four phase
// planes each, laid out as p says. Only positions that hold image pixels
// are written: the caller clears dst once (newPadBuffer) and reuses it.
func phaseImage(dst, src []float32, ch int, g convGeom, p phaseGeom) {
	for a := 0; a < 2; a++ {
		// image rows y = 2i+a−pad, i in [i0, i1)
		i0, i1 := phaseRange(a, g.pad, g.h, p.hh)
		if i1 <= i0 {
			continue
		}
		for b := 0; b < 2; b++ {
			j0, j1 := phaseRange(b, g.pad, g.w, p.wh)
			if j1 <= j0 {
				continue
			}
			y0, x0 := 2*i0+a-g.pad, 2*j0+b-g.pad
			for c := 0; c < ch; c++ {
				plane := dst[c*p.x.stride+(2*a+b)*p.xs:]
				img := src[c*g.h*g.w:]
				gather2Rows(plane[i0*p.wr+j0:], img[y0*g.w+x0:], i1-i0, j1-j0, p.wr, 2*g.w)
			}
		}
	}
}

// phaseRange returns the phase indices [i0, i1) (of n) whose padded
// position 2i+a lies inside the image, 2i+a−pad in [0, size).
func phaseRange(a, pad, size, n int) (i0, i1 int) {
	i0 = max(0, (pad-a+1)/2)
	i1 = min(n, (size-1+pad-a)/2+1)
	if size-1+pad-a < 0 {
		i1 = 0
	}
	return i0, i1
}

// convForwardPhased computes out = conv(x, w) + bias for a stride-2 g with
// the fused tap product f of r's backend.
func convForwardPhased(out, x, w, bias []float32, g convGeom, r convRun, f gemm.Taps) {
	P := g.p()
	p := newPhaseGeom(g, tapTileNR(r.be))
	tp := newTapProduct(r.be, w, g, false, p.offs)
	defer tp.free()
	r.each(g.n, func(lo, hi int) {
		xp := newPadBuffer(p.x)
		defer putScratch(xp)
		grid := getScratch(tp.rows * p.x.ld)
		defer putScratch(grid)
		for i := lo; i < hi; i++ {
			phaseImage(xp, x[i*g.c*g.h*g.w:(i+1)*g.c*g.h*g.w], g.c, g, p)
			tp.run(p.x.grid, p.x, xp, grid)
			unpadGrid(out[i*g.o*P:(i+1)*g.o*P], grid, g.o, g.oh, g.ow, p.x, false, bias)
		}
	})
}

// phaseTaps is the input gradient's tap product for phase ab: its taps'
// weights packed for f (m = C, k = O) and offsets into padded dout.
type phaseTaps struct {
	a, b   int
	packed []float32
	offs   []int
}

func newPhaseTaps(w []float32, g convGeom, p phaseGeom, f gemm.Taps) []phaseTaps {
	K := g.kh * g.kw
	var out []phaseTaps
	for a := 0; a < 2; a++ {
		for b := 0; b < 2; b++ {
			var taps [][2]int // (u, v)
			for u := 0; 2*u+a < g.kh; u++ {
				for v := 0; 2*v+b < g.kw; v++ {
					taps = append(taps, [2]int{u, v})
				}
			}
			if len(taps) == 0 {
				continue
			}
			// A_t stored transposed (k × m): [t][o][c] = w[o][c][2u+a][2v+b]
			panels := getScratch(len(taps) * g.o * g.c)
			pt := phaseTaps{a: a, b: b, offs: make([]int, len(taps))}
			for t, uv := range taps {
				kh, kw := 2*uv[0]+a, 2*uv[1]+b
				for o := 0; o < g.o; o++ {
					for c := 0; c < g.c; c++ {
						panels[(t*g.o+o)*g.c+c] = w[(o*g.c+c)*K+kh*g.kw+kw]
					}
				}
				pt.offs[t] = (p.pu-uv[0])*p.wr + p.pv - uv[1]
			}
			pt.packed = getScratch(f.PackedTapsLen(g.c, g.o, len(taps)))
			f.PackTaps(pt.packed, panels, g.c, g.o, len(taps))
			putScratch(panels)
			out = append(out, pt)
		}
	}
	return out
}

// convBackwardPhased accumulates dx and dw (either may be nil) for a
// stride-2 g with the fused tap product f; as convBackwardImplicit.
func convBackwardPhased(dx []float32, dxFresh bool, dw, dout, x, w []float32, g convGeom, r convRun, f gemm.Taps) {
	mr, nr := f.TapTile()
	p := newPhaseGeom(g, nr)
	HW, P := g.h*g.w, g.p()
	var pts []phaseTaps
	if dx != nil {
		pts = newPhaseTaps(w, g, p, f)
		defer func() {
			for _, pt := range pts {
				putScratch(pt.packed)
			}
		}()
	}
	groups := r.groups(g.n)
	bt, bf := bf16Taps(r.be)
	parts := newTapParts(dw, groups, g, bf) // per group: dW tap-major
	// the forward grid view of padded dout: pu rows and pv columns in; its
	// junk columns (ow ≥ OW) read the zero padding
	gridOff := p.pu*p.wr + p.pv
	rows := (g.c + mr - 1) / mr * mr
	r.each(groups, func(lo, hi int) {
		dp := newPadBuffer(p.d)
		defer putScratch(dp)
		var xp, grid []float32
		if dw != nil {
			xp = newPadBuffer(p.x)
			defer putScratch(xp)
		}
		if dx != nil {
			grid = getScratch(rows * p.d.ld)
			defer putScratch(grid)
		}
		for gi := lo; gi < hi; gi++ {
			for i := gi * g.n / groups; i < (gi+1)*g.n/groups; i++ {
				for o := 0; o < g.o; o++ {
					copyRows(dp[o*p.d.stride+gridOff:], dout[(i*g.o+o)*P:], g.oh, g.ow, p.wr, g.ow, 0, false)
				}
				if dw != nil {
					phaseImage(xp, x[i*g.c*HW:(i+1)*g.c*HW], g.c, g, p)
					if bf {
						bt.SgemmTapsNT(g.o, g.c, p.x.grid, dp[gridOff:p.d.size], p.d.stride,
							xp[:p.x.size], p.x.stride, p.offs, parts[gi])
					} else {
						f.SgemmTapsNT(g.o, g.c, p.x.grid, dp[gridOff:p.d.size], p.d.stride,
							xp[:p.x.size], p.x.stride, p.offs, parts[gi])
					}
				}
				if dx == nil {
					continue
				}
				dxi := dx[i*g.c*HW : (i+1)*g.c*HW]
				if dxFresh {
					clear(dxi)
				}
				for _, pt := range pts {
					f.SgemmTaps(pt.packed, g.c, p.d.grid, g.o, dp[:p.d.size], p.d.stride, pt.offs, grid, p.d.ld)
					i0, i1 := phaseRange(pt.a, g.pad, g.h, p.hh)
					j0, j1 := phaseRange(pt.b, g.pad, g.w, p.wh)
					if i1 <= i0 || j1 <= j0 {
						continue
					}
					y0, x0 := 2*i0+pt.a-g.pad, 2*j0+pt.b-g.pad
					for c := 0; c < g.c; c++ {
						scatterAdd2Rows(dxi[c*HW+y0*g.w+x0:], grid[c*p.d.ld+i0*p.wr+j0:], i1-i0, j1-j0, 2*g.w, p.wr)
					}
				}
			}
		}
	})
	addTapParts(dw, parts, g, bf)
}
