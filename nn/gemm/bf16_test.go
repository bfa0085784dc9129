package gemm

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/cpu"
)

func TestBF16Rounding(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint32
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{1 + 1.0/256, 0x3f80},             // a tie: to the even neighbour below
		{1 + 3.0/256, 0x3f82},             // a tie: to the even neighbour above
		{1 + 1.0/256 + 1.0/65536, 0x3f81}, // just past the tie: up
		{float32(math.Inf(1)), 0x7f80},
		{math.MaxFloat32, 0x7f80}, // rounds up to +Inf, as a cast in PyTorch does
	} {
		if got := BF16(c.f); got != c.want {
			t.Errorf("BF16(%v) = %#x, want %#x", c.f, got, c.want)
		}
	}
	if got := FromBF16(BF16(float32(math.NaN()))); !math.IsNaN(float64(got)) {
		t.Errorf("BF16(NaN) came back as %v", got)
	}
	if got := FromBF16(BF16(3.140625)); got != 3.140625 {
		t.Errorf("a bf16 value did not round-trip: %v", got)
	}
}

// TestBF16PairsExact checks the pair words (the AVX-512 conversion and its
// Go tail) bit for bit against BF16 on values that include ties, with a
// ragged last row and an odd k.
func TestBF16PairsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	k, ld := 5, 37
	src := make([]float32, (k-1)*ld+45)
	for i := range src {
		switch i % 3 {
		case 0:
			src[i] = float32(rng.NormFloat64())
		case 1: // exactly halfway between two bf16 values
			src[i] = math.Float32frombits(uint32(rng.Uint32()&0x3fff0000) | 0x8000)
		default:
			src[i] = math.Float32frombits(uint32(rng.Uint32()&0x3fff0000) | 0x7fff)
		}
	}
	dst := make([]float32, BF16PairsLen(len(src), k, ld))
	for i := range dst {
		dst[i] = float32(math.NaN())
	}
	BF16Pairs(dst, src, k, ld)
	val := func(i int) float32 {
		if i < (k-1)*ld+45 && i/ld < k {
			return src[i]
		}
		return 0
	}
	for r := 0; r < pairRows(k); r++ {
		n := ld
		if r == pairRows(k)-1 {
			n = len(src) - (k-1)*ld
		}
		for q := 0; q < n; q++ {
			var lo, hi float32
			if 2*r < k {
				lo = val(2*r*ld + q)
			}
			if 2*r+1 < k {
				hi = val((2*r+1)*ld + q)
			}
			want := BF16(lo) | BF16(hi)<<16
			if got := math.Float32bits(dst[r*ld+q]); got != want {
				t.Fatalf("pair row %d column %d: %#08x, want %#08x (from %g, %g)", r, q, got, want, lo, hi)
			}
		}
	}
}

// TestBF16TapsAgreesWithFloat64 checks the bf16 tap product against a
// float64 sum of the products of the bf16-rounded operands (exact in
// float32, so only the order of the float32 sums differs), with odd k (a
// zero half in the last pair), k in blocks, ragged tiles, and C's padding
// untouched.
func TestBF16TapsAgreesWithFloat64(t *testing.T) {
	tp, err := BF16TapsOf(Go{})
	if err != nil {
		if cpu.X86.HasAMXBF16 {
			t.Fatalf("the CPU has AMX-BF16 but BF16TapsOf(Go{}) refused: %v", err)
		}
		t.Skipf("no AMX on this CPU: %v", err)
	}
	if _, err := BF16TapsOf(Naive{}); err == nil || !strings.Contains(err.Error(), "Go backend") {
		t.Fatalf("BF16TapsOf(Naive{}): want an error naming the Go backend, got %v", err)
	}
	mr, nr := tp.TapTile()
	rng := rand.New(rand.NewPCG(17, 18))
	round := func(f float32) float64 { return float64(FromBF16(BF16(f))) }
	for _, sz := range []struct{ m, n, k, taps, ldb int }{
		{8, 48, 2, 1, 48},
		{32, 840, 32, 9, 912},
		{10, 45, 7, 3, 61},   // odd k
		{3, 5, 1, 2, 9},      // one row: a pair with a zero half
		{16, 60, 331, 9, 70}, // 166 pairs: blocks of k
	} {
		m, n, k, taps, ldb := sz.m, sz.n, sz.k, sz.taps, sz.ldb
		mp, np := ceilDiv(m, mr)*mr, ceilDiv(n, nr)*nr
		offs := make([]int, taps)
		maxOff := 0
		for i := range offs {
			offs[i] = rng.IntN(ldb - n + 1) // a pair row holds one row of columns
			maxOff = max(maxOff, offs[i])
		}
		a := make([]float32, taps*k*m)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		b := make([]float32, maxOff+(k-1)*ldb+np)
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		bp := make([]float32, BF16PairsLen(len(b), k, ldb))
		BF16Pairs(bp, b, k, ldb)
		ldc := np + 3
		c := make([]float32, (mp-1)*ldc+np+5)
		for i := range c {
			c[i] = float32(math.NaN())
		}
		packed := make([]float32, tp.PackedTapsLen(m, k, taps))
		tp.PackTaps(packed, a, m, k, taps)
		tp.SgemmTaps(packed, m, n, k, bp, ldb, offs, c, ldc)
		var worstFP32 float64 // how far the fp32 product is: bf16 must be visibly different
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var want, exact, scale float64
				for ti, o := range offs {
					for p := 0; p < k; p++ {
						av, bv := a[(ti*k+p)*m+i], b[o+p*ldb+j]
						want += round(av) * round(bv)
						exact += float64(av) * float64(bv)
						scale += math.Abs(float64(av) * float64(bv))
					}
				}
				got := float64(c[i*ldc+j])
				if math.IsNaN(got) || math.Abs(got-want) > 1e-5*scale+1e-6 {
					t.Fatalf("m=%d n=%d k=%d taps=%d: C[%d][%d] = %v, want %v (bf16 operands)", m, n, k, taps, i, j, got, want)
				}
				worstFP32 = max(worstFP32, math.Abs(got-exact)/scale)
			}
		}
		if worstFP32 < 1e-4 {
			t.Fatalf("m=%d n=%d k=%d: the product is within %g of fp32's: were the operands rounded to bf16?", m, n, k, worstFP32)
		}
		for i := 0; i < mp; i++ {
			for j := np; j < ldc && i*ldc+j < len(c); j++ {
				if !math.IsNaN(float64(c[i*ldc+j])) {
					t.Fatalf("m=%d n=%d: C[%d][%d] (past the tiles) was written", m, n, i, j)
				}
			}
		}
	}
}

// BenchmarkTapsBF16 times the fp32 tap product and the AMX bf16 one
// (with and without converting B, which a convolution pays per image) on
// one image of ResNet-18-CIFAR's first stage (64 channels, 32×32, 3×3) and
// on a stack of four 8×8 images at 256 channels, one core.
func BenchmarkTapsBF16(b *testing.B) {
	fp, ok := TapsOf(Go{})
	bf, err := BF16TapsOf(Go{})
	if !ok || err != nil {
		b.Skip("no fp32 or bf16 tap kernel here")
	}
	for _, sz := range []struct {
		name           string
		m, k, n, wp, h int
	}{{"64ch-32x32", 64, 64, 32 * 34, 34, 34}, {"256ch-8x8x4", 256, 256, 4 * 9 * 9, 9, 37}} {
		offs := make([]int, 9)
		for t := range offs {
			offs[t] = (t/3)*sz.wp + t%3
		}
		ld := (sz.n + 95) / 96 * 96 // both tiles
		stride := sz.h*sz.wp + ld
		src := make([]float32, sz.k*stride+ld)
		for i := range src {
			src[i] = float32(i%7) - 3
		}
		a := make([]float32, 9*sz.k*sz.m)
		for i := range a {
			a[i] = float32(i%5) - 2
		}
		c := make([]float32, sz.m*ld)
		flops := float64(2 * 9 * sz.m * sz.k * sz.n)
		b.Run(sz.name+"/fp32", func(b *testing.B) {
			packed := make([]float32, fp.PackedTapsLen(sz.m, sz.k, 9))
			fp.PackTaps(packed, a, sz.m, sz.k, 9)
			for b.Loop() {
				fp.SgemmTaps(packed, sz.m, sz.n, sz.k, src, stride, offs, c, ld)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		packed := make([]float32, bf.PackedTapsLen(sz.m, sz.k, 9))
		bf.PackTaps(packed, a, sz.m, sz.k, 9)
		pairs := make([]float32, BF16PairsLen(len(src), sz.k, stride))
		BF16Pairs(pairs, src, sz.k, stride)
		for _, conv := range []bool{false, true} {
			name := sz.name + "/amx-bf16"
			if conv {
				name += "+pairs"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					if conv {
						BF16Pairs(pairs, src, sz.k, stride)
					}
					bf.SgemmTaps(packed, sz.m, sz.n, sz.k, pairs, stride, offs, c, ld)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestBF16TapsNTAgreesWithFloat64 checks the weight-gradient product on
// AMX against float64 sums of the bf16-rounded operands, added onto a C
// that already holds values, with odd offsets (pairs straddling the
// alignment), odd k and sizes that are not multiples of 32.
func TestBF16TapsNTAgreesWithFloat64(t *testing.T) {
	tp, err := BF16TapsOf(Go{})
	if err != nil {
		if cpu.X86.HasAMXBF16 {
			t.Fatalf("the CPU has AMX-BF16 but BF16TapsOf(Go{}) refused: %v", err)
		}
		t.Skipf("no AMX on this CPU: %v", err)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	round := func(f float32) float64 { return float64(FromBF16(BF16(f))) }
	for _, sz := range []struct{ m, n, k, taps, lda, ldb int }{
		{32, 32, 32, 1, 32, 33},
		{64, 64, 1088, 9, 1090, 1190},
		{10, 45, 37, 3, 40, 61},
		{3, 5, 1, 2, 9, 9},
		{40, 33, 100, 25, 101, 131},
	} {
		m, n, k, taps, lda, ldb := sz.m, sz.n, sz.k, sz.taps, sz.lda, sz.ldb
		offs := make([]int, taps)
		hi := 0
		for i := range offs {
			offs[i] = 1 + rng.IntN(2*ldb)
			hi = max(hi, offs[i])
		}
		a := make([]float32, (m-1)*lda+k)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		b := make([]float32, hi+(n-1)*ldb+k)
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		mp, np := ceilDiv(m, 32)*32, ceilDiv(n, 32)*32
		c := make([]float32, tp.TapsNTLen(m, n, taps))
		for i := range c {
			c[i] = float32(rng.NormFloat64())
		}
		c0 := append([]float32(nil), c...)
		tp.SgemmTapsNT(m, n, k, a, lda, b, ldb, offs, c)
		for ti, o := range offs {
			for j := 0; j < n; j++ {
				for i := 0; i < m; i++ {
					want, scale := float64(c0[ti*np*mp+j*mp+i]), 1.0
					for p := 0; p < k; p++ {
						v := round(a[i*lda+p]) * round(b[o+j*ldb+p])
						want += v
						scale += math.Abs(v)
					}
					got := float64(c[ti*np*mp+j*mp+i])
					if math.IsNaN(got) || math.Abs(got-want) > 1e-5*scale {
						t.Fatalf("m=%d n=%d k=%d: C_%d[%d][%d] = %v, want %v", m, n, k, ti, j, i, got, want)
					}
				}
			}
		}
	}
}
