package mocov2

import (
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
	"github.com/siambench/siambench/sdk/kit/kittest"
	"github.com/siambench/siambench/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	for _, opts := range []map[string]string{
		{"dim": "16", "hidden": "24", "queue": "12"}, // wraps around within the suite's steps
		{"dim": "8", "hidden": "12", "queue": "64", "temperature": "0.5"},
	} {
		sdktest.Run(t, func() sdk.Method { return New() }, sdktest.Config{
			Init: sdk.InitConfig{FeatureDim: 12, BatchSize: 8, Seed: 3, Options: opts},
		})
	}
}

func TestInitErrors(t *testing.T) {
	sdktest.InitErrors(t, func() sdk.Method { return New() }, sdk.InitConfig{FeatureDim: 8, BatchSize: 4},
		sdktest.InitError{Options: map[string]string{"queue": "0"}, Want: "option queue=0"},
		sdktest.InitError{Options: map[string]string{"temperature": "0"}, Want: "option temperature=0"},
		sdktest.InitError{Options: map[string]string{"queue": "x"}, Want: "queue"})
}

// The queue holds the latest keys, oldest overwritten first, and its
// pointer wraps around.
func TestQueue(t *testing.T) {
	m := New()
	if err := m.Init(sdk.InitConfig{FeatureDim: 4, BatchSize: 3, Seed: 1, TotalSteps: 10, Options: map[string]string{"dim": "2", "hidden": "4", "queue": "5"}}); err != nil {
		t.Fatal(err)
	}
	md := m.Model().(*model)
	var want [][]float32 // every key queued, in order
	for step := 0; step < 3; step++ {
		k2 := nn.New([]float32{float32(step), 1, float32(step), 2, float32(step), 3}, 3, 2)
		k1 := nn.New([]float32{float32(step), -1, float32(step), -2, float32(step), -3}, 3, 2)
		md.pending = []*nn.Tensor{k2, k1}
		md.AfterStep(sdk.StepInput{})
		for _, k := range []*nn.Tensor{k2, k1} {
			for i := 0; i < 3; i++ {
				want = append(want, k.Data[2*i:2*i+2])
			}
		}
	}
	// 18 keys into 5 rows: the last 5 (keys 13-17) are in rows 13%5 … 17%5.
	if p := int(md.ptr.T.Data[0]); p != 18%5 {
		t.Fatalf("pointer %d after 18 keys in a queue of 5, want %d", p, 18%5)
	}
	for i := 13; i < 18; i++ {
		r := i % 5
		if got := md.queue.T.Data[2*r : 2*r+2]; got[0] != want[i][0] || got[1] != want[i][1] {
			t.Errorf("queue row %d = %v, want key %d = %v", r, got, i, want[i])
		}
	}
}

// MoCo v2 learns the synthetic problem; with its negatives removed (the
// loss reduced to the positive term −q·k/τ) the same heads, momentum key
// head and schedule collapse.
func TestLearns(t *testing.T) {
	// lr 0.03, not the kit's 0.1: τ = 0.2 scales InfoNCE's gradient by 5,
	// and at 0.1 the toy run diverges to a constant output (loss log(Q+1)).
	// 0.03 is also the harness's lr at batch 64 (0.06·64/128).
	cfg := kittest.Config{Seed: 1, LR: 0.03, Options: map[string]string{"dim": "32", "hidden": "64", "queue": "512"}}
	res := kittest.Learns(t, New(), cfg, 32)
	if first, last := kittest.Tail(res.Loss[:10], 10), kittest.Tail(res.Loss, 10); last > first-0.5 {
		t.Errorf("loss %.3f → %.3f, want a drop of at least 0.5", first, last)
	}
	pos := kit.NewMethod(New().Describe(), func(b *kit.Build) (kit.Model, error) {
		m, err := build(b)
		if err != nil {
			return nil, err
		}
		return positiveOnly{m.(*model)}, nil
	})
	bad, err := kittest.Train(t.Context(), pos, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("without negatives: %v", bad)
	if bad.FinalAcc > res.FinalAcc-0.2 || kittest.Tail(bad.OutputStd, 10) > 0.25*kittest.Tail(res.OutputStd, 10) {
		t.Errorf("without negatives: kNN %.3f (full %.3f), output_std %.4f (full %.4f): want it collapsed (kNN ≥ 0.2 lower, std < ¼)",
			bad.FinalAcc, res.FinalAcc, kittest.Tail(bad.OutputStd, 10), kittest.Tail(res.OutputStd, 10))
	}
}

// positiveOnly is MoCo v2 without negatives: −mean q·k / τ.
type positiveOnly struct{ *model }

func (p positiveOnly) Loss(in sdk.StepInput) (kit.Loss, error) {
	q := nn.L2Normalize(p.proj.Forward(in.Views[0]), 1e-12)
	var k *nn.Tensor
	nn.NoGrad(func() { k = nn.L2Normalize(p.key.Forward(in.Targets[1]), 1e-12) })
	loss := nn.Scale(nn.MeanAll(nn.Sum(nn.Mul(q, k), 1)), float32(-1/p.temp))
	return kit.Loss{Value: loss, Outputs: []*nn.Tensor{q}}, nil
}
