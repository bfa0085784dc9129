package kittest

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

// SameSteps initialises a and b with cfg, feeds both the same steps
// (random features of cfg's shape for every view, target features when the
// spec asks for them) and fails t unless specs, losses, gradients, metrics
// and final state blobs are bit-identical. Use it to check that a plugin
// binary served over gRPC behaves exactly as the method in-process.
func SameSteps(t testing.TB, a, b sdk.Method, cfg sdk.InitConfig, steps int) {
	t.Helper()
	sa, sb := a.Describe(), b.Describe()
	if !reflect.DeepEqual(sa, sb) {
		t.Fatalf("specs differ:\n%+v\n%+v", sa, sb)
	}
	for _, m := range []sdk.Method{a, b} {
		if err := m.Init(cfg); err != nil {
			t.Fatalf("Init: %v", err)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 11))
	feats := func() *nn.Tensor { return nn.Randn(rng, 1, cfg.BatchSize, cfg.FeatureDim) }
	for k := 0; k < steps; k++ {
		in := sdk.StepInput{Step: k, Epoch: k / max(1, cfg.StepsPerEpoch), LR: 0.05, BaseLR: 0.05}
		for v := 0; v < sa.NumViews(); v++ {
			in.Views = append(in.Views, feats())
			if sa.Target != nil {
				in.Targets = append(in.Targets, feats())
			}
		}
		if sa.Target != nil {
			in.Momentum = sa.Target.BaseMomentum
		}
		oa, err := a.Step(context.Background(), in)
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		ob, err := b.Step(context.Background(), in)
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		if math.Float64bits(oa.Loss) != math.Float64bits(ob.Loss) {
			t.Fatalf("step %d: loss %v vs %v", k, oa.Loss, ob.Loss)
		}
		if !reflect.DeepEqual(oa.Metrics, ob.Metrics) {
			t.Fatalf("step %d: metrics %v vs %v", k, oa.Metrics, ob.Metrics)
		}
		for v := range oa.Grads {
			if !reflect.DeepEqual(oa.Grads[v].Data, ob.Grads[v].Data) || !reflect.DeepEqual(oa.Grads[v].Shape(), ob.Grads[v].Shape()) {
				t.Fatalf("step %d: gradient of view %d differs", k, v)
			}
		}
	}
	ba, err := a.State()
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	bb, err := b.State()
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	if !reflect.DeepEqual(ba, bb) {
		t.Fatalf("state blobs differ (%d vs %d bytes)", len(ba), len(bb))
	}
}
