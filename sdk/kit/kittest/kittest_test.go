package kittest

import (
	"context"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

// null returns zero gradients: the toy host must then leave the encoder
// exactly as it was (its Hyper has no weight decay), so the final kNN
// accuracy equals the initial one.
type null struct{ b, d int }

func (n *null) Describe() sdk.Spec {
	return sdk.Spec{Name: "null", Version: "0", Views: []sdk.ViewSpec{{Count: 2, Preset: "simsiam"}},
		Hyper: sdk.Hyper{Optimizer: "sgd", Momentum: 0.9}}
}
func (n *null) Init(cfg sdk.InitConfig) error { n.b, n.d = cfg.BatchSize, cfg.FeatureDim; return nil }
func (n *null) Step(_ context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	return sdk.StepOutput{Loss: 1, Grads: []*nn.Tensor{nn.Zeros(n.b, n.d), nn.Zeros(n.b, n.d)},
		Metrics: map[string]float64{"output_std": 0.5}}, nil
}
func (n *null) State() ([]byte, error) { return []byte{0}, nil }
func (n *null) SetState([]byte) error  { return nil }

func TestTrainPlumbing(t *testing.T) {
	res, err := Train(context.Background(), &null{}, Config{Seed: 2, Steps: 20, Batch: 16, EvalN: 128})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Loss) != 20 || len(res.OutputStd) != 20 || res.OutputStd[19] != 0.5 {
		t.Errorf("per-step records: %d losses, %d stds (%v)", len(res.Loss), len(res.OutputStd), res.OutputStd)
	}
	if res.FinalAcc != res.InitAcc {
		t.Errorf("zero gradients changed the encoder: kNN %v → %v", res.InitAcc, res.FinalAcc)
	}
	// The problem is hard for nearest neighbours on raw inputs but far from
	// hopeless: between chance (0.25) and perfect.
	if res.RawAcc < 0.3 || res.RawAcc > 0.85 {
		t.Errorf("raw kNN accuracy %v, want between chance and perfect", res.RawAcc)
	}
	if got := Tail([]float64{1, 2, 3, 4}, 2); got != 3.5 {
		t.Errorf("Tail = %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, &null{}, Config{Steps: 5}); err == nil {
		t.Error("a cancelled context should stop training")
	}
}
