package sdk_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/proto/methodpb"
	"github.com/siambench/siambench/sdk"
)

// allSet fails t when a field of v (a struct, followed into nested structs,
// pointers and the first element of slices) is its zero value: a round
// trip of such a fixture then proves every field crosses the wire, and a
// field added later without a conversion fails here.
func allSet(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("fixture: %s is nil", path)
			return
		}
		allSet(t, path, v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			allSet(t, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("fixture: %s is empty", path)
			return
		}
		if v.Type().Elem() != reflect.TypeFor[*nn.Tensor]() {
			allSet(t, path+"[0]", v.Index(0))
		}
	default:
		if v.IsZero() {
			t.Errorf("fixture: %s is zero", path)
		}
	}
}

func ptr(x float64) *float64 { return &x }

func fullSpec() sdk.Spec {
	return sdk.Spec{
		Name: "m", Version: "1.2", Paper: "p", Description: "d",
		Views:     []sdk.ViewSpec{{Count: 2, Size: -50, Preset: "simsiam", ScaleMin: 0.2, ScaleMax: 0.9}},
		Target:    &sdk.TargetSpec{BaseMomentum: 0.99, Schedule: "cosine"},
		Negatives: true,
		Hyper:     sdk.Hyper{Optimizer: "lars", BaseLR: 0.3, LRBatchDiv: 256, WeightDecay: 1e-6, Momentum: 0.9, WarmupEpochs: 10},
		Options: []sdk.OptionSpec{{Name: "tau", Type: "float", Default: "0.1", Choices: []string{"x"}, Help: "h",
			Min: ptr(0.5), Max: ptr(1), MinExclusive: true}},
	}
}

func TestSpecRoundTrip(t *testing.T) {
	s := fullSpec()
	allSet(t, "Spec", reflect.ValueOf(s))
	if got := sdk.SpecFromProto(sdk.SpecToProto(s)); !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
	}
	// A message without a target or hyper (an older plugin) gives zeros.
	if got := sdk.SpecFromProto(&methodpb.Spec{Name: "m"}); got.Target != nil || got.Hyper != (sdk.Hyper{}) {
		t.Fatalf("empty message: %+v", got)
	}
}

func TestInitRoundTrip(t *testing.T) {
	cfg := sdk.InitConfig{FeatureDim: 64, BatchSize: 32, StepsPerEpoch: 10, TotalSteps: 100, Seed: 7,
		Options: map[string]string{"tau": "0.2"}, Hyper: fullSpec().Hyper}
	allSet(t, "InitConfig", reflect.ValueOf(cfg))
	if got := sdk.InitFromProto(sdk.InitToProto(cfg)); !reflect.DeepEqual(got, cfg) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, cfg)
	}
	// From a host that sends neither options nor hyper: an empty map, zero Hyper.
	got := sdk.InitFromProto(&methodpb.InitRequest{FeatureDim: 8})
	if got.Options == nil || len(got.Options) != 0 || got.Hyper != (sdk.Hyper{}) {
		t.Fatalf("empty request: %+v", got)
	}
}

func TestStepRoundTrip(t *testing.T) {
	x := func(v ...float32) *nn.Tensor { return nn.New(v, 1, len(v)) }
	in := sdk.StepInput{Step: 3, Epoch: 1, LR: 0.1, BaseLR: 0.2, Momentum: 0.99,
		Views: []*nn.Tensor{x(1, 2), x(3, 4)}, Targets: []*nn.Tensor{x(5, 6), x(7, 8)}}
	allSet(t, "StepInput", reflect.ValueOf(in))
	for _, isDetached := range []bool{false, true} {
		var detached []*nn.Tensor
		if isDetached {
			detached = []*nn.Tensor{x(9, 10), x(11, 12)}
		}
		req, err := sdk.StepToProto(in, detached, isDetached)
		if err != nil {
			t.Fatal(err)
		}
		gotIn, gotDet, gotIs, err := sdk.StepFromProto(req)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotIn, in) || !reflect.DeepEqual(gotDet, detached) || gotIs != isDetached {
			t.Fatalf("detached=%v round trip:\n got %+v %v %v\nwant %+v %v", isDetached, gotIn, gotDet, gotIs, in, detached)
		}
	}

	out := sdk.StepOutput{Loss: 1.5, Grads: []*nn.Tensor{x(1, 2)}, Metrics: map[string]float64{"output_std": 0.3}}
	allSet(t, "StepOutput", reflect.ValueOf(out))
	resp, err := sdk.StepOutputToProto(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sdk.StepOutputFromProto(resp); err != nil || !reflect.DeepEqual(got, out) {
		t.Fatalf("output round trip: %+v, %v; want %+v", got, err, out)
	}
}

func TestTensorErrors(t *testing.T) {
	if _, err := sdk.StepToProto(sdk.StepInput{Views: []*nn.Tensor{nil}}, nil, false); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "view 0 is nil") {
		t.Errorf("nil view: %v", err)
	}
	bad := &methodpb.Tensor{Shape: []int64{2}, Dtype: methodpb.DType_DTYPE_FLOAT32, Data: []byte{1}}
	if _, _, _, err := sdk.StepFromProto(&methodpb.StepRequest{Targets: []*methodpb.Tensor{bad}}); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "target 0") {
		t.Errorf("bad target: %v", err)
	}
	if _, err := sdk.StepOutputFromProto(&methodpb.StepResponse{Grads: []*methodpb.Tensor{bad}}); err == nil || !strings.Contains(err.Error(), "gradient 0") {
		t.Errorf("bad gradient: %v", err)
	}
}
