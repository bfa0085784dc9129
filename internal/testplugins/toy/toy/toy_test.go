package toy

import (
	"context"
	"math"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

// Known values: the loss is −mean cos(z1, z2), whatever W is.
func TestLossKnownValues(t *testing.T) {
	x := []float32{1, 2, 0.5, -1, 3, 0, -2, 1, 1}
	neg := make([]float32, len(x))
	for i, v := range x {
		neg[i] = -v
	}
	cases := []struct {
		name     string
		a, b     []float32
		stopgrad string
		want     float64 // loss
		zeroGrad bool    // the gradient vanishes at the optimum
	}{
		{"identical views", x, x, "false", -1, true},
		{"opposite views", x, neg, "false", 1, false},
		{"identical, stopgrad", x, x, "true", -1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := New()
			if err := m.Init(sdk.InitConfig{FeatureDim: 3, BatchSize: 3, Seed: 4, Options: map[string]string{"dim": "2", "stopgrad": tc.stopgrad}}); err != nil {
				t.Fatal(err)
			}
			out, err := m.Step(context.Background(), sdk.StepInput{Views: []*nn.Tensor{nn.New(tc.a, 3, 3), nn.New(tc.b, 3, 3)}})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(out.Loss-tc.want) > 1e-9 {
				t.Fatalf("loss = %v, want %v", out.Loss, tc.want)
			}
			for v, g := range out.Grads {
				for j, d := range g.Data {
					if tc.zeroGrad && math.Abs(float64(d)) > 1e-6 {
						t.Fatalf("∂loss/∂views[%d][%d] = %v at the optimum, want 0", v, j, d)
					}
				}
			}
		})
	}
}

func TestSetStateRejectsMismatch(t *testing.T) {
	a, b := New(), New()
	if err := a.Init(sdk.InitConfig{FeatureDim: 4, BatchSize: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Init(sdk.InitConfig{FeatureDim: 5, BatchSize: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	blob, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetState(blob); err == nil {
		t.Fatal("a D=4 state was accepted by a D=5 method")
	}
}
