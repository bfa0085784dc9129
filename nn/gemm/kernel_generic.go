package gemm

import (
	"sync"
	"unsafe"

	"github.com/siambench/siambench/nn/gemm/internal/kern"
)

// microKernel computes one mr×nr tile of C from a packed A panel and a B
// panel (see kern.Func):
//
//	C[i][j] = alpha·Σ_p a[p·mr+i]·b[p·ldb+j] + beta·C[i][j]
//
// for i < mr, j < nr, p < k, with C's rows ldc elements apart; ldb is nr for
// packed B. beta 0 means C is written without being read.
type microKernel struct {
	name   string
	mr, nr int
	fn     kern.Func
}

// kernelGeneric is the portable 4×4 kernel: sixteen scalar accumulators the
// compiler keeps in registers. It is the fallback on CPUs without AVX2/FMA and
// on other architectures.
var kernelGeneric = &microKernel{name: "generic-4x4", mr: 4, nr: 4, fn: kernGeneric4x4}

func kernGeneric4x4(k int, ap, bp *float32, ldb int, cp *float32, ldc int, alpha, beta float32) {
	a := unsafe.Slice(ap, 4*k)
	b := unsafe.Slice(bp, (k-1)*ldb+4)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		av := a[4*p : 4*p+4 : 4*p+4]
		bv := b[ldb*p : ldb*p+4 : ldb*p+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	c := unsafe.Slice(cp, 3*ldc+4)
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	for i := range 4 {
		row := c[i*ldc : i*ldc+4 : i*ldc+4]
		for j := range 4 {
			if beta == 0 {
				row[j] = alpha * acc[i][j]
			} else {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
		}
	}
}

// cpuKernels lists the kernels this CPU can run, fastest first, ending with
// the portable one. The first is the one Go{} runs.
var cpuKernels = sync.OnceValue(func() []*microKernel { return kernelsFor(kern.Detect()) })

// kernelsFor lists the kernels a CPU with features f runs, fastest first,
// ending with the portable one: AVX-512 (Intel and AMD) → avx512-8x32,
// AVX2+FMA only → avx2-6x16, neither → generic-4x4.
func kernelsFor(f kern.Features) []*microKernel {
	var ks []*microKernel
	for _, k := range kern.AvailableFor(f) {
		ks = append(ks, &microKernel{name: k.Name, mr: k.MR, nr: k.NR, fn: k.Fn})
	}
	return append(ks, kernelGeneric)
}
