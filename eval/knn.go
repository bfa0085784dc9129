// Package eval holds the evaluation protocol every method is measured with:
// the kNN monitor, the linear probe on frozen features and the collapse
// monitor. It works on plain float32 feature matrices so that baselines (raw
// pixels, a random-init backbone) and trained backbones go through exactly
// the same code.
//
// Shape legend: N = bank (train) rows, M = query (test) rows, D = feature
// width, C = classes. Matrices are row-major.
package eval

import (
	"container/heap"
	"context"
	"fmt"
	"math"

	"github.com/siambench/siambench/nn/gemm"
)

// Features is a labelled feature matrix: row i of Data (length N·D) is the
// feature vector of the example whose class is Labels[i].
type Features struct {
	Data   []float32 // (N,D)
	Labels []int     // (N), each in [0, classes)
	N, D   int
}

// Check reports whether f is consistent: len(Data) = N·D, len(Labels) = N,
// every label in [0, classes) and every value finite. what names f in the error.
func (f Features) Check(what string, classes int) error {
	if f.N <= 0 || f.D <= 0 {
		return fmt.Errorf("%s: empty feature matrix (%d×%d): the split has no images", what, f.N, f.D)
	}
	if len(f.Data) != f.N*f.D {
		return fmt.Errorf("%s: %d values for %d×%d features", what, len(f.Data), f.N, f.D)
	}
	if len(f.Labels) != f.N {
		return fmt.Errorf("%s: %d labels for %d rows", what, len(f.Labels), f.N)
	}
	for i, l := range f.Labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("%s: label %d of row %d is outside [0,%d)", what, l, i, classes)
		}
	}
	for i, v := range f.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: non-finite feature %v at row %d (the representation diverged)", what, v, i/f.D)
		}
	}
	return nil
}

// KNNConfig configures the kNN monitor. The zero value is the protocol of the
// SimSiam paper's monitor and of lightly's benchmarks: k = 200, T = 0.1.
type KNNConfig struct {
	K           int     // neighbours; 0 means 200. Clamped to the bank size.
	Temperature float64 // weight of a neighbour is exp(cos/T); 0 means 0.1
}

func (c KNNConfig) withDefaults() KNNConfig {
	if c.K == 0 {
		c.K = 200
	}
	if c.Temperature == 0 {
		c.Temperature = 0.1
	}
	return c
}

// knnChunk is how many queries are scored against the bank per GEMM.
const knnChunk = 256

// KNN classifies every query by weighted voting of its K nearest bank rows by
// cosine similarity (each neighbour votes exp(cos/T) for its class; ties go to
// the lower class index) and returns the top-1 accuracy in [0,1]. Bank and
// queries must have the same width D; neither is modified.
func KNN(ctx context.Context, bank, queries Features, classes int, cfg KNNConfig) (float64, error) {
	cfg = cfg.withDefaults()
	if classes < 2 {
		return 0, fmt.Errorf("knn: need at least 2 classes, got %d", classes)
	}
	if cfg.K < 0 || cfg.Temperature <= 0 {
		return 0, fmt.Errorf("knn: k must be ≥ 0 and temperature > 0 (got k=%d, T=%v)", cfg.K, cfg.Temperature)
	}
	if err := bank.Check("knn bank", classes); err != nil {
		return 0, err
	}
	if err := queries.Check("knn queries", classes); err != nil {
		return 0, err
	}
	if bank.D != queries.D {
		return 0, fmt.Errorf("knn: bank width %d differs from query width %d", bank.D, queries.D)
	}
	k := min(cfg.K, bank.N)
	d := bank.D
	b := L2NormalizeRows(bank.Data, bank.N, d)
	q := L2NormalizeRows(queries.Data, queries.N, d)
	sims := make([]float32, knnChunk*bank.N)
	votes := make([]float64, classes)
	h := &minHeap{}
	correct := 0
	g := gemm.Current()
	for start := 0; start < queries.N; start += knnChunk {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("knn: %w", err)
		}
		m := min(knnChunk, queries.N-start)
		// sims (m,N) = q[start:start+m] (m,D) · bᵀ (D,N)
		g.Sgemm(false, true, m, bank.N, d, 1, q[start*d:], d, b, d, 0, sims, bank.N)
		for i := 0; i < m; i++ {
			row := sims[i*bank.N : (i+1)*bank.N]
			topK(h, row, k)
			clear(votes)
			for _, e := range h.items {
				votes[bank.Labels[e.idx]] += math.Exp(float64(e.sim) / cfg.Temperature)
			}
			if argmax(votes) == queries.Labels[start+i] {
				correct++
			}
		}
	}
	return float64(correct) / float64(queries.N), nil
}

// L2NormalizeRows returns a copy of x (n,d) with every row scaled to unit
// length; an all-zero row stays zero.
func L2NormalizeRows(x []float32, n, d int) []float32 {
	out := make([]float32, n*d)
	for i := 0; i < n; i++ {
		row := x[i*d : (i+1)*d]
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(s))
		o := out[i*d : (i+1)*d]
		for j, v := range row {
			o[j] = v * inv
		}
	}
	return out
}

func argmax(v []float64) int {
	best := 0
	for i := 1; i < len(v); i++ {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// --- top-k selection with a min-heap of the k best so far

type simIdx struct {
	sim float32
	idx int
}

type minHeap struct{ items []simIdx }

func (h *minHeap) Len() int { return len(h.items) }
func (h *minHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.sim != b.sim {
		return a.sim < b.sim
	}
	return a.idx > b.idx // among equal similarities keep the lower index
}
func (h *minHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *minHeap) Push(x any)    { h.items = append(h.items, x.(simIdx)) }
func (h *minHeap) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items = h.items[:n-1]
	return x
}

// topK leaves in h the k largest entries of row (ties: lower index first).
func topK(h *minHeap, row []float32, k int) {
	h.items = h.items[:0]
	if k == 0 {
		return
	}
	for i, s := range row {
		if len(h.items) < k {
			heap.Push(h, simIdx{s, i})
			continue
		}
		top := h.items[0]
		if s > top.sim || (s == top.sim && i < top.idx) {
			h.items[0] = simIdx{s, i}
			heap.Fix(h, 0)
		}
	}
}
