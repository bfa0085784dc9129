package pluginhost

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/sdk"
)

// spoiled is the toy method with its step output spoiled after the fact.
type spoiled struct {
	sdk.Method
	spoil func(*sdk.StepOutput)
}

func (s spoiled) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	out, err := s.Method.Step(ctx, in)
	s.spoil(&out)
	return out, err
}

func params(m nn.Module) []float32 {
	var out []float32
	for _, p := range m.Params() {
		out = append(out, p.T.Data...)
	}
	return out
}

// TrainStep steps the backbone with the method's feature gradients and
// moves the target by the momentum; a step with a bad output changes
// neither, and says what was wrong.
func TestTrainStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	newNet := func() *nn.Sequential {
		return nn.NewSequential("enc", nn.NewLinear(rng, 6, 8, true), nn.NewReLU(), nn.NewLinear(rng, 8, 4, true))
	}
	backbone, target := newNet(), newNet()
	tr := Trainee{Backbone: backbone, Target: target,
		Opt: optim.NewSGD([]optim.Group{{Params: backbone.Params()}}, 0.9, false)}
	inputs := []*nn.Tensor{nn.Randn(rng, 1, 8, 6), nn.Randn(rng, 1, 8, 6)}
	in := sdk.StepInput{Step: 3, Epoch: 1, LR: 0.5, Momentum: 0.75}
	newMethod := func(spoil func(*sdk.StepOutput)) sdk.Method {
		m := sdk.Method(toy.New())
		if spoil != nil {
			m = spoiled{m, spoil}
		}
		if err := m.Init(sdk.InitConfig{FeatureDim: 4, BatchSize: 8, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		return m
	}

	for _, tc := range []struct {
		name, want string
		diverged   bool
		spoil      func(*sdk.StepOutput)
	}{
		{"nan loss", "loss is NaN at step 3, epoch 2", true, func(o *sdk.StepOutput) { o.Loss = math.NaN() }},
		{"inf gradient", "non-finite feature gradient (view 1)", true, func(o *sdk.StepOutput) { o.Grads[1].Data[0] = float32(math.Inf(1)) }},
		{"one gradient", "returned 1 gradients for 2 views", false, func(o *sdk.StepOutput) { o.Grads = o.Grads[:1] }},
		{"short gradient", "gradient of view 0 has the wrong size", false, func(o *sdk.StepOutput) { o.Grads[0] = nn.Zeros(8, 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b0, t0 := params(backbone), params(target)
			_, err := TrainStep(context.Background(), newMethod(tc.spoil), tr, inputs, in)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrDiverged) != tc.diverged {
				t.Fatalf("err = %v, want %q (diverged %v)", err, tc.want, tc.diverged)
			}
			if !slices.Equal(params(backbone), b0) || !slices.Equal(params(target), t0) {
				t.Error("a failed step changed the backbone or the target")
			}
		})
	}

	b0, t0 := params(backbone), params(target)
	out, err := TrainStep(context.Background(), newMethod(nil), tr, inputs, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Grads) != 2 {
		t.Fatalf("%d gradients", len(out.Grads))
	}
	b1, t1 := params(backbone), params(target)
	if slices.Equal(b1, b0) {
		t.Fatal("the backbone did not move")
	}
	for i := range t1 { // EMA: target ← m·target + (1−m)·backbone, after the backbone's step
		want := 0.75*float64(t0[i]) + 0.25*float64(b1[i])
		if math.Abs(float64(t1[i])-want) > 1e-6 {
			t.Fatalf("target param %d = %v, want %v", i, t1[i], want)
		}
	}
}
