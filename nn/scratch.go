package nn

import (
	"math"
	"math/bits"
	"runtime/debug"
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
// the collector. The cap is large on purpose: a step whose buffers do not
// all fit is worse off than one that keeps none, since the garbage it
// leaves lets the heap grow to twice what is live before the collector
// runs (ResNet-18 at batch 256: 3.8 GB peak with a 1 GiB cap). Workloads
// that change shape (the next run of a sweep, evaluation after training)
// call ReleaseScratch first.

type scratchClass struct {
	mu   sync.Mutex
	free []*[]float32
}

var (
	scratchPools [48]scratchClass
	scratchHeld  atomic.Int64 // bytes in the free lists
)

// scratchKeepBytes caps the bytes the free lists keep: a quarter of the
// machine's memory, at least 1 GiB (a training step's buffers: ~300 MB for
// the reference network at batch 256, ~1.7 GB for ResNet-18-CIFAR).
var scratchKeepBytes = max(1<<30, physicalMemory()/4)

// ReleaseScratch empties the engine's free lists and hands the memory back
// to the operating system. Call it where the shapes of the work change (a
// new network or batch size, evaluation after training), so buffers of the
// old shapes are not held beside the new ones.
func ReleaseScratch() {
	for i := range scratchPools {
		sc := &scratchPools[i]
		sc.mu.Lock()
		for _, p := range sc.free {
			scratchHeld.Add(-int64(4 * cap(*p)))
		}
		clear(sc.free)
		sc.free = sc.free[:0]
		sc.mu.Unlock()
	}
	debug.FreeOSMemory()
}

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
