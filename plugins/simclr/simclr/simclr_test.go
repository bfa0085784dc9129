package simclr

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gradcheck"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit/kittest"
	"github.com/siambench/siambench/sdk/sdktest"
)

// ntxent64 is NT-Xent written plainly in float64: for every row i,
// −log(exp(s_ip/τ) / Σ_{k≠i} exp(s_ik/τ)) with s the cosine similarity.
func ntxent64(z []float32, n2, k int, tau float64) float64 {
	u := make([][]float64, n2)
	for i := range u {
		var s float64
		for j := 0; j < k; j++ {
			s += float64(z[i*k+j]) * float64(z[i*k+j])
		}
		u[i] = make([]float64, k)
		for j := 0; j < k; j++ {
			u[i][j] = float64(z[i*k+j]) / math.Sqrt(s)
		}
	}
	cos := func(a, b int) float64 {
		s := 0.0
		for j := 0; j < k; j++ {
			s += u[a][j] * u[b][j]
		}
		return s
	}
	n := n2 / 2
	total := 0.0
	for i := 0; i < n2; i++ {
		p := (i + n) % n2
		den := 0.0
		for r := 0; r < n2; r++ {
			if r != i {
				den += math.Exp(cos(i, r) / tau)
			}
		}
		total -= math.Log(math.Exp(cos(i, p)/tau) / den)
	}
	return total / float64(n2)
}

func TestNTXentValues(t *testing.T) {
	// One image: the only other row is the positive, so the loss is 0.
	if l, _ := NTXent(nn.New([]float32{1, 2, -3, 1}, 2, 2), 0.5); math.Abs(float64(l.Item())) > 1e-6 {
		t.Errorf("one pair: loss %v, want 0", l.Item())
	}
	// Two images, views e1,e2 | e1,e2 (positives identical, negatives
	// orthogonal), τ=1: each row has logits {pos 1, neg 0, neg 0}
	// → −log(e/(e+2)).
	z := nn.New([]float32{1, 0, 0, 1, 1, 0, 0, 1}, 4, 2)
	want := -math.Log(math.E / (math.E + 2))
	if l, _ := NTXent(z, 1); math.Abs(float64(l.Item())-want) > 1e-6 {
		t.Errorf("orthogonal pairs: loss %v, want %v", l.Item(), want)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		n, k int
		tau  float64
	}{{3, 4, 0.5}, {8, 16, 0.1}, {16, 7, 1}} {
		z := nn.Randn(rng, 1, 2*tc.n, tc.k)
		l, _ := NTXent(z, tc.tau)
		if want := ntxent64(z.Data, 2*tc.n, tc.k, tc.tau); math.Abs(float64(l.Item())-want) > 1e-4*math.Max(1, want) {
			t.Errorf("n=%d k=%d τ=%v: loss %v, want %v", tc.n, tc.k, tc.tau, l.Item(), want)
		}
	}
}

func TestNTXentGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	z := nn.Randn(rng, 1, 6, 5).SetRequiresGrad(true)
	gradcheck.Check(t, func() *nn.Tensor { l, _ := NTXent(z, 0.5); return l },
		[]gradcheck.Input{{Name: "z", T: z}}, gradcheck.Options{Step: 1e-3})
}

func TestConformance(t *testing.T) {
	for _, temp := range []string{"0.5", "0.1"} {
		t.Run("temperature="+temp, func(t *testing.T) {
			sdktest.Run(t, func() sdk.Method { return New() }, sdktest.Config{
				Init: sdk.InitConfig{FeatureDim: 12, BatchSize: 8, Seed: 3, Options: map[string]string{"dim": "16", "hidden": "24", "temperature": temp}},
			})
		})
	}
}

func TestInitErrors(t *testing.T) {
	sdktest.InitErrors(t, func() sdk.Method { return New() }, sdk.InitConfig{FeatureDim: 8, BatchSize: 4},
		sdktest.InitError{Options: map[string]string{"temperature": "0"}, Want: "option temperature=0: must be in (0, 100]"},
		sdktest.InitError{Options: map[string]string{"temperature": "-1"}, Want: "must be in (0, 100]"},
		sdktest.InitError{Options: map[string]string{"dim": "0"}, Want: "option dim=0"},
		sdktest.InitError{Options: map[string]string{"temp": "0.1"}, Want: "temperature (float in (0, 100], default 0.5)"})
}

func TestLearns(t *testing.T) {
	res := kittest.Learns(t, New(), kittest.Config{Seed: 1, Options: map[string]string{"dim": "32", "hidden": "64"}}, 32)
	// The contrastive loss must have fallen well below its value at init.
	if first, last := kittest.Tail(res.Loss[:10], 10), kittest.Tail(res.Loss, 10); last > first-0.5 {
		t.Errorf("loss %.3f → %.3f, want a drop of at least 0.5", first, last)
	}
}
