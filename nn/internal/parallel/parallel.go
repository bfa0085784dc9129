// Package parallel spreads loops over the CPU cores.
//
// For splits [0,n) into contiguous chunks and runs them on up to GOMAXPROCS
// goroutines. Results must not depend on how the range is split: callers
// only use For for work whose items are independent (each item writes its
// own outputs), or reduce per item and combine in a fixed order afterwards,
// so results are deterministic regardless of scheduling.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls fn(lo, hi) over disjoint chunks covering [0, n), concurrently.
// grain is the smallest chunk worth a goroutine (in items); small n runs
// inline. fn must be safe to run concurrently on disjoint ranges.
//
// The range is cut into up to 4 chunks per worker which the workers take
// in turn, so a worker the OS preempts (a busy machine) or a slower chunk
// does not hold the others up. Chunk boundaries depend only on n, grain and
// GOMAXPROCS, never on timing.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := runtime.GOMAXPROCS(0)
	chunks := min(n/grain, 4*workers)
	if workers <= 1 || chunks <= 1 {
		fn(0, n)
		return
	}
	workers = min(workers, chunks)
	size := (n + chunks - 1) / chunks
	chunks = (n + size - 1) / size
	var next atomic.Int64
	work := func() {
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks {
				return
			}
			fn(c*size, min((c+1)*size, n))
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}
