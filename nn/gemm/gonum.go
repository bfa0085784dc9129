package gemm

import (
	"gonum.org/v1/gonum/blas"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
)

func init() { register("gonum", func() Backend { return Gonum{} }) }

// Gonum wraps gonum's native Go sgemm (gonum.org/v1/gonum/blas/gonum), the
// pure-Go baseline the Go backend is measured against. Gonum parallelises
// over GOMAXPROCS itself.
type Gonum struct{}

// Name returns "gonum".
func (Gonum) Name() string { return "gonum" }

// Info describes the implementation.
func (Gonum) Info() string { return "gonum.org/v1/gonum/blas/gonum native sgemm" }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with gonum. It panics,
// naming the argument, if a size is negative, a leading dimension is too
// small or a slice is too short.
func (Gonum) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs("gonum", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	gonumblas.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
