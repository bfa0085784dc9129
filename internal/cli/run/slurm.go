package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/internal/slurm"
	"github.com/siambench/siambench/results"
)

// ExecOptions choose where a sweep's runs execute.
type ExecOptions struct {
	Executor  string   // local (default) or slurm
	SlurmArgs []string // raw sbatch arguments
	Wait      bool
	Throttle  int
	Res       slurm.Resources
	Grace     time.Duration
	// Task is set in the jobs the Slurm executor submits: baselines, runs
	// or report; RunsFile lists the array's run IDs (one per task).
	Task     string
	RunsFile string
}

func addExecFlags(fl *pflag.FlagSet, o *ExecOptions) {
	fl.StringVar(&o.Executor, "executor", "local", "where runs execute: local (this process) or slurm (one sbatch array task per run)")
	fl.StringArrayVar(&o.SlurmArgs, "slurm-arg", nil, "extra sbatch argument for every job, e.g. --slurm-arg=--partition=gpu (repeatable)")
	fl.BoolVar(&o.Wait, "wait", false, "with --executor slurm: wait for the report job; exit non-zero if any run failed")
	fl.IntVar(&o.Throttle, "slurm-throttle", 0, "with --executor slurm: at most N array tasks at once (sbatch --array=…%N)")
	fl.IntVar(&o.Res.CPUsPerTask, "cpus-per-task", 0, "with --executor slurm: CPUs per task (default: this machine's core count)")
	fl.StringVar(&o.Res.Mem, "mem", "", "with --executor slurm: memory per task, e.g. 8G (default: Slurm's)")
	fl.StringVar(&o.Res.Time, "time", "", "with --executor slurm: time limit per task, e.g. 02:00:00 (default: 3× the dry-run estimate of the longest run, at least 10 minutes)")
	fl.StringVar(&o.Res.Gres, "gres", "", "with --executor slurm: generic resources per task, e.g. gpu:1")
	fl.DurationVar(&o.Grace, "slurm-grace", 120*time.Second, "with --executor slurm: SIGTERM a task this long before its time limit; it checkpoints and is requeued")
	fl.StringVar(&o.Task, "slurm-task", "", "internal: the part of the sweep a Slurm job runs (baselines, runs, report)")
	fl.StringVar(&o.RunsFile, "slurm-runs", "", "internal: the file listing the run IDs of a Slurm array")
	_ = fl.MarkHidden("slurm-task")
	_ = fl.MarkHidden("slurm-runs")
}

func (o ExecOptions) check() error {
	switch o.Executor {
	case "local", "":
		if o.Wait || len(o.SlurmArgs) > 0 || o.Throttle > 0 {
			return &exitError{err: fmt.Errorf("--wait, --slurm-arg and --slurm-throttle need --executor slurm"), code: ExitUsage}
		}
	case "slurm":
	default:
		return &exitError{err: fmt.Errorf("--executor %q: choose local or slurm", o.Executor), code: ExitUsage}
	}
	switch o.Task {
	case "", "baselines", "runs", "report":
	default:
		return &exitError{err: fmt.Errorf("--slurm-task %q: baselines, runs or report", o.Task), code: ExitUsage}
	}
	return nil
}

// configureTask restricts the runner to the part of the sweep this Slurm
// job does.
func configureTask(r *harness.Runner, o ExecOptions) error {
	switch o.Task {
	case "baselines":
		r.Phase = harness.PhaseBaselines
	case "report":
		r.Phase = harness.PhaseReport
	case "runs":
		r.Phase = harness.PhaseRuns
		b, err := os.ReadFile(o.RunsFile)
		if err != nil {
			return fmt.Errorf("slurm task: %w", err)
		}
		ids := strings.Fields(string(b))
		i, err := strconv.Atoi(os.Getenv("SLURM_ARRAY_TASK_ID"))
		if err != nil || i < 0 || i >= len(ids) {
			return fmt.Errorf("slurm task: SLURM_ARRAY_TASK_ID=%q does not index the %d runs of %s", os.Getenv("SLURM_ARRAY_TASK_ID"), len(ids), o.RunsFile)
		}
		r.Only = ids[i : i+1]
	}
	return nil
}

// submitSlurm submits what is left of the sweep and, with --wait, waits for
// the report. Finished runs are not resubmitted; a finished sweep submits
// nothing.
func submitSlurm(ctx context.Context, opts *RunOptions, r *harness.Runner, argv []string) error {
	out := opts.IO.Out
	dir := r.Store.Dir
	var pending []string
	for _, run := range r.Plan.Runs {
		id := run.Config.ID
		done, err := r.Store.Finished(id)
		if err != nil {
			return err
		}
		if done {
			continue
		}
		if ci, ok := r.Store.ReadClaim(id); ok && ci.Live(time.Now()) {
			fmt.Fprintf(out, "run %s is being trained (host %s, job %s): not resubmitted\n", id, ci.Host, ci.SlurmJob)
			continue
		}
		pending = append(pending, id)
	}
	baselines := r.Plan.Config.BaselinesOn()
	if baselines {
		var sum results.Summary
		if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &sum); err == nil && len(sum.Baselines) >= 3 {
			baselines = false // computed and in the summary already
		}
	}
	if len(pending) == 0 && !baselines {
		fmt.Fprintf(out, "nothing to submit: every run of the sweep is finished (%s)\n", filepath.Join(dir, results.SummaryFile))
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("slurm: find the bench binary: %w", err)
	}
	exe, _ = filepath.EvalSymlinks(exe)
	wd, _ := os.Getwd()
	res := opts.Exec.Res
	if res.CPUsPerTask == 0 {
		res.CPUsPerTask = r.Env.Cores
	}
	if res.Time == "" {
		res.Time = timeLimit(ctx, r)
	}
	jobs, err := slurm.Submit(ctx, slurm.Options{
		Bench: exe, Args: argv, Dir: dir, Workdir: wd, Runs: pending, Baselines: baselines,
		Throttle: opts.Exec.Throttle, Res: res, Grace: opts.Exec.Grace, Extra: opts.Exec.SlurmArgs,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "submitted %d runs to Slurm: baselines job %s, array job %s, report job %s\n",
		len(pending), orNone(jobs.Baselines), orNone(jobs.Array), jobs.Report)
	fmt.Fprintf(out, "scripts and logs: %s\nfollow with: bench status %s\n", slurm.Dir(dir), dir)
	if !opts.Exec.Wait {
		return nil
	}
	if err := slurm.Wait(ctx, jobs.Report, 2*time.Second); err != nil {
		return fmt.Errorf("wait for report job %s: %w", jobs.Report, err)
	}
	var sum results.Summary
	if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &sum); err != nil {
		return fmt.Errorf("the report job %s left no summary (log in %s): %w", jobs.Report, filepath.Join(slurm.Dir(dir), "logs"), err)
	}
	if err := printSummary(opts, dir); err != nil {
		return err
	}
	got := map[string]string{}
	for _, run := range sum.Runs {
		got[run.ID] = run.Status
	}
	var bad []string
	for _, run := range r.Plan.Runs {
		switch st := got[run.Config.ID]; st {
		case results.StatusCompleted, results.StatusCollapsed, results.StatusDiverged:
		case "":
			bad = append(bad, run.Config.ID+" (no result)")
		default:
			bad = append(bad, run.Config.ID+" ("+st+")")
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %d of %d runs did not finish: %s; see bench status %s", harness.ErrRunsFailed, len(bad), len(r.Plan.Runs), strings.Join(bad, ", "), dir)
	}
	return nil
}

// timeLimit is the default --time: 3× the estimate of the longest run, at
// least 10 minutes (the estimate times a few steps on this machine).
func timeLimit(ctx context.Context, r *harness.Runner) string {
	limit := 10 * time.Minute
	if est, err := r.Estimates(ctx); err == nil {
		longest := est.Baselines
		for _, d := range est.Runs {
			longest = max(longest, d)
		}
		limit = max(limit, 3*longest)
	}
	s := int(limit.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
