package gemm

import (
	"sync"
	"sync/atomic"

	"github.com/siambench/siambench/nn/gemm/internal/kern"
)

// dotKernels lists the 4×4 dot-product kernels this CPU can run, fastest
// first (AVX-512, AVX2).
var dotKernels = sync.OnceValue(kern.DotNT4x4)

// dotFn is the signature of a 4×4 dot-product kernel (see kern.DotNT4x4).
type dotFn = func(k int, a *float32, lda int, b *float32, ldb int, out *[16]float32)

// dotNT returns the fastest dot-product kernel, or nil when there is none.
func dotNT() dotFn {
	if ks := dotKernels(); len(ks) > 0 {
		return ks[0].Fn
	}
	return nil
}

// kcNT is the k block of gemmNT: four rows of A (16 KiB) stay in L1 and
// kcNT·n floats of B in L2 while the kernel sweeps the columns of C.
const kcNT = 1024

// useNT reports whether C = alpha·A·Bᵀ + beta·C (A m×k, B n×k, both read
// along k) should run on the dot-product kernel instead of packing. Packing
// transposes (m+n)·k floats, about 0.4 ns each; the dot-product kernel runs
// about 15% slower per FLOP and pays about 2.5 ns per element of C for its
// horizontal sums. Costs in ns, fitted to one-thread measurements on the
// development machine (best of 5, GFLOP/s dot-product vs packed): 32×288×784
// 62 vs 37, 64×288×784 63 vs 50, 32×9×29008 38 vs 4; but 64×576×392 43 vs
// 51, 128×128×256 37 vs 57, 1024³ 34 vs 71. A convolution's weight gradient
// with k = images·pixels ≫ m, n takes the dot-product path.
func useNT(transA, transB bool, m, n, k int) bool {
	if !transB || transA || dotNT() == nil {
		return false
	}
	fm, fn, fk := float64(m), float64(n), float64(k)
	return 0.004*fm*fn*fk+2.5*fm*fn < 0.4*(fm+fn)*fk
}

// gemmNT computes C = alpha·A·Bᵀ + beta·C with A stored m×k and B stored
// n×k, as 4×4 tiles of dot products accumulated in float32 per k block.
// Column chunks of C are shared out to the workers.
func gemmNT(dot dotFn, threads, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	accp := getBuf(m * n) // Σ over k, row-major m×n
	defer putBuf(accp)
	acc := *accp
	clear(acc)
	// Tasks are column chunks of C (a multiple of 4 wide, about four per
	// worker) taken from a counter, so a worker whose core is busy with
	// something else does not hold the others up.
	jTiles := (n + 3) / 4
	workers := max(1, min(threads, jTiles))
	chunk := 4 * ceilDiv(jTiles, 4*workers)
	tasks := ceilDiv(n, chunk)
	rows := ntGroups(0, m)
	run := func(task int) {
		j0, j1 := task*chunk, min(n, (task+1)*chunk)
		cols := ntGroups(j0, j1)
		var out [16]float32
		for p0 := 0; p0 < k; p0 += kcNT {
			kl := min(kcNT, k-p0)
			for _, rg := range rows {
				for _, cg := range cols {
					dot(kl, &a[rg.start*lda+p0], rg.stride(lda), &b[cg.start*ldb+p0], cg.stride(ldb), &out)
					for ii := range rg.count {
						row := acc[(rg.start+ii)*n+cg.start : (rg.start+ii)*n+cg.start+cg.count]
						for jj := range row {
							row[jj] += out[4*ii+jj]
						}
					}
				}
			}
		}
	}
	if workers == 1 {
		for t := range tasks {
			run(t)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for t := int(next.Add(1) - 1); t < tasks; t = int(next.Add(1) - 1) {
					run(t)
				}
			})
		}
		wg.Wait()
	}
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

// ntGroup is four consecutive rows starting at start, or (count 1) a single
// leftover row that the kernel reads four times (row stride 0).
type ntGroup struct{ start, count int }

func (g ntGroup) stride(ld int) int {
	if g.count == 1 {
		return 0
	}
	return ld
}

// ntGroups covers rows [lo, hi) with groups of four and single leftovers.
func ntGroups(lo, hi int) []ntGroup {
	var gs []ntGroup
	i := lo
	for ; i+4 <= hi; i += 4 {
		gs = append(gs, ntGroup{i, 4})
	}
	for ; i < hi; i++ {
		gs = append(gs, ntGroup{i, 1})
	}
	return gs
}
