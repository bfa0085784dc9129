package nn

import (
	"math/bits"
	"sync"
)

// Scratch buffers: large temporary slices (im2col columns, transposed
// gradients) are taken from size-class pools instead of being allocated
// every step, which keeps the garbage collector and page zeroing out of the
// training step. Buffers come back uninitialised.

var scratchPools [48]sync.Pool

// getScratch returns a slice of length n with arbitrary contents.
func getScratch(n int) []float32 {
	if n == 0 {
		return nil
	}
	class := bits.Len(uint(n - 1)) // capacity 1<<class ≥ n
	if p, ok := scratchPools[class].Get().(*[]float32); ok {
		return (*p)[:n]
	}
	return make([]float32, n, 1<<class)
}

// putScratch returns a slice obtained from getScratch to its pool.
func putScratch(b []float32) {
	if cap(b) == 0 {
		return
	}
	class := bits.Len(uint(cap(b) - 1))
	if 1<<class != cap(b) {
		return // not from getScratch
	}
	b = b[:cap(b)]
	scratchPools[class].Put(&b)
}
