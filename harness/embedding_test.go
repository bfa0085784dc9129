package harness

import (
	"math"
	"slices"
	"testing"

	"github.com/siambench/siambench/eval"
)

func TestEmbedSubset(t *testing.T) {
	for _, tc := range []struct {
		name    string
		labels  []int
		classes int
		limit   int
		want    []int
	}{
		{"quota per class in split order", []int{0, 0, 1, 0, 2, 1, 1, 2, 2, 0}, 3, 6, []int{0, 1, 2, 4, 5, 7}},
		{"fewer images than the quota", []int{1, 0, 1}, 2, 10, []int{0, 1, 2}},
		{"more classes than the limit: one each up to it", []int{3, 2, 1, 0}, 4, 2, []int{0, 1}},
		{"bad labels skipped", []int{-1, 5, 0, 1}, 2, 4, []int{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := embedSubset(tc.labels, tc.classes, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("embedSubset = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEmbedSeparatesClasses embeds features whose classes lie along known
// directions and checks that the file keeps the points, their labels and
// the PCA's explained variance, and that PC1 separates the two classes.
func TestEmbedSeparatesClasses(t *testing.T) {
	const n, d = 3000, 4
	f := eval.Features{N: n, D: d, Data: make([]float32, n*d), Labels: make([]int, n)}
	for i := 0; i < n; i++ {
		c := i % 2
		f.Labels[i] = c
		// class 0 near (1,1,0,0), class 1 near (1,−1,0,0), a little spread along axis 2
		f.Data[i*d] = 1
		f.Data[i*d+1] = float32(1 - 2*c)
		f.Data[i*d+2] = 0.1 * float32(i%7-3)
	}
	e, err := embed(f, []string{"a", "b"}, "toy", "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.X) != embedPoints || e.Dim != d || e.Method != "toy" || e.Split != "test" {
		t.Fatalf("embedding of %d points, dim %d, method %q, split %q", len(e.X), e.Dim, e.Method, e.Split)
	}
	for p := range e.X {
		if e.Label[p] != p%2 { // the first 500 of each class, interleaved as in the split
			t.Fatalf("point %d has label %d, want %d", p, e.Label[p], p%2)
		}
		// PC1 is the class axis: all of class 0 on one side, class 1 on the other.
		sameSide := (e.X[p] > 0) == (e.X[0] > 0)
		if sameSide != (e.Label[p] == e.Label[0]) {
			t.Fatalf("point %d (class %d) at x=%v, point 0 at x=%v: PC1 does not separate the classes", p, e.Label[p], e.X[p], e.X[0])
		}
	}
	if e.ExplainedVariance[0] < 0.9 || e.ExplainedVariance[0]+e.ExplainedVariance[1] > 1+1e-9 {
		t.Errorf("explained variance %v: want PC1 ≥ 0.9 (the class axis dominates)", e.ExplainedVariance)
	}
	for _, v := range append(slices.Clone(e.X), e.Y...) {
		if v != math.Round(v*1e5)/1e5 {
			t.Fatalf("coordinate %v is not rounded to 5 decimals", v)
		}
	}
}
