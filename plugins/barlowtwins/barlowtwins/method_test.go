package barlowtwins

import (
	"testing"

	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit/kittest"
	"github.com/siambench/siambench/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	for _, opts := range []map[string]string{
		{"dim": "16", "hidden": "24"},
		{"dim": "8", "hidden": "12", "lambda": "0.05", "scale": "0.5"},
	} {
		sdktest.Run(t, func() sdk.Method { return New() }, sdktest.Config{
			Init: sdk.InitConfig{FeatureDim: 12, BatchSize: 8, Seed: 3, Options: opts},
		})
	}
}

func TestInitErrors(t *testing.T) {
	sdktest.InitErrors(t, func() sdk.Method { return New() }, sdk.InitConfig{FeatureDim: 8, BatchSize: 4},
		sdktest.InitError{Options: map[string]string{"dim": "1"}, Want: "option dim=1"},
		sdktest.InitError{Options: map[string]string{"lambda": "-1"}, Want: "option lambda=-1"},
		sdktest.InitError{Options: map[string]string{"lamda": "0.1"}, Want: "lambda (float"})
}

// Barlow Twins learns the synthetic problem; without its redundancy term
// (λ = 0, the invariance term alone) the channels of the projection become
// copies of each other: the mean off-diagonal C², which the full loss
// keeps low, grows several-fold (measured: 0.17 → 0.83).
func TestLearns(t *testing.T) {
	cfg := kittest.Config{Seed: 1, Options: map[string]string{"dim": "32", "hidden": "64"}}
	res := kittest.Learns(t, New(), cfg, 32)
	if first, last := kittest.Tail(res.Loss[:10], 10), kittest.Tail(res.Loss, 10); last > 0.5*first {
		t.Errorf("loss %.3f → %.3f, want it at least halved", first, last)
	}
	full := lastMetric(t, New(), cfg, "off_diag_sq")
	cfg.Options = map[string]string{"dim": "32", "hidden": "64", "lambda": "1e-12"}
	inv := lastMetric(t, New(), cfg, "off_diag_sq")
	t.Logf("mean off-diagonal C² after training: full loss %.4f, invariance term only %.4f", full, inv)
	if inv < 3*full {
		t.Errorf("without the redundancy term off-diagonal C² is %.4f, with it %.4f: want it ≥ 3× larger without", inv, full)
	}
}

func lastMetric(t *testing.T, m sdk.Method, cfg kittest.Config, name string) float64 {
	t.Helper()
	res, err := kittest.Train(t.Context(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := res.Metrics[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return v
}
