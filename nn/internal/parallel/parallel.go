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
)

// For calls fn(lo, hi) over disjoint chunks covering [0, n), concurrently.
// grain is the smallest chunk worth a goroutine (in items); small n runs
// inline. fn must be safe to run concurrently on disjoint ranges.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := runtime.GOMAXPROCS(0)
	if w := n / grain; w < workers {
		workers = w
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
