// Package run implements `bench run`: plan a sweep, train and evaluate every
// run under one backbone, loader and protocol, and write results and a report.
package run

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gemm"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/reports"
	"github.com/siambench/siambench/results"
)

// RunOptions are the inputs of bench run.
type RunOptions struct {
	IO     *iostreams.IO
	Logger *slog.Logger
	// NewLogger makes a logger like Logger that writes to w (the progress
	// bars' writer); nil means a text logger at info level.
	NewLogger func(w io.Writer) *slog.Logger
	Version   string
	// Methods returns where methods come from; nil means plugin processes
	// found through --plugin-dir, $SIAMBENCH_PLUGIN_PATH and bench's folder.
	Methods func(pluginDir string, log *slog.Logger) (harness.Methods, error)
	// NewBackbone builds backbones; nil means models.New.
	NewBackbone harness.BackboneFunc
	Ctx         context.Context

	// ConfigFile is --config: a sweep.yaml; Flags holds only the flags given
	// explicitly, which override the file, which overrides the defaults.
	ConfigFile string
	// Preset is --preset: a sweep shipped with bench (sweep.Preset).
	Preset    string
	Flags     sweep.Config
	DryRun    bool
	JSON      bool // with DryRun: the plan as JSON
	NoReport  bool
	PluginDir string
	Exec      ExecOptions
	// StepTimeout and CallTimeout bound a plugin's step and its other
	// calls (--step-timeout, --call-timeout); 0 means pluginhost's defaults.
	StepTimeout, CallTimeout time.Duration
}

// NewCmdRun returns the run command. When runF is non-nil it is called with
// the parsed options instead of runRun (for parse tests).
func NewCmdRun(f *factory.Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO, Logger: f.Logger, NewLogger: f.NewLogger, Version: f.Version}
	var (
		methods, transfer, set []string
		batchSizes, epochs     []int
		seeds                  []int64
		noBaselines            bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a sweep: train every method and evaluate it under one protocol",
		Long: `Run a sweep: methods × option variants × batch sizes × epoch budgets × seeds.

Every run uses the same data loader (same images, order and augmentations for a
given seed), the same backbone and backbone optimiser schedule (lr = base·batch/256,
linear warm-up then cosine), and the same monitors and evaluation (kNN k=200 T=0.1,
linear probe on frozen features, transfer probes). Baselines (raw pixels,
random-init backbone with BN re-estimated, supervised backbone at the same budget)
are computed once and reused.

With no flags it runs SimSiam, BYOL, SimCLR and SwAV on the embedded
Fashion-MNIST subset with a transfer probe on the embedded MNIST subset.

Results go to --out (default results/sweep): summary.json, one folder per run
and report.md. Rerunning the same command reuses finished runs and resumes an
interrupted one from its last epoch checkpoint; Ctrl-C stops cleanly and prints
that command.

--set METHOD.KEY=VALUE sets a method option or a backbone hyperparameter
(optimizer, base_lr, lr_batch_div, weight_decay, momentum, warmup_epochs,
target_momentum, target_schedule). Several comma-separated values make one run
per value.

--methods, --transfer, --batch-sizes, --epochs and --seeds take comma-separated
lists, and repeating one of them adds to its list: --batch-sizes 64
--batch-sizes 1000 runs both, as --batch-sizes 64,1000 does. --set is
repeatable too; a later --set of the same METHOD.KEY replaces an earlier one.

Option values are checked against each method's option specs (type, choices,
range; floats must be finite) when the sweep is planned, so --dry-run rejects
what a run would. A YAML number that must be an integer (epochs, batch_sizes,
seeds, train_limit, test_limit) is an error if it is not one.

--out may already hold runs of another sweep: they are kept, and summary.json
and report.md cover every run in the directory (bench run says how many
earlier runs it keeps). Use a new --out to keep sweeps apart.

Exit status:
  0    every planned run has a result: completed, collapsed or diverged
  1    an error stopped the sweep (dataset, plugin, results directory)
  2    usage: a bad flag, sweep.yaml or option value; nothing ran
  3    the sweep finished but at least one run failed (the summary, the
       report and the run's status.json say why; rerunning retries it)
  130  interrupted (Ctrl-C or SIGTERM); the same command resumes`,
		Example: `  # the default sweep (time and numbers measured on 2 cores: docs/harness.md)
  bench run

  # two methods, two batch sizes, three seeds
  bench run --methods simsiam,byol --batch-sizes 128,256 --seeds 0,1,2

  # the stop-gradient experiment (SimSiam paper, Figure 2), both variants
  bench run --methods simsiam --set simsiam.stopgrad=true,false --out results/stopgrad
  bench run --methods simsiam --set simsiam.stopgrad=true,false --set simsiam.head_bn=hidden --out results/stopgrad-nobn

  # see what would run and how long it would take
  bench run --methods simclr --epochs 20,50 --dry-run

  # the same from a file (flags given explicitly override it)
  bench run --config sweep.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return &exitError{err: err, code: ExitUsage}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if fl.Changed("methods") {
				opts.Flags.Methods = splitList(methods)
			}
			if fl.Changed("transfer") {
				opts.Flags.Transfer = splitList(transfer)
				if len(opts.Flags.Transfer) == 0 {
					opts.Flags.Transfer = []string{"none"}
				}
			}
			if fl.Changed("batch-sizes") {
				opts.Flags.BatchSizes = batchSizes
			}
			if fl.Changed("epochs") {
				opts.Flags.Epochs = epochs
			}
			if fl.Changed("seeds") {
				opts.Flags.Seeds = seeds
			}
			if fl.Changed("set") {
				opts.Flags.Set = set
			}
			if fl.Changed("no-baselines") {
				on := !noBaselines
				opts.Flags.Baselines = &on
			}
			if opts.Ctx = cmd.Context(); opts.Ctx == nil {
				opts.Ctx = context.Background()
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.ConfigFile, "config", "", "sweep `FILE` (YAML with the keys of these flags, e.g. batch_sizes: [128, 256])")
	fl.StringVar(&opts.Preset, "preset", "", "a sweep shipped with bench, as --config: "+strings.Join(sweep.PresetNames(), ", ")+" (--dry-run shows its plan and time)")
	fl.StringSliceVar(&methods, "methods", nil, "methods to compare (default simsiam,byol,simclr,swav,mocov2,barlowtwins)")
	fl.StringVar(&opts.Flags.Dataset, "dataset", "", "pre-training dataset: default, default-mnist, fashion-mnist, mnist, cifar10, cifar100, stl10, stl10-unlabeled, folder:PATH (default \"default\")")
	fl.StringVar(&opts.Flags.EvalDataset, "eval-dataset", "", "labelled dataset the backbones are evaluated on (kNN, linear probe, baselines); default: the pre-training dataset, which then needs labels")
	fl.StringSliceVar(&transfer, "transfer", nil, "datasets for transfer linear probes, or none (default default-mnist)")
	fl.StringVar(&opts.Flags.Backbone, "backbone", "", fmt.Sprintf("shared backbone: %s (default %q)", strings.Join(models.Names(), ", "), sweep.DefaultBackbone))
	fl.StringVar(&opts.Flags.Precision, "precision", "", "precision of the backbone's convolutions: fp32, or bf16 (AMX: Intel Sapphire Rapids or later; weights, BN and losses stay fp32) (default \"fp32\")")
	fl.IntSliceVar(&batchSizes, "batch-sizes", nil, fmt.Sprintf("batch sizes (default %d)", sweep.DefaultBatchSize))
	fl.IntSliceVar(&epochs, "epochs", nil, fmt.Sprintf("epoch budgets (default %d)", sweep.DefaultEpochs))
	fl.Int64SliceVar(&seeds, "seeds", nil, "seeds (default 0)")
	fl.Lookup("seeds").DefValue = "0" // pflag would print "(default [])" for a nil int64 slice
	fl.StringArrayVar(&set, "set", nil, "METHOD.KEY=VALUE[,VALUE...] method option or hyperparameter override (repeatable)")
	fl.StringVar(&opts.Flags.Out, "out", "", "results `DIR` (default results/sweep)")
	fl.IntVar(&opts.Flags.TrainLimit, "train-limit", 0, "use only N training images (0: all)")
	fl.IntVar(&opts.Flags.TestLimit, "test-limit", 0, "use only N test images (0: all)")
	fl.BoolVar(&noBaselines, "no-baselines", false, "skip the raw-pixel, random-init and supervised baselines")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the planned runs and an estimated time; train nothing")
	fl.BoolVar(&opts.JSON, "json", false, "with --dry-run: print the plan as JSON (a finished sweep's results are DIR/summary.json)")
	fl.BoolVar(&opts.NoReport, "no-report", false, "do not write report.md at the end")
	fl.StringVar(&opts.PluginDir, "plugin-dir", "", "extra `DIR` to search for bench-method-* plugins first")
	addExecFlags(fl, &opts.Exec)
	fl.DurationVar(&opts.StepTimeout, "step-timeout", 0, "a plugin step not answered within this is treated as a crash: the plugin is killed and the epoch redone (default 5m)")
	fl.DurationVar(&opts.CallTimeout, "call-timeout", 0, "the same for a plugin's other calls: init, state, set-state (default 2m)")
	_ = cmd.RegisterFlagCompletionFunc("methods", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		found, _ := pluginhost.Find(pluginhost.SearchDirs(opts.PluginDir))
		var names []string
		for _, f := range found {
			names = append(names, f.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("backbone", cobra.FixedCompletions(models.Names(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("dataset", cobra.FixedCompletions(data.Names(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("preset", cobra.FixedCompletions(sweep.PresetNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("eval-dataset", cobra.FixedCompletions(data.Names(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// SweepConfig merges the defaults, the --config file and the explicit flags.
func (o *RunOptions) SweepConfig() (sweep.Config, error) {
	c := sweep.Defaults()
	if o.Preset != "" && o.ConfigFile != "" {
		return c, sweep.Invalid(fmt.Errorf("--preset and --config both name the sweep: give one (copy the preset's file from harness/sweep/presets/ to edit it)"))
	}
	if o.Preset != "" {
		pc, err := sweep.Preset(o.Preset)
		if err != nil {
			return c, err
		}
		c = sweep.Merge(c, pc)
	}
	if o.ConfigFile != "" {
		fc, err := sweep.LoadFile(o.ConfigFile)
		if err != nil {
			return c, err
		}
		c = sweep.Merge(c, fc)
	}
	return sweep.Merge(c, o.Flags), nil
}

// Exit codes of bench run (documented in its --help and docs/harness.md).
const (
	ExitOK          = 0   // every planned run has a result (completed, collapsed, diverged)
	ExitError       = 1   // an error stopped the sweep
	ExitUsage       = 2   // bad flags, sweep.yaml or option values; nothing ran
	ExitRunsFailed  = 3   // the sweep ran to its end but at least one run failed
	ExitInterrupted = 130 // interrupted; the same command resumes
)

// exitError carries an exit code (see the Exit constants).
type exitError struct {
	err  error
	code int
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

func runRun(opts *RunOptions) error {
	err := runSweep(opts)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, harness.ErrInterrupted):
		return &exitError{err: err, code: ExitInterrupted}
	case errors.Is(err, harness.ErrRunsFailed):
		return &exitError{err: err, code: ExitRunsFailed}
	case errors.Is(err, sweep.ErrInvalid):
		return &exitError{err: err, code: ExitUsage}
	}
	return err
}

func runSweep(opts *RunOptions) error {
	ctx := opts.Ctx
	cfg, err := opts.SweepConfig()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if opts.JSON && !opts.DryRun {
		return &exitError{err: fmt.Errorf("--json needs --dry-run: a sweep's results are written as JSON to --out's summary.json"), code: ExitUsage}
	}
	if err := opts.Exec.check(); err != nil {
		return err
	}
	slurmSubmit := opts.Exec.Executor == "slurm" && opts.Exec.Task == "" && !opts.DryRun
	if opts.Exec.Executor == "slurm" {
		// The jobs run elsewhere: every path they read must be absolute.
		if cfg.Out, err = filepath.Abs(cfg.Out); err != nil {
			return err
		}
		if opts.PluginDir != "" {
			if opts.PluginDir, err = filepath.Abs(opts.PluginDir); err != nil {
				return err
			}
		}
	}
	// On a terminal, bars are drawn on stderr and log lines go through the
	// bars (which clear themselves first); otherwise plain log lines only.
	log := opts.Logger
	var progress *harness.Progress
	if opts.IO.IsTerminal() && !opts.DryRun {
		progress = harness.NewProgress(opts.IO.ErrOut, true, nil)
		progress.Width = opts.IO.TerminalWidth
		if opts.NewLogger != nil {
			log = opts.NewLogger(progress)
		} else {
			log = slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
		progress.SetLogger(log)
	} else {
		progress = harness.NewProgress(opts.IO.ErrOut, false, log)
	}

	mk := opts.Methods
	if mk == nil {
		mk = func(dir string, log *slog.Logger) (harness.Methods, error) {
			return &harness.Plugins{Dirs: pluginhost.SearchDirs(dir), Options: pluginhost.Options{
				Logger: log, Stderr: opts.IO.ErrOut, StepTimeout: opts.StepTimeout, CallTimeout: opts.CallTimeout,
			}}, nil
		}
	}
	methods, err := mk(opts.PluginDir, log)
	if err != nil {
		return err
	}
	defer pluginhost.CleanupAll()
	newBackbone := opts.NewBackbone
	if newBackbone == nil {
		newBackbone = func(name string, c int, rng *rand.Rand) (nn.Module, error) { return models.New(name, c, rng) }
	}
	if _, err := newBackbone(cfg.Backbone, 1, rand.New(rand.NewPCG(0, 0))); err != nil {
		return sweep.Invalid(err) // a bad --backbone
	}

	backend, err := gemm.FromEnv()
	if err != nil {
		return err
	}
	gemm.Use(backend)
	gemm.LogChoice(log)
	if err := nn.SetPrecision(nn.Precision(cfg.PrecisionName())); err != nil {
		return sweep.Invalid(fmt.Errorf("--precision %s: %w", cfg.PrecisionName(), err))
	}
	env := environment(opts.Version)
	log.Info("bench run", "code_version", opts.Version, "gemm", env.GEMMBackend, "cores", env.Cores)
	code := sweep.Code{Version: opts.Version}
	if exe, err := os.Executable(); err == nil {
		if code.HostSHA256, err = harness.FileSHA256(exe); err != nil {
			return err
		}
	}
	if b, ok := methods.(interface {
		Binary(ctx context.Context, name string) (sweep.Binary, error)
	}); ok {
		code.Binary = b.Binary
	}
	plan, err := sweep.MakePlan(ctx, cfg, methods.Describe, code)
	if err != nil {
		return err
	}
	store, err := openStore(cfg.Out, opts.DryRun, opts.Exec.Executor == "slurm")
	if err != nil {
		return err
	}
	defer store.Close()
	command := "bench run " + strings.Join(cfg.Args(), " ")
	r := &harness.Runner{
		Plan: plan, Store: store, Methods: methods, NewBackbone: newBackbone,
		OpenDataset: func(ctx context.Context, name string) (*data.Splits, error) {
			return data.Open(ctx, name, data.OpenOptions{Logger: log})
		},
		Log: log, Progress: progress, Env: env, Command: command,
	}
	earlier, err := r.EarlierRuns()
	if err != nil {
		return err
	}
	if len(earlier) > 0 {
		w := opts.IO.Out
		if opts.JSON {
			w = opts.IO.ErrOut // stdout is the JSON plan alone
		}
		fmt.Fprintf(w, "%s holds %d earlier run(s) not in this sweep; they are kept in %s and the report (use another --out to keep sweeps apart)\n",
			store.Dir, len(earlier), results.SummaryFile)
	}
	if opts.DryRun && opts.JSON {
		return printPlanJSON(ctx, opts.IO.Out, r)
	}
	if opts.DryRun {
		return r.DryRun(ctx, opts.IO.Out)
	}
	if slurmSubmit {
		argv := cfg.Argv()
		if opts.PluginDir != "" {
			argv = append(argv, "--plugin-dir", opts.PluginDir)
		}
		if opts.NoReport {
			argv = append(argv, "--no-report")
		}
		if opts.StepTimeout > 0 {
			argv = append(argv, "--step-timeout", opts.StepTimeout.String())
		}
		if opts.CallTimeout > 0 {
			argv = append(argv, "--call-timeout", opts.CallTimeout.String())
		}
		return submitSlurm(ctx, opts, r, append(argv, "--executor", "slurm"))
	}
	if err := configureTask(r, opts.Exec); err != nil {
		return err
	}
	if !opts.NoReport {
		r.Report = func(ctx context.Context, dir string) error {
			rep, err := reports.Generate(ctx, dir, reports.Options{Logger: log})
			if err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.Out, "report: %s\n", rep.Path)
			return rep.PrintTable(opts.IO.Out)
		}
	}
	err = r.Run(ctx)
	if err != nil && !errors.Is(err, harness.ErrRunsFailed) {
		return err
	}
	switch r.Phase {
	case harness.PhaseBaselines:
		return nil
	case harness.PhaseRuns:
		// The array task's exit code is its run's: Slurm shows it FAILED.
		for _, id := range r.Only {
			if st, ok, _ := store.Status(id); ok && st.Status == results.StatusFailed {
				return fmt.Errorf("%w: run %s: %s", harness.ErrRunsFailed, id, st.Error)
			}
		}
		return nil
	}
	if perr := printSummary(opts, store.Dir); perr != nil {
		return perr
	}
	return err // nil, or the failed runs (exit code 3)
}

// openStore opens and locks the results dir; a dry run only reads it, and
// the Slurm executor's processes share it (each run is claimed on its own).
func openStore(dir string, dry, shared bool) (*harness.Store, error) {
	switch {
	case dry:
		return harness.ReadStore(dir), nil
	case shared:
		return harness.OpenSharedStore(dir)
	}
	return harness.OpenStore(dir)
}

// printSummary prints one line per run and the baselines.
func printSummary(opts *RunOptions, dir string) error {
	var s results.Summary
	if err := results.ReadJSON(dir+"/"+results.SummaryFile, &s); err != nil {
		return err
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "results: %s/%s\n", dir, results.SummaryFile)
	fmt.Fprintf(w, "%-40s %-10s %7s %7s\n", "run", "status", "knn", "linear")
	for _, r := range s.Runs {
		switch r.Status {
		case results.StatusCompleted, results.StatusCollapsed:
			fmt.Fprintf(w, "%-40s %-10s %6s%% %6s%%\n", r.ID, r.Status, reports.Pct(r.KNNTop1), reports.Pct(r.LinearTop1))
		case results.StatusFailed:
			// A failed run has no numbers: say so, and why, never 0.0%.
			fmt.Fprintf(w, "%-40s %-10s %7s %7s\n", r.ID, r.Status, "failed", "failed")
			fmt.Fprintf(w, "  why: %s\n", oneLine(r.Error, 200))
		default: // diverged: the kNN monitor of its last epoch, no linear probe
			fmt.Fprintf(w, "%-40s %-10s %6s%% %7s\n", r.ID, r.Status, reports.Pct(r.KNNTop1), "-")
		}
	}
	for _, name := range []string{results.BaselineRawPixels, results.BaselineRandomInit, results.BaselineSupervised} {
		// "supervised/<e>ep" when the sweep has several epoch budgets
		for _, k := range slices.Sorted(maps.Keys(s.Baselines)) {
			if k == name || strings.HasPrefix(k, name+"/") {
				b := s.Baselines[k]
				fmt.Fprintf(w, "%-40s %-10s %6s%% %6s%%\n", "baseline "+k, "", reports.Pct(b.KNNTop1), reports.Pct(b.LinearTop1))
			}
		}
	}
	return nil
}

// environment describes this machine for results and reports.
func environment(version string) results.Environment {
	b := gemm.Current()
	host, _ := os.Hostname()
	return results.Environment{
		CodeVersion: version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPU: cpuModel(), Cores: runtime.NumCPU(), GEMMBackend: b.Name() + " (" + b.Info() + ")", Hostname: host,
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// oneLine returns s on one line, cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "no error recorded"
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// splitList drops empty items of a --flag a,b list.
func splitList(xs []string) []string {
	out := []string{}
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// PlannedRun is one run of bench run --dry-run --json.
type PlannedRun struct {
	ID              string            `json:"id"`
	Method          string            `json:"method"`
	Options         map[string]string `json:"options,omitempty"`
	BatchSize       int               `json:"batch_size"`
	Epochs          int               `json:"epochs"`
	Seed            int64             `json:"seed"`
	State           string            `json:"state"` // new, finished (reused), resume at epoch k
	EstimateSeconds float64           `json:"estimate_seconds"`
}

// Plan is what bench run --dry-run --json prints.
type Plan struct {
	Runs []PlannedRun `json:"runs"`
	// BaselinesSeconds bounds the baselines' time (null: --no-baselines).
	BaselinesSeconds *float64 `json:"baselines_seconds"`
	TotalSeconds     float64  `json:"total_seconds"`
	TrainImages      int      `json:"train_images"`
	Backbone         string   `json:"backbone"`
	GEMMBackend      string   `json:"gemm_backend"`
}

func printPlanJSON(ctx context.Context, w io.Writer, r *harness.Runner) error {
	est, err := r.Estimates(ctx)
	if err != nil {
		return err
	}
	p := Plan{Runs: []PlannedRun{}, TotalSeconds: est.Total.Seconds(), TrainImages: est.TrainImages,
		Backbone: r.Plan.Config.Backbone, GEMMBackend: r.Env.GEMMBackend}
	for i, run := range r.Plan.Runs {
		c := run.Config
		p.Runs = append(p.Runs, PlannedRun{ID: c.ID, Method: c.Method, Options: c.Options, BatchSize: c.BatchSize,
			Epochs: c.Epochs, Seed: c.Seed, State: est.States[i], EstimateSeconds: est.Runs[i].Seconds()})
	}
	if r.Plan.Config.BaselinesOn() {
		s := est.Baselines.Seconds()
		p.BaselinesSeconds = &s
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
