package simsiam

import (
	"context"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
	"github.com/siambench/siambench/sdk/kit/kittest"
	"github.com/siambench/siambench/sdk/sdktest"
)

// small keeps the heads tiny so the finite-difference checks stay fast.
func small(extra map[string]string) map[string]string {
	o := map[string]string{"dim": "16", "hidden": "24"}
	maps.Copy(o, extra)
	return o
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
	}{
		{"default", nil},
		{"no_stopgrad", map[string]string{"stopgrad": "false"}},
		{"no_predictor", map[string]string{"predictor": "false"}},
		// Asymmetric with stop-gradient leaves view 2 without gradient, which
		// the suite rejects by design; TestAsymmetric covers that case.
		{"asymmetric_xent_no_stopgrad", map[string]string{"symmetric": "false", "similarity": "xent", "stopgrad": "false"}},
		{"head_bn_none_decayed_pred", map[string]string{"head_bn": "none", "pred_lr_fixed": "false"}},
		{"head_bn_all", map[string]string{"head_bn": "all"}},
		{"pred_frozen", map[string]string{"pred_frozen": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdktest.Run(t, func() sdk.Method { return New() }, sdktest.Config{
				Init: sdk.InitConfig{FeatureDim: 12, BatchSize: 8, Seed: 3, Options: small(tc.opts)},
			})
		})
	}
}

func TestHeadBNLayout(t *testing.T) {
	// Buffers are BN running statistics: two per BN layer.
	for _, tc := range []struct {
		headBN         string
		projBN, predBN int // BN layers in projector / predictor
		projOutAffine  bool
	}{
		{"none", 0, 0, false},
		{"hidden", 2, 1, false},
		{"default", 3, 1, false},
		{"all", 3, 2, false},
	} {
		t.Run(tc.headBN, func(t *testing.T) {
			m := New()
			if err := m.Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 4, Options: small(map[string]string{"head_bn": tc.headBN})}); err != nil {
				t.Fatal(err)
			}
			if got := len(mod(m).proj.Buffers()) / 2; got != tc.projBN {
				t.Errorf("projector has %d BN layers, want %d", got, tc.projBN)
			}
			if got := len(mod(m).pred.Buffers()) / 2; got != tc.predBN {
				t.Errorf("predictor has %d BN layers, want %d", got, tc.predBN)
			}
			for _, p := range mod(m).proj.Params() {
				if strings.HasPrefix(p.Name, "projector.2.1.") {
					t.Errorf("projector output BN must have no affine parameters (official code), found %s", p.Name)
				}
			}
			// The predictor is a bottleneck: K → K/4 → K.
			if w := mod(m).pred.Params()[0].T.Shape(); w[0] != 4 || w[1] != 16 {
				t.Errorf("predictor first weight %v, want (4,16)", w)
			}
		})
	}
}

func paramsCopy(ps []*nn.Param) [][]float32 {
	out := make([][]float32, len(ps))
	for i, p := range ps {
		out[i] = append([]float32(nil), p.T.Data...)
	}
	return out
}

func moved(before [][]float32, ps []*nn.Param) bool {
	for i, p := range ps {
		for j, v := range p.T.Data {
			if v != before[i][j] {
				return true
			}
		}
	}
	return false
}

// With pred_lr_fixed the predictor steps at BaseLR even when the scheduled
// lr has decayed to 0; without it, it follows the schedule.
func TestPredictorLR(t *testing.T) {
	for _, fixed := range []bool{true, false} {
		m := New()
		opts := small(map[string]string{"pred_lr_fixed": map[bool]string{true: "true", false: "false"}[fixed]})
		if err := m.Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 6, Seed: 1, Options: opts}); err != nil {
			t.Fatal(err)
		}
		proj, pred := paramsCopy(mod(m).proj.Params()), paramsCopy(mod(m).pred.Params())
		in := sdk.StepInput{LR: 0, BaseLR: 0.1, Views: []*nn.Tensor{randn(6, 8, 1), randn(6, 8, 2)}}
		if _, err := m.Step(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if moved(proj, mod(m).proj.Params()) {
			t.Errorf("pred_lr_fixed=%v: projector moved at scheduled lr 0", fixed)
		}
		if got := moved(pred, mod(m).pred.Params()); got != fixed {
			t.Errorf("pred_lr_fixed=%v: predictor moved = %v", fixed, got)
		}
	}
}

// A frozen predictor keeps its random init through steps at any lr (and
// through a state round trip), while the projector trains.
func TestPredictorFrozen(t *testing.T) {
	m := New()
	cfg := sdk.InitConfig{FeatureDim: 8, BatchSize: 6, Seed: 1, Options: small(map[string]string{"pred_frozen": "true"})}
	if err := m.Init(cfg); err != nil {
		t.Fatal(err)
	}
	proj, pred := paramsCopy(mod(m).proj.Params()), paramsCopy(mod(m).pred.Params())
	for i := range 3 {
		in := sdk.StepInput{LR: 0.1, BaseLR: 0.1, Views: []*nn.Tensor{randn(6, 8, uint64(2*i+1)), randn(6, 8, uint64(2*i+2))}}
		if _, err := m.Step(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	if !moved(proj, mod(m).proj.Params()) {
		t.Error("the projector did not train")
	}
	if moved(pred, mod(m).pred.Params()) {
		t.Error("the frozen predictor moved")
	}
	blob, err := m.State()
	if err != nil {
		t.Fatal(err)
	}
	fresh := New()
	if err := fresh.Init(cfg); err != nil {
		t.Fatal(err)
	}
	if err := fresh.SetState(blob); err != nil {
		t.Fatal(err)
	}
	if moved(pred, mod(fresh).pred.Params()) || !moved(proj, mod(fresh).proj.Params()) {
		t.Error("state round trip: want the frozen predictor at its init and the trained projector")
	}
}

func randn(n, d int, seed uint64) *nn.Tensor {
	x := make([]float32, n*d)
	s := seed*2654435761 + 1
	for i := range x {
		s = s*6364136223846793005 + 1442695040888963407
		x[i] = float32(int64(s>>33)%2000-1000) / 500
	}
	return nn.New(x, n, d)
}

func TestInitErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
		want string
	}{
		{"zero dim", map[string]string{"dim": "0"}, "option dim=0: must be ≥ 1"},
		{"negative pred_hidden", map[string]string{"pred_hidden": "-1"}, "option pred_hidden=-1"},
		{"bad enum", map[string]string{"head_bn": "some"}, "none|hidden|default|all"},
		{"typo", map[string]string{"stop_grad": "false"}, "stopgrad (bool, default true)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 4, Options: tc.opts})
			if err == nil || !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadInput containing %q", err, tc.want)
			}
		})
	}
	m := New()
	if err := m.Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 4, Options: small(nil)}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Step(context.Background(), sdk.StepInput{LR: 0.1, Views: []*nn.Tensor{randn(1, 8, 1), randn(1, 8, 2)}})
	if err == nil || !strings.Contains(err.Error(), "at least 2 images") {
		t.Errorf("batch of 1: err = %v", err)
	}
	// A state saved with other options is refused.
	other := New()
	_ = other.Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 4, Options: small(map[string]string{"stopgrad": "false"})})
	blob, _ := other.State()
	if err := m.SetState(blob); err == nil || !strings.Contains(err.Error(), "state saved with options") {
		t.Errorf("SetState from other options: err = %v", err)
	}
}

// TestAsymmetric: with stop-gradient, the asymmetric loss D(p1, sg(z2))
// sends no gradient to view 2, and its value is the first half-term's.
func TestAsymmetric(t *testing.T) {
	in := sdk.StepInput{LR: 0.1, Views: []*nn.Tensor{randn(8, 12, 1), randn(8, 12, 2)}}
	run := func(sym string) sdk.StepOutput {
		m := New()
		if err := m.Init(sdk.InitConfig{FeatureDim: 12, BatchSize: 8, Seed: 5, Options: small(map[string]string{"symmetric": sym})}); err != nil {
			t.Fatal(err)
		}
		out, err := m.Step(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	asym := run("false")
	for i, g := range asym.Grads[1].Data {
		if g != 0 {
			t.Fatalf("view 2 gradient [%d] = %v, want 0", i, g)
		}
	}
	nonzero := false
	for _, g := range asym.Grads[0].Data {
		nonzero = nonzero || g != 0
	}
	if !nonzero {
		t.Error("view 1 has no gradient")
	}
	// The same seed gives the same heads, so the symmetric loss averages
	// the asymmetric term with its mirror: the two must differ but both lie in [−1, 1].
	sym := run("true")
	if asym.Loss == sym.Loss || asym.Loss < -1 || asym.Loss > 1 {
		t.Errorf("asymmetric loss %v, symmetric %v", asym.Loss, sym.Loss)
	}
}

// TestLearns trains a small encoder through SimSiam on kittest's synthetic
// problem: the kNN accuracy of the trained encoder must be far above chance
// (0.25), the random-init encoder and the raw inputs.
func TestLearns(t *testing.T) {
	res := kittest.Learns(t, New(), kittest.Config{Seed: 1, Options: map[string]string{"dim": "32", "hidden": "64"}}, 32)
	// Healthy: output_std stays near 1/√32 ≈ 0.177 (paper Fig. 2).
	if std := kittest.Tail(res.OutputStd, 20); std < 0.7/math.Sqrt(32) {
		t.Errorf("output_std %.4f, want ≥ 0.7/√32", std)
	}
}

// TestCollapseWithoutStopGradient reproduces the paper's Figure 2 on the toy
// problem: without stop-gradient, and without the BN on the projector output
// (head_bn=hidden; with stopgrad=false and the default BN, output_std only
// fell to 0.065–0.15 over seeds 1–3 and kNN stayed at init level),
// the output collapses to one direction: std → 0, loss → −1.
func TestCollapseWithoutStopGradient(t *testing.T) {
	res, err := kittest.Train(context.Background(), New(), kittest.Config{Seed: 1, Steps: 200,
		Options: map[string]string{"dim": "32", "hidden": "64", "stopgrad": "false", "head_bn": "hidden"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("simsiam stopgrad=false head_bn=hidden: %v", res)
	if std := kittest.Tail(res.OutputStd, 20); std > 0.25/math.Sqrt(32) {
		t.Errorf("output_std %.4f, want collapse below 0.25/√32 = %.4f", std, 0.25/math.Sqrt(32))
	}
	if l := kittest.Tail(res.Loss, 20); l > -0.95 {
		t.Errorf("loss %.4f, want → −1 on collapse", l)
	}
	if res.FinalAcc > res.InitAcc+0.1 {
		t.Errorf("a collapsed method should not learn: kNN %.3f vs init %.3f", res.FinalAcc, res.InitAcc)
	}
}

// mod returns the heads of an initialised SimSiam.
func mod(m kit.DetachedMethod) *model { return m.Model().(*model) }

// Asymmetric 2×: four views, the conformance suite over both pairs, its
// loss the mean of the two pairs' asymmetric losses, and what it learns.
func TestAsym2x(t *testing.T) {
	m := NewAsym2x()
	if s := m.Describe(); s.Name != "simsiam2x" || len(s.Views) != 1 || s.Views[0].Count != 4 {
		t.Fatalf("spec %+v", s)
	}
	// The suite wants every view to get a gradient; with the asymmetric loss
	// views 2 and 4 are stop-gradient targets only, so it runs the
	// symmetric loss on both pairs (the same code, every view in both roles).
	sdktest.Run(t, func() sdk.Method { return NewAsym2x() }, sdktest.Config{
		Init: sdk.InitConfig{Seed: 1, Options: map[string]string{"dim": "8", "hidden": "8", "symmetric": "true"}},
	})
	// The loss equals the mean of D(p1, sg z2) and D(p3, sg z4) computed by
	// two two-view SimSiams with the same heads.
	cfg := sdk.InitConfig{FeatureDim: 6, BatchSize: 8, Seed: 3, Options: map[string]string{"dim": "8", "hidden": "8", "symmetric": "false"}}
	four, a, b := NewAsym2x(), New(), New()
	for _, x := range []kit.DetachedMethod{four, a, b} {
		if err := x.Init(cfg); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(5, 5))
	views := []*nn.Tensor{nn.Randn(rng, 1, 8, 6), nn.Randn(rng, 1, 8, 6), nn.Randn(rng, 1, 8, 6), nn.Randn(rng, 1, 8, 6)}
	out, err := four.Step(context.Background(), sdk.StepInput{LR: 0, Views: views})
	if err != nil {
		t.Fatal(err)
	}
	o1, err := a.Step(context.Background(), sdk.StepInput{LR: 0, Views: views[:2]})
	if err != nil {
		t.Fatal(err)
	}
	o2, err := b.Step(context.Background(), sdk.StepInput{LR: 0, Views: views[2:]})
	if err != nil {
		t.Fatal(err)
	}
	if want := (o1.Loss + o2.Loss) / 2; math.Abs(out.Loss-want) > 1e-6 {
		t.Errorf("loss %v, want the mean of the pairs' %v", out.Loss, want)
	}
	if _, err := four.Step(context.Background(), sdk.StepInput{LR: 0, Views: views[:3]}); err == nil || !strings.Contains(err.Error(), "in pairs") {
		t.Errorf("three views: %v", err)
	}
	// What it learns: the symmetric loss on both pairs passes the kit's bar;
	// the asymmetric 2× itself learns, more slowly on this problem (kNN
	// 0.650 against 0.820 for the plain asymmetric loss, seed 1, 400 steps;
	// the paper finds it better than the asymmetric on ImageNet).
	kittest.Learns(t, NewAsym2x(), kittest.Config{Seed: 1, Options: map[string]string{"dim": "32", "hidden": "64", "symmetric": "true"}}, 32)
	res, err := kittest.Train(t.Context(), NewAsym2x(), kittest.Config{Seed: 1, Options: map[string]string{"dim": "32", "hidden": "64"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("asymmetric 2×: %v", res)
	if res.FinalAcc < res.InitAcc+0.15 || kittest.Tail(res.Loss, 10) > -0.5 {
		t.Errorf("asymmetric 2× did not learn: kNN %.3f from %.3f, loss → %.3f", res.FinalAcc, res.InitAcc, kittest.Tail(res.Loss, 10))
	}
}
