package parallel

import (
	"sync/atomic"
	"testing"
)

func TestForCoversEachIndexOnce(t *testing.T) {
	cases := []struct {
		name     string
		n, grain int
	}{
		{"empty", 0, 1},
		{"one", 1, 1},
		{"small-inline", 10, 100},
		{"odd", 1001, 7},
		{"grain-zero", 64, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hits := make([]atomic.Int32, tc.n)
			For(tc.n, tc.grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					hits[i].Add(1)
				}
			})
			for i := range hits {
				if got := hits[i].Load(); got != 1 {
					t.Fatalf("index %d visited %d times, want 1", i, got)
				}
			}
		})
	}
}
