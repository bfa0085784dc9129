package harness

// Shape legend: N = test images, P = embedded points (≤ embedPoints),
// D = feature width.

import (
	"fmt"
	"math"

	"github.com/siambench/siambench/eval"
	"github.com/siambench/siambench/results"
)

// embedPoints is the most test images an embedding holds.
const embedPoints = 1000

// embedSubset picks the points of an embedding: the first ⌊limit/K⌋ images
// of each of the K classes (at least one each) in split order, at most limit
// in all, returned in split order so that the classes interleave when drawn.
func embedSubset(labels []int, classes, limit int) []int {
	quota := perClass(classes, limit)
	taken := make([]int, classes)
	var idx []int
	for i, l := range labels {
		if len(idx) == limit {
			break
		}
		if l >= 0 && l < classes && taken[l] < quota {
			taken[l]++
			idx = append(idx, i)
		}
	}
	return idx
}

// embed computes the Embedding of the test features f (N,D): the points of
// embedSubset, l2-normalised (the geometry kNN sees), projected on their
// first two principal components. what names the features' source (a
// method or baseline), names are the class names.
func embed(f eval.Features, names []string, what, dataset string) (*results.Embedding, error) {
	idx := embedSubset(f.Labels, len(names), embedPoints)
	if len(idx) < 3 || f.D < 2 {
		return nil, fmt.Errorf("embedding: %d points of width %d, need 3 of width 2", len(idx), f.D)
	}
	x := make([]float32, 0, len(idx)*f.D)
	for _, i := range idx {
		x = append(x, f.Data[i*f.D:(i+1)*f.D]...)
	}
	xn := eval.L2NormalizeRows(x, len(idx), f.D)
	x64 := make([]float64, len(xn))
	for i, v := range xn {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("embedding: features are not finite")
		}
		x64[i] = float64(v)
	}
	pca, err := eval.FitPCA(x64, len(idx), f.D, 2)
	if err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	e := &results.Embedding{
		Method: what, Dataset: dataset, Split: "test", Dim: f.D,
		Subset: fmt.Sprintf("the first %d test images of each class, in split order (%d of %d)",
			perClass(len(names), embedPoints), len(idx), f.N),
		Classes:           append([]string(nil), names...),
		ExplainedVariance: [2]float64{round5(pca.Ratio[0]), round5(pca.Ratio[1])},
	}
	for p, i := range idx {
		e.Label = append(e.Label, f.Labels[i])
		e.X = append(e.X, round5(pca.Proj[p*2]))
		e.Y = append(e.Y, round5(pca.Proj[p*2+1]))
	}
	return e, e.Check()
}

// perClass is how many points of each class an embedding takes.
func perClass(classes, limit int) int { return max(1, limit/max(classes, 1)) }

// round5 rounds to 5 decimals (the file stays small; the plot cannot show
// more), writing −0 as 0.
func round5(x float64) float64 {
	r := math.Round(x*1e5) / 1e5
	if r == 0 {
		return 0
	}
	return r
}
