package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmTapsAgreesWithFloat64 checks the fused tap product against a
// float64 sum of the per-tap products, on sizes that leave ragged tiles in
// both directions, with the padding of C and the slack of B poisoned with
// NaN: valid outputs must never read them, and only C's padding may change.
func TestSgemmTapsAgreesWithFloat64(t *testing.T) {
	if _, ok := TapsOf(Naive{}); ok {
		t.Fatal("TapsOf(Naive{}) reported a tap kernel")
	}
	if _, ok := TapsOf(Go{kernel: kernelGeneric}); ok {
		t.Fatal("TapsOf accepted a Go backend forced onto the generic micro-kernel")
	}
	for name, tp := range tapVariants(t) {
		t.Run(name, func(t *testing.T) { testSgemmTaps(t, tp) })
	}
}

// tapVariants returns the fused tap products of every micro-kernel this
// CPU runs that has one (AVX-512 8×32 and AVX2 6×16 on this project's
// machine), by kernel name.
func tapVariants(t *testing.T) map[string]Taps {
	vs := map[string]Taps{}
	for _, k := range cpuKernels() {
		if tp, ok := TapsOf(Go{kernel: k}); ok {
			vs[k.name] = tp
		}
	}
	if len(vs) == 0 {
		t.Logf("no fused tap kernel on this CPU (none without AVX2/FMA)")
	}
	if tp, ok := TapsOf(Go{}); ok && tp.(goTaps).kern != cpuKernels()[0] {
		t.Fatalf("TapsOf(Go{}) pairs its tap kernel with %s, not the default kernel %s", tp.(goTaps).kern.name, cpuKernels()[0].name)
	}
	return vs
}

func testSgemmTaps(t *testing.T, tp Taps) {
	mr, nr := tp.TapTile()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sz := range []struct{ m, n, k, taps, ldb int }{
		{8, 32, 1, 1, 32},
		{32, 840, 32, 9, 912},
		{64, 224, 64, 9, 272},
		{10, 45, 7, 3, 61},
		{3, 5, 2, 2, 9},
		{17, 100, 13, 25, 130},
		{16, 60, 300, 9, 70},  // k in blocks (tapBlocks): 3 of 100
		{9, 100, 161, 2, 110}, // just past the unblocked limit, ragged m
	} {
		m, n, k, taps, ldb := sz.m, sz.n, sz.k, sz.taps, sz.ldb
		mp, np := ceilDiv(m, mr)*mr, ceilDiv(n, nr)*nr
		offs := make([]int, taps)
		maxOff := 0
		for i := range offs {
			offs[i] = rng.IntN(3 * ldb / 2)
			maxOff = max(maxOff, offs[i])
		}
		a := make([]float32, taps*k*m) // A_t stored k×m
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		readable := maxOff + (k-1)*ldb + np
		b := make([]float32, readable)
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		// NaN wherever no valid output may look: B past each row's first
		// n columns is read only for C's padding columns, so poison the
		// slack after the last row of the furthest tap.
		for i := maxOff + (k-1)*ldb + n; i < readable; i++ {
			b[i] = float32(math.NaN())
		}
		ldc := np + 3
		c := make([]float32, (mp-1)*ldc+np+5)
		for i := range c {
			c[i] = float32(math.NaN())
		}
		packed := make([]float32, tp.PackedTapsLen(m, k, taps))
		tp.PackTaps(packed, a, m, k, taps)
		tp.SgemmTaps(packed, m, n, k, b, ldb, offs, c, ldc)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var want, scale float64
				for ti, o := range offs {
					for p := 0; p < k; p++ {
						v := float64(a[(ti*k+p)*m+i]) * float64(b[o+p*ldb+j])
						want += v
						scale += math.Abs(v)
					}
				}
				got := float64(c[i*ldc+j])
				if math.IsNaN(got) || math.Abs(got-want) > 1e-5*scale+1e-6 {
					t.Fatalf("m=%d n=%d k=%d taps=%d: C[%d][%d] = %v, want %v", m, n, k, taps, i, j, got, want)
				}
			}
		}
		// the gap between ldc-wide rows' tiles and the tail stay untouched
		for i := 0; i < mp; i++ {
			for j := np; j < ldc && i*ldc+j < len(c); j++ {
				if !math.IsNaN(float64(c[i*ldc+j])) {
					t.Fatalf("m=%d n=%d: C[%d][%d] (past the tiles) was written", m, n, i, j)
				}
			}
		}
	}
}

// TestSgemmTapsNTAgreesWithFloat64 checks the fused weight-gradient product
// against float64 sums, adding onto a C that already holds values, on
// sizes with ragged tiles and B rows that are not 32 apart.
func TestSgemmTapsNTAgreesWithFloat64(t *testing.T) {
	for name, tp := range tapVariants(t) {
		t.Run(name, func(t *testing.T) { testSgemmTapsNT(t, tp) })
	}
}

func testSgemmTapsNT(t *testing.T, tp Taps) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sz := range []struct{ m, n, k, taps, lda, ldb int }{
		{8, 32, 1, 1, 1, 5},
		{32, 32, 840, 9, 912, 912},
		{64, 64, 224, 9, 272, 272},
		{10, 45, 37, 3, 40, 61},
		{3, 5, 2, 2, 9, 9},
		{17, 33, 100, 25, 101, 130},
	} {
		m, n, k, taps, lda, ldb := sz.m, sz.n, sz.k, sz.taps, sz.lda, sz.ldb
		offs := make([]int, taps)
		hi := 0
		for i := range offs {
			offs[i] = 1 + rng.IntN(2*ldb)
			hi = max(hi, offs[i])
		}
		a := randSlice(rng, (m-1)*lda+k)
		b := randSlice(rng, hi+(n-1)*ldb+k)
		c := randSlice(rng, taps*m*n)
		c0 := append([]float32(nil), c...)
		tp.SgemmTapsNT(m, n, k, a, lda, b, ldb, offs, c)
		for ti, o := range offs {
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					want, scale := float64(c0[(ti*m+i)*n+j]), math.Abs(float64(c0[(ti*m+i)*n+j]))
					for p := 0; p < k; p++ {
						v := float64(a[i*lda+p]) * float64(b[o+j*ldb+p])
						want += v
						scale += math.Abs(v)
					}
					got := float64(c[(ti*m+i)*n+j])
					if math.Abs(got-want) > 1e-5*scale+1e-6 {
						t.Fatalf("m=%d n=%d k=%d taps=%d: C_%d[%d][%d] = %v, want %v", m, n, k, taps, ti, i, j, got, want)
					}
				}
			}
		}
	}
}

// TestSgemmTapsRejectsShortSlices: a buffer too short for the tiles is a
// panic that says what is needed, not a read past the end.
func TestSgemmTapsRejectsShortSlices(t *testing.T) {
	for name, tp := range tapVariants(t) {
		t.Run(name, func(t *testing.T) { testSgemmTapsRejects(t, tp) })
	}
}

func testSgemmTapsRejects(t *testing.T, tp Taps) {
	m, n, k := 8, 40, 4
	mr, nr := tp.TapTile()
	rowsC, colsC := (m+mr-1)/mr*mr, (n+nr-1)/nr*nr // C's tiles
	packed := make([]float32, tp.PackedTapsLen(m, k, 2))
	offs := []int{0, 1}
	const ld = 64
	lenB, lenC := 1+(k-1)*ld+colsC, (rowsC-1)*ld+colsC
	for name, f := range map[string]func(){
		"short B": func() {
			tp.SgemmTaps(packed, m, n, k, make([]float32, lenB-1), ld, offs, make([]float32, lenC), ld)
		},
		"short C": func() {
			tp.SgemmTaps(packed, m, n, k, make([]float32, lenB), ld, offs, make([]float32, lenC-1), ld)
		},
		"narrow ldc": func() {
			tp.SgemmTaps(packed, m, n, k, make([]float32, lenB), ld, offs, make([]float32, lenC+ld), colsC-1)
		},
		"short packed": func() {
			tp.SgemmTaps(packed[:len(packed)-1], m, n, k, make([]float32, lenB), ld, offs, make([]float32, lenC), ld)
		},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	for name, f := range map[string]func(){
		"NT short B": func() {
			tp.SgemmTapsNT(2, 3, 4, make([]float32, 8), 4, make([]float32, 2*4+4), 4, offs, make([]float32, 12))
		},
		"NT short A": func() {
			tp.SgemmTapsNT(2, 3, 4, make([]float32, 7), 4, make([]float32, 2*4+5), 4, offs, make([]float32, 12))
		},
		"NT short C": func() {
			tp.SgemmTapsNT(2, 3, 4, make([]float32, 8), 4, make([]float32, 2*4+5), 4, offs, make([]float32, 11))
		},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	tp.SgemmTapsNT(2, 3, 4, make([]float32, 8), 4, make([]float32, 2*4+5), 4, offs, make([]float32, 12))
	// and the exact sizes run
	tp.SgemmTaps(packed, m, n, k, make([]float32, lenB), ld, offs, make([]float32, lenC), ld)
}

// BenchmarkSgemmTaps times the reference network's two implicit
// convolutions per image on one goroutine (m = n of output channels, the
// 28×30 and 14×16 output grids, k = input channels, 9 taps): the fused
// tap product against one Sgemm per tap accumulating into C.
//
//	go test -run '^$' -bench SgemmTaps ./nn/gemm
func BenchmarkSgemmTaps(b *testing.B) {
	for _, sz := range []struct {
		name         string
		m, n, k, ldb int
		wp           int
	}{
		{"32x840x32", 32, 840, 32, 912, 30},
		{"64x224x64", 64, 224, 64, 272, 16},
	} {
		m, n, k, ldb := sz.m, sz.n, sz.k, sz.ldb
		offs := make([]int, 9)
		for t := range offs {
			offs[t] = (t/3)*sz.wp + t%3
		}
		rng := rand.New(rand.NewPCG(1, 2))
		a := randSlice(rng, 9*k*m)
		bb := randSlice(rng, k*ldb+64)
		flops := 2 * float64(m) * float64(n) * float64(k) * 9
		gflops := func(b *testing.B) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		for _, kn := range cpuKernels() {
			tp, ok := TapsOf(Go{kernel: kn})
			if !ok {
				continue
			}
			// the GEMM the fused products replace, on the same kernel (the
			// default backend's dW takes the dot-product kernel instead)
			be := Go{Threads: 1, kernel: kn}
			if kn == cpuKernels()[0] {
				be.kernel = nil
			}
			mr, nr := tp.TapTile()
			np := ceilDiv(n, nr) * nr
			c := make([]float32, ceilDiv(m, mr)*mr*np)
			b.Run(sz.name+"/"+kn.name+"/fused", func(b *testing.B) {
				packed := make([]float32, tp.PackedTapsLen(m, k, 9))
				tp.PackTaps(packed, a, m, k, 9)
				for b.Loop() {
					tp.SgemmTaps(packed, m, n, k, bb, ldb, offs, c, np)
				}
				gflops(b)
			})
			b.Run(sz.name+"/"+kn.name+"/per-tap", func(b *testing.B) {
				for b.Loop() {
					for t, o := range offs {
						beta := float32(1)
						if t == 0 {
							beta = 0
						}
						be.Sgemm(true, false, m, n, k, 1, a[t*k*m:], m, bb[o:], ldb, beta, c, np)
					}
				}
				gflops(b)
			})
			b.Run(sz.name+"/"+kn.name+"/dW-fused", func(b *testing.B) {
				dw := make([]float32, 9*m*k)
				for b.Loop() {
					tp.SgemmTapsNT(m, k, n, bb, ldb, bb, ldb, offs, dw)
				}
				gflops(b)
			})
			b.Run(sz.name+"/"+kn.name+"/dW-per-tap", func(b *testing.B) {
				dw := make([]float32, 9*m*k)
				for b.Loop() {
					for t, o := range offs {
						be.Sgemm(false, true, m, k, n, 1, bb, ldb, bb[o:], ldb, 1, dw[t*m*k:], k)
					}
				}
				gflops(b)
			})
		}
	}
}
