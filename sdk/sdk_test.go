package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

func TestParseOptions(t *testing.T) {
	specs := toy.New().Describe().Options
	cases := []struct {
		name  string
		given map[string]string
		want  string // error substring; "" = valid
	}{
		{"defaults", nil, ""},
		{"set", map[string]string{"dim": "4", "stopgrad": "true", "fault": "slow"}, ""},
		{"unknown", map[string]string{"dims": "4"}, `unknown option "dims"; valid options: dim (int, default 16)`},
		{"bad_int", map[string]string{"dim": "four"}, `option dim: "four" is not an integer`},
		{"bad_bool", map[string]string{"stopgrad": "yes please"}, `option stopgrad: "yes please" is not a bool`},
		{"bad_enum", map[string]string{"fault": "boom"}, `option fault: "boom" is not one of none|panic|slow|exit`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := sdk.ParseOptions(specs, tc.given)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, sdk.ErrBadInput) {
					t.Fatalf("err = %v, want ErrBadInput containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range specs {
				want := s.Default
				if v, ok := tc.given[s.Name]; ok {
					want = v
				}
				if got := o.String(s.Name); got != want {
					t.Errorf("%s = %q, want %q", s.Name, got, want)
				}
			}
		})
	}
	o, _ := sdk.ParseOptions(specs, map[string]string{"dim": "7", "stopgrad": "true"})
	if o.Int("dim") != 7 || !o.Bool("stopgrad") {
		t.Fatalf("typed getters: dim %d stopgrad %v", o.Int("dim"), o.Bool("stopgrad"))
	}
	f, err := sdk.ParseOptions([]sdk.OptionSpec{{Name: "tau", Type: "float", Default: "0.1"}}, map[string]string{"tau": "NaN"})
	if err == nil {
		t.Fatalf("NaN accepted for a float option: %v", f.Float("tau"))
	}
}

// TestOptionRanges checks Min, Max and MinExclusive: the bounds themselves,
// both sides, and errors naming the option, the value and the range.
func TestOptionRanges(t *testing.T) {
	dim := sdk.OptionSpec{Name: "dim", Type: "int", Default: "8", Min: new(1.0)}
	tau := sdk.OptionSpec{Name: "tau", Type: "float", Default: "0.5", Min: new(0.0), MinExclusive: true, Max: new(10.0)}
	frac := sdk.OptionSpec{Name: "frac", Type: "float", Default: "0.5", Max: new(1.0)}
	cases := []struct {
		name string
		spec sdk.OptionSpec
		val  string
		want string // error substring; "" = valid
	}{
		{"int at min", dim, "1", ""},
		{"int below min", dim, "0", "option dim=0: must be ≥ 1"},
		{"int negative", dim, "-1", "option dim=-1: must be ≥ 1"},
		{"float open min excluded", tau, "0", "option tau=0: must be in (0, 10]"},
		{"float just above open min", tau, "1e-9", ""},
		{"float at max", tau, "10", ""},
		{"float above max", tau, "10.01", "must be in (0, 10]"},
		{"float NaN", tau, "NaN", `option tau: "NaN" is not a finite number`},
		{"float -Inf", frac, "-Inf", "not a finite number"},
		{"max only", frac, "2", "option frac=2: must be ≤ 1"},
		{"max only, very negative ok", frac, "-5", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Check(tc.val)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check(%q) = %v, want %q", tc.val, err, tc.want)
			}
			// ParseOptions applies the same check, as ErrBadInput.
			_, perr := sdk.ParseOptions([]sdk.OptionSpec{tc.spec}, map[string]string{tc.spec.Name: tc.val})
			if (perr != nil) != (tc.want != "") || (perr != nil && !errors.Is(perr, sdk.ErrBadInput)) {
				t.Errorf("ParseOptions: %v, want the same verdict as Check", perr)
			}
		})
	}
	if got := sdk.DescribeOptions([]sdk.OptionSpec{dim, tau}); got != "dim (int ≥ 1, default 8), tau (float in (0, 10], default 0.5)" {
		t.Errorf("DescribeOptions = %q", got)
	}
}

func TestSpecValidate(t *testing.T) {
	good := toy.New().Describe()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		mod  func(*sdk.Spec)
		want string
	}{
		{"name", func(s *sdk.Spec) { s.Name = "Sim Siam" }, "lower-case"},
		{"no_views", func(s *sdk.Spec) { s.Views = nil }, "no views"},
		{"one_view", func(s *sdk.Spec) { s.Views[0].Count = 1 }, "at least 2"},
		{"preset", func(s *sdk.Spec) { s.Views[0].Preset = "" }, "no augmentation preset"},
		{"schedule", func(s *sdk.Spec) { s.Target = &sdk.TargetSpec{BaseMomentum: 0.99, Schedule: "linear"} }, "cosine or constant"},
		{"momentum", func(s *sdk.Spec) { s.Target = &sdk.TargetSpec{BaseMomentum: 1, Schedule: "cosine"} }, "[0, 1)"},
		{"optimizer", func(s *sdk.Spec) { s.Hyper.Optimizer = "rmsprop" }, `optimizer "rmsprop": want sgd or lars`},
		{"adam: no backbone optimizer for it", func(s *sdk.Spec) { s.Hyper.Optimizer = "adam" }, `optimizer "adam": want sgd or lars`},
		{"dup_option", func(s *sdk.Spec) { s.Options = append(s.Options, s.Options[0]) }, "repeated"},
		{"bad_default", func(s *sdk.Spec) { s.Options[0].Default = "x" }, "default of option dim"},
		{"default out of range", func(s *sdk.Spec) { s.Options[0].Min = new(100.0) }, "default of option dim=16: must be ≥ 100"},
		{"range on a bool", func(s *sdk.Spec) { s.Options[1].Max = new(1.0) }, "only int and float options"},
		{"min > max", func(s *sdk.Spec) { s.Options[0].Min, s.Options[0].Max = new(10.0), new(1.0) }, "Min 10 > Max 1"},
		{"exclusive without min", func(s *sdk.Spec) { s.Options[0].MinExclusive = true }, "MinExclusive without Min"},
		{"infinite bound", func(s *sdk.Spec) { s.Options[0].Max = new(math.Inf(1)) }, "not finite"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := toy.New().Describe()
			tc.mod(&s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// panicky panics in whichever call is named.
type panicky struct {
	*toy.Method
	in string
}

func (p *panicky) Init(cfg sdk.InitConfig) error {
	if p.in == "init" {
		var m map[string]int
		m["x"]++ // a nil-map write: a genuine runtime panic
	}
	return p.Method.Init(cfg)
}

func (p *panicky) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	if p.in == "step" {
		_ = nn.MatMul(in.Views[0], in.Views[1], false, false) // (B,D)·(B,D): a shape panic from nn
	}
	out, err := p.Method.Step(ctx, in)
	if p.in == "grads" {
		out.Grads = out.Grads[:1]
	}
	return out, err
}

func (p *panicky) State() ([]byte, error) {
	if p.in == "state" {
		panic("state exploded")
	}
	return p.Method.State()
}

func input() sdk.StepInput {
	v := func() *nn.Tensor {
		x := make([]float32, 4*6)
		for i := range x {
			x[i] = float32(i%5) - 2
		}
		return nn.New(x, 4, 6)
	}
	return sdk.StepInput{LR: 0.1, Views: []*nn.Tensor{v(), v()}}
}

func TestGuardTurnsPanicsIntoErrors(t *testing.T) {
	cfg := sdk.InitConfig{FeatureDim: 6, BatchSize: 4, Seed: 1}
	cases := []struct {
		in, want string
		sentinel error
	}{
		{"init", "assignment to entry in nil map", sdk.ErrPanicked},
		{"step", "method panicked", sdk.ErrPanicked},
		{"state", "state exploded", sdk.ErrPanicked},
		{"grads", "returned 1 gradients for 2 views", nil},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			g := sdk.InProcess(&panicky{Method: toy.New(), in: tc.in})
			err := g.Init(cfg)
			if tc.in != "init" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.in == "state" {
					_, err = g.State()
				} else {
					_, err = g.Step(context.Background(), input())
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v does not wrap %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), "method toy") {
				t.Errorf("error %q does not name the method", err)
			}
		})
	}
	// The guard stays usable after a panic.
	g := sdk.InProcess(&panicky{Method: toy.New(), in: "state"})
	if err := g.Init(cfg); err != nil {
		t.Fatal(err)
	}
	_, _ = g.State()
	if _, err := g.Step(context.Background(), input()); err != nil {
		t.Fatalf("step after a recovered panic: %v", err)
	}
}

func TestGuardInitChecks(t *testing.T) {
	g := sdk.InProcess(toy.New())
	if err := g.Init(sdk.InitConfig{FeatureDim: 0, BatchSize: 4}); !errors.Is(err, sdk.ErrBadInput) {
		t.Fatalf("feature dim 0: err = %v", err)
	}
	if _, err := g.State(); !errors.Is(err, sdk.ErrBadInput) {
		t.Fatalf("State before Init: err = %v", err)
	}
	if err := g.SetState(nil); !errors.Is(err, sdk.ErrBadInput) {
		t.Fatalf("SetState before Init: err = %v", err)
	}
	if sdk.InProcess(g) != g {
		t.Fatal("wrapping a guard again made a new wrapper")
	}
	if _, err := g.(sdk.DetachedStepper).StepDetached(context.Background(), input(), nil); !errors.Is(err, sdk.ErrBadInput) {
		t.Fatalf("StepDetached before Init: err = %v", err)
	}
}

// notDetached hides toy's StepDetached.
type notDetached struct{ sdk.Method }

func TestGuardDetachedNotSupported(t *testing.T) {
	g := sdk.InProcess(notDetached{toy.New()})
	if err := g.Init(sdk.InitConfig{FeatureDim: 6, BatchSize: 4}); err != nil {
		t.Fatal(err)
	}
	in := input()
	if _, err := g.(sdk.DetachedStepper).StepDetached(context.Background(), in, in.Views); !errors.Is(err, sdk.ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
}

func TestDescribeJSON(t *testing.T) {
	var buf bytes.Buffer
	spec := toy.NewTarget().Describe()
	if err := json.NewEncoder(&buf).Encode(sdk.DescribeJSON{Protocol: sdk.ProtocolVersion, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	var back sdk.DescribeJSON
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Protocol != sdk.ProtocolVersion || !reflect.DeepEqual(back.Spec, spec) {
		t.Fatalf("round trip: %+v", back)
	}
	if !strings.Contains(buf.String(), `"protocol":`) || !strings.Contains(buf.String(), `"name":"toy-target"`) {
		t.Fatalf("JSON is not flat: %s", buf.String())
	}
}

func TestMomentumAt(t *testing.T) {
	cases := []struct {
		name     string
		sched    string
		k, total int
		want     float64
	}{
		{"cosine start", "cosine", 0, 100, 0.99},
		{"cosine middle", "cosine", 50, 100, 0.995},
		{"cosine end", "cosine", 100, 100, 1},
		{"cosine, no steps", "cosine", 0, 0, 0.99},
		{"constant", "constant", 50, 100, 0.99},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := sdk.TargetSpec{BaseMomentum: 0.99, Schedule: tc.sched}
			if got := ts.MomentumAt(tc.k, tc.total); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("MomentumAt(%d, %d) = %v, want %v", tc.k, tc.total, got, tc.want)
			}
		})
	}
}
