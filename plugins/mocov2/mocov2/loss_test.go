package mocov2

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gradcheck"
)

func unit(rng *rand.Rand, n, k int) *nn.Tensor {
	t := nn.Randn(rng, 1, n, k)
	for i := 0; i < n; i++ {
		s := 0.0
		for j := 0; j < k; j++ {
			s += float64(t.Data[i*k+j]) * float64(t.Data[i*k+j])
		}
		for j := 0; j < k; j++ {
			t.Data[i*k+j] /= float32(math.Sqrt(s))
		}
	}
	return t
}

// infoNCE64 is MoCo's loss written plainly in float64.
func infoNCE64(q, keys, queue []float32, n, nq, k int, tau float64) float64 {
	dot := func(a []float32, i int, b []float32, j int) float64 {
		s := 0.0
		for c := 0; c < k; c++ {
			s += float64(a[i*k+c]) * float64(b[j*k+c])
		}
		return s
	}
	total := 0.0
	for i := 0; i < n; i++ {
		norm := math.Sqrt(dot(q, i, q, i))
		pos := math.Exp(dot(q, i, keys, i) / norm / tau)
		den := pos
		for j := 0; j < nq; j++ {
			den += math.Exp(dot(q, i, queue, j) / norm / tau)
		}
		total -= math.Log(pos / den)
	}
	return total / float64(n)
}

func TestInfoNCEValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		n, nq, k int
		tau      float64
	}{{3, 5, 4, 0.2}, {8, 32, 16, 0.1}, {16, 1, 7, 1}} {
		q := nn.Randn(rng, 2, tc.n, tc.k)
		keys, queue := unit(rng, tc.n, tc.k), unit(rng, tc.nq, tc.k)
		l, _ := InfoNCE(q, keys, queue, tc.tau)
		if want := infoNCE64(q.Data, keys.Data, queue.Data, tc.n, tc.nq, tc.k, tc.tau); math.Abs(float64(l.Item())-want) > 1e-4*math.Max(1, want) {
			t.Errorf("n=%d Q=%d k=%d τ=%v: loss %v, want %v", tc.n, tc.nq, tc.k, tc.tau, l.Item(), want)
		}
	}
	// The other images' keys are not negatives: with a queue orthogonal to
	// every query, the loss is −log(e^{1/τ}/(e^{1/τ}+Q)) whatever the batch.
	q := nn.New([]float32{1, 0, 0, 1, 0, 0}, 2, 3)
	keys := nn.New([]float32{1, 0, 0, 1, 0, 0}, 2, 3) // image 1's key equals image 0's query: must not count
	queue := nn.New([]float32{0, 0, 1, 0, 0, -1}, 2, 3)
	want := -math.Log(math.Exp(2) / (math.Exp(2) + 2))
	if l, _ := InfoNCE(q, keys, queue, 0.5); math.Abs(float64(l.Item())-want) > 1e-5 {
		t.Errorf("in-batch keys counted as negatives? loss %v, want %v", l.Item(), want)
	}
}

func TestInfoNCEGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	q := nn.Randn(rng, 1, 5, 4).SetRequiresGrad(true)
	keys, queue := unit(rng, 5, 4), unit(rng, 7, 4)
	gradcheck.Check(t, func() *nn.Tensor { l, _ := InfoNCE(q, keys, queue, 0.2); return l },
		[]gradcheck.Input{{Name: "q", T: q}}, gradcheck.Options{Step: 1e-3})
}
