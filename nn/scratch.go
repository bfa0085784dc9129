package nn

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Scratch buffers: large temporary slices (im2col columns, transposed
// gradients) are taken from size-class pools instead of being allocated
// every step, which keeps the garbage collector and page zeroing out of the
// training step. Buffers come back uninitialised.

var scratchPools [48]sync.Pool

// poisonScratch makes getScratch fill every buffer with NaN: tests turn it
// on (export_test.go) so that an op reading a recycled buffer before
// writing it produces NaN instead of silently passing on clean memory.
var poisonScratch atomic.Bool

// getScratch returns a slice of length n with arbitrary contents.
func getScratch(n int) []float32 {
	if n == 0 {
		return nil
	}
	class := bits.Len(uint(n - 1)) // capacity 1<<class ≥ n
	var b []float32
	if p, ok := scratchPools[class].Get().(*[]float32); ok {
		b = (*p)[:n]
	} else {
		b = make([]float32, n, 1<<class)
	}
	if poisonScratch.Load() {
		nan := float32(math.NaN())
		for i := range b {
			b[i] = nan
		}
	}
	return b
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
