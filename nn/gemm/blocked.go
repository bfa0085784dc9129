package gemm

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/siambench/siambench/nn/gemm/internal/kern"
)

func init() {
	register("go", func() Backend { return Go{} })
}

// Go is the pure-Go backend (no cgo): the classic Goto/BLIS structure.
// A is packed once into mr-row panels, each worker packs kc×nc blocks of B
// into nr-column panels (or, for a short C and a B whose k block fits in L2,
// reads B in place), and a register-tiled micro-kernel computes mr×nr tiles
// of C. On amd64 the micro-kernel is Go assembly (AVX-512 8×32 or AVX2/FMA
// 6×16, picked from the CPU at run time); elsewhere, or when built with
// -tags purego, it is a portable 4×4 Go kernel.
//
// Work is split over goroutines by column blocks of C (rows too when C is
// narrow). C = A·Bᵀ with k long next to m and n (a convolution's weight
// gradient, dW = dY·colᵀ with k = images·pixels) runs on an AVX-512 or
// AVX2 dot-product kernel that needs no packing; other GEMMs whose C is too small
// to share out but whose k is long are split over k into per-worker partial
// sums that are added at the end.
//
// Go is safe for concurrent use. The zero value is ready to use.
type Go struct {
	// Threads is the number of goroutines one call may use; 0 means
	// runtime.GOMAXPROCS(0).
	Threads int

	kernel *microKernel // nil: the fastest the CPU supports (tests force others)
}

// Blocking parameters. kcMax·nr floats of B (one micro-panel, 40 KiB at nr=32)
// stay in L1 while the kernel sweeps A; kcMax·(rows of A) floats of packed A
// stay in L2; ncMax columns are one worker's unit of work.
const (
	kcMax = 320
	ncMax = 1024
	// parallelFlops is the size below which one goroutine does the whole
	// call: starting workers costs a few microseconds.
	parallelFlops = 1 << 21
)

// Name returns "go".
func (Go) Name() string { return "go" }

// Info reports the micro-kernel and the number of goroutines, e.g.
// "kernel=avx512-8x32 threads=2".
func (g Go) Info() string {
	return fmt.Sprintf("kernel=%s threads=%d", g.kern().name, g.threads())
}

// Serial returns the same backend restricted to the calling goroutine.
func (g Go) Serial() Backend { g.Threads = 1; return g }

func (g Go) kern() *microKernel {
	if g.kernel != nil {
		return g.kernel
	}
	return cpuKernels()[0]
}

func (g Go) threads() int {
	if g.Threads > 0 {
		return g.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C. It panics, naming the
// argument, if a size is negative, a leading dimension is too small or a
// slice is too short. beta 0 writes C without reading it.
func (g Go) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs("go", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	kern := g.kern()
	threads := g.threads()
	if 2*float64(m)*float64(n)*float64(k) < parallelFlops {
		threads = 1
	}
	if g.kernel == nil && useNT(transA, transB, m, n, k) {
		gemmNT(dotNT(), threads, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// C too small to give every worker a column block, but k long: split k.
	if threads > 1 && ceilDiv(n, kern.nr)*ceilDiv(m, kern.mr) < 4*threads && k >= 2*threads*kcMax {
		splitK(kern, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemmPacked(kern, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// splitK computes C = alpha·op(A)·op(B) + beta·C as a sum of `threads`
// partial products over consecutive ranges of k, each written by its own
// goroutine into a private m×n buffer, then added into C.
func splitK(kern *microKernel, threads int, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	parts := make([][]float32, threads)
	var wg sync.WaitGroup
	for t := range threads {
		k0, k1 := t*k/threads, (t+1)*k/threads
		parts[t] = make([]float32, m*n)
		wg.Go(func() {
			// op(A)[:, k0:k1] and op(B)[k0:k1, :] as sub-slices.
			var as, bs []float32
			if transA {
				as = a[k0*lda:]
			} else {
				as = a[k0:]
			}
			if transB {
				bs = b[k0:]
			} else {
				bs = b[k0*ldb:]
			}
			gemmPacked(kern, 1, transA, transB, m, n, k1-k0, 1, as, lda, bs, ldb, 0, parts[t], n)
		})
	}
	wg.Wait()
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			var s float32
			for _, p := range parts {
				s += p[i*n+j]
			}
			if beta == 0 {
				row[j] = alpha * s
			} else {
				row[j] = alpha*s + beta*row[j]
			}
		}
	}
}

// gemmPacked is the blocked product. The caller has checked the arguments
// and handled m, n or k being 0.
func gemmPacked(kern *microKernel, threads int, transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := kern.mr, kern.nr
	// Balanced k blocks: 288 is one block of 288, 576 two of 288.
	kc := ceilDiv(k, ceilDiv(k, kcMax))
	mPad := ceilDiv(m, mr) * mr

	// Pack all of A once: for each k block [p0, p0+kl), the mPad/mr panels,
	// each kl×mr. Block p0 starts at p0·mPad.
	ap := getBuf(mPad * k)
	defer putBuf(ap)
	pa := *ap
	for p0 := 0; p0 < k; p0 += kc {
		kl := min(kc, k-p0)
		packA(pa[p0*mPad:], transA, a, lda, m, mr, p0, kl)
	}

	// Tasks: a grid of row chunks × column blocks, enough for every worker
	// to have about four.
	nc := min(ncMax, ceilDiv(n, nr)*nr)
	rowChunks := 1
	if threads > 1 {
		want := 4 * threads
		if nt := ceilDiv(n, nc); nt < want {
			nc = max(nr, ceilDiv(ceilDiv(n, want), nr)*nr)
		}
		if nt := ceilDiv(n, nc); nt < want {
			rowChunks = min(ceilDiv(want, nt), ceilDiv(m, mr))
		}
	}
	mcTask := ceilDiv(ceilDiv(m, rowChunks), mr) * mr
	inPlace := bInPlace(transB, m, ldb, kc)
	nt, mt := ceilDiv(n, nc), ceilDiv(m, mcTask)
	tasks := nt * mt

	run := func(task int) {
		// the B panels, then the edge tile (mr·nr ≤ 32·32): pooled, because
		// a local array escapes through kern.fn and cost a 4 KiB heap
		// allocation per task (4% of a training step's CPU)
		bp := getBuf(kc*nc + 32*32)
		defer putBuf(bp)
		tile := (*bp)[kc*nc : kc*nc+32*32]
		i0 := (task % mt) * mcTask
		i1 := min(m, i0+mcTask)
		j0 := (task / mt) * nc
		j1 := min(n, j0+nc)
		for p0 := 0; p0 < k; p0 += kc {
			kl := min(kc, k-p0)
			pb := (*bp)[:kc*nc]
			// Full-width panels of B are read in place when that pays (see
			// bInPlace); only a ragged last panel is packed then.
			jFull := j0 + (j1-j0)/nr*nr
			if !inPlace {
				packB(pb, transB, b, ldb, p0, kl, j0, j1, nr)
			} else if jFull < j1 {
				packB(pb[(jFull-j0)*kl:], transB, b, ldb, p0, kl, jFull, j1, nr)
			}
			bt := beta
			if p0 > 0 {
				bt = 1 // later k blocks accumulate onto the first
			}
			for jr := j0; jr < j1; jr += nr {
				nrl := min(nr, j1-jr)
				bpanel, bstride := &pb[(jr-j0)/nr*kl*nr], nr
				if inPlace && jr < jFull {
					bpanel, bstride = &b[p0*ldb+jr], ldb
				}
				for ir := i0; ir < i1; ir += mr {
					mrl := min(mr, i1-ir)
					apanel := &pa[p0*mPad+ir*kl]
					if mrl == mr && nrl == nr {
						kern.fn(kl, apanel, bpanel, bstride, &c[ir*ldc+jr], ldc, alpha, bt)
						continue
					}
					// Edge tile: compute the full tile into tile, then
					// merge the valid mrl×nrl part.
					kern.fn(kl, apanel, bpanel, bstride, &tile[0], nr, 1, 0)
					for i := range mrl {
						crow := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nrl]
						trow := tile[i*nr : i*nr+nrl]
						for j, v := range trow {
							if bt == 0 {
								crow[j] = alpha * v
							} else {
								crow[j] = alpha*v + bt*crow[j]
							}
						}
					}
				}
			}
		}
	}

	workers := min(threads, tasks)
	if workers <= 1 {
		for t := range tasks {
			run(t)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				t := int(next.Add(1) - 1)
				if t >= tasks {
					return
				}
				run(t)
			}
		})
	}
	wg.Wait()
}

// bInPlace reports whether the micro-kernel should read B in place rather
// than from packed panels: when op(B) = B (rows contiguous), C has few rows
// (each element of B is then used only m times, so packing, a copy of all of
// B, costs about as much as the multiply) and one k block of B (kc rows of
// ldb floats) fits in L2. Row strides that are a multiple of 1 KiB are packed
// anyway: their rows fall into a few L1 sets and evict each other. Measured
// on one core (best of 7): 64×784×288 123 vs 101 GFLOP/s packed,
// 64×392×576 101 vs 96, but 64×7252×576 63 vs 75 (rows far apart, hence the
// L2 bound).
func bInPlace(transB bool, m, ldb, kc int) bool {
	return !transB && m <= 64 && kc*ldb*4 <= 1<<20 && (ldb*4)%1024 != 0
}

// packA writes op(A)[0:m, p0:p0+kl] as ceil(m/mr) panels of kl×mr (panel r
// holds rows r·mr.., zero-padded past m) into dst.
func packA(dst []float32, transA bool, a []float32, lda, m, mr, p0, kl int) {
	for r0 := 0; r0 < m; r0 += mr {
		panel := dst[r0*kl : r0*kl+kl*mr]
		rows := min(mr, m-r0)
		if transA {
			// A is stored k×m: row p of storage holds op(A)[:, p].
			if rows == 8 && mr == 8 && kl > 0 && hasPackA8T {
				first, last := p0*lda+r0, (p0+kl-1)*lda+r0+8
				_ = a[first:last] // the bounds of every row read
				_ = panel[kl*8-1]
				kern.PackA8T(&panel[0], &a[first], kl, lda)
				continue
			}
			for p := range kl {
				src := a[(p0+p)*lda+r0 : (p0+p)*lda+r0+rows]
				d := panel[p*mr : p*mr+mr]
				if rows == 8 && mr == 8 {
					*(*[8]float32)(d) = *(*[8]float32)(src) // no memmove call for 32 bytes
					continue
				}
				copy(d, src)
				clear(d[rows:])
			}
			continue
		}
		if rows == 8 && mr == 8 {
			// Eight row streams read in step, each panel row written whole.
			base := r0*lda + p0
			a0, a1, a2, a3 := a[base:base+kl], a[base+lda:base+lda+kl], a[base+2*lda:base+2*lda+kl], a[base+3*lda:base+3*lda+kl]
			a4, a5, a6, a7 := a[base+4*lda:base+4*lda+kl], a[base+5*lda:base+5*lda+kl], a[base+6*lda:base+6*lda+kl], a[base+7*lda:base+7*lda+kl]
			for p := range kl {
				d := (*[8]float32)(panel[p*8 : p*8+8])
				d[0], d[1], d[2], d[3] = a0[p], a1[p], a2[p], a3[p]
				d[4], d[5], d[6], d[7] = a4[p], a5[p], a6[p], a7[p]
			}
			continue
		}
		if rows == 6 && mr == 6 {
			// The AVX2 kernel's panels, likewise: six streams, six floats
			// written together (the column-by-column loop below was 3% of
			// the reference network's step on an AVX2 CPU, in the weight
			// gradient's packing of dY)
			base := r0*lda + p0
			a0, a1, a2 := a[base:base+kl], a[base+lda:base+lda+kl], a[base+2*lda:base+2*lda+kl]
			a3, a4, a5 := a[base+3*lda:base+3*lda+kl], a[base+4*lda:base+4*lda+kl], a[base+5*lda:base+5*lda+kl]
			p8 := 0
			if hasPackA6 && kl > 8 {
				// AVX 8×8 transposes for all but the last p (which the loop
				// writes over the kernel's two junk floats past its part)
				p8 = (kl - 1) &^ 7
				_ = panel[p8*6+1]
				kern.PackA6(&panel[0], &a0[0], p8, lda)
			}
			for p := p8; p < kl; p++ {
				d := (*[6]float32)(panel[p*6 : p*6+6])
				d[0], d[1], d[2] = a0[p], a1[p], a2[p]
				d[3], d[4], d[5] = a3[p], a4[p], a5[p]
			}
			continue
		}
		for i := range rows {
			src := a[(r0+i)*lda+p0 : (r0+i)*lda+p0+kl]
			for p, v := range src {
				panel[p*mr+i] = v
			}
		}
		for i := rows; i < mr; i++ {
			for p := range kl {
				panel[p*mr+i] = 0
			}
		}
	}
}

// packB writes op(B)[p0:p0+kl, j0:j1] as ceil((j1-j0)/nr) panels of kl×nr
// (zero-padded past j1) into dst.
func packB(dst []float32, transB bool, b []float32, ldb, p0, kl, j0, j1, nr int) {
	if !transB {
		// Row p of op(B) is contiguous in storage: stream along it (one
		// sequential read per row) and scatter nr-wide pieces to the panels.
		w := j1 - j0
		full := w / nr * nr
		for p := range kl {
			src := b[(p0+p)*ldb+j0 : (p0+p)*ldb+j1]
			for c0 := 0; c0 < full; c0 += nr {
				copy(dst[c0*kl+p*nr:c0*kl+p*nr+nr], src[c0:c0+nr])
			}
			if full < w {
				d := dst[full*kl+p*nr : full*kl+p*nr+nr]
				copy(d, src[full:])
				clear(d[w-full:])
			}
		}
		return
	}
	for c0 := j0; c0 < j1; c0 += nr {
		panel := dst[(c0-j0)*kl : (c0-j0)*kl+kl*nr]
		// B is stored n×k: row j of storage holds op(B)[:, j].
		packBT(panel, b, c0*ldb+p0, ldb, kl, min(nr, j1-c0), nr)
	}
}

// packBT writes one kl×nr panel of a transposed B: panel[p·nr + j] =
// b[base + j·ldb + p] for j < cols, p < kl, zero for cols ≤ j < nr.
// Assembly where the CPU has it: AVX-512 gathers for full 32-column
// panels (about twice the scalar loop's speed on a dW = dY·colᵀ
// product's packing), else 8×8 AVX register transposes for each eight
// rows (the AVX2 kernel's 16-column panels).
func packBT(panel, b []float32, base, ldb, kl, cols, nr int) {
	if kl <= 0 {
		return
	}
	_ = panel[kl*nr-1]
	_ = b[base+(cols-1)*ldb+kl-1] // the last element read
	if cols == 32 && nr == 32 && ldb < 1<<24 && hasPackT32() {
		var idx [32]int32
		for j := range idx {
			idx[j] = int32(j * ldb)
		}
		kern.PackT32(&panel[0], &b[base], kl, &idx)
		return
	}
	j8 := 0
	if k8 := kl &^ 7; k8 > 0 && hasPackT8 {
		for ; j8+8 <= cols; j8 += 8 {
			kern.PackT8(&panel[j8], &b[base+j8*ldb], k8, ldb, nr)
			for p := k8; p < kl; p++ {
				for j := j8; j < j8+8; j++ {
					panel[p*nr+j] = b[base+j*ldb+p]
				}
			}
		}
	}
	for ; j8+8 <= cols; j8 += 8 {
		// Eight storage rows read in step, eight floats of each panel
		// row written at once.
		o := base + j8*ldb
		b0, b1, b2, b3 := b[o:o+kl], b[o+ldb:o+ldb+kl], b[o+2*ldb:o+2*ldb+kl], b[o+3*ldb:o+3*ldb+kl]
		b4, b5, b6, b7 := b[o+4*ldb:o+4*ldb+kl], b[o+5*ldb:o+5*ldb+kl], b[o+6*ldb:o+6*ldb+kl], b[o+7*ldb:o+7*ldb+kl]
		for p := range kl {
			d := (*[8]float32)(panel[p*nr+j8 : p*nr+j8+8])
			d[0], d[1], d[2], d[3] = b0[p], b1[p], b2[p], b3[p]
			d[4], d[5], d[6], d[7] = b4[p], b5[p], b6[p], b7[p]
		}
	}
	for j := j8; j < cols; j++ {
		src := b[base+j*ldb : base+j*ldb+kl]
		for p, v := range src {
			panel[p*nr+j] = v
		}
	}
	for j := cols; j < nr; j++ {
		for p := range kl {
			panel[p*nr+j] = 0
		}
	}
}

// hasPackT32 reports whether kern.PackT32, the assembly packing kernel for
// 32-column panels of a transposed B, runs here (AVX-512, not purego).
var hasPackT32 = sync.OnceValue(kern.HasPackT32)

// hasPackT8: the 8×8 transposes of packBT run in assembly (AVX).
var hasPackT8 = kern.HasPackT8()

// hasPackA6: the 6-row A panels of packA run in assembly (AVX).
var hasPackA6 = kern.HasPackA6()

// hasPackA8T: the transposed-A panel copy runs in assembly (AVX).
var hasPackA8T = kern.HasPackA8T()

// bufPools holds scratch slices by size class: class c has capacity 1<<c,
// so a call never drops a pooled buffer for being a little too small.
var bufPools [48]sync.Pool

// getBuf returns a pooled scratch slice of length n (contents undefined).
func getBuf(n int) *[]float32 {
	c := bits.Len(uint(max(n, 1) - 1))
	if p, ok := bufPools[c].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n, 1<<c)
	return &s
}

// putBuf returns a slice from getBuf to its pool.
func putBuf(p *[]float32) {
	c := bits.Len(uint(cap(*p) - 1))
	if cap(*p) == 1<<c {
		bufPools[c].Put(p)
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
