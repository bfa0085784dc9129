package nn

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Scratch buffers: large temporary slices (op outputs, gradients, im2col
// columns, padded planes) are taken from size-class free lists instead of
// being allocated every step, which keeps the garbage collector, page
// faults and page zeroing out of the training step. Buffers come back
// uninitialised.
//
// The free lists are plain mutex-guarded stacks, not sync.Pools: a
// sync.Pool is emptied by every other garbage collection, and in a real
// training loop (data loader, gRPC messages) collections come every few
// steps, so the step's activations were allocated and zeroed afresh (4-5%
// of the host's CPU in a sweep, plus page faults). What the lists hold is
// capped at scratchKeepBytes; beyond that, returned buffers are left to
// the collector.

type scratchClass struct {
	mu   sync.Mutex
	free []*[]float32
}

var (
	scratchPools [48]scratchClass
	scratchHeld  atomic.Int64 // bytes in the free lists
)

// scratchKeepBytes caps the bytes the free lists keep (a training step's
// activations at batch 256 on the reference network are ~300 MB).
const scratchKeepBytes = 1 << 30

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
	sc := &scratchPools[class]
	sc.mu.Lock()
	if k := len(sc.free); k > 0 {
		p := sc.free[k-1]
		sc.free[k-1] = nil
		sc.free = sc.free[:k-1]
		sc.mu.Unlock()
		scratchHeld.Add(-4 << class)
		b = (*p)[:n]
	} else {
		sc.mu.Unlock()
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

// putScratch returns a slice obtained from getScratch to its free list.
func putScratch(b []float32) {
	if cap(b) == 0 {
		return
	}
	class := bits.Len(uint(cap(b) - 1))
	if 1<<class != cap(b) {
		return // not from getScratch
	}
	size := int64(4) << class
	if scratchHeld.Add(size) > scratchKeepBytes {
		scratchHeld.Add(-size)
		return // over the cap: left to the garbage collector
	}
	b = b[:cap(b)]
	sc := &scratchPools[class]
	sc.mu.Lock()
	sc.free = append(sc.free, &b)
	sc.mu.Unlock()
}
