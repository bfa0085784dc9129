package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// rowSet is one set of assembly row kernels.
type rowSet struct {
	name        string
	affine      func(y, x *float32, n int, scale, shift float32, relu bool)
	shiftedSums func(x *float32, n int, shift float32, out *[32]float32)
	dySums      func(x, dy, mask *float32, n int, mu float32, out *[32]float32)
	bnDx        func(dx, x, dy, mask *float32, n int, c *[6]float32, fresh bool)
	addReLU     func(y, a, b *float32, n int)
	gateAdd     func(d, d2, dout, y *float32, n int, fresh, fresh2 bool)
	copyRows    func(dst, src *float32, rows, cols, dstStride, srcStride, zero int, add bool)
}

// rowSets lists the kernel sets this CPU runs: AVX-512 and AVX2 on an
// AVX-512 machine (the AVX2 set is what a CPU without AVX-512 gets), AVX2
// alone on one without. It fails the test on an amd64 CPU with neither
// (every x86-64 CPU sold since 2015 has AVX2).
func rowSets(t *testing.T) []rowSet {
	var s []rowSet
	if useAVX512 {
		s = append(s, rowSet{"avx512", affineAVX512, shiftedSumsAVX512, dySumsAVX512, bnDxAVX512, addReLUAVX512, gateAddAVX512, copyRowsAVX512})
	}
	if hasAVX2FMA {
		s = append(s, rowSet{"avx2", affineAVX2, shiftedSumsAVX2, dySumsAVX2, bnDxAVX2, addReLUAVX2, gateAddAVX2, copyRowsAVX2})
	}
	if len(s) == 0 && rowKernBuild {
		t.Fatal("no row kernels on this amd64 CPU: it has neither AVX-512 nor AVX2+FMA")
	}
	return s
}

// TestRowKernels checks each set of row kernels against the Go loops on
// every length up to 100 and unaligned starts: the elementwise ones bit
// for bit, the sums to float32 rounding; and the AVX2 sums' 16 lanes bit
// for bit against the AVX-512 ones where both run.
func TestRowKernels(t *testing.T) {
	sets := rowSets(t)
	if len(sets) == 0 && useRowKern {
		// a build without kernels (purego, not amd64) must run the Go loops
		t.Fatal("useRowKern is set but this build has no row kernels")
	}
	for _, k := range sets {
		t.Run(k.name, func(t *testing.T) { testRowKernels(t, k) })
	}
	if len(sets) == 2 {
		r := rand.New(rand.NewPCG(3, 4))
		for n := 16; n <= 160; n += 16 {
			x, dy, mask := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], dy[i], mask[i] = float32(r.NormFloat64()), float32(r.NormFloat64()), max(float32(r.NormFloat64()), 0)
			}
			var l0, l1 [32]float32
			sets[0].shiftedSums(&x[0], n, 0.25, &l0)
			sets[1].shiftedSums(&x[0], n, 0.25, &l1)
			if l0 != l1 {
				t.Errorf("shiftedSums n=%d: avx2 lanes %v, avx512 %v", n, l1, l0)
			}
			for _, mp := range []*float32{nil, &mask[0]} {
				sets[0].dySums(&x[0], &dy[0], mp, n, 0.1, &l0)
				sets[1].dySums(&x[0], &dy[0], mp, n, 0.1, &l1)
				if l0 != l1 {
					t.Errorf("dySums n=%d masked=%v: avx2 lanes %v, avx512 %v", n, mp != nil, l1, l0)
				}
			}
		}
	}
}

func testRowKernels(t *testing.T, k rowSet) {
	r := rand.New(rand.NewPCG(1, 2))
	vec := func(n int, relu bool) []float32 {
		v := make([]float32, n+1)
		for i := range v {
			v[i] = float32(r.NormFloat64())
			if relu { // a ReLU output: ≥ 0, half of it 0
				v[i] = max(v[i], 0)
			}
		}
		return v[1:] // unaligned
	}
	close := func(a, b float32, scale float64) bool {
		return math.Abs(float64(a-b)) <= 1e-5*scale
	}
	for n := 0; n <= 100; n++ {
		x, dy, mask := vec(n, false), vec(n, false), vec(n, true)
		v := n &^ 15
		for _, relu := range []bool{false, true} {
			y := vec(n, false)
			want := make([]float32, n)
			for i, xv := range x {
				want[i] = xv*0.7 - 0.3
				if relu {
					want[i] = max(want[i], 0)
				}
			}
			if v > 0 {
				k.affine(&y[0], &x[0], v, 0.7, -0.3, relu)
			}
			for i := 0; i < v; i++ {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) && !(want[i] != want[i] && y[i] != y[i]) {
					t.Fatalf("affine n=%d relu=%v [%d]: %v want %v", n, relu, i, y[i], want[i])
				}
			}
		}
		for _, two := range []bool{false, true} {
			for _, fresh := range []bool{false, true} {
				d, d2 := vec(n, false), vec(n, false)
				want, want2 := make([]float32, n), make([]float32, n)
				for i := range want {
					g := reluGate(dy[i], mask[i])
					want[i], want2[i] = d[i]+g, d2[i]+g
					if fresh {
						want[i], want2[i] = 0+g, 0+g
					}
				}
				var p2 *float32
				if two && n > 0 {
					p2 = &d2[0]
				}
				if v > 0 {
					k.gateAdd(&d[0], p2, &dy[0], &mask[0], v, fresh, fresh)
				}
				for i := 0; i < v; i++ {
					if d[i] != want[i] || (two && d2[i] != want2[i]) {
						t.Fatalf("gateAdd n=%d two=%v fresh=%v [%d]: %v %v want %v %v", n, two, fresh, i, d[i], d2[i], want[i], want2[i])
					}
				}
			}
		}
		if v > 0 {
			y := vec(n, false)
			b := vec(n, false)
			b[0] = float32(math.Copysign(0, -1))
			x[0] = float32(math.Copysign(0, -1)) // −0 + −0 = −0: max gives +0
			b[1] = float32(math.NaN())
			k.addReLU(&y[0], &x[0], &b[0], v)
			for i := 0; i < v; i++ {
				w := max(x[i]+b[i], 0)
				if math.Float32bits(y[i]) != math.Float32bits(w) {
					t.Fatalf("addReLU n=%d [%d]: %v (%#x) want %v (%#x)", n, i, y[i], math.Float32bits(y[i]), w, math.Float32bits(w))
				}
			}
			x[0] = float32(r.NormFloat64())
		}
		if v > 0 {
			var l [32]float32
			k.shiftedSums(&x[0], v, 0.25, &l)
			s, q := sumLanes(&l)
			ws, wq := shiftedSumsGo(x[:v], 0.25)
			if !close(s, ws, float64(n)) || !close(q, wq, float64(n)) {
				t.Errorf("shiftedSums n=%d: %v %v want %v %v", n, s, q, ws, wq)
			}
			k.dySums(&x[0], &dy[0], nil, v, 0.1, &l)
			a, b := sumLanes(&l)
			wa, wb := dySumsGo(x[:v], dy[:v], 0.1)
			if !close(a, wa, float64(n)) || !close(b, wb, float64(n)) {
				t.Errorf("dySums n=%d: %v %v want %v %v", n, a, b, wa, wb)
			}
			k.dySums(&x[0], &dy[0], &mask[0], v, 0.1, &l)
			a, b = sumLanes(&l)
			wa, wb = dySumsMaskedGo(x[:v], dy[:v], mask[:v], 0.1)
			if !close(a, wa, float64(n)) || !close(b, wb, float64(n)) {
				t.Errorf("dySumsMasked n=%d: %v %v want %v %v", n, a, b, wa, wb)
			}
		}
		// the wrappers: kernel body plus Go tail
		s, q := shiftedSums(x, 0.25)
		ws, wq := shiftedSumsGo(x, 0.25)
		if !close(s, ws, float64(n)) || !close(q, wq, float64(n)) {
			t.Errorf("shiftedSums n=%d: %v %v want %v %v", n, s, q, ws, wq)
		}
		a, b := dySumsMasked(x, dy, mask, 0.1)
		wa, wb := dySumsMaskedGo(x, dy, mask, 0.1)
		if !close(a, wa, float64(n)) || !close(b, wb, float64(n)) {
			t.Errorf("dySumsMasked n=%d: %v %v want %v %v", n, a, b, wa, wb)
		}
		for _, masked := range []bool{false, true} {
			for _, fresh := range []bool{false, true} {
				dx := vec(n, false)
				want := make([]float32, n)
				c := [6]float32{0.1, 1.3, 0.02, 50, 0.4, -0.6}
				for i := range want {
					g := dy[i]
					if masked {
						g = reluGate(g, mask[i])
					}
					xhat := (x[i] - c[0]) * c[1]
					base := dx[i]
					if fresh {
						base = 0
					}
					want[i] = base + c[2]*(c[3]*g-c[4]-xhat*c[5])
				}
				var mp *float32
				if masked && n > 0 {
					mp = &mask[0]
				}
				if v > 0 {
					k.bnDx(&dx[0], &x[0], &dy[0], mp, v, &c, fresh)
				}
				for i := 0; i < v; i++ {
					if dx[i] != want[i] {
						t.Fatalf("bnDx n=%d masked=%v fresh=%v [%d]: %v want %v", n, masked, fresh, i, dx[i], want[i])
					}
				}
			}
		}
	}
}

// TestGather2 checks the stride-2 gather (gather2Rows: the AVX-512 kernel
// where the CPU has it, else the Go loop) on row lengths across several
// 16-float chunks, with guard values around the destination rows.
func TestGather2(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for rows := 1; rows <= 3; rows++ {
			ss, ds := 2*n+3, n+2
			src := make([]float32, (rows-1)*ss+2*(n-1)+1) // exactly what is read
			for i := range src {
				src[i] = float32(i + 1)
			}
			dst := make([]float32, rows*ds)
			for i := range dst {
				dst[i] = -1
			}
			gather2Rows(dst, src, rows, n, ds, ss)
			for r := 0; r < rows; r++ {
				for j := 0; j < ds; j++ {
					want := float32(-1)
					if j < n {
						want = src[r*ss+2*j]
					}
					if dst[r*ds+j] != want {
						t.Fatalf("n=%d rows=%d dst[%d][%d] = %v, want %v", n, rows, r, j, dst[r*ds+j], want)
					}
				}
			}
		}
	}
}

// TestScatterAdd2 checks the stride-2 scatter-add (scatterAdd2Rows,
// gather2's adjoint; AVX-512 where the CPU has it) on row lengths across
// several chunks: odd and out-of-row entries untouched.
func TestScatterAdd2(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for rows := 1; rows <= 3; rows++ {
			ds, ss := 2*n+3, n+2
			dst := make([]float32, (rows-1)*ds+2*(n-1)+1) // exactly what is written
			want := make([]float32, len(dst))
			for i := range dst {
				dst[i] = float32(i) * 0.5
				want[i] = dst[i]
			}
			src := make([]float32, (rows-1)*ss+n)
			for i := range src {
				src[i] = float32(i + 1)
			}
			for r := 0; r < rows; r++ {
				for j := 0; j < n; j++ {
					want[r*ds+2*j] += src[r*ss+j]
				}
			}
			scatterAdd2Rows(dst, src, rows, n, ds, ss)
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d rows=%d dst[%d] = %v, want %v", n, rows, i, dst[i], want[i])
				}
			}
		}
	}
}

// TestCopyRows checks the strided row copy (copyRows, the pad/unpad of
// the implicit-GEMM convolution: the AVX-512 kernel where the CPU has it,
// else the Go loop) against a plain loop: every width up to 40, 1-3 rows,
// 0-16 trailing zeros, copy and add, and that nothing outside the rows and
// their zero runs is touched (sentinels around them).
func TestCopyRows(t *testing.T) {
	impls := map[string]func(dst, src []float32, rows, cols, dstStride, srcStride, zero int, add bool){"copyRows": copyRows}
	for _, k := range rowSets(t) {
		impls[k.name] = func(dst, src []float32, rows, cols, dstStride, srcStride, zero int, add bool) {
			k.copyRows(&dst[0], &src[0], rows, cols, dstStride, srcStride, zero, add)
		}
	}
	for name, copyRows := range impls {
		t.Run(name, func(t *testing.T) { testCopyRows(t, copyRows) })
	}
}

func testCopyRows(t *testing.T, copyRows func(dst, src []float32, rows, cols, dstStride, srcStride, zero int, add bool)) {
	for cols := 1; cols <= 40; cols++ {
		for rows := 1; rows <= 3; rows++ {
			for _, zero := range []int{0, 1, 2, 6, 16} {
				for _, add := range []bool{false, true} {
					ds, ss := cols+zero+3, cols+5
					n := (rows-1)*ds + cols + zero
					dst := make([]float32, n+20) // 20 sentinels past the end
					for i := range dst {
						dst[i] = float32(i)*0.25 - 7
					}
					want := append([]float32(nil), dst...)
					src := make([]float32, (rows-1)*ss+cols)
					for i := range src {
						src[i] = float32(i+1) * 1.5
					}
					for r := 0; r < rows; r++ {
						for j := 0; j < cols; j++ {
							if add {
								want[r*ds+j] += src[r*ss+j]
							} else {
								want[r*ds+j] = src[r*ss+j]
							}
						}
						for j := 0; j < zero; j++ {
							want[r*ds+cols+j] = 0
						}
					}
					copyRows(dst, src, rows, cols, ds, ss, zero, add)
					for i := range dst {
						if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
							t.Fatalf("cols=%d rows=%d zero=%d add=%v: dst[%d] = %v, want %v", cols, rows, zero, add, i, dst[i], want[i])
						}
					}
				}
			}
		}
	}
}
