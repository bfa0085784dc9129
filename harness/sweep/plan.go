package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/siambench/siambench/results"
	"github.com/siambench/siambench/sdk"
)

// Hyperparameter keys of --set METHOD.KEY=VALUE that the host applies to the
// backbone's optimiser and target; every other key is a method option
// validated against the method's Spec.Options.
const (
	KeyOptimizer      = "optimizer"       // sgd | lars
	KeyBaseLR         = "base_lr"         // lr = base_lr · batch / lr_batch_div
	KeyLRBatchDiv     = "lr_batch_div"    // default 256
	KeyWeightDecay    = "weight_decay"    //
	KeyMomentum       = "momentum"        // optimiser momentum
	KeyWarmupEpochs   = "warmup_epochs"   // linear warm-up, then cosine decay
	KeyTargetMomentum = "target_momentum" // base EMA momentum of the target backbone
	KeyTargetSchedule = "target_schedule" // cosine | constant
)

// HyperKeys lists the host-side keys of --set.
var HyperKeys = []string{KeyOptimizer, KeyBaseLR, KeyLRBatchDiv, KeyWeightDecay, KeyMomentum, KeyWarmupEpochs, KeyTargetMomentum, KeyTargetSchedule}

// Describer returns the spec of the method plugin called name.
type Describer func(ctx context.Context, name string) (sdk.Spec, error)

// Run is one planned training run.
type Run struct {
	// Config is the run's full configuration as written to config.json;
	// Config.ID is the stable run ID. Config.Options holds every key the
	// user set for this run (method options and hyperparameter overrides).
	Config results.RunConfig
	// Spec is the method's spec as described by its plugin.
	Spec sdk.Spec
	// MethodOptions are the options passed to the method's Init: Options
	// without the host's hyperparameter keys.
	MethodOptions map[string]string
	// Hyper is the run's training recipe: Spec.Hyper with the user's
	// overrides and the host's defaults (InitConfig.Hyper of the method).
	Hyper sdk.Hyper
}

// Plan is a resolved sweep.
type Plan struct {
	Config      Config
	CodeVersion string
	HostSHA256  string // Code.HostSHA256: the bench executable's content
	Runs        []Run
}

// Code is what runs a sweep, as far as a run's identity goes: a run ID
// changes when any of it does, so an edited method (or bench) gets new runs
// and an unchanged one reuses its results.
type Code struct {
	Version    string // the checkout's version (bench --version)
	HostSHA256 string // hex SHA-256 of the bench executable; "" unknown
	// Binary returns the binary that runs method name (called once per
	// method per plan); nil, or a zero Binary, for methods without one
	// (in-process).
	Binary func(ctx context.Context, name string) (Binary, error)
}

// Binary is a method's plugin binary: its path and the hex SHA-256 of its content.
type Binary struct {
	Path   string
	SHA256 string
}

// MakePlan validates cfg, describes every method and expands the sweep into
// runs, in a stable order: methods as listed, then option variants (keys
// sorted, values as given), batch sizes, epoch budgets, seeds. An unknown
// method option, a value of the wrong type or a --set for a method outside
// the sweep is an error that lists what is valid.
func MakePlan(ctx context.Context, cfg Config, describe Describer, code Code) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sets, _ := parseSets(cfg.Set) // validated above
	for m := range sets {
		if !slices.Contains(cfg.Methods, m) {
			return nil, Invalid(fmt.Errorf("--set %s.*: method %q is not in this sweep (methods: %s)", m, m, strings.Join(cfg.Methods, ", ")))
		}
	}
	p := &Plan{Config: cfg, CodeVersion: code.Version, HostSHA256: code.HostSHA256}
	for _, m := range cfg.Methods {
		spec, err := describe(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("describe method %q: %w", m, err)
		}
		var bin Binary
		if code.Binary != nil {
			if bin, err = code.Binary(ctx, m); err != nil {
				return nil, fmt.Errorf("method %q: %w", m, err)
			}
		}
		variants, err := expandVariants(spec, sets[m])
		if err != nil {
			return nil, Invalid(fmt.Errorf("method %s: %w", m, err))
		}
		for _, opts := range variants {
			for _, bs := range cfg.BatchSizes {
				for _, ep := range cfg.Epochs {
					for _, seed := range cfg.Seeds {
						r, err := newRun(cfg, spec, m, opts, bs, ep, seed, code, bin)
						if err != nil {
							return nil, Invalid(fmt.Errorf("method %s: %w", m, err))
						}
						p.Runs = append(p.Runs, r)
					}
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range p.Runs {
		if seen[r.Config.ID] {
			return nil, Invalid(fmt.Errorf("two runs of the sweep have the same configuration (%s): remove the duplicate value", r.Config.ID))
		}
		seen[r.Config.ID] = true
	}
	for i, a := range cfg.Also {
		sp, err := MakePlan(ctx, cfg.Sub(a), describe, code)
		if err != nil {
			return nil, fmt.Errorf("also[%d]: %w", i, err)
		}
		for _, r := range sp.Runs {
			if !seen[r.Config.ID] { // shared with an earlier part: runs once
				seen[r.Config.ID] = true
				p.Runs = append(p.Runs, r)
			}
		}
	}
	return p, nil
}

// expandVariants returns the cartesian product of the assignments, each
// validated against the spec.
func expandVariants(spec sdk.Spec, set map[string][]string) ([]map[string]string, error) {
	keys := slices.Sorted(maps.Keys(set))
	for _, k := range keys {
		for _, v := range set[k] {
			if err := validateKey(spec, k, v); err != nil {
				return nil, err
			}
		}
	}
	out := []map[string]string{{}}
	for _, k := range keys {
		var next []map[string]string
		for _, base := range out {
			for _, v := range set[k] {
				m := make(map[string]string, len(base)+1)
				for bk, bv := range base {
					m[bk] = bv
				}
				m[k] = v
				next = append(next, m)
			}
		}
		out = next
	}
	return out, nil
}

func validateKey(spec sdk.Spec, key, val string) error {
	switch key {
	case KeyOptimizer:
		if err := sdk.CheckOptimizer(val); err != nil {
			return fmt.Errorf("%s=%s: %w", key, val, err)
		}
		return nil
	case KeyTargetSchedule:
		if val != "cosine" && val != "constant" {
			return fmt.Errorf("%s=%s: want cosine or constant", key, val)
		}
		if spec.Target == nil {
			return fmt.Errorf("%s: method %s uses no target backbone", key, spec.Name)
		}
		return nil
	case KeyLRBatchDiv, KeyWarmupEpochs:
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || (key == KeyLRBatchDiv && n == 0) {
			return fmt.Errorf("%s=%s: want a positive integer", key, val)
		}
		return nil
	case KeyBaseLR, KeyWeightDecay, KeyMomentum, KeyTargetMomentum:
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s=%s: not a finite number", key, val)
		}
		if f < 0 {
			return fmt.Errorf("%s=%s: want a non-negative number", key, val)
		}
		if key == KeyBaseLR && f == 0 {
			return fmt.Errorf("%s=%s: want a number > 0", key, val)
		}
		if (key == KeyMomentum || key == KeyTargetMomentum) && f >= 1 {
			return fmt.Errorf("%s=%s: want a value in [0,1)", key, val)
		}
		if key == KeyTargetMomentum && spec.Target == nil {
			return fmt.Errorf("%s: method %s uses no target backbone", key, spec.Name)
		}
		return nil
	}
	for _, o := range spec.Options {
		if o.Name != key {
			continue
		}
		return checkOptionValue(o, val)
	}
	var names []string
	for _, o := range spec.Options {
		names = append(names, o.Name)
	}
	return fmt.Errorf("unknown key %q: the method's options are [%s]; host hyperparameters are [%s]",
		key, strings.Join(names, ", "), strings.Join(HyperKeys, ", "))
}

// checkOptionValue checks a method option's value against its spec (type,
// enum choices, range and finiteness: sdk.OptionSpec.Check), so a plan
// rejects what the method's Init would.
func checkOptionValue(o sdk.OptionSpec, val string) error {
	if err := o.Check(val); err != nil {
		if r := o.RangeText(); r != "" && !strings.Contains(err.Error(), r) {
			return fmt.Errorf("%w (allowed: %s %s)", err, o.Type, r)
		}
		return err
	}
	return nil
}

// identity is what a run ID hashes: everything that changes its result.
type identity struct {
	Method        string            `json:"method"`
	MethodVersion string            `json:"method_version"`
	Options       map[string]string `json:"options"`
	Hyper         sdk.Hyper         `json:"hyper"`
	Target        *sdk.TargetSpec   `json:"target"`
	Dataset       string            `json:"dataset"`
	EvalDataset   string            `json:"eval_dataset,omitempty"` // omitted when Dataset: IDs as before
	Transfer      []string          `json:"transfer"`
	Backbone      string            `json:"backbone"`
	Precision     string            `json:"precision,omitempty"` // omitted for fp32: IDs as before
	BatchSize     int               `json:"batch_size"`
	Epochs        int               `json:"epochs"`
	Seed          int64             `json:"seed"`
	TrainLimit    int               `json:"train_limit"`
	TestLimit     int               `json:"test_limit"`
	CodeVersion   string            `json:"code_version"`
	// The executables' content; omitted when unknown, so runs of in-process
	// methods keep the IDs they had before these fields.
	HostSHA256   string `json:"host_sha256,omitempty"`
	MethodSHA256 string `json:"method_sha256,omitempty"`
}

func newRun(cfg Config, spec sdk.Spec, method string, opts map[string]string, bs, epochs int, seed int64, code Code, bin Binary) (Run, error) {
	codeVersion := code.Version
	hyper, target, err := resolveHyper(spec, opts)
	if err != nil {
		return Run{}, err
	}
	mopts := map[string]string{}
	for k, v := range opts {
		if !slices.Contains(HyperKeys, k) {
			mopts[k] = v
		}
	}
	id := identity{
		Method: method, MethodVersion: spec.Version, Options: opts, Hyper: hyper, Target: target,
		Dataset: cfg.Dataset, EvalDataset: cfg.SeparateEval(), Transfer: cfg.TransferDatasets(), Backbone: cfg.Backbone,
		Precision: bf16Only(cfg.PrecisionName()), BatchSize: bs, Epochs: epochs, Seed: seed, TrainLimit: cfg.TrainLimit, TestLimit: cfg.TestLimit,
		CodeVersion: codeVersion, HostSHA256: code.HostSHA256, MethodSHA256: bin.SHA256,
	}
	b, err := json.Marshal(id) // map keys are sorted: canonical
	if err != nil {
		return Run{}, fmt.Errorf("hash run config: %w", err)
	}
	sum := sha256.Sum256(b)
	rc := results.RunConfig{
		ID:              fmt.Sprintf("%s-b%d-e%d-s%d-%s", method, bs, epochs, seed, hex.EncodeToString(sum[:])[:10]),
		Method:          method,
		MethodVersion:   spec.Version,
		Options:         opts,
		Dataset:         cfg.Dataset,
		EvalDataset:     cfg.SeparateEval(),
		Transfer:        cfg.TransferDatasets(),
		Backbone:        cfg.Backbone,
		Precision:       bf16Only(cfg.PrecisionName()),
		BatchSize:       bs,
		Epochs:          epochs,
		Seed:            seed,
		Optimizer:       hyper.Optimizer,
		BaseLR:          hyper.BaseLR,
		LR:              hyper.BaseLR * float64(bs) / float64(hyper.LRBatchDiv),
		LRBatchDiv:      hyper.LRBatchDiv,
		WeightDecay:     hyper.WeightDecay,
		Momentum:        hyper.Momentum,
		WarmupEpochs:    hyper.WarmupEpochs,
		Negatives:       spec.Negatives,
		MomentumEncoder: target != nil,
		CodeVersion:     codeVersion,
		TrainLimit:      cfg.TrainLimit,
		TestLimit:       cfg.TestLimit,
		MethodBinary:    bin.Path,
		MethodSHA256:    bin.SHA256,
		HostSHA256:      code.HostSHA256,
	}
	if target != nil {
		rc.TargetMomentum = target.BaseMomentum
		rc.TargetSchedule = target.Schedule
	}
	return Run{Config: rc, Spec: spec, MethodOptions: mopts, Hyper: hyper}, nil
}

// resolveHyper applies the user's hyperparameter overrides to the method's
// recommendation and fills defaults (SGD, momentum 0.9, lr_batch_div 256).
func resolveHyper(spec sdk.Spec, opts map[string]string) (sdk.Hyper, *sdk.TargetSpec, error) {
	h := spec.Hyper
	if h.Optimizer == "" {
		h.Optimizer = "sgd"
	}
	if h.LRBatchDiv == 0 {
		h.LRBatchDiv = 256
	}
	if h.BaseLR == 0 {
		h.BaseLR = 0.05
	}
	var target *sdk.TargetSpec
	if spec.Target != nil {
		t := *spec.Target
		if t.Schedule == "" {
			t.Schedule = "cosine"
		}
		target = &t
	}
	pf := func(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f } // validated
	pi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for k, v := range opts {
		switch k {
		case KeyOptimizer:
			h.Optimizer = v
		case KeyBaseLR:
			h.BaseLR = pf(v)
		case KeyLRBatchDiv:
			h.LRBatchDiv = pi(v)
		case KeyWeightDecay:
			h.WeightDecay = pf(v)
		case KeyMomentum:
			h.Momentum = pf(v)
		case KeyWarmupEpochs:
			h.WarmupEpochs = pi(v)
		case KeyTargetMomentum:
			target.BaseMomentum = pf(v)
		case KeyTargetSchedule:
			target.Schedule = v
		}
	}
	if err := sdk.CheckOptimizer(h.Optimizer); err != nil {
		return h, nil, fmt.Errorf("the method recommends an optimizer bench does not run: %w (override with --set %s.optimizer=sgd)", err, spec.Name)
	}
	if h.BaseLR <= 0 {
		return h, nil, fmt.Errorf("base lr %v must be > 0", h.BaseLR)
	}
	return h, target, nil
}

// bf16Only is p when it is not the default fp32, else "" (omitted from run
// identities and configs, so fp32 runs keep their IDs).
func bf16Only(p string) string {
	if p == "fp32" {
		return ""
	}
	return p
}
