package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// backendsUnderTest returns every backend compiled in, plus the Go backend
// forced onto each micro-kernel this CPU can run and onto 1 and 3 goroutines.
func backendsUnderTest(t testing.TB) map[string]Backend {
	t.Helper()
	bs := map[string]Backend{}
	for _, name := range Names() {
		b, err := Parse(name)
		if err != nil {
			t.Fatalf("Parse(%q): %v", name, err)
		}
		bs[name] = b
	}
	for _, k := range cpuKernels() {
		bs["go/"+k.name] = Go{kernel: k}
		bs["go/"+k.name+"/threads=3"] = Go{kernel: k, Threads: 3}
	}
	bs["go/threads=1"] = Go{Threads: 1}
	bs["go/threads=3"] = Go{Threads: 3}
	return bs
}

// matrix is a stored row-major matrix with a row stride ≥ its columns.
type matrix struct {
	rows, cols, ld int
	data           []float32
}

// newMatrix fills a rows×cols matrix with uniform values in [-1, 1); the
// padding columns past cols hold a sentinel that must never be read into a
// result or overwritten.
func newMatrix(rng *rand.Rand, rows, cols, pad int) matrix {
	ld := max(1, cols+pad)
	mt := matrix{rows: rows, cols: cols, ld: ld, data: make([]float32, max(0, (rows-1)*ld+cols))}
	for i := range mt.data {
		if i%ld < cols {
			mt.data[i] = 2*rng.Float32() - 1
		} else {
			mt.data[i] = 1e30
		}
	}
	return mt
}

func (mt matrix) at(i, j int) float64 { return float64(mt.data[i*mt.ld+j]) }

// refGemm computes alpha·op(A)·op(B) + beta·C in float64 and, per element,
// the magnitude bound |alpha|·Σ|a||b| + |beta·c| the rounding error scales with.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a, b matrix, beta float32, c matrix) (want, scale []float64) {
	want = make([]float64, m*n)
	scale = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				var av, bv float64
				if transA {
					av = a.at(p, i)
				} else {
					av = a.at(i, p)
				}
				if transB {
					bv = b.at(j, p)
				} else {
					bv = b.at(p, j)
				}
				s += av * bv
				abs += math.Abs(av * bv)
			}
			w := float64(alpha) * s
			sc := math.Abs(float64(alpha)) * abs
			if beta != 0 {
				w += float64(beta) * c.at(i, j)
				sc += math.Abs(float64(beta) * c.at(i, j))
			}
			want[i*n+j], scale[i*n+j] = w, sc
		}
	}
	return want, scale
}

type gemmCase struct {
	m, n, k          int
	alpha, beta      float32
	padA, padB, padC int  // extra columns in the row stride (0: tight)
	nanC             bool // fill C with NaN: beta 0 must not read it
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("m=%d,n=%d,k=%d,alpha=%g,beta=%g,pad=%d/%d/%d,nanC=%v",
		tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC, tc.nanC)
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	sizes := []int{1, 7, 33, 129}
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range sizes {
				cs = append(cs, gemmCase{m: m, n: n, k: k, alpha: 1, beta: 0})
			}
		}
	}
	cs = append(cs,
		gemmCase{m: 33, n: 65, k: 17, alpha: 0.5, beta: 1},
		gemmCase{m: 31, n: 47, k: 29, alpha: -2, beta: 0.25, padA: 3, padB: 5, padC: 7},
		gemmCase{m: 64, n: 96, k: 288, alpha: 1, beta: 0, nanC: true},
		gemmCase{m: 17, n: 9, k: 13, alpha: 0, beta: 2},
		gemmCase{m: 5, n: 6, k: 0, alpha: 1, beta: -1},
		gemmCase{m: 0, n: 6, k: 3, alpha: 1, beta: 1},
		gemmCase{m: 4, n: 0, k: 3, alpha: 1, beta: 1},
		// Large enough to run in parallel, with edges in every direction.
		gemmCase{m: 129, n: 257, k: 65, alpha: 1.5, beta: -0.5, padA: 1, padB: 2, padC: 3},
		// Several k blocks (kcMax is 320), beta 1 on later blocks.
		gemmCase{m: 40, n: 70, k: 700, alpha: 1, beta: 1},
		// Narrow C with long k: the split-k path (conv weight gradient).
		gemmCase{m: 9, n: 40, k: 3001, alpha: 0.75, beta: 0.5, padA: 2, padB: 1, padC: 1},
		gemmCase{m: 32, n: 288, k: 2000, alpha: 1, beta: 0, nanC: true},
		// Dot-product path with leftover rows and columns (row stride 0 in
		// the kernel) and a masked k tail.
		gemmCase{m: 7, n: 9, k: 1500, alpha: 1, beta: 0.5, padA: 3, padB: 2, padC: 1},
	)
	return cs
}

// TestSgemmAgreesWithFloat64 runs every backend on every case and every
// transpose combination and compares each element with a float64 reference
// to within the float32 rounding bound (k+2)·ε·(|alpha|·Σ|a·b| + |beta·c|).
// A wrong index, a dropped k block or a mis-merged edge tile gives errors of
// the order of the bound's scale itself, far above it.
func TestSgemmAgreesWithFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	backends := backendsUnderTest(t)
	for _, tc := range gemmCases() {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			transA, transB := tr[0], tr[1]
			aRows, aCols := tc.m, tc.k
			if transA {
				aRows, aCols = tc.k, tc.m
			}
			bRows, bCols := tc.k, tc.n
			if transB {
				bRows, bCols = tc.n, tc.k
			}
			a := newMatrix(rng, aRows, aCols, tc.padA)
			b := newMatrix(rng, bRows, bCols, tc.padB)
			c0 := newMatrix(rng, tc.m, tc.n, tc.padC)
			if tc.nanC {
				for i := range c0.data {
					if i%c0.ld < tc.n {
						c0.data[i] = float32(math.NaN())
					}
				}
			}
			want, scale := refGemm(transA, transB, tc.m, tc.n, tc.k, tc.alpha, a, b, tc.beta, c0)
			eps := float64(tc.k+2) * 0x1p-23
			for name, be := range backends {
				if name == "naive" && tc.m*tc.n*tc.k > 1<<20 {
					continue // the triple loop is too slow for the largest cases; it has the others
				}
				t.Run(fmt.Sprintf("%s/tA=%v,tB=%v/%s", name, transA, transB, tc), func(t *testing.T) {
					c := matrix{rows: c0.rows, cols: c0.cols, ld: c0.ld, data: append([]float32(nil), c0.data...)}
					be.Sgemm(transA, transB, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, b.data, b.ld, tc.beta, c.data, c.ld)
					bad := 0
					for i := range tc.m {
						for j := range tc.n {
							got := float64(c.data[i*c.ld+j])
							w := want[i*tc.n+j]
							if !(math.Abs(got-w) <= eps*scale[i*tc.n+j]+1e-30) {
								if bad < 5 {
									t.Errorf("C[%d][%d] = %g, want %g (tolerance %g)", i, j, got, w, eps*scale[i*tc.n+j])
								}
								bad++
							}
						}
					}
					if bad > 0 {
						t.Errorf("%d of %d elements wrong", bad, tc.m*tc.n)
					}
					for i := range c.data {
						if i%c.ld >= tc.n && c.data[i] != 1e30 {
							t.Fatalf("padding of C at %d overwritten: %g", i, c.data[i])
						}
					}
				})
			}
		}
	}
}

// TestSgemmPanicsOnBadArguments checks that every backend rejects bad shapes
// with a message that names the argument, before touching memory.
func TestSgemmPanicsOnBadArguments(t *testing.T) {
	buf := func(n int) []float32 { return make([]float32, n) }
	cases := []struct {
		name     string
		call     func(Backend)
		contains string
	}{
		{"A too short", func(be Backend) { be.Sgemm(false, false, 4, 4, 4, 1, buf(15), 4, buf(16), 4, 0, buf(16), 4) }, "slice A has 15 elements"},
		{"A too short transposed", func(be Backend) { be.Sgemm(true, false, 3, 4, 5, 1, buf(14), 3, buf(20), 4, 0, buf(12), 4) }, "slice A has 14 elements"},
		{"B too short", func(be Backend) { be.Sgemm(false, false, 4, 4, 4, 1, buf(16), 4, buf(10), 4, 0, buf(16), 4) }, "slice B has 10 elements"},
		{"B too short with stride", func(be Backend) { be.Sgemm(false, true, 2, 3, 4, 1, buf(8), 4, buf(13), 5, 0, buf(6), 3) }, "needs at least 14"},
		{"C too short", func(be Backend) { be.Sgemm(false, false, 4, 4, 4, 1, buf(16), 4, buf(16), 4, 0, buf(15), 4) }, "slice C has 15 elements"},
		{"lda too small", func(be Backend) { be.Sgemm(false, false, 4, 4, 4, 1, buf(16), 3, buf(16), 4, 0, buf(16), 4) }, "lda=3 is less than the 4 columns of A"},
		{"ldc too small", func(be Backend) { be.Sgemm(false, false, 2, 5, 1, 1, buf(2), 1, buf(5), 5, 0, buf(10), 4) }, "ldc=4"},
		{"negative size", func(be Backend) { be.Sgemm(false, false, -1, 4, 4, 1, buf(16), 4, buf(16), 4, 0, buf(16), 4) }, "negative size m=-1"},
	}
	for name, be := range backendsUnderTest(t) {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				defer func() {
					r := recover()
					msg, ok := r.(string)
					if !ok {
						t.Fatalf("want a panic with a string message, got %#v", r)
					}
					if !strings.Contains(msg, tc.contains) || !strings.Contains(msg, "gemm(") {
						t.Fatalf("panic %q does not contain %q", msg, tc.contains)
					}
				}()
				tc.call(be)
			})
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		in, want, errHas string
	}{
		{in: "", want: Default().Name()},
		{in: "auto", want: Default().Name()},
		{in: " Go ", want: "go"},
		{in: "naive", want: "naive"},
		{in: "gonum", want: "gonum"},
		{in: "cuda", errHas: `unknown gemm backend "cuda": choose one of`},
		{in: "go:generic-4x4", want: "go"},
		{in: "go:avx9", errHas: `gemm backend "go:avx9": this CPU's Go micro-kernels are`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			b, err := Parse(tc.in)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", tc.in, err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if b.Name() != tc.want {
				t.Fatalf("Parse(%q) = %s, want %s", tc.in, b.Name(), tc.want)
			}
			if kn, ok := strings.CutPrefix(tc.in, "go:"); ok && !strings.Contains(b.Info(), "kernel="+kn+" ") {
				t.Fatalf("Parse(%q).Info() = %q, want kernel=%s", tc.in, b.Info(), kn)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvVar, "naive")
	b, err := FromEnv()
	if err != nil || b.Name() != "naive" {
		t.Fatalf("FromEnv with %s=naive = %v, %v", EnvVar, b, err)
	}
	t.Setenv(EnvVar, "fast")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "SIAMBENCH_GEMM=fast") {
		t.Fatalf("FromEnv with a bad value: error %v should name the variable and value", err)
	}
}

func TestUseAndCurrent(t *testing.T) {
	prev := Current()
	t.Cleanup(func() { Use(prev) })
	Use(Naive{})
	if Current().Name() != "naive" {
		t.Fatalf("Current() = %s after Use(Naive{})", Current().Name())
	}
	Use(Go{Threads: 1})
	if got := Current().Info(); !strings.Contains(got, "threads=1") {
		t.Fatalf("Current().Info() = %q, want threads=1", got)
	}
}

func TestGoInfoNamesKernel(t *testing.T) {
	info := Go{Threads: 2}.Info()
	if !strings.Contains(info, "kernel="+cpuKernels()[0].name) || !strings.Contains(info, "threads=2") {
		t.Fatalf("Go.Info() = %q", info)
	}
}

// TestDotNTPathIsTaken pins which path the conv weight-gradient shapes take,
// so the agreement tests above really cover the dot-product kernel.
func TestDotNTPathIsTaken(t *testing.T) {
	cases := []struct {
		transA, transB bool
		m, n, k        int
		want           bool
	}{
		{false, true, 32, 288, 14112, true},
		{false, true, 9, 40, 3001, true},
		{false, true, 64, 288, 784, true},
		{false, true, 64, 576, 392, false},
		{false, true, 128, 128, 256, false},
		{false, true, 256, 256, 128, false},
		{false, false, 32, 288, 14112, false},
		{false, true, 1024, 1024, 1024, false},
		{true, true, 32, 288, 14112, false},
	}
	for _, tc := range cases {
		want := tc.want && dotNT() != nil
		if got := useNT(tc.transA, tc.transB, tc.m, tc.n, tc.k); got != want {
			t.Errorf("useNT(%v, %v, %d, %d, %d) = %v, want %v", tc.transA, tc.transB, tc.m, tc.n, tc.k, got, want)
		}
	}
}

// TestDotKernelsAgreeWithFloat64 runs C = alpha·A·Bᵀ + beta·C through every
// dot-product kernel this CPU has (not only the fastest, which Sgemm picks),
// with k tails of every length the masks handle, leftover rows and
// columns, and padded strides.
func TestDotKernelsAgreeWithFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []gemmCase{
		{m: 4, n: 4, k: 16, alpha: 1},
		{m: 5, n: 7, k: 1, alpha: 1, beta: 0.5},
		{m: 9, n: 6, k: 23, alpha: -1, beta: 1, padA: 1, padB: 3, padC: 2},
		{m: 32, n: 288, k: 784, alpha: 1},
		{m: 13, n: 11, k: 2051, alpha: 0.5, beta: -2, padA: 5, padB: 7, padC: 1},
	}
	for _, dk := range dotKernels() {
		for _, threads := range []int{1, 3} {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/threads=%d/%s", dk.Name, threads, tc), func(t *testing.T) {
					a := newMatrix(rng, tc.m, tc.k, tc.padA)
					b := newMatrix(rng, tc.n, tc.k, tc.padB)
					c := newMatrix(rng, tc.m, tc.n, tc.padC)
					want, scale := refGemm(false, true, tc.m, tc.n, tc.k, tc.alpha, a, b, tc.beta, c)
					gemmNT(dk.Fn, threads, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, b.data, b.ld, tc.beta, c.data, c.ld)
					eps := float64(tc.k+2) * 0x1p-23
					for i := range tc.m {
						for j := range tc.n {
							got, w := float64(c.data[i*c.ld+j]), want[i*tc.n+j]
							if !(math.Abs(got-w) <= eps*scale[i*tc.n+j]+1e-30) {
								t.Fatalf("C[%d][%d] = %g, want %g", i, j, got, w)
							}
						}
					}
				})
			}
		}
	}
}

func TestScratchBuffers(t *testing.T) {
	for _, n := range []int{1, 2, 3, 1000, 1024, 1025, 92160} {
		p := getBuf(n)
		if len(*p) != n || cap(*p) < n || cap(*p)&(cap(*p)-1) != 0 {
			t.Fatalf("getBuf(%d): len %d cap %d, want len %d and a power-of-two cap", n, len(*p), cap(*p), n)
		}
		putBuf(p)
		q := getBuf(n)
		if len(*q) != n {
			t.Fatalf("getBuf(%d) after putBuf: len %d", n, len(*q))
		}
		putBuf(q)
	}
}

// TestPackBT checks the transposed-B panel packing (the AVX-512 gather
// for 32-column panels, the AVX 8×8 transposes, the Go loops for the
// rest) against its definition, on every panel width up to 33 with k not
// a multiple of 8, and that nothing past the panel is written.
func TestPackBT(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, nr := range []int{16, 32} {
		for cols := 1; cols <= nr; cols++ {
			for _, kl := range []int{1, 7, 8, 13, 24, 61} {
				ldb := kl + 3
				base := 5
				b := make([]float32, base+cols*ldb)
				for i := range b {
					b[i] = float32(r.NormFloat64())
				}
				panel := make([]float32, kl*nr+4)
				for i := range panel {
					panel[i] = float32(math.NaN())
				}
				packBT(panel[:kl*nr], b, base, ldb, kl, cols, nr)
				for p := 0; p < kl; p++ {
					for j := 0; j < nr; j++ {
						want := float32(0)
						if j < cols {
							want = b[base+j*ldb+p]
						}
						if got := panel[p*nr+j]; got != want {
							t.Fatalf("nr=%d cols=%d kl=%d: panel[%d·%d+%d] = %v, want %v", nr, cols, kl, p, nr, j, got, want)
						}
					}
				}
				for i := kl * nr; i < len(panel); i++ {
					if panel[i] == panel[i] {
						t.Fatalf("nr=%d cols=%d kl=%d: wrote past the panel at %d", nr, cols, kl, i)
					}
				}
			}
		}
	}
}

// TestPackA6 checks packA's 6-row panels (the AVX2 kernel's; 8×8 AVX
// transposes where the CPU has them, else Go) against the definition
// for k on both sides of the 8-step blocks, ragged last panels included,
// and that nothing past the packed panels is written.
func TestPackA6(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, m := range []int{6, 12, 7} {
		for _, kl := range []int{1, 8, 9, 16, 17, 23, 64, 65} {
			lda, p0 := kl+5, 2
			a := make([]float32, m*lda)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			mp := ceilDiv(m, 6) * 6
			dst := make([]float32, mp*kl+3)
			for i := range dst {
				dst[i] = float32(math.NaN())
			}
			packA(dst[:mp*kl], false, a, lda, m, 6, p0, kl)
			for r0 := 0; r0 < mp; r0 += 6 {
				for p := 0; p < kl; p++ {
					for i := 0; i < 6; i++ {
						want := float32(0)
						if r0+i < m {
							want = a[(r0+i)*lda+p0+p]
						}
						if got := dst[r0*kl+p*6+i]; got != want {
							t.Fatalf("m=%d kl=%d: panel %d [%d·6+%d] = %v, want %v", m, kl, r0/6, p, i, got, want)
						}
					}
				}
			}
			for i := mp * kl; i < len(dst); i++ {
				if dst[i] == dst[i] {
					t.Fatalf("m=%d kl=%d: wrote past the panels at %d", m, kl, i)
				}
			}
		}
	}
}
