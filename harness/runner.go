package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/results"
)

// BackboneFunc builds a backbone by name for images with inChannels
// channels, initialised from rng. Its output is (N,D) features.
type BackboneFunc func(name string, inChannels int, rng *rand.Rand) (nn.Module, error)

// DatasetFunc opens a dataset by name (data.Open in bench).
type DatasetFunc func(ctx context.Context, name string) (*data.Splits, error)

// Runner runs a planned sweep into a Store: baselines first, then every run
// that is not finished (resuming an interrupted one from its checkpoint),
// then summary.json and the report. It is resumable at any point.
type Runner struct {
	Plan        *sweep.Plan
	Store       *Store
	Methods     Methods
	NewBackbone BackboneFunc
	OpenDataset DatasetFunc
	// Log receives progress lines; Progress draws bars (may be nil).
	Log      *slog.Logger
	Progress *Progress
	Env      results.Environment
	// Command is the command line that resumes the sweep.
	Command string
	// MaxRestarts bounds plugin crashes recovered per run; 0 means 3.
	MaxRestarts int
	// Report, when set, writes the report after the summary.
	Report func(ctx context.Context, dir string) error
	// Workers is the loader's worker count; 0 means GOMAXPROCS.
	Workers int
	// Phase restricts Run to one part of the sweep (the Slurm executor runs
	// each in its own job); the zero value runs all of it.
	Phase Phase
	// Only, when non-empty, restricts the runs phase to these run IDs.
	Only []string
}

// Phase is a part of a sweep that Run can do on its own.
type Phase int

const (
	PhaseAll       Phase = iota // baselines, runs, summary and report
	PhaseBaselines              // the baselines only
	PhaseRuns                   // the runs (Only, if set) only: no summary
	PhaseReport                 // summary.json and the report from what is stored
)

// ErrInterrupted is returned by Run when its context ended; completed work
// is kept and the same command resumes the sweep.
var ErrInterrupted = errors.New("sweep interrupted")

// ErrRunsFailed is returned by Run, after the summary and the report are
// written, when at least one planned run failed (collapsed and diverged
// runs are results, not failures). The same command retries failed runs.
var ErrRunsFailed = errors.New("runs failed")

// storageFull reports whether err comes from a results file system that
// takes no more writes: full (ENOSPC), over quota (EDQUOT) or read-only
// (EROFS). Such an error stops the sweep instead of failing each run.
func storageFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS)
}

// storageFullError is the error that stops a sweep on a full results file
// system: what failed, and what to do.
func (r *Runner) storageFullError(what string, err error) error {
	return fmt.Errorf("%s: %w\nthe file system holding %s is full, over quota or read-only: free space (df -h %s) and rerun the same command; finished runs and epochs are kept",
		what, err, r.Store.Dir, r.Store.Dir)
}

// splitSet holds the opened datasets of a sweep (after the split limits).
type splitSet struct {
	// pretrain are the images methods train on: train, or the pre-training
	// dataset's when the sweep evaluates on another (Config.EvalDataset).
	pretrain    data.Dataset
	train, test data.Dataset // the labelled evaluation splits
	classes     int
	channels    int
	transfer    map[string]*splitSet // by dataset name
	names       []string             // transfer names in order
}

func (r *Runner) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// Run executes the sweep. It returns ErrInterrupted (wrapped, with the
// command to resume) when ctx ends, and an error only for problems that stop
// the whole sweep (bad dataset, results dir unusable); a run that fails is
// recorded as failed and the sweep goes on.
func (r *Runner) Run(ctx context.Context) error {
	log := r.logger()
	ds, err := r.openDatasets(ctx)
	if err != nil {
		return err
	}
	cfgJSON, _ := json.Marshal(r.Plan.Config)
	sw := results.Sweep{CodeVersion: r.Plan.CodeVersion, Command: r.Command, Config: cfgJSON, Environment: r.Env}
	for _, run := range r.Plan.Runs {
		sw.Runs = append(sw.Runs, run.Config.ID)
	}
	if err := r.Store.WriteSweep(sw); err != nil {
		return err
	}
	log.Info("sweep", "dir", r.Store.Dir, "runs", len(r.Plan.Runs), "gemm", r.Env.GEMMBackend, "code_version", r.Plan.CodeVersion)

	var baselines map[string]results.Baseline
	if r.Plan.Config.BaselinesOn() && r.Phase != PhaseRuns {
		if baselines, err = r.baselines(ctx, ds); err != nil {
			if ctx.Err() != nil {
				return r.interrupted()
			}
			if storageFull(err) {
				return r.storageFullError("baselines", err)
			}
			// Baselines frame the numbers but are not what the sweep is
			// for: log loudly and go on (the report shows them missing).
			log.Error("baselines failed; the sweep goes on without them", "err", err)
			if r.Phase == PhaseBaselines {
				return err
			}
		}
	}
	switch r.Phase {
	case PhaseBaselines:
		return nil
	case PhaseReport:
		return r.finish(ctx, baselines)
	}

	total := int64(0)
	for _, run := range r.Plan.Runs {
		total += r.runImages(run, ds)
	}
	if r.Progress != nil {
		r.Progress.SweepStart(len(r.Plan.Runs), total)
		defer r.Progress.Done()
	}
	for i, run := range r.Plan.Runs {
		id := run.Config.ID
		if len(r.Only) > 0 && !slices.Contains(r.Only, id) {
			continue
		}
		done, err := r.Store.Finished(id)
		if err != nil {
			return err
		}
		if done {
			log.Info("run already finished; reusing it", "run", id)
			if r.Progress != nil {
				r.Progress.Skip(r.runImages(run, ds))
			}
			continue
		}
		release, err := r.Store.Claim(id)
		if errors.Is(err, ErrClaimed) {
			log.Warn("run is claimed by a live bench process; not starting it twice", "run", id, "claim", err)
			continue
		}
		if err != nil {
			return err
		}
		err = r.trainRun(ctx, i, run, ds)
		release()
		if ctx.Err() != nil {
			return r.interrupted()
		}
		if err != nil && storageFull(err) {
			// Every later write fails the same way: stop now, leaving the
			// run resumable (not "failed"); its last checkpoint is intact.
			return r.storageFullError("run "+id, err)
		}
		if newer := (*results.SchemaError)(nil); errors.As(err, &newer) {
			// A newer bench wrote this run's files: marking it failed would
			// overwrite them.
			return fmt.Errorf("run %s: %w", id, err)
		}
		if err != nil {
			log.Error("run failed; the sweep goes on", "run", id, "err", err)
			st, _, _ := r.Store.Status(id)
			st.Status, st.Error, st.FinishedAt = results.StatusFailed, err.Error(), time.Now().UTC()
			if werr := r.Store.WriteStatus(id, st); werr != nil {
				return werr
			}
		}
		if r.Phase == PhaseRuns {
			continue
		}
		if err := r.writeSummary(baselines); err != nil {
			return err
		}
	}
	if r.Phase == PhaseRuns {
		return nil
	}
	return r.finish(ctx, baselines)
}

// finish writes summary.json and the report.
func (r *Runner) finish(ctx context.Context, baselines map[string]results.Baseline) error {
	log := r.logger()
	if err := r.writeSummary(baselines); err != nil {
		return err
	}
	log.Info("sweep finished", "summary", r.Store.Dir+"/"+results.SummaryFile)
	if r.Report != nil {
		if err := r.Report(ctx, r.Store.Dir); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return r.failures()
}

// failures returns an ErrRunsFailed error naming the planned runs that
// did not reach a result, or nil when all did.
func (r *Runner) failures() error {
	var failed []string
	first := ""
	for _, run := range r.Plan.Runs {
		st, _, err := r.Store.Status(run.Config.ID)
		if err != nil {
			return err
		}
		switch st.Status {
		case results.StatusCompleted, results.StatusCollapsed, results.StatusDiverged:
			continue
		}
		failed = append(failed, run.Config.ID)
		if first == "" {
			first = fmt.Sprintf("%s: %s", run.Config.ID, orStatus(st))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return runsFailedError(fmt.Sprintf("%d of %d runs failed (first: %s); the summary and report say why, and the same command retries them",
		len(failed), len(r.Plan.Runs), first))
}

// runsFailedError is an ErrRunsFailed error with its own message.
type runsFailedError string

func (e runsFailedError) Error() string        { return string(e) }
func (e runsFailedError) Is(target error) bool { return target == ErrRunsFailed }

func orStatus(st results.RunStatus) string {
	if st.Error != "" {
		return st.Error
	}
	if st.Status == "" {
		return "no status"
	}
	return st.Status
}

// EarlierRuns returns the IDs of the runs in the results directory that
// this plan does not contain and that hold a result (runs of earlier,
// different sweeps into the same --out). summary.json and the report keep
// them, so a directory's summary always covers every run in it.
func (r *Runner) EarlierRuns() ([]string, error) {
	planned := map[string]bool{}
	for _, run := range r.Plan.Runs {
		planned[run.Config.ID] = true
	}
	ids, err := r.Store.RunIDs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if planned[id] {
			continue
		}
		if st, ok, err := r.Store.Status(id); err == nil && ok && isResult(st.Status) {
			out = append(out, id)
		}
	}
	return out, nil
}

// isResult reports whether a run with this status belongs in the summary:
// it reached a final status (failed included), so it is not still running
// or interrupted.
func isResult(status string) bool {
	switch status {
	case results.StatusCompleted, results.StatusCollapsed, results.StatusDiverged, results.StatusFailed:
		return true
	}
	return false
}

func (r *Runner) interrupted() error {
	return fmt.Errorf("%w: completed runs are kept; resume with:\n  %s", ErrInterrupted, r.Command)
}

// runImages is the number of training images a run processes (for ETAs).
func (r *Runner) runImages(run sweep.Run, ds *splitSet) int64 {
	steps := ds.pretrain.Len() / run.Config.BatchSize
	return int64(steps * run.Config.BatchSize * run.Config.Epochs)
}

func (r *Runner) openDatasets(ctx context.Context) (*splitSet, error) {
	c := r.Plan.Config
	open := func(name string) (*data.Splits, error) {
		sp, err := r.OpenDataset(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("open dataset %s: %w", name, err)
		}
		return sp, nil
	}
	labelled := func(name string, sp *data.Splits) (*splitSet, error) {
		s := &splitSet{train: NewSubset(sp.Train, c.TrainLimit), test: NewSubset(sp.Test, c.TestLimit), classes: len(sp.Train.Classes())}
		if s.train.Len() == 0 || s.test.Len() == 0 {
			return nil, fmt.Errorf("dataset %s: empty train or test split", name)
		}
		s.pretrain, s.channels = s.train, s.train.Image(0).C
		return s, nil
	}
	pre, err := open(c.Dataset)
	if err != nil {
		return nil, err
	}
	var main *splitSet
	switch eval := c.SeparateEval(); {
	case eval == "" && !pre.Labeled():
		return nil, sweep.Invalid(fmt.Errorf("dataset %s has no labels, so the backbones cannot be evaluated on it: pre-train on it and evaluate on a labelled dataset with the same channels, --eval-dataset NAME (e.g. --eval-dataset stl10 with stl10-unlabeled)", c.Dataset))
	case eval == "":
		if main, err = labelled(c.Dataset, pre); err != nil {
			return nil, err
		}
	default:
		ev, err := open(eval)
		if err != nil {
			return nil, err
		}
		if !ev.Labeled() {
			return nil, sweep.Invalid(fmt.Errorf("evaluation dataset %s has no labels: --eval-dataset needs a labelled dataset (one sub-folder per class for a folder)", eval))
		}
		if main, err = labelled(eval, ev); err != nil {
			return nil, err
		}
		main.pretrain = NewSubset(pre.Train, c.TrainLimit)
		if main.pretrain.Len() == 0 {
			return nil, fmt.Errorf("dataset %s has no images", c.Dataset)
		}
		if ch := main.pretrain.Image(0).C; ch != main.channels {
			return nil, sweep.Invalid(fmt.Errorf("evaluation dataset %s has %d channels, the pre-training dataset %s has %d: a backbone trained on one cannot read the other", eval, main.channels, c.Dataset, ch))
		}
	}
	for _, bs := range c.BatchSizes {
		if bs > main.pretrain.Len() {
			return nil, fmt.Errorf("batch size %d exceeds the %d training images of %s: lower --batch-sizes or raise --train-limit", bs, main.pretrain.Len(), c.Dataset)
		}
	}
	main.transfer = map[string]*splitSet{}
	for _, t := range c.TransferDatasets() {
		sp, err := open(t)
		if err != nil {
			return nil, fmt.Errorf("transfer: %w", err)
		}
		if !sp.Labeled() {
			return nil, sweep.Invalid(fmt.Errorf("transfer dataset %s has no labels: a transfer probe needs a labelled dataset", t))
		}
		s, err := labelled(t, sp)
		if err != nil {
			return nil, fmt.Errorf("transfer: %w", err)
		}
		if s.channels != main.channels {
			return nil, fmt.Errorf("transfer dataset %s has %d channels, %s has %d: a backbone trained on one cannot read the other", t, s.channels, c.Dataset, main.channels)
		}
		main.transfer[t] = s
		main.names = append(main.names, t)
	}
	return main, nil
}

// --- summary

// writeSummary writes summary.json: a row for every run of the plan that
// has a result, in plan order, then the rows of earlier runs in the same
// directory that the plan does not contain (other sweeps into this --out),
// in ID order, so that the summary and the report cover the whole
// directory rather than silently dropping them.
func (r *Runner) writeSummary(baselines map[string]results.Baseline) error {
	sum := results.Summary{Environment: r.Env, Runs: []results.SummaryRun{}, Baselines: baselines}
	if sum.Baselines == nil {
		sum.Baselines = map[string]results.Baseline{}
	}
	for _, run := range r.Plan.Runs {
		row, ok, err := r.summaryRow(run.Config)
		if err != nil {
			return err
		}
		if ok {
			sum.Runs = append(sum.Runs, row)
		}
	}
	earlier, err := r.EarlierRuns()
	if err != nil {
		return err
	}
	for _, id := range earlier {
		c, err := r.readConfig(id)
		if err != nil {
			r.logger().Warn("earlier run left out of the summary: its config is unreadable", "run", id, "err", err)
			continue
		}
		row, ok, err := r.summaryRow(c)
		if err != nil {
			return err
		}
		if ok {
			sum.Runs = append(sum.Runs, row)
		}
	}
	return r.Store.WriteSummary(sum)
}

// summaryRow builds the summary row of run c; ok is false when the run has
// no result yet (not run, or interrupted).
func (r *Runner) summaryRow(c results.RunConfig) (results.SummaryRun, bool, error) {
	st, ok, err := r.Store.Status(c.ID)
	if err != nil {
		return results.SummaryRun{}, false, err
	}
	if !ok || !isResult(st.Status) {
		return results.SummaryRun{}, false, nil
	}
	if cfg, err := r.readConfig(c.ID); err == nil {
		c.OutputDim = cfg.OutputDim // known once the run has evaluated
	}
	ev, ok, err := r.Store.Eval(c.ID)
	if err != nil {
		return results.SummaryRun{}, false, err
	}
	var ms []results.EpochMetrics
	evp := &ev
	if !ok {
		evp = nil
		ms, _ = r.Store.Metrics(c.ID) // unreadable metrics: the row has no accuracies
	}
	return results.NewSummaryRun(c, &st, evp, ms), true, nil
}

func (r *Runner) readConfig(id string) (results.RunConfig, error) {
	var c results.RunConfig
	err := results.ReadJSON(r.Store.runFile(id, results.ConfigFile), &c)
	return c, err
}

// --- helpers

// hashKey returns a short stable hash of v's JSON.
func hashKey(v any) string {
	b, _ := json.Marshal(v)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:10]
}

// runLogger returns a logger writing to both base and the run's log file.
func runLogger(base *slog.Logger, path string) (*slog.Logger, func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open run log: %w", err)
	}
	h := slog.NewMultiHandler(base.Handler(), slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return slog.New(h), func() { f.Close() }, nil
}
