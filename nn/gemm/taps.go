package gemm

import (
	"fmt"
	"sync"

	"github.com/siambench/siambench/nn/gemm/internal/kern"
	"github.com/siambench/siambench/nn/internal/parallel"
)

// Taps is the fused product a convolution needs over its kernel taps:
//
//	C (m×n) = Σ_{t<taps} A_t · B_t
//
// where A_t (m×k) is one tap's slice of the weights and B_t (k×n) is the
// same zero-padded input read in place at tap t's offset. A backend that
// computes it tile by tile keeps each tile of C in registers across all
// taps·k steps and writes it once, instead of reading and writing all of C
// once per tap as a loop of Sgemm calls does. Backends offer it optionally
// (TapsOf); nn falls back to one Sgemm per tap.
type Taps interface {
	// TapTile returns the tile (mr, nr) C is computed in. The caller gives
	// C ceil(m/mr)·mr rows of ldc ≥ ceil(n/nr)·nr floats, and makes b
	// readable up to offs[t] + (k−1)·ldb + ceil(n/nr)·nr for every t: the
	// padding rows and columns of C receive junk computed from whatever
	// lies there.
	TapTile() (mr, nr int)
	// PackedTapsLen is the length of PackTaps's output for these sizes.
	PackedTapsLen(m, k, taps int) int
	// PackTaps writes the taps blocks into dst in the layout SgemmTaps
	// reads; A_t is stored transposed (k×m, row p holds column p of A_t)
	// at a[t·k·m:]. Pack once, multiply many times.
	PackTaps(dst, a []float32, m, k, taps int)
	// SgemmTaps sets C = Σ_t A_t·B_t with A packed by PackTaps and B_t =
	// b[offs[t]:], rows ldb apart, on the calling goroutine. It panics,
	// naming the argument, when a slice is too short.
	SgemmTaps(packed []float32, m, n, k int, b []float32, ldb int, offs []int, c []float32, ldc int)
	// SgemmTapsNT adds A·B_tᵀ into C_t = c[t·m·n:] (m×n, row-major) for
	// every tap t, where A is m×k (rows lda apart) and B_t is n×k at
	// b[offs[t]:], rows ldb apart: a convolution's weight gradient,
	// dW_t += dY·X_tᵀ, on the calling goroutine. It panics, naming the
	// argument, when a slice is too short.
	SgemmTapsNT(m, n, k int, a []float32, lda int, b []float32, ldb int, offs []int, c []float32)
}

// TapsOf returns b's fused tap product when it has one: the Go backend
// whose micro-kernel (AVX-512 8×32 or AVX2 6×16) has a tap kernel (tiles
// 8×48 and 6×16).
func TapsOf(b Backend) (Taps, bool) {
	g, ok := b.(Go)
	if !ok {
		return nil, false
	}
	k := g.kern()
	for _, tk := range tapKernels() {
		if tk.Name == k.name {
			return goTaps{tap: tk, kern: k}, true
		}
	}
	return nil, false
}

var tapKernels = sync.OnceValue(kern.TapKernels)

// goTaps is the Go backend's Taps: the tap kernel of its micro-kernel for
// SgemmTaps, the micro-kernel itself for SgemmTapsNT. A is packed in
// blocks of k (tapBlocks), each block as ceil(m/MR) panels of taps·kc
// steps of MR values (tap by tap), zero past m.
type goTaps struct {
	tap  kern.TapKernel
	kern *microKernel
}

// tapBlockMax is the most steps of k one tap-kernel call takes unblocked.
// A call reads its panel's taps·k·MR weights whole, so without blocks each
// column of tiles of C streamed the whole weight matrix (9.4 MB at 512
// channels, 3×3) from memory, and ResNet-18-CIFAR's 256- and 512-channel
// layers ran at a fraction of the kernel's rate. In blocks of ≤ 128
// channels a panel's block (9 taps·128·8 floats: 36 KB) stays in cache
// across a whole row of tiles, and B's rows for the block (one image or a
// stack of small ones) stay in L2. Products with k ≤ tapBlockMax (the
// reference network's 32 and 64 channels) are one block, as before.
const tapBlockMax = 160

// tapBlocks returns the block length of k: balanced blocks of at most
// 128 steps when k exceeds tapBlockMax, else k.
func tapBlocks(k int) int {
	if k <= tapBlockMax {
		return k
	}
	return ceilDiv(k, ceilDiv(k, 128))
}

func (t goTaps) TapTile() (int, int) { return t.tap.MR, t.tap.NR }

func (t goTaps) PackedTapsLen(m, k, taps int) int { return ceilDiv(m, t.tap.MR) * t.tap.MR * k * taps }

func (t goTaps) PackTaps(dst, a []float32, m, k, taps int) {
	if len(dst) < t.PackedTapsLen(m, k, taps) || len(a) < taps*k*m {
		panic(fmt.Sprintf("gemm: PackTaps: dst has %d floats, a %d; need %d and %d for m=%d k=%d taps=%d",
			len(dst), len(a), t.PackedTapsLen(m, k, taps), taps*k*m, m, k, taps))
	}
	mr := t.tap.MR
	mp, kc := ceilDiv(m, mr), tapBlocks(k)
	// the row panels over the cores: a layer's weights are packed once
	// per pass, between its parallel phases (serial, the packing was the
	// largest piece of a ResNet-18 step during which one core idled)
	parallel.For(mp, 4, func(lo, hi int) {
		for p0 := 0; p0 < k; p0 += kc {
			kl := min(kc, k-p0)
			block := dst[mp*mr*taps*p0:]
			for r := lo; r < hi; r++ {
				rows := min(mr, m-r*mr)
				for tp := 0; tp < taps; tp++ {
					out := block[(r*taps+tp)*kl*mr : (r*taps+tp+1)*kl*mr]
					src := a[(tp*k+p0)*m+r*mr:]
					if rows == 8 && mr == 8 && hasPackA8T {
						kern.PackA8T(&out[0], &src[0], kl, m)
						continue
					}
					for p := 0; p < kl; p++ {
						copy(out[p*mr:p*mr+rows], src[p*m:p*m+rows])
						clear(out[p*mr+rows : (p+1)*mr])
					}
				}
			}
		}
	})
}

func (t goTaps) SgemmTaps(packed []float32, m, n, k int, b []float32, ldb int, offs []int, c []float32, ldc int) {
	taps := len(offs)
	if m <= 0 || n <= 0 || k <= 0 || taps == 0 {
		panic(fmt.Sprintf("gemm: SgemmTaps: m=%d n=%d k=%d and %d taps must all be ≥ 1", m, n, k, taps))
	}
	mr, nr := t.tap.MR, t.tap.NR
	mp, np := ceilDiv(m, mr), ceilDiv(n, nr)
	if len(packed) < t.PackedTapsLen(m, k, taps) {
		panic(fmt.Sprintf("gemm: SgemmTaps: packed A has %d floats, need %d (PackTaps)", len(packed), t.PackedTapsLen(m, k, taps)))
	}
	if ldc < np*nr || len(c) < (mp*mr-1)*ldc+np*nr {
		panic(fmt.Sprintf("gemm: SgemmTaps: C (len %d, ldc %d) must hold %d rows of %d (the %d×%d tiles)", len(c), ldc, mp*mr, np*nr, mr, nr))
	}
	for _, o := range offs {
		if o < 0 || o+(k-1)*ldb+np*nr > len(b) {
			panic(fmt.Sprintf("gemm: SgemmTaps: B (len %d) must be readable to offset %d+%d·%d+%d", len(b), o, k-1, ldb, np*nr))
		}
	}
	kc := tapBlocks(k)
	if kc == k {
		for j := 0; j < np; j++ {
			bj := b[j*nr:]
			for r := 0; r < mp; r++ {
				t.tap.Fn(taps, k, &packed[r*taps*k*mr], &bj[0], ldb, &offs[0], &c[r*mr*ldc+j*nr], ldc)
			}
		}
		return
	}
	// blocks of k: the first sets C, each further one is added into it by
	// the kernel's accumulating form, or computed into a tile and added (a
	// tile's sum of one block: 9 taps · 128 · 8·48 · 2 FLOPs per 384
	// additions); either way C + (the block's sum), the same rounding
	tb := getBuf(mr * nr)
	defer putBuf(tb)
	tile := (*tb)[:mr*nr]
	for p0 := 0; p0 < k; p0 += kc {
		kl := min(kc, k-p0)
		block := packed[mp*mr*taps*p0:]
		bp := b[p0*ldb:]
		for r := 0; r < mp; r++ {
			ap := &block[r*taps*kl*mr]
			for j := 0; j < np; j++ {
				ct := c[r*mr*ldc+j*nr:]
				if p0 == 0 {
					t.tap.Fn(taps, kl, ap, &bp[j*nr], ldb, &offs[0], &ct[0], ldc)
					continue
				}
				if t.tap.Acc != nil {
					t.tap.Acc(taps, kl, ap, &bp[j*nr], ldb, &offs[0], &ct[0], ldc)
					continue
				}
				t.tap.Fn(taps, kl, ap, &bp[j*nr], ldb, &offs[0], &tile[0], nr)
				for i := range mr {
					addTo(ct[i*ldc:i*ldc+nr], tile[i*nr:(i+1)*nr])
				}
			}
		}
	}
}

// addTo adds src into dst (same length).
func addTo(dst, src []float32) {
	for j, v := range src {
		dst[j] += v
	}
}

// SgemmTapsNT packs A once into MR-row panels (k×MR) and the rows of B
// that any tap reads once into NR-column panels, transposed (row q of a
// panel holds column q of NR rows of B), so that tap t's B_tᵀ is a panel
// read from row offs[t] on: every tap's product is then the GEMM
// micro-kernel with its operands contiguous and each tile of C in
// registers for a whole block of k. (64×64×224 and 32×32×840 per image,
// one core, AVX-512, best of 20: 136-157 GFLOP/s against 58-62 for one
// Sgemm per tap.)
func (t goTaps) SgemmTapsNT(m, n, k int, a []float32, lda int, b []float32, ldb int, offs []int, c []float32) {
	taps := len(offs)
	if m <= 0 || n <= 0 || k <= 0 || taps == 0 {
		panic(fmt.Sprintf("gemm: SgemmTapsNT: m=%d n=%d k=%d and %d taps must all be ≥ 1", m, n, k, taps))
	}
	lo, hi := offs[0], offs[0]
	for _, o := range offs {
		lo, hi = min(lo, o), max(hi, o)
	}
	if lo < 0 || hi+(n-1)*ldb+k > len(b) || ldb < k {
		panic(fmt.Sprintf("gemm: SgemmTapsNT: B (len %d, ldb %d) must hold %d rows of %d from offsets %d..%d", len(b), ldb, n, k, lo, hi))
	}
	if lda < k || len(a) < (m-1)*lda+k {
		panic(fmt.Sprintf("gemm: SgemmTapsNT: A (len %d, lda %d) must hold %d rows of %d", len(a), lda, m, k))
	}
	if len(c) < taps*m*n {
		panic(fmt.Sprintf("gemm: SgemmTapsNT: C has %d floats, need %d (%d taps of %d×%d)", len(c), taps*m*n, taps, m, n))
	}
	mr, nr := t.kern.mr, t.kern.nr
	mp, np := ceilDiv(m, mr), ceilDiv(n, nr)
	span := hi - lo + k // rows of B's transposed panels
	ap := getBuf(mp*mr*k + np*nr*span + mr*nr)
	defer putBuf(ap)
	pa := (*ap)[:mp*mr*k]
	pb := (*ap)[mp*mr*k : mp*mr*k+np*nr*span]
	tile := (*ap)[mp*mr*k+np*nr*span:]
	packA(pa, false, a, lda, m, mr, 0, k)
	for jb := 0; jb < np; jb++ {
		packBT(pb[jb*nr*span:(jb+1)*nr*span], b, lo+jb*nr*ldb, ldb, span, min(nr, n-jb*nr), nr)
	}
	// k in balanced blocks of at most 256 steps: the taps read overlapping
	// rows of B, so a block's panel rows serve all taps and row panels
	// from L1 (64×64×224, one core, best of 20: 150-157 GFLOP/s in blocks
	// of 128-256 against 136 unblocked)
	kc := ceilDiv(k, ceilDiv(k, 256))
	for p0 := 0; p0 < k; p0 += kc {
		kl := min(kc, k-p0)
		for jb := 0; jb < np; jb++ {
			cols := min(nr, n-jb*nr)
			for tp, off := range offs {
				ct := c[tp*m*n : (tp+1)*m*n]
				bp := &pb[jb*nr*span+(off-lo+p0)*nr]
				for r := 0; r < mp; r++ {
					rows := min(mr, m-r*mr)
					ap := &pa[r*mr*k+p0*mr]
					if rows == mr && cols == nr {
						t.kern.fn(kl, ap, bp, nr, &ct[r*mr*n+jb*nr], n, 1, 1)
						continue
					}
					// edge tile: computed whole, its valid part added
					t.kern.fn(kl, ap, bp, nr, &tile[0], nr, 1, 0)
					for i := range rows {
						crow := ct[(r*mr+i)*n+jb*nr : (r*mr+i)*n+jb*nr+cols]
						for j, v := range tile[i*nr : i*nr+cols] {
							crow[j] += v
						}
					}
				}
			}
		}
	}
}
