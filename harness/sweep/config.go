// Package sweep turns what a user asked for (flags or a sweep.yaml) into the
// list of runs of a sweep: methods × option variants × batch sizes × epoch
// budgets × seeds, each with its resolved hyperparameters and a stable ID
// derived from its whole configuration, code version included.
package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a sweep as the user describes it. The same fields are read from
// flags and from a YAML file (see the yaml tags); flags given explicitly
// override the file. Zero values mean the defaults of Defaults.
type Config struct {
	Methods []string `yaml:"methods"`
	Dataset string   `yaml:"dataset"`
	// EvalDataset is where the backbone is evaluated (kNN bank and queries,
	// linear probe, baselines); "" means Dataset, which then must have labels.
	EvalDataset string   `yaml:"eval_dataset"`
	Transfer    []string `yaml:"transfer"` // datasets for transfer linear probes; ["none"] for none
	Backbone    string   `yaml:"backbone"`
	// Precision of the backbone's convolution products: fp32 (""), or bf16
	// (AMX bf16 operands, float32 sums, weights and everything else; see
	// nn.SetPrecision).
	Precision  string  `yaml:"precision"`
	BatchSizes []int   `yaml:"batch_sizes"`
	Epochs     []int   `yaml:"epochs"`
	Seeds      []int64 `yaml:"seeds"`
	// Set holds METHOD.KEY=VALUE assignments; VALUE may list several
	// comma-separated values, each giving its own run (an option variant).
	Set []string `yaml:"set"`
	// TrainLimit and TestLimit use only the first N images of a split
	// (stratification is the dataset's business); 0 means all of them.
	TrainLimit int `yaml:"train_limit"`
	TestLimit  int `yaml:"test_limit"`
	// Baselines turns the raw-pixel, random-init and supervised baselines on
	// or off; nil means on.
	Baselines *bool  `yaml:"baselines"`
	Out       string `yaml:"out"`
	// Also are further sweeps planned with this one into the same results:
	// each takes methods, batch_sizes, epochs, seeds and set of its own
	// (unset ones from here; its set replaces this one's, without one it
	// keeps this one's assignments to its methods) and shares the data,
	// backbone and baselines. A run two of them share runs once. A
	// preset (bench run --preset) is a sweep with several.
	Also []Config `yaml:"also"`
	// Preset and File name where a sweep with also sweeps came from (bench
	// run --preset, --config), so that Args, whose flags cannot say them,
	// can name it; not part of the YAML.
	Preset string `yaml:"-"`
	File   string `yaml:"-"`
}

// sharedKeysSet lists the keys an also sweep shares with its parent (and
// may not set) that c sets.
func (c Config) sharedKeysSet() []string {
	var out []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"also", c.Also != nil}, {"backbone", c.Backbone != ""}, {"baselines", c.Baselines != nil}, {"dataset", c.Dataset != ""},
		{"eval_dataset", c.EvalDataset != ""}, {"out", c.Out != ""}, {"precision", c.Precision != ""}, {"test_limit", c.TestLimit != 0},
		{"train_limit", c.TrainLimit != 0}, {"transfer", c.Transfer != nil}} {
		if k.set {
			out = append(out, k.name)
		}
	}
	return out
}

// Sub returns the also sweep a as a whole sweep: c's settings with a's
// methods, batch sizes, epochs, seeds and set.
// Without a set of its own it keeps c's assignments to its methods.
func (c Config) Sub(a Config) Config {
	sub := c
	sub.Also, sub.Set = nil, nil
	sub = Merge(sub, a)
	if a.Set == nil {
		for _, s := range c.Set {
			if m, _, ok := strings.Cut(s, "."); ok && slices.Contains(sub.Methods, strings.ToLower(m)) {
				sub.Set = append(sub.Set, s)
			}
		}
	}
	return sub
}

// ErrInvalid marks an error in what the user asked for (a flag value, the
// sweep.yaml, a method option out of its range), found before anything
// runs: bench run exits with its usage code for it. Test with errors.Is.
var ErrInvalid = errors.New("invalid sweep")

// Invalid marks err as an ErrInvalid error, keeping its message.
func Invalid(err error) error { return invalidError{err} }

type invalidError struct{ error }

func (e invalidError) Unwrap() error        { return e.error }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

// DefaultMethods are the methods of a sweep that names none.
var DefaultMethods = []string{"simsiam", "byol", "simclr", "swav", "mocov2", "barlowtwins"}

// PrecisionName is c's precision, fp32 when unset.
func (c Config) PrecisionName() string {
	if c.Precision == "" {
		return "fp32"
	}
	return c.Precision
}

// Defaults returns the default sweep: every built-in method on the embedded
// Fashion-MNIST subset, with a transfer probe on the embedded MNIST subset.
// The backbone and budget are sized so the whole sweep (baselines and
// evaluation included) fits in about 12 minutes on a 2-core CPU; see
// docs/harness.md for the measurements.
func Defaults() Config {
	t := true
	return Config{
		Methods:    slices.Clone(DefaultMethods),
		Dataset:    "default",
		Transfer:   []string{"default-mnist"},
		Backbone:   DefaultBackbone,
		BatchSizes: []int{DefaultBatchSize},
		Epochs:     []int{DefaultEpochs},
		Seeds:      []int64{0},
		Baselines:  &t,
		Out:        "results/sweep",
	}
}

// Default budget of a sweep that names none: chosen so that the default
// sweep (6 methods, baselines, evaluation) fits in 12 minutes on a 2-core
// CPU with SimSiam and BYOL ≥ 3 kNN points over the random-init backbone.
// Batch 64 learns more per epoch than 128 at this scale (twice the steps)
// and runs as fast per image; 3 epochs left SimSiam at +2.65. Measurements:
// docs/harness.md.
const (
	DefaultBackbone  = "refnet"
	DefaultBatchSize = 64
	DefaultEpochs    = 4
)

// LoadFile reads a sweep.yaml. Unknown keys are an error (a typo must not
// silently run the default), and so is a second YAML document (a stray
// "---" must not silently drop the rest of the file).
func LoadFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, Invalid(fmt.Errorf("read sweep config: %w", err))
	}
	if err := checkIntegers(b); err != nil {
		return Config{}, Invalid(fmt.Errorf("sweep config %s: %w", path, err))
	}
	c, err := parseConfig(b, path)
	if len(c.Also) > 0 { // flags cannot say its also sweeps: Args names the file
		c.File = path
	}
	return c, err
}

// parseConfig is LoadFile on the content b of the file named path.
func parseConfig(b []byte, path string) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // an empty file is all defaults
		return Config{}, Invalid(fmt.Errorf("sweep config %s: %w (valid keys: %s)", path, err, strings.Join(yamlKeys(), ", ")))
	}
	var rest yaml.Node
	if err := dec.Decode(&rest); !errors.Is(err, io.EOF) {
		if err != nil {
			return Config{}, Invalid(fmt.Errorf("sweep config %s: after the first document: %w", path, err))
		}
		return Config{}, Invalid(fmt.Errorf("sweep config %s holds more than one YAML document (the second, after a \"---\" line, starts at line %d): merge them into one, or remove the extra \"---\"", path, rest.Line))
	}
	return c, nil
}

// intKeys are the keys whose values (or list items) must be integers.
var intKeys = []string{"batch_sizes", "epochs", "seeds", "train_limit", "test_limit"}

// checkIntegers rejects a non-integer value of an integer key (yaml.v3
// would silently truncate epochs: [2.5] to 2). Other malformed values are
// left to the decoder, whose errors name the key.
func checkIntegers(b []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 {
		return nil // the decoder reports it (or the file is empty)
	}
	return checkIntegersIn(doc.Content[0])
}

// checkIntegersIn is checkIntegers on a mapping node, and on the mappings
// of its also list.
func checkIntegersIn(top *yaml.Node) error {
	if top.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		if key == "also" && val.Kind == yaml.SequenceNode {
			for _, sub := range val.Content {
				if err := checkIntegersIn(sub); err != nil {
					return err
				}
			}
			continue
		}
		if !slices.Contains(intKeys, key) {
			continue
		}
		items := []*yaml.Node{val}
		if val.Kind == yaml.SequenceNode {
			items = val.Content
		}
		for _, it := range items {
			if it.Kind == yaml.ScalarNode && it.ShortTag() == "!!float" {
				return fmt.Errorf("line %d: %s: %s is not an integer", it.Line, key, it.Value)
			}
		}
	}
	return nil
}

func yamlKeys() []string {
	return []string{"methods", "dataset", "eval_dataset", "transfer", "also", "backbone", "batch_sizes", "epochs", "seeds", "set", "train_limit", "test_limit", "baselines", "out"}
}

// Merge returns base with every non-zero field of over replacing it.
func Merge(base, over Config) Config {
	if over.Methods != nil {
		base.Methods = over.Methods
	}
	if over.Dataset != "" {
		base.Dataset = over.Dataset
	}
	if over.EvalDataset != "" {
		base.EvalDataset = over.EvalDataset
	}
	if over.Transfer != nil {
		base.Transfer = over.Transfer
	}
	if over.Backbone != "" {
		base.Backbone = over.Backbone
	}
	if over.Precision != "" {
		base.Precision = over.Precision
	}
	if over.BatchSizes != nil {
		base.BatchSizes = over.BatchSizes
	}
	if over.Epochs != nil {
		base.Epochs = over.Epochs
	}
	if over.Seeds != nil {
		base.Seeds = over.Seeds
	}
	if over.Set != nil {
		base.Set = append(slices.Clone(base.Set), over.Set...)
	}
	if over.TrainLimit != 0 {
		base.TrainLimit = over.TrainLimit
	}
	if over.TestLimit != 0 {
		base.TestLimit = over.TestLimit
	}
	if over.Baselines != nil {
		base.Baselines = over.Baselines
	}
	if over.Out != "" {
		base.Out = over.Out
	}
	if over.Also != nil {
		base.Also = over.Also
	}
	if over.Preset != "" {
		base.Preset = over.Preset
	}
	if over.File != "" {
		base.File = over.File
	}
	return base
}

// Evaluation returns the dataset the backbone is evaluated on: EvalDataset,
// or Dataset when it is not set.
func (c Config) Evaluation() string {
	if c.EvalDataset != "" {
		return c.EvalDataset
	}
	return c.Dataset
}

// SeparateEval returns EvalDataset when it differs from Dataset, else "".
func (c Config) SeparateEval() string {
	if c.EvalDataset == c.Dataset {
		return ""
	}
	return c.EvalDataset
}

// TransferDatasets returns the transfer datasets, without "none" and without
// the pre-training and evaluation datasets themselves.
func (c Config) TransferDatasets() []string {
	var out []string
	for _, t := range c.Transfer {
		if t == "none" || t == "" || t == c.Dataset || t == c.EvalDataset || slices.Contains(out, t) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// AllEpochs returns the epoch budgets of the sweep and its also sweeps,
// sorted, each once (the supervised baseline is trained at each).
func (c Config) AllEpochs() []int {
	all := slices.Clone(c.Epochs)
	for _, a := range c.Also {
		all = append(all, c.Sub(a).Epochs...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// BaselinesOn reports whether baselines are computed (the default).
func (c Config) BaselinesOn() bool { return c.Baselines == nil || *c.Baselines }

// Validate checks what can be checked without the method plugins.
func (c Config) Validate() error {
	var errs []string
	if len(c.Methods) == 0 {
		errs = append(errs, "no methods: name at least one with --methods")
	}
	seen := map[string]bool{}
	for _, m := range c.Methods {
		if m == "" || strings.ContainsAny(m, "./ \t") {
			errs = append(errs, fmt.Sprintf("method name %q is not valid (letters, digits, - and _)", m))
		}
		if seen[m] {
			errs = append(errs, fmt.Sprintf("method %q named twice", m))
		}
		seen[m] = true
	}
	if c.Dataset == "" {
		errs = append(errs, "no dataset: use --dataset default for the embedded one")
	}
	if c.Backbone == "" {
		errs = append(errs, "no backbone: use --backbone "+DefaultBackbone)
	}
	if p := c.Precision; p != "" && p != "fp32" && p != "bf16" {
		errs = append(errs, fmt.Sprintf("precision %q: use fp32 or bf16", p))
	}
	if len(c.BatchSizes) == 0 {
		errs = append(errs, "no batch sizes")
	}
	for _, b := range c.BatchSizes {
		if b < 2 {
			errs = append(errs, fmt.Sprintf("batch size %d: must be ≥ 2 (batch norm needs two images)", b))
		}
	}
	if len(c.Epochs) == 0 {
		errs = append(errs, "no epoch budgets")
	}
	for _, e := range c.Epochs {
		if e < 1 {
			errs = append(errs, fmt.Sprintf("epoch budget %d: must be ≥ 1", e))
		}
	}
	if len(c.Seeds) == 0 {
		errs = append(errs, "no seeds")
	}
	if c.TrainLimit < 0 || c.TestLimit < 0 {
		errs = append(errs, "train/test limits must be ≥ 0 (0 means the whole split)")
	}
	if _, err := parseSets(c.Set); err != nil {
		errs = append(errs, err.Error())
	}
	for i, a := range c.Also {
		if keys := a.sharedKeysSet(); len(keys) > 0 {
			errs = append(errs, fmt.Sprintf("also[%d] sets %s: an also sweep shares the data, backbone, baselines and results of the sweep it is part of; set these at the top level", i, strings.Join(keys, ", ")))
			continue
		}
		if err := c.Sub(a).Validate(); err != nil {
			errs = append(errs, fmt.Sprintf("also[%d]: %v", i, strings.TrimPrefix(err.Error(), "invalid sweep: ")))
		}
	}
	if len(errs) > 0 {
		return Invalid(fmt.Errorf("invalid sweep: %s", strings.Join(errs, "; ")))
	}
	return nil
}

// assignment is one METHOD.KEY=V1,V2 from --set.
type assignment struct {
	method, key string
	values      []string
}

// parseSets parses METHOD.KEY=VALUE[,VALUE...] assignments. A later
// assignment of the same METHOD.KEY replaces an earlier one.
func parseSets(sets []string) (map[string]map[string][]string, error) {
	out := map[string]map[string][]string{}
	for _, s := range sets {
		lhs, rhs, ok := strings.Cut(s, "=")
		method, key, ok2 := strings.Cut(lhs, ".")
		if !ok || !ok2 || method == "" || key == "" {
			return nil, fmt.Errorf("--set %q: want METHOD.KEY=VALUE, e.g. simsiam.stopgrad=false", s)
		}
		var vals []string
		for _, v := range strings.Split(rhs, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				return nil, fmt.Errorf("--set %q: empty value", s)
			}
			if !slices.Contains(vals, v) {
				vals = append(vals, v)
			}
		}
		method, key = strings.ToLower(method), strings.ToLower(key)
		if out[method] == nil {
			out[method] = map[string][]string{}
		}
		out[method][key] = vals
	}
	return out, nil
}

// Args returns bench run flags that reproduce c exactly (used to print the
// command that resumes a sweep). Values are shell-quoted when needed.
func (c Config) Args() []string {
	a := c.Argv()
	for i, v := range a {
		if !strings.HasPrefix(v, "--") {
			a[i] = shellQuote(v)
		}
	}
	return a
}

// Argv is Args unquoted: the argument vector of a process that runs the
// same sweep (what the Slurm executor's jobs run).
func (c Config) Argv() []string {
	var a []string
	add := func(flag, v string) { a = append(a, "--"+flag, v) }
	join := func(xs []string) string { return strings.Join(xs, ",") }
	ints := func(xs []int) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(x)
		}
		return join(s)
	}
	// A preset's or file's also sweeps have no flags: name the source, whose
	// top level the flags below then restate.
	if c.Preset != "" {
		add("preset", c.Preset)
	}
	if c.File != "" {
		add("config", c.File)
	}
	add("out", c.Out)
	add("methods", join(c.Methods))
	add("dataset", c.Dataset)
	if c.EvalDataset != "" {
		add("eval-dataset", c.EvalDataset)
	}
	if len(c.Transfer) == 0 {
		add("transfer", "none")
	} else {
		add("transfer", join(c.Transfer))
	}
	add("backbone", c.Backbone)
	if c.Precision != "" && c.Precision != "fp32" {
		add("precision", c.Precision)
	}
	add("batch-sizes", ints(c.BatchSizes))
	add("epochs", ints(c.Epochs))
	seeds := make([]string, len(c.Seeds))
	for i, s := range c.Seeds {
		seeds[i] = strconv.FormatInt(s, 10)
	}
	add("seeds", join(seeds))
	for _, s := range c.Set {
		add("set", s)
	}
	if c.TrainLimit > 0 {
		add("train-limit", strconv.Itoa(c.TrainLimit))
	}
	if c.TestLimit > 0 {
		add("test-limit", strconv.Itoa(c.TestLimit))
	}
	if !c.BaselinesOn() {
		a = append(a, "--no-baselines")
	}
	return a
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,/=:+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
