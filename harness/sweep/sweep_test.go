package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/sdk"
)

func specs() map[string]sdk.Spec {
	return map[string]sdk.Spec{
		"simsiam": {
			Name: "simsiam", Version: "1.0",
			Hyper: sdk.Hyper{Optimizer: "sgd", BaseLR: 0.05, LRBatchDiv: 256, WeightDecay: 1e-4, Momentum: 0.9},
			Options: []sdk.OptionSpec{
				{Name: "stopgrad", Type: "bool", Default: "true"},
				{Name: "head_bn", Type: "enum", Default: "default", Choices: []string{"none", "hidden", "default", "all"}},
				{Name: "dim", Type: "int", Default: "2048", Min: new(1.0)},
				{Name: "temp", Type: "float", Default: "0.5", Min: new(0.0), MinExclusive: true, Max: new(100.0)},
			},
		},
		"byol": {
			Name: "byol", Version: "0.3",
			Target: &sdk.TargetSpec{BaseMomentum: 0.99, Schedule: "cosine"},
			Hyper:  sdk.Hyper{Optimizer: "lars", BaseLR: 0.2, WarmupEpochs: 1},
		},
	}
}

func describer(ctx context.Context, name string) (sdk.Spec, error) {
	s, ok := specs()[name]
	if !ok {
		return sdk.Spec{}, fmt.Errorf("no plugin %q", name)
	}
	return s, nil
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, yaml string
		want       func(Config) error
		wantErr    string
	}{
		{"full", "methods: [simsiam, byol]\nbatch_sizes: [64, 128]\nepochs: [2]\nseeds: [1, 2]\nset: [simsiam.stopgrad=false]\nbaselines: false\ntrain_limit: 300\n",
			func(c Config) error {
				if len(c.Methods) != 2 || c.BatchSizes[1] != 128 || c.Seeds[1] != 2 || c.Set[0] != "simsiam.stopgrad=false" || c.BaselinesOn() || c.TrainLimit != 300 {
					return fmt.Errorf("decoded %+v", c)
				}
				return nil
			}, ""},
		{"empty file is all defaults", "", func(c Config) error {
			if c.Methods != nil {
				return fmt.Errorf("want zero config, got %+v", c)
			}
			return nil
		}, ""},
		{"typo is an error naming valid keys", "method: [simsiam]\n", nil, "valid keys"},
		{"wrong type", "batch_sizes: big\n", nil, "batch_sizes"},
		// A second document used to be dropped without a word.
		{"second document", "methods: [simsiam]\n---\nepochs: [50]\n", nil, "more than one YAML document"},
		{"leading separator is fine", "---\nmethods: [simsiam]\n", func(c Config) error {
			if len(c.Methods) != 1 {
				return fmt.Errorf("decoded %+v", c)
			}
			return nil
		}, ""},
		{"broken second document", "methods: [simsiam]\n---\n[\n", nil, "after the first document"},
		// Nested aliases (9^8 strings if expanded) are refused at the
		// first nested list, before any expansion.
		{"alias bomb", aliasBomb(), nil, "cannot unmarshal !!seq into string"},
		{"fractional epochs", "epochs: [2.5]\n", nil, "epochs: 2.5 is not an integer"},
		{"fractional batch size", "batch_sizes: [64, 100.5]\n", nil, "batch_sizes: 100.5 is not an integer"},
		{"float-looking whole batch size", "batch_sizes: [64.0]\n", nil, "batch_sizes: 64.0 is not an integer"},
		{"fractional scalar limit", "train_limit: 1e3\n", nil, "train_limit: 1e3 is not an integer"},
		{"fractional seed", "seeds: [0, 1.5]\n", nil, "seeds: 1.5 is not an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadFile(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%v: not marked ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.want(c); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file: want error")
	}
}

// aliasBomb is a "billion laughs" sweep.yaml: each list holds nine aliases of
// the previous one.
func aliasBomb() string {
	y := "methods:\n- &a [x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		y += "- &" + n + " [" + strings.Repeat("*"+prev+", ", 8) + "*" + prev + "]\n"
		prev = n
	}
	return y
}

func TestMergeAndDefaults(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	f := false
	m := Merge(d, Config{Methods: []string{"byol"}, Epochs: []int{3}, Baselines: &f, Set: []string{"byol.base_lr=0.1"}})
	if len(m.Methods) != 1 || m.Methods[0] != "byol" || m.Epochs[0] != 3 || m.BaselinesOn() {
		t.Errorf("merge: %+v", m)
	}
	if m.Dataset != "default" || m.BatchSizes[0] != DefaultBatchSize {
		t.Errorf("merge dropped defaults: %+v", m)
	}
	if got := (Config{Dataset: "mnist", Transfer: []string{"none", "mnist", "cifar10", "cifar10"}}).TransferDatasets(); len(got) != 1 || got[0] != "cifar10" {
		t.Errorf("transfer datasets: got %v, want [cifar10]", got)
	}
}

func TestValidate(t *testing.T) {
	ok := Defaults()
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no methods", func(c *Config) { c.Methods = nil }, "no methods"},
		{"duplicate method", func(c *Config) { c.Methods = []string{"byol", "byol"} }, "twice"},
		{"batch 1", func(c *Config) { c.BatchSizes = []int{1} }, "batch size 1"},
		{"epochs 0", func(c *Config) { c.Epochs = []int{0} }, "epoch budget 0"},
		{"bad set", func(c *Config) { c.Set = []string{"stopgrad=false"} }, "METHOD.KEY=VALUE"},
		{"empty set value", func(c *Config) { c.Set = []string{"simsiam.dim=1,"} }, "empty value"},
		{"precision", func(c *Config) { c.Precision = "fp16" }, "use fp32 or bf16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v: not marked ErrInvalid", err)
			}
		})
	}
}

func TestMakePlan(t *testing.T) {
	ctx := context.Background()
	base := Config{Methods: []string{"simsiam", "byol"}, Dataset: "default", Backbone: "refnet",
		BatchSizes: []int{64, 256}, Epochs: []int{2}, Seeds: []int64{0, 1}}

	t.Run("product and order", func(t *testing.T) {
		c := base
		c.Set = []string{"simsiam.stopgrad=true,false", "simsiam.head_bn=hidden"}
		p, err := MakePlan(ctx, c, describer, Code{Version: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		// simsiam: 2 variants × 2 batches × 2 seeds = 8; byol: 4.
		if len(p.Runs) != 12 {
			t.Fatalf("want 12 runs, got %d", len(p.Runs))
		}
		r0 := p.Runs[0].Config
		if r0.Method != "simsiam" || r0.Options["stopgrad"] != "true" || r0.Options["head_bn"] != "hidden" || r0.BatchSize != 64 || r0.Seed != 0 {
			t.Errorf("first run: %+v", r0)
		}
		if p.Runs[4].Config.Options["stopgrad"] != "false" {
			t.Errorf("run 4 should be the stopgrad=false variant: %+v", p.Runs[4].Config.Options)
		}
		if p.Runs[8].Config.Method != "byol" || !p.Runs[8].Config.MomentumEncoder || p.Runs[8].Config.TargetMomentum != 0.99 {
			t.Errorf("byol run: %+v", p.Runs[8].Config)
		}
		// lr = base · batch / 256
		if got := p.Runs[2].Config.LR; got != 0.05 {
			t.Errorf("simsiam lr at batch 256: want 0.05, got %v", got)
		}
		if got := p.Runs[0].Config.LR; got != 0.05*64/256 {
			t.Errorf("simsiam lr at batch 64: want %v, got %v", 0.05*64/256, got)
		}
		if p.Runs[8].Config.Optimizer != "lars" || p.Runs[8].Config.LRBatchDiv != 256 {
			t.Errorf("byol hyper: %+v", p.Runs[8].Config)
		}
		ids := map[string]bool{}
		for _, r := range p.Runs {
			if ids[r.Config.ID] {
				t.Errorf("duplicate id %s", r.Config.ID)
			}
			ids[r.Config.ID] = true
			if !strings.HasPrefix(r.Config.ID, r.Config.Method+"-b") {
				t.Errorf("id %s does not start with the method", r.Config.ID)
			}
		}
	})

	t.Run("IDs stable and sensitive", func(t *testing.T) {
		id := func(c Config, version string) string {
			p, err := MakePlan(ctx, c, describer, Code{Version: version})
			if err != nil {
				t.Fatal(err)
			}
			return p.Runs[0].Config.ID
		}
		ref := id(base, "v1")
		if id(base, "v1") != ref {
			t.Error("same config gave a different id")
		}
		changes := map[string]func(*Config){
			"dataset":  func(c *Config) { c.Dataset = "mnist" },
			"backbone": func(c *Config) { c.Backbone = "resnet18-cifar" },
			"option":   func(c *Config) { c.Set = []string{"simsiam.dim=512"} },
			"hyper":    func(c *Config) { c.Set = []string{"simsiam.base_lr=0.1"} },
			"limit":    func(c *Config) { c.TrainLimit = 100 },
			"transfer": func(c *Config) { c.Transfer = []string{"default-mnist"} },
			"bf16":     func(c *Config) { c.Precision = "bf16" },
		}
		for name, mod := range changes {
			c := base
			mod(&c)
			if id(c, "v1") == ref {
				t.Errorf("changing %s kept the id %s", name, ref)
			}
		}
		if id(base, "v2") == ref {
			t.Error("changing the code version kept the id")
		}
		// Unrelated settings (output dir, baselines) do not change the id.
		c := base
		c.Out = "elsewhere"
		f := false
		c.Baselines = &f
		if id(c, "v1") != ref {
			t.Error("output dir or baselines changed the id")
		}
		// fp32 named is the default: the same runs as before the setting
		c = base
		c.Precision = "fp32"
		if id(c, "v1") != ref {
			t.Error("precision fp32 changed the id of a run that does not set it")
		}
	})

	t.Run("IDs cover the binaries that ran", func(t *testing.T) {
		// Each Code differs from the first in one executable's content.
		bins := func(hash string) func(context.Context, string) (Binary, error) {
			return func(_ context.Context, name string) (Binary, error) {
				return Binary{Path: "/bin/bench-method-" + name, SHA256: hash + name}, nil
			}
		}
		plan := func(code Code) *Plan {
			p, err := MakePlan(ctx, base, describer, code)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		ref := plan(Code{Version: "v1", HostSHA256: "h1", Binary: bins("m1")})
		r := ref.Runs[0].Config
		if r.MethodBinary != "/bin/bench-method-simsiam" || r.MethodSHA256 != "m1simsiam" || r.HostSHA256 != "h1" {
			t.Errorf("config.json does not record what ran: %+v", r)
		}
		for name, code := range map[string]Code{
			"same binaries":  {Version: "v1", HostSHA256: "h1", Binary: bins("m1")},
			"method edited":  {Version: "v1", HostSHA256: "h1", Binary: bins("m2")},
			"bench rebuilt":  {Version: "v1", HostSHA256: "h2", Binary: bins("m1")},
			"nothing hashed": {Version: "v1"},
		} {
			p := plan(code)
			for i, run := range p.Runs {
				same := run.Config.ID == ref.Runs[i].Config.ID
				if same != (name == "same binaries") {
					t.Errorf("%s: run %d id %s, reference %s", name, i, run.Config.ID, ref.Runs[i].Config.ID)
				}
			}
		}
		// Without hashes the IDs are those of a bench before them (this
		// one computed by the code before the hashes were added).
		if got, want := plan(Code{Version: "v1"}).Runs[0].Config.ID, "simsiam-b64-e2-s0-3b4ce70eb8"; got != want {
			t.Errorf("no hashes: id %s, want %s", got, want)
		}
		failing := func(context.Context, string) (Binary, error) { return Binary{}, errors.New("unreadable") }
		if _, err := MakePlan(ctx, base, describer, Code{Version: "v1", Binary: failing}); err == nil || !strings.Contains(err.Error(), "unreadable") {
			t.Errorf("a binary that cannot be hashed: %v", err)
		}
	})

	t.Run("hyper overrides split from method options", func(t *testing.T) {
		c := base
		c.Methods = []string{"byol"}
		c.Set = []string{"byol.optimizer=sgd", "byol.target_momentum=0.996", "byol.base_lr=0.1"}
		p, err := MakePlan(ctx, c, describer, Code{Version: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		r := p.Runs[0]
		if r.Config.Optimizer != "sgd" || r.Config.TargetMomentum != 0.996 || r.Config.BaseLR != 0.1 {
			t.Errorf("overrides not applied: %+v", r.Config)
		}
		if len(r.MethodOptions) != 0 {
			t.Errorf("host keys leaked into method options: %v", r.MethodOptions)
		}
		if r.Config.Options["optimizer"] != "sgd" {
			t.Errorf("user-set keys must be recorded in Options: %v", r.Config.Options)
		}
	})

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name string
			mod  func(*Config)
			want string
		}{
			{"unknown option lists valid ones", func(c *Config) { c.Set = []string{"simsiam.stopgard=false"} }, "stopgrad, head_bn, dim"},
			{"bad bool", func(c *Config) { c.Set = []string{"simsiam.stopgrad=maybe"} }, `"maybe" is not a bool`},
			{"bad enum", func(c *Config) { c.Set = []string{"simsiam.head_bn=some"} }, "none|hidden|default|all"},
			{"bad optimizer", func(c *Config) { c.Set = []string{"simsiam.optimizer=adam"} }, "sgd or lars"},
			{"target momentum without target", func(c *Config) { c.Set = []string{"simsiam.target_momentum=0.9"} }, "no target"},
			{"method not in sweep", func(c *Config) { c.Set = []string{"swav.queue=1"} }, "not in this sweep"},
			{"unknown plugin", func(c *Config) { c.Methods = []string{"nosuch"} }, `describe method "nosuch"`},
			{"momentum ≥ 1", func(c *Config) { c.Set = []string{"simsiam.momentum=1"} }, "[0,1)"},
			{"int below its range names option, value and range", func(c *Config) { c.Set = []string{"simsiam.dim=-1"} }, "option dim=-1: must be ≥ 1"},
			{"float at an open bound", func(c *Config) { c.Set = []string{"simsiam.temp=0"} }, "option temp=0: must be in (0, 100]"},
			{"float above its range", func(c *Config) { c.Set = []string{"simsiam.temp=100.5"} }, "must be in (0, 100]"},
			{"one bad value among variants", func(c *Config) { c.Set = []string{"simsiam.dim=8,0"} }, "option dim=0: must be ≥ 1"},
			{"NaN option", func(c *Config) { c.Set = []string{"simsiam.temp=NaN"} }, `option temp: "NaN" is not a finite number`},
			{"Inf option", func(c *Config) { c.Set = []string{"simsiam.temp=+Inf"} }, "not a finite number"},
			{"NaN base_lr", func(c *Config) { c.Set = []string{"simsiam.base_lr=NaN"} }, "base_lr=NaN: not a finite number"},
			{"Inf weight_decay", func(c *Config) { c.Set = []string{"simsiam.weight_decay=Inf"} }, "weight_decay=Inf: not a finite number"},
			{"NaN momentum", func(c *Config) { c.Set = []string{"simsiam.momentum=nan"} }, "not a finite number"},
			{"zero base_lr", func(c *Config) { c.Set = []string{"simsiam.base_lr=0"} }, "want a number > 0"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := base
				tc.mod(&c)
				_, err := MakePlan(ctx, c, describer, Code{Version: "v1"})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("want error containing %q, got %v", tc.want, err)
				}
				// What the user asked for is wrong (the usage exit code),
				// except a plugin that cannot be described.
				if wantInvalid := tc.name != "unknown plugin"; errors.Is(err, ErrInvalid) != wantInvalid {
					t.Errorf("errors.Is(err, ErrInvalid) = %v, want %v", !wantInvalid, wantInvalid)
				}
			})
		}
	})
}

// Also sweeps: each is planned as the main sweep with its own methods,
// budgets, seeds and set; a run two parts share runs once; shared settings
// cannot be changed in a part.
func TestAlsoSweeps(t *testing.T) {
	ctx := context.Background()
	c := Config{Methods: []string{"simsiam", "byol"}, Dataset: "default", Backbone: "refnet",
		BatchSizes: []int{64}, Epochs: []int{2}, Seeds: []int64{0}, Set: []string{"simsiam.dim=512"},
		Also: []Config{
			{Methods: []string{"simsiam"}, Set: []string{"simsiam.stopgrad=true,false"}}, // its set replaces the top-level one
			{Methods: []string{"simsiam"}, BatchSizes: []int{64, 128}, Seeds: []int64{0, 1}},
			{Methods: []string{"byol"}, Epochs: []int{2}}, // the same as the main sweep's byol run
		}}
	p, err := MakePlan(ctx, c, describer, Code{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Runs {
		got = append(got, fmt.Sprintf("%s b%d s%d %v", r.Config.Method, r.Config.BatchSize, r.Config.Seed, r.Config.Options))
	}
	want := []string{
		"simsiam b64 s0 map[dim:512]", "byol b64 s0 map[]", // main
		"simsiam b64 s0 map[stopgrad:true]", "simsiam b64 s0 map[stopgrad:false]", // also[0]
		// also[1] keeps the top-level simsiam.dim; its b64 s0 run is the main one's
		"simsiam b64 s1 map[dim:512]", "simsiam b128 s0 map[dim:512]", "simsiam b128 s1 map[dim:512]", // also[2] adds nothing
	}
	if !slices.Equal(got, want) {
		t.Fatalf("runs:\n%q\nwant\n%q", got, want)
	}

	for _, tc := range []struct {
		also Config
		want string
	}{
		{Config{Dataset: "cifar10"}, "also[0] sets dataset"},
		{Config{Backbone: "resnet18-cifar", TrainLimit: 5}, "also[0] sets backbone, train_limit"},
		{Config{Epochs: []int{0}}, "also[0]: epoch budget 0"},
		{Config{Also: []Config{{}}}, "also[0] sets also"},
	} {
		bad := c
		bad.Also = []Config{tc.also}
		if _, err := MakePlan(ctx, bad, describer, Code{Version: "v1"}); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("also %+v: err = %v, want %q", tc.also, err, tc.want)
		}
	}
	// In a file, a float budget inside an also sweep is caught like one at the top.
	if _, err := parseConfigChecked([]byte("methods: [simsiam]\nalso:\n  - epochs: [2.5]\n")); err == nil || !strings.Contains(err.Error(), "2.5 is not an integer") {
		t.Errorf("float epochs in also: %v", err)
	}
}

func parseConfigChecked(b []byte) (Config, error) {
	if err := checkIntegers(b); err != nil {
		return Config{}, err
	}
	return parseConfig(b, "sweep.yaml")
}
