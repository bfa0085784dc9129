package swav

import (
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gradcheck"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit/kittest"
	"github.com/siambench/siambench/sdk/sdktest"
)

// sinkhorn64 transcribes the official distributed_sinkhorn (one process)
// directly: Q = exp(out/ε)ᵀ (K×B), Q /= ΣQ, then per iteration
// Q /= row sums, Q /= K, Q /= column sums, Q /= B; finally Q *= B, return Qᵀ.
func sinkhorn64(out []float32, b, k int, eps float64, iters int) [][]float64 {
	q := make([][]float64, k)
	sum := 0.0
	for j := 0; j < k; j++ {
		q[j] = make([]float64, b)
		for i := 0; i < b; i++ {
			q[j][i] = math.Exp(float64(out[i*k+j]) / eps)
			sum += q[j][i]
		}
	}
	for j := range q {
		for i := range q[j] {
			q[j][i] /= sum
		}
	}
	for it := 0; it < iters; it++ {
		for j := 0; j < k; j++ {
			rs := 0.0
			for i := 0; i < b; i++ {
				rs += q[j][i]
			}
			for i := 0; i < b; i++ {
				q[j][i] = q[j][i] / rs / float64(k)
			}
		}
		for i := 0; i < b; i++ {
			cs := 0.0
			for j := 0; j < k; j++ {
				cs += q[j][i]
			}
			for j := 0; j < k; j++ {
				q[j][i] = q[j][i] / cs / float64(b)
			}
		}
	}
	res := make([][]float64, b)
	for i := range res {
		res[i] = make([]float64, k)
		for j := 0; j < k; j++ {
			res[i][j] = q[j][i] * float64(b)
		}
	}
	return res
}

func TestSinkhorn(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		n, k, iters int
		eps         float64
	}{{8, 5, 3, 0.05}, {32, 100, 3, 0.05}, {5, 7, 1, 0.5}, {64, 16, 200, 0.05}} {
		s := make([]float32, tc.n*tc.k)
		for i := range s {
			s[i] = float32(2*rng.Float64() - 1) // cosines
		}
		got := Sinkhorn(s, tc.n, tc.k, tc.eps, tc.iters)
		want := sinkhorn64(s, tc.n, tc.k, tc.eps, tc.iters)
		for i := 0; i < tc.n; i++ {
			rowSum := 0.0
			for j := 0; j < tc.k; j++ {
				g := float64(got[i*tc.k+j])
				if math.Abs(g-want[i][j]) > 1e-6*math.Max(1, want[i][j]) {
					t.Fatalf("n=%d k=%d: Q[%d,%d] = %v, want %v", tc.n, tc.k, i, j, g, want[i][j])
				}
				rowSum += g
			}
			// The last normalisation makes every sample's codes a distribution.
			if math.Abs(rowSum-1) > 1e-5 {
				t.Errorf("n=%d k=%d: row %d sums to %v, want 1", tc.n, tc.k, i, rowSum)
			}
		}
		if tc.iters >= 200 {
			// Converged: every prototype receives N/K of the mass (equipartition).
			for j := 0; j < tc.k; j++ {
				cs := 0.0
				for i := 0; i < tc.n; i++ {
					cs += float64(got[i*tc.k+j])
				}
				if want := float64(tc.n) / float64(tc.k); math.Abs(cs-want) > 0.01*want {
					t.Errorf("prototype %d mass %v, want %v", j, cs, want)
				}
			}
		}
	}
	// Equal scores: uniform codes 1/K.
	q := Sinkhorn([]float32{0.3, 0.3, 0.3, 0.3, 0.3, 0.3}, 2, 3, 0.05, 3)
	for _, v := range q {
		if math.Abs(float64(v)-1.0/3) > 1e-6 {
			t.Fatalf("equal scores: codes %v, want 1/3 each", q)
		}
	}
}

// swapped64 is the swapped-prediction loss written plainly.
func swapped64(scores [][]float32, codes [][]float32, n, k int, tau float64) float64 {
	total := 0.0
	for i, q := range codes {
		sub := 0.0
		for v, s := range scores {
			if v == i {
				continue
			}
			for r := 0; r < n; r++ {
				mx := math.Inf(-1)
				for j := 0; j < k; j++ {
					mx = math.Max(mx, float64(s[r*k+j])/tau)
				}
				lse := 0.0
				for j := 0; j < k; j++ {
					lse += math.Exp(float64(s[r*k+j])/tau - mx)
				}
				lse = mx + math.Log(lse)
				for j := 0; j < k; j++ {
					sub -= float64(q[r*k+j]) * (float64(s[r*k+j])/tau - lse) / float64(n)
				}
			}
		}
		total += sub / float64(len(scores)-1)
	}
	return total / float64(len(codes))
}

func TestSwappedLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	const n, k, v = 6, 9, 4
	scores := make([]*nn.Tensor, v)
	raw := make([][]float32, v)
	for i := range scores {
		scores[i] = nn.Uniform(rng, -1, 1, n, k).SetRequiresGrad(true)
		raw[i] = scores[i].Data
	}
	codes := [][]float32{Sinkhorn(raw[0], n, k, 0.05, 3), Sinkhorn(raw[1], n, k, 0.05, 3)}
	got := float64(SwappedLoss(scores, codes, 0.1).Item())
	if want := swapped64(raw, codes, n, k, 0.1); math.Abs(got-want) > 1e-4*math.Max(1, want) {
		t.Errorf("SwappedLoss = %v, want %v", got, want)
	}
	// Hand-computed: 2 crops, uniform scores → log softmax = −log K for every
	// code, and codes sum to 1 per row: loss = log K.
	u := []*nn.Tensor{nn.Full(0.2, 2, 4), nn.Full(0.2, 2, 4)}
	q := []float32{1, 0, 0, 0, 0.5, 0.5, 0, 0}
	if got := float64(SwappedLoss(u, [][]float32{q, q}, 0.1).Item()); math.Abs(got-math.Log(4)) > 1e-6 {
		t.Errorf("uniform scores: loss %v, want log 4", got)
	}
	in := make([]gradcheck.Input, v)
	for i := range scores {
		in[i] = gradcheck.Input{Name: "scores" + string(rune('0'+i)), T: scores[i]}
	}
	gradcheck.Check(t, func() *nn.Tensor { return SwappedLoss(scores, codes, 0.1) }, in, gradcheck.Options{Step: 1e-3})
}

func small(extra map[string]string) map[string]string {
	o := map[string]string{"prototypes": "10", "dim": "8", "hidden": "16"}
	maps.Copy(o, extra)
	return o
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local int
		opts  map[string]string
	}{
		{"default_local", DefaultLocalCrops, nil},
		{"4_local", 4, nil},
		{"no_local_no_freeze", 0, map[string]string{"freeze_epochs": "0"}},
		// Queue of 16 with batch 8: full after the suite's 2 warm-up steps,
		// so the checked steps use it.
		{"queue", 2, map[string]string{"queue": "16", "freeze_epochs": "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdktest.Run(t, func() sdk.Method { return NewWithLocalCrops(tc.local) }, sdktest.Config{
				Init: sdk.InitConfig{FeatureDim: 12, BatchSize: 8, Seed: 3, Options: small(tc.opts)},
			})
		})
	}
}

func views(n, d, v int, seed uint64) []*nn.Tensor {
	rng := rand.New(rand.NewPCG(seed, 5))
	out := make([]*nn.Tensor, v)
	for i := range out {
		out[i] = nn.Randn(rng, 1, n, d)
	}
	return out
}

// Prototypes are l2-normalised at every step and not updated while
// in.Epoch < freeze_epochs.
func TestPrototypesFrozenAndNormalised(t *testing.T) {
	m := NewWithLocalCrops(1)
	if err := m.Init(sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 1, Options: small(nil)}); err != nil {
		t.Fatal(err)
	}
	protos := m.Model().(*model).protos.T
	norms := func() (lo, hi float64) {
		lo, hi = math.Inf(1), 0
		k, e := protos.Dim(0), protos.Dim(1)
		for r := 0; r < k; r++ {
			s := 0.0
			for _, x := range protos.Data[r*e : (r+1)*e] {
				s += float64(x) * float64(x)
			}
			lo, hi = math.Min(lo, math.Sqrt(s)), math.Max(hi, math.Sqrt(s))
		}
		return lo, hi
	}
	if lo, hi := norms(); hi-lo < 1e-3 {
		t.Fatalf("test needs prototypes of unequal norms at init, got [%v, %v]", lo, hi)
	}
	in := sdk.StepInput{Epoch: 0, LR: 0.5, Views: views(8, 6, 3, 1)}
	if _, err := m.Step(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if lo, hi := norms(); math.Abs(lo-1) > 1e-5 || math.Abs(hi-1) > 1e-5 {
		t.Errorf("frozen epoch 0: prototype norms in [%v, %v], want all 1 (normalised, not updated)", lo, hi)
	}
	frozen := append([]float32(nil), protos.Data...)
	if _, err := m.Step(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	for i, v := range protos.Data {
		if v != frozen[i] {
			t.Fatalf("prototypes moved during the frozen epoch 0")
		}
	}
	in.Epoch = 1
	if _, err := m.Step(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	moved := false
	for i, v := range protos.Data {
		moved = moved || v != frozen[i]
	}
	if !moved {
		t.Error("prototypes did not move in epoch 1")
	}
}

// The queue starts at queue_start, fills one batch per step, and once full
// its embeddings change the codes.
func TestQueue(t *testing.T) {
	m := NewWithLocalCrops(0)
	opts := small(map[string]string{"queue": "16", "queue_start": "1"})
	if err := m.Init(sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 1, Options: opts}); err != nil {
		t.Fatal(err)
	}
	md := m.Model().(*model)
	step := func(epoch int, seed uint64) sdk.StepOutput {
		out, err := m.Step(context.Background(), sdk.StepInput{Epoch: epoch, LR: 0.1, Views: views(8, 6, 2, seed)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	step(0, 1)
	for _, x := range md.queue[0].Data {
		if x != 0 || md.queueFill() != 0 {
			t.Fatal("queue filled before queue_start")
		}
	}
	step(1, 2)
	if md.queueFill() != 8 || md.queueFull() {
		t.Fatalf("after one queued step fill = %d", md.queueFill())
	}
	// Newest first: the queue's first 8 rows are view 0's normalised
	// embeddings (E = dim = 8), the rest still zeros.
	var norm, rest float64
	for _, x := range md.queue[0].Data[8*8:] {
		rest += math.Abs(float64(x))
	}
	if rest != 0 {
		t.Errorf("queue rows beyond the first batch are not zero")
	}
	for _, x := range md.queue[0].Data[:8] {
		norm += float64(x) * float64(x)
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Errorf("queued embedding has norm² %v, want 1", norm)
	}
	if out := step(1, 3); out.Metrics["queue_used"] != 0 || !md.queueFull() {
		t.Fatalf("queue should be full but not yet used: fill %d, metrics %v", md.queueFill(), out.Metrics)
	}
	// With a full queue the batch's codes differ from the codes without it.
	emb := md.queue[0].Data[:8*8]
	withQ := md.assign(0, emb, 8)
	md.fill.Data[0] = 0
	without := md.assign(0, emb, 8)
	md.fill.Data[0] = 16
	diff := 0.0
	for i := range withQ {
		diff = math.Max(diff, math.Abs(float64(withQ[i]-without[i])))
	}
	if diff < 1e-4 {
		t.Errorf("codes with the queue equal codes without (max diff %v)", diff)
	}
	if out := step(1, 4); out.Metrics["queue_used"] != 1 {
		t.Errorf("metrics %v, want queue_used 1", out.Metrics)
	}
}

func TestInitErrors(t *testing.T) {
	sdktest.InitErrors(t, func() sdk.Method { return New() }, sdk.InitConfig{FeatureDim: 8, BatchSize: 8},
		sdktest.InitError{Options: map[string]string{"queue": "4"}, Want: "option queue=4: must be 0 or at least the batch size 8"},
		sdktest.InitError{Options: map[string]string{"prototypes": "1"}, Want: "option prototypes=1: must be ≥ 2"},
		sdktest.InitError{Options: map[string]string{"epsilon": "0"}, Want: "option epsilon=0"},
		sdktest.InitError{Options: map[string]string{"sinkhorn": "3"}, Want: "sinkhorn_iters (int ≥ 1, default 3)"})
	if v := New().Describe().Views; len(v) != 2 || v[0].Count != 2 || v[1].Count != 2 || v[1].Size != -50 || v[1].Preset != "swav-local" {
		t.Errorf("default views %+v, want 2 global + 2 local at half size", v)
	}
}

func TestLearns(t *testing.T) {
	kittest.Learns(t, New(), kittest.Config{Seed: 1, Options: map[string]string{"dim": "32", "hidden": "64"}}, 32)
}
