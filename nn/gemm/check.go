package gemm

import "fmt"

// checkArgs validates the shape arguments of an Sgemm call the way BLAS does
// (non-negative sizes, leading dimensions at least the stored row length and
// at least 1) and that each slice holds the last element it will be read or
// written at. It panics with a message naming the offending argument: these
// are programmer errors, like an index out of range, but the message says
// which matrix was wrong and how long it needed to be.
func checkArgs(backend string, transA, transB bool, m, n, k int, a []float32, lda int,
	b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm(%s): negative size m=%d n=%d k=%d", backend, m, n, k))
	}
	// Stored shapes, row-major: A is m×k (k×m when transA), B is k×n (n×k when transB).
	aRows, aCols := m, k
	if transA {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	checkMat(backend, "A", aRows, aCols, a, lda, "lda")
	checkMat(backend, "B", bRows, bCols, b, ldb, "ldb")
	checkMat(backend, "C", m, n, c, ldc, "ldc")
}

func checkMat(backend, name string, rows, cols int, s []float32, ld int, ldName string) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm(%s): %s=%d is less than the %d columns of %s as stored (%d×%d); pass the row stride of %s",
			backend, ldName, ld, cols, name, rows, cols, name))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("gemm(%s): slice %s has %d elements, but a %d×%d matrix with %s=%d needs at least %d",
			backend, name, len(s), rows, cols, ldName, ld, need))
	}
}
