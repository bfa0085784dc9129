// Package kern holds the assembly micro-kernels of the pure-Go GEMM backend
// (package gemm cannot hold Go assembly because it also uses cgo).
package kern

// Func computes one MR×NR tile of C from a packed A panel and a B panel:
//
//	C[i][j] = alpha·Σ_p a[p·MR+i]·b[p·ldb+j] + beta·C[i][j]
//
// for i < MR, j < NR, p < k, with C's rows ldc elements apart; ldb is NR for
// a packed B panel or B's row stride when B is read in place. beta 0 means C
// is written without being read.
type Func func(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// Kernel is one micro-kernel and its tile shape.
type Kernel struct {
	Name   string
	MR, NR int
	Fn     Func
}

// DotFunc is a 4×4 dot-product kernel (see DotNT4x4).
type DotFunc struct {
	Name string
	Fn   func(k int, a *float32, lda int, b *float32, ldb int, out *[16]float32)
}

// TapFunc computes one MR×NR tile of a sum of products over kernel taps:
//
//	C[i][j] = Σ_{t<taps} Σ_{p<k} a[(t·k+p)·MR+i]·b[offs[t]+p·ldb+j]
//
// (a packed tap by tap as k×MR panels; each tap's B read in place at its
// own offset; C's rows ldc apart, written without being read). taps, k ≥ 1;
// the caller checks the bounds.
type TapFunc func(taps, k int, a, b *float32, ldb int, offs *int, c *float32, ldc int)

// TapKernel is one tap kernel and its tile shape.
type TapKernel struct {
	Name   string
	MR, NR int
	Fn     TapFunc
	// Acc, where non-nil, is Fn adding its tile into C (C += …) instead
	// of writing it.
	Acc TapFunc
}

// Features are the instruction sets the kernels are written for. The zero
// value is a CPU with neither (the portable Go kernel only).
type Features struct {
	AVX512  bool // AVX-512 F: the 8×32 GEMM and 8×48 tap kernels
	AVX2FMA bool // AVX2 with FMA3: the 6×16 kernels
}
