package gemm

import (
	"fmt"
	"math"

	"github.com/siambench/siambench/nn/gemm/internal/kern"
)

// bf16 tap products on AMX. bfloat16 keeps float32's 8 exponent bits and 7
// of its 23 mantissa bits, so a product of two bf16 values is exact in
// float32. Intel's AMX multiplies 16×32 by 32×16 bf16 tiles into a 16×16
// float32 tile in one instruction (TDPBF16PS); operands are rounded to
// bf16 (to nearest, ties to even) and stored two to a 32-bit word,
// consecutive along the product's k (lower half first); sums stay
// float32. (AVX512_BF16's VDPBF16PS, tried first, ran at 100 GFLOP/s per
// core against the fp32 tap kernel's 165 on this project's Xeon: not a
// route; see docs/engine.md.)

// BF16 rounds f to the nearest bfloat16 (ties to even) and returns its 16
// bits. NaN stays NaN.
func BF16(f float32) uint32 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return (b >> 16) | 0x40 // quiet NaN
	}
	return (b + 0x7fff + (b>>16)&1) >> 16
}

// FromBF16 is the float32 of a bfloat16's bits.
func FromBF16(h uint32) float32 { return math.Float32frombits(h << 16) }

// pairWord packs two values as one word of bf16 operands.
func pairWord(lo, hi float32) float32 {
	return math.Float32frombits(BF16(lo) | BF16(hi)<<16)
}

const (
	amxTile  = 32 // C is computed in 32×32 blocks (four 16×16 tiles)
	amxPairs = 16 // pairs of k per tile step (32 values)
)

// BF16Taps is the fused tap product (Taps) on bf16 operands with AMX: A is
// packed from float32 (rounded), B is BF16Pairs of the float32 operand, C
// is float32. Weight-gradient products (SgemmTapsNT) are not offered:
// they stay float32.
type BF16Taps struct{}

// BF16TapsOf returns the bf16 tap product for backend b: the Go backend on
// a CPU with AMX-BF16 whose kernel grants the tile state. Otherwise it says
// why not.
func BF16TapsOf(b Backend) (BF16Taps, error) {
	if err := kern.AMXBF16(); err != nil {
		return BF16Taps{}, fmt.Errorf("bf16: %w; use fp32", err)
	}
	if _, ok := b.(Go); !ok {
		return BF16Taps{}, fmt.Errorf("bf16 needs the Go backend (%s=go), not %s; set it, or use fp32", EnvVar, b.Name())
	}
	return BF16Taps{}, nil
}

// TapTile is the block C is computed in (see Taps.TapTile): rows of C
// must be allocated to a multiple of 32, and ldc ≥ n rounded up to 32.
func (BF16Taps) TapTile() (mr, nr int) { return amxTile, amxTile }

// pairRows is the number of pair rows B and A take for k: k/2 rounded up
// to whole tile steps.
func pairRows(k int) int { return ceilDiv(k, 2*amxPairs) * amxPairs }

// PackedTapsLen is the length of PackTaps's output.
func (BF16Taps) PackedTapsLen(m, k, taps int) int {
	return ceilDiv(m, amxTile) * amxTile * pairRows(k) * taps
}

// PackTaps rounds the taps blocks a (as Taps.PackTaps: A_t transposed, k×m
// at a[t·k·m:]) to bf16 and packs them for SgemmTaps: for each block of 32
// rows of A, tap by tap, step by step of 32 values of k, two 16-row tiles
// of 16 pair words; zero past m and k.
func (t BF16Taps) PackTaps(dst, a []float32, m, k, taps int) {
	if len(dst) < t.PackedTapsLen(m, k, taps) || len(a) < taps*k*m {
		panic(fmt.Sprintf("gemm: BF16Taps.PackTaps: dst has %d floats, a %d; need %d and %d for m=%d k=%d taps=%d",
			len(dst), len(a), t.PackedTapsLen(m, k, taps), taps*k*m, m, k, taps))
	}
	kb := pairRows(k) / amxPairs
	at := func(tp, kk, i int) float32 {
		if kk >= k || i >= m {
			return 0
		}
		return a[(tp*k+kk)*m+i]
	}
	o := 0
	for r0 := 0; r0 < m; r0 += amxTile {
		for tp := 0; tp < taps; tp++ {
			for s := 0; s < kb; s++ {
				for i := r0; i < r0+amxTile; i++ { // two tiles of 16 rows, one after the other
					for p := 0; p < amxPairs; p++ {
						kk := 2 * (s*amxPairs + p)
						dst[o] = pairWord(at(tp, kk, i), at(tp, kk+1, i))
						o++
					}
				}
			}
		}
	}
}

// BF16PairsLen is the length of BF16Pairs's output for a k-row src of n
// floats, rows ld apart.
func BF16PairsLen(n, k, ld int) int { return (pairRows(k)-1)*ld + n - (k-1)*ld }

// BF16Pairs writes rows 2r and 2r+1 of src (k rows, ld floats apart) as
// row r of dst, one bf16 pair word per column (ld words apart): the B
// operand of BF16Taps.SgemmTaps. Rows past k read as zero, up to a whole
// tile step; the last row covers what src holds from its last row on, so
// a product that may read src's slack may read dst's. dst must hold
// BF16PairsLen(len(src), k, ld) floats.
func BF16Pairs(dst, src []float32, k, ld int) {
	rows := pairRows(k)
	if need := BF16PairsLen(len(src), k, ld); len(dst) < need || ld <= 0 || len(src) < (k-1)*ld {
		panic(fmt.Sprintf("gemm: BF16Pairs: dst has %d floats, need %d (k=%d ld=%d, src %d)", len(dst), need, k, ld, len(src)))
	}
	tail := len(src) - (k-1)*ld    // the last row's span
	row := func(i int) []float32 { // src row i, empty past k
		if i >= k {
			return nil
		}
		return src[i*ld:]
	}
	for r := 0; r < rows; r++ {
		n := ld
		if r == rows-1 {
			n = tail
		}
		d := dst[r*ld : r*ld+n]
		lo, hi := row(2*r), row(2*r+1)
		both := min(n, len(lo), len(hi))
		kern.PairsBF16(d[:both], lo, hi, pairWord)
		for q := both; q < n; q++ {
			var l, h float32
			if q < len(lo) {
				l = lo[q]
			}
			if q < len(hi) {
				h = hi[q]
			}
			d[q] = pairWord(l, h)
		}
	}
}

// SgemmTaps sets C = Σ_t A_t·B_t as Taps.SgemmTaps does, with A from
// PackTaps and b = BF16Pairs of the k-row B (ldb is the float32 row
// stride, the pair rows' too). Unlike float32's, a pair row holds one row
// of B: a column j with offs[t]+j ≥ ldb reads the next pair row, not B's
// next row, so only columns whose taps stay within a row are products (a
// convolution's valid outputs; its junk grid columns may cross).
func (t BF16Taps) SgemmTaps(packed []float32, m, n, k int, b []float32, ldb int, offs []int, c []float32, ldc int) {
	taps := len(offs)
	if m <= 0 || n <= 0 || k <= 0 || taps == 0 {
		panic(fmt.Sprintf("gemm: BF16Taps.SgemmTaps: m=%d n=%d k=%d and %d taps must all be ≥ 1", m, n, k, taps))
	}
	mp, np := ceilDiv(m, amxTile), ceilDiv(n, amxTile)
	rows := pairRows(k)
	if len(packed) < t.PackedTapsLen(m, k, taps) {
		panic(fmt.Sprintf("gemm: BF16Taps.SgemmTaps: packed A has %d floats, need %d (PackTaps)", len(packed), t.PackedTapsLen(m, k, taps)))
	}
	if ldc < np*amxTile || len(c) < (mp*amxTile-1)*ldc+np*amxTile {
		panic(fmt.Sprintf("gemm: BF16Taps.SgemmTaps: C (len %d, ldc %d) must hold %d rows of %d", len(c), ldc, mp*amxTile, np*amxTile))
	}
	for _, o := range offs {
		if o < 0 || o+(rows-1)*ldb+np*amxTile > len(b) {
			panic(fmt.Sprintf("gemm: BF16Taps.SgemmTaps: B (len %d) must be readable to offset %d+%d·%d+%d (BF16Pairs)", len(b), o, rows-1, ldb, np*amxTile))
		}
	}
	kb := rows / amxPairs
	block := taps * kb * 2 * 256 // packed floats per 32 rows of A
	for r := 0; r < mp; r++ {
		kern.AMXTapsBF16(taps, kb, packed[r*block:], b, ldb, offs, c[r*amxTile*ldc:], ldc, np)
	}
}

// TapsNTLen is the length of the C that SgemmTapsNT adds into for taps
// taps: per tap, n×m rounded up to multiples of 32 both ways.
func (BF16Taps) TapsNTLen(m, n, taps int) int {
	return taps * ceilDiv(n, amxTile) * amxTile * ceilDiv(m, amxTile) * amxTile
}

// SgemmTapsNT is Taps.SgemmTapsNT on bf16 operands, transposed: for every
// tap t it adds B_t·Aᵀ (n×m) into C_t = c[t·np·mp:] (np×mp row-major, np
// and mp being n and m rounded up to 32), where A is m×k (rows lda apart)
// and B_t is n×k at b[offs[t]:] (rows ldb apart): a convolution's weight
// gradient as dW_tᵀ (C×O) += X_t·dYᵀ, with X_t read in place at any
// offset. A is converted to pair rows and transposed once per call; B is
// converted once and read at every tap's offset.
func (t BF16Taps) SgemmTapsNT(m, n, k int, a []float32, lda int, b []float32, ldb int, offs []int, c []float32) {
	taps := len(offs)
	if m <= 0 || n <= 0 || k <= 0 || taps == 0 {
		panic(fmt.Sprintf("gemm: BF16Taps.SgemmTapsNT: m=%d n=%d k=%d and %d taps must all be ≥ 1", m, n, k, taps))
	}
	mp, np := ceilDiv(m, amxTile)*amxTile, ceilDiv(n, amxTile)*amxTile
	kq := pairRows(k) // pair rows of the transposed A
	if (m-1)*lda+k > len(a) {
		panic(fmt.Sprintf("gemm: BF16Taps.SgemmTapsNT: A (len %d) must hold %d rows of %d, %d apart", len(a), m, k, lda))
	}
	maxOff := 0
	for _, o := range offs {
		if o < 0 || o+(n-1)*ldb+k > len(b) {
			panic(fmt.Sprintf("gemm: BF16Taps.SgemmTapsNT: B (len %d) must hold %d rows of %d, %d apart, from offset %d", len(b), n, k, ldb, o))
		}
		maxOff = max(maxOff, o)
	}
	if len(c) < t.TapsNTLen(m, n, taps) {
		panic(fmt.Sprintf("gemm: BF16Taps.SgemmTapsNT: C has %d floats, need %d (TapsNTLen)", len(c), t.TapsNTLen(m, n, taps)))
	}
	// Aᵀ as pair rows: at[q·mp + i] = (A[i][2q], A[i][2q+1]), zero past m, k
	atb := getBuf(kq * mp)
	defer putBuf(atb)
	at := (*atb)[:kq*mp]
	clear(at)
	rb := getBuf(kq)
	defer putBuf(rb)
	row := (*rb)[:kq]
	for i := 0; i < m; i++ {
		clear(row)
		kern.ConvertBF16(row, a[i*lda:i*lda+k], bf16Bits)
		for q, w := range row {
			at[q*mp+i] = w
		}
	}
	// B as bf16 values, two to a slot; the tiles read up to 32·kb values
	// from each tap's offset of each of np rows
	values := max(len(b), (np-1)*ldb+maxOff+2*kq)
	xb := getBuf((values + 1) / 2)
	defer putBuf(xb)
	x16 := (*xb)[:(values+1)/2]
	kern.ConvertBF16(x16, b, bf16Bits)
	if tail := len(b) / 2; tail < len(x16) { // values past b: zero
		if len(b)%2 == 1 {
			x16[tail] = math.Float32frombits(math.Float32bits(x16[tail]) & 0xffff)
			tail++
		}
		clear(x16[tail:])
	}
	kb := kq / amxPairs
	adj := make([]int, taps)
	for cb := 0; cb < np; cb += amxTile {
		for ti, o := range offs {
			adj[ti] = o + cb*ldb
		}
		for ob := 0; ob < mp; ob += amxTile {
			kern.AMXTapsNTBF16(taps, kb, x16, ldb, adj, at[ob:], mp, c[cb*mp+ob:], mp, np*mp)
		}
	}
}

func bf16Bits(f float32) uint16 { return uint16(BF16(f)) }
