package nn

import "github.com/siambench/siambench/nn/gemm"

// MatMul returns op(a)·op(b) for 2-D tensors, where op transposes when the
// flag is set: a is (M,K) or, with transA, (K,M); b is (K,N) or, with
// transB, (N,K); the result is (M,N). Every product runs on gemm.Current().
func MatMul(a, b *Tensor, transA, transB bool) *Tensor {
	if len(a.shape) != 2 || len(b.shape) != 2 {
		panic(shapeErrorf("MatMul", [][]int{a.shape, b.shape}, "both operands must be 2-D"))
	}
	m, k := a.shape[0], a.shape[1]
	if transA {
		m, k = k, m
	}
	k2, n := b.shape[0], b.shape[1]
	if transB {
		k2, n = n, k2
	}
	if k != k2 {
		panic(shapeErrorf("MatMul", [][]int{a.shape, b.shape}, "inner dimensions differ: %d vs %d (transA=%v, transB=%v)", k, k2, transA, transB))
	}
	lda, ldb := a.shape[1], b.shape[1]
	out := zeroed(m, n)
	be := gemm.Current()
	if m > 0 && n > 0 && k > 0 {
		be.Sgemm(transA, transB, m, n, k, 1, a.Data, lda, b.Data, ldb, 0, out.Data, n)
	}
	return record(out, "MatMul", func(dout []float32) {
		if m == 0 || n == 0 || k == 0 {
			return
		}
		be := gemm.Current()
		// C = op(A)·op(B):  dop(A) = dC·op(B)ᵀ,  dop(B) = op(A)ᵀ·dC.
		if da := gradOf(a); da != nil {
			if !transA { // dA (M,K) = dC (M,N) · op(B)ᵀ
				be.Sgemm(false, !transB, m, k, n, 1, dout, n, b.Data, ldb, 1, da, lda)
			} else { // dA (K,M) = op(B) · dCᵀ
				be.Sgemm(transB, true, k, m, n, 1, b.Data, ldb, dout, n, 1, da, lda)
			}
		}
		if db := gradOf(b); db != nil {
			if !transB { // dB (K,N) = op(A)ᵀ · dC
				be.Sgemm(!transA, false, k, n, m, 1, a.Data, lda, dout, n, 1, db, ldb)
			} else { // dB (N,K) = dCᵀ · op(A)
				be.Sgemm(true, transA, n, k, m, 1, dout, n, a.Data, lda, 1, db, ldb)
			}
		}
	}, a, b)
}
