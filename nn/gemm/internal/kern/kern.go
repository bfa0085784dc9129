// Package kern holds the assembly micro-kernels of the pure-Go GEMM backend
// (package gemm cannot hold Go assembly because it also uses cgo).
package kern

// Func computes one MR×NR tile of C from packed panels:
//
//	C[i][j] = alpha·Σ_p a[p·MR+i]·b[p·NR+j] + beta·C[i][j]
//
// for i < MR, j < NR, p < k, with C's rows ldc elements apart. beta 0 means C
// is written without being read.
type Func func(k int, a, b, c *float32, ldc int, alpha, beta float32)

// Kernel is one micro-kernel and its tile shape.
type Kernel struct {
	Name   string
	MR, NR int
	Fn     Func
}
