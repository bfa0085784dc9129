package gemm

import (
	"sync"

	"github.com/siambench/siambench/nn/gemm/internal/kern"
)

// dotNT is the AVX-512 4×4 dot-product kernel (nil without AVX-512).
var dotNT = sync.OnceValue(kern.DotNT4x4)

// kcNT is the k block of gemmNT: four rows of A (16 KiB) stay in L1 and
// kcNT·n floats of B in L2 while the kernel sweeps the columns of C.
const kcNT = 1024

// useNT reports whether C = alpha·A·Bᵀ + beta·C (A m×k, B n×k, both read
// along k) should run on the dot-product kernel instead of packing: when k
// is long next to m and n (a convolution's weight gradient, k = N·H·W), the
// packing path would spend most of its time transposing B.
func useNT(transA, transB bool, m, n, k int) bool {
	return transB && !transA && dotNT() != nil && k >= 512 && k >= 2*max(m, n)
}

// gemmNT computes C = alpha·A·Bᵀ + beta·C with A stored m×k and B stored
// n×k, as 4×4 tiles of dot products accumulated in float32 per k block.
// Columns of C are split over the workers.
func gemmNT(threads, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	dot := dotNT()
	acc := make([]float32, m*n) // Σ over k, row-major m×n
	k16 := k &^ 15
	jTiles := (n + 3) / 4
	workers := max(1, min(threads, jTiles))
	var wg sync.WaitGroup
	for w := range workers {
		j0, j1 := 4*(w*jTiles/workers), min(n, 4*((w+1)*jTiles/workers))
		wg.Go(func() {
			var out [16]float32
			for p0 := 0; p0 < k16; p0 += kcNT {
				kl := min(kcNT, k16-p0)
				for i := 0; i+4 <= m; i += 4 {
					for j := j0; j+4 <= j1; j += 4 {
						dot(kl, &a[i*lda+p0], lda, &b[j*ldb+p0], ldb, &out)
						for ii := range 4 {
							row := acc[(i+ii)*n+j : (i+ii)*n+j+4]
							for jj := range 4 {
								row[jj] += out[4*ii+jj]
							}
						}
					}
				}
			}
			// What the tiles left: the k tail past k16, and the rows and
			// columns past the last full 4×4 tile, as scalar dot products.
			mFull, jFull := m&^3, j0+(j1-j0)&^3
			for i := range m {
				for j := j0; j < j1; j++ {
					start := k16
					if i >= mFull || j >= jFull {
						start = 0
					}
					ar, br := a[i*lda+start:i*lda+k], b[j*ldb+start:j*ldb+k]
					br = br[:len(ar)]
					var s float32
					for p, v := range ar {
						s += v * br[p]
					}
					acc[i*n+j] += s
				}
			}
		})
	}
	wg.Wait()
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		arow := acc[i*n : i*n+n]
		for j, v := range arow {
			if beta == 0 {
				crow[j] = alpha * v
			} else {
				crow[j] = alpha*v + beta*crow[j]
			}
		}
	}
}
