package byol

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gradcheck"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit/kittest"
	"github.com/siambench/siambench/sdk/sdktest"
)

// regression64 is ‖p/‖p‖ − z/‖z‖‖² averaged over rows, written plainly.
func regression64(p, z []float32, n, k int) float64 {
	s := 0.0
	for i := 0; i < n; i++ {
		var pp, zz float64
		for j := 0; j < k; j++ {
			pp += float64(p[i*k+j]) * float64(p[i*k+j])
			zz += float64(z[i*k+j]) * float64(z[i*k+j])
		}
		for j := 0; j < k; j++ {
			d := float64(p[i*k+j])/math.Sqrt(pp) - float64(z[i*k+j])/math.Sqrt(zz)
			s += d * d
		}
	}
	return s / float64(n)
}

func TestLossValues(t *testing.T) {
	// Hand-computed: same direction → 0; opposite → 4; orthogonal → 2.
	p := nn.New([]float32{1, 0, 0, 1, 2, 2}, 3, 2)
	z := nn.New([]float32{3, 0, 0, -5, -2, 2}, 3, 2)
	if got := float64(Regression(p, z).Item()); math.Abs(got-(0+4+2)/3.0) > 1e-6 {
		t.Errorf("Regression = %v, want 2", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{2, 9, 128} {
		p1, p2, z1, z2 := nn.Randn(rng, 1, 6, k), nn.Randn(rng, 1, 6, k), nn.Randn(rng, 1, 6, k), nn.Randn(rng, 1, 6, k)
		want := regression64(p1.Data, z2.Data, 6, k) + regression64(p2.Data, z1.Data, 6, k)
		if got := float64(Loss(p1, p2, z1, z2).Item()); math.Abs(got-want) > 1e-5 {
			t.Errorf("k=%d: Loss = %v, want %v", k, got, want)
		}
	}
}

func TestLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p1 := nn.Randn(rng, 1, 4, 5).SetRequiresGrad(true)
	p2 := nn.Randn(rng, 1, 4, 5).SetRequiresGrad(true)
	z1, z2 := nn.Randn(rng, 1, 4, 5), nn.Randn(rng, 1, 4, 5)
	gradcheck.Check(t, func() *nn.Tensor { return Loss(p1, p2, z1, z2) },
		[]gradcheck.Input{{Name: "p1", T: p1}, {Name: "p2", T: p2}}, gradcheck.Options{})
}

func TestConformance(t *testing.T) {
	sdktest.Run(t, func() sdk.Method { return New() }, sdktest.Config{
		Init: sdk.InitConfig{FeatureDim: 12, BatchSize: 8, Seed: 3, Options: map[string]string{"dim": "16", "hidden": "24"}},
	})
}

func randn(n, d int, seed uint64) *nn.Tensor {
	return nn.Randn(rand.New(rand.NewPCG(seed, 9)), 1, n, d)
}

// The target projector starts as a copy of the online one and then follows
// target ← m·target + (1−m)·online after each step's update.
func TestTargetEMA(t *testing.T) {
	m := New()
	if err := m.Init(sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 1, Options: map[string]string{"dim": "4", "hidden": "8"}}); err != nil {
		t.Fatal(err)
	}
	md := m.Model().(*model)
	on, tg := md.proj.Params(), md.target.Params()
	for i := range on {
		for j, v := range on[i].T.Data {
			if tg[i].T.Data[j] != v {
				t.Fatalf("target %s differs from online at init", tg[i].Name)
			}
		}
	}
	before := make([][]float32, len(tg))
	for i, p := range tg {
		before[i] = append([]float32(nil), p.T.Data...)
	}
	const mom = 0.9
	in := sdk.StepInput{LR: 0.5, Momentum: mom,
		Views:   []*nn.Tensor{randn(8, 6, 1), randn(8, 6, 2)},
		Targets: []*nn.Tensor{randn(8, 6, 3), randn(8, 6, 4)}}
	if _, err := m.Step(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	movedOnline := false
	for i := range tg {
		for j, v := range tg[i].T.Data {
			want := mom*before[i][j] + (1-mom)*on[i].T.Data[j]
			if math.Abs(float64(v-want)) > 1e-6 {
				t.Fatalf("%s[%d] = %v, want m·old + (1−m)·online = %v", tg[i].Name, j, v, want)
			}
			movedOnline = movedOnline || on[i].T.Data[j] != before[i][j]
		}
	}
	if !movedOnline {
		t.Error("the online projector did not move")
	}
}

func TestInitErrors(t *testing.T) {
	err := New().Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 4, Options: map[string]string{"hidden": "0"}})
	if err == nil || !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "option hidden=0: must be ≥ 1") || !strings.Contains(err.Error(), "pred_hidden (int") {
		t.Errorf("err = %v", err)
	}
	m := New()
	_ = m.Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 4, Options: map[string]string{"dim": "8"}})
	other := New()
	_ = other.Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 4, Options: map[string]string{"dim": "4"}})
	blob, _ := other.State()
	if err := m.SetState(blob); err == nil || !strings.Contains(err.Error(), "state saved with options") {
		t.Errorf("SetState from other options: err = %v", err)
	}
}

// TestLearns: BYOL, with the toy host's EMA target encoder, learns the
// invariance of kittest's problem.
func TestLearns(t *testing.T) {
	res := kittest.Learns(t, New(), kittest.Config{Seed: 1, Options: map[string]string{"dim": "32", "hidden": "64"}}, 32)
	if std := kittest.Tail(res.OutputStd, 20); std < 0.5/math.Sqrt(32) {
		t.Errorf("output_std %.4f, want ≥ 0.5/√32 (no collapse)", std)
	}
}
