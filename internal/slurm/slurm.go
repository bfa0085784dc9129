// Package slurm submits a planned sweep to a Slurm cluster: one job for the
// baselines, one job array with a task per run (afterany on the baselines),
// and one job that writes summary.json and the report once the array is
// done (afterany). Every job runs the same bench binary that submitted it,
// by absolute path, with the same arguments plus the part it does, so the
// nodes need nothing installed and a run's results do not depend on where it
// ran. The batch scripts, the list of runs of each array and the logs are
// kept under DIR/slurm/ for the user to read.
package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/siambench/siambench/atomicfile"
)

// Resources are the per-task requests; zero values leave Slurm's defaults.
type Resources struct {
	CPUsPerTask int    // --cpus-per-task
	Mem         string // --mem, e.g. 4G
	Time        string // --time, e.g. 01:30:00
	Gres        string // --gres, e.g. gpu:1
}

// Options describe one submission.
type Options struct {
	Bench   string   // absolute path of the bench binary the tasks run
	Args    []string // bench run arguments shared by every job (absolute --out)
	Dir     string   // the results directory (absolute, shared by the nodes)
	Workdir string   // the jobs' working directory (absolute)
	Runs    []string // the run IDs to train: one array task each
	// Baselines submits the baselines job (the array depends on it).
	Baselines bool
	Throttle  int // at most this many array tasks at once (%N); 0: no limit
	Res       Resources
	Grace     time.Duration // SIGTERM this long before the time limit (preemption too); 0 means 120 s
	Extra     []string      // raw sbatch arguments (--slurm-arg), e.g. --partition=gpu
	Env       []string      // environment of sbatch; nil means os.Environ()
}

// Jobs are the submitted job IDs ("" for a job not submitted).
type Jobs struct {
	Baselines, Array, Report string
}

// Dir is where the scripts, run lists and logs go inside a results directory.
func Dir(results string) string { return filepath.Join(results, "slurm") }

// Submit writes the batch scripts and submits them with sbatch. The report
// job is submitted whenever anything else is.
func Submit(ctx context.Context, o Options) (Jobs, error) {
	var jobs Jobs
	if !filepath.IsAbs(o.Bench) || !filepath.IsAbs(o.Dir) {
		return jobs, fmt.Errorf("slurm: the bench binary (%s) and the results dir (%s) must be absolute paths", o.Bench, o.Dir)
	}
	if _, err := exec.LookPath("sbatch"); err != nil {
		return jobs, errors.New("slurm: sbatch not found on PATH: run bench on a Slurm login node, or use --executor local")
	}
	if len(o.Runs) == 0 && !o.Baselines {
		return jobs, nil
	}
	sd := Dir(o.Dir)
	stamp := time.Now().UTC().Format("20060102T150405.000")
	logs := filepath.Join(sd, "logs")
	if err := os.MkdirAll(logs, atomicfile.DirMode); err != nil {
		return jobs, fmt.Errorf("slurm: %w", err)
	}
	grace := o.Grace
	if grace <= 0 {
		grace = 120 * time.Second
	}
	var after []string
	if o.Baselines {
		id, err := o.submit(ctx, filepath.Join(sd, "baselines-"+stamp+".sbatch"), []string{
			"--job-name=siambench-baselines", "--output=" + filepath.Join(logs, "baselines-%j.out"),
		}, "--slurm-task=baselines")
		if err != nil {
			return jobs, err
		}
		jobs.Baselines = id
		after = append(after, id)
	}
	if len(o.Runs) > 0 {
		list := filepath.Join(sd, "runs-"+stamp+".txt")
		if err := atomicfile.WriteFile(list, []byte(strings.Join(o.Runs, "\n")+"\n")); err != nil {
			return jobs, fmt.Errorf("slurm: %w", err)
		}
		arr := fmt.Sprintf("--array=0-%d", len(o.Runs)-1)
		if o.Throttle > 0 {
			arr += "%" + strconv.Itoa(o.Throttle)
		}
		head := []string{"--job-name=siambench-runs", arr, "--requeue",
			fmt.Sprintf("--signal=B:TERM@%d", int(grace.Seconds())),
			"--output=" + filepath.Join(logs, "run-%A_%a.out")}
		if len(after) > 0 {
			head = append(head, "--dependency=afterany:"+strings.Join(after, ":"))
		}
		id, err := o.submit(ctx, filepath.Join(sd, "runs-"+stamp+".sbatch"), head, "--slurm-task=runs", "--slurm-runs="+list)
		if err != nil {
			return jobs, err
		}
		jobs.Array = id
		after = append(after, id)
	}
	id, err := o.submit(ctx, filepath.Join(sd, "report-"+stamp+".sbatch"), []string{
		"--job-name=siambench-report", "--output=" + filepath.Join(logs, "report-%j.out"),
		"--dependency=afterany:" + strings.Join(after, ":"),
	}, "--slurm-task=report")
	if err != nil {
		return jobs, err
	}
	jobs.Report = id
	if err := record(o.Dir, Submission{At: time.Now().UTC(), Jobs: jobs, Runs: o.Runs}); err != nil {
		return jobs, fmt.Errorf("slurm: jobs %+v submitted, but recording them failed: %w", jobs, err)
	}
	return jobs, nil
}

// submit writes one batch script and sbatch's it; the job ID comes back.
func (o Options) submit(ctx context.Context, path string, head []string, taskArgs ...string) (string, error) {
	head = append(head, "--chdir="+o.Workdir)
	if o.Res.CPUsPerTask > 0 {
		head = append(head, "--cpus-per-task="+strconv.Itoa(o.Res.CPUsPerTask))
	}
	if o.Res.Mem != "" {
		head = append(head, "--mem="+o.Res.Mem)
	}
	if o.Res.Time != "" {
		head = append(head, "--time="+o.Res.Time)
	}
	if o.Res.Gres != "" {
		head = append(head, "--gres="+o.Res.Gres)
	}
	head = append(head, o.Extra...)
	var b strings.Builder
	b.WriteString("#!/bin/bash\n# Written by bench run --executor slurm; sbatch reads the #SBATCH lines.\n")
	for _, h := range head {
		fmt.Fprintf(&b, "#SBATCH %s\n", h)
	}
	// exec: bench is the batch shell itself, so --signal=B:TERM reaches it.
	b.WriteString("exec " + shellQuote(o.Bench))
	for _, a := range append(append([]string{"run"}, o.Args...), taskArgs...) {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\n")
	if err := atomicfile.WriteFile(path, []byte(b.String())); err != nil {
		return "", fmt.Errorf("slurm: %w", err)
	}
	cmd := exec.CommandContext(ctx, "sbatch", "--parsable", path)
	cmd.Env = o.Env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("sbatch %s: %v: %s", path, err, strings.TrimSpace(errb.String()))
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out.String()), ";") // "ID" or "ID;cluster"
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch %s: unexpected output %q", path, out.String())
	}
	return id, nil
}

// Queued reports whether the job (or any task of an array) is still known
// to the queue: pending, running, requeued, completing.
func Queued(ctx context.Context, job string) (bool, error) {
	out, err := exec.CommandContext(ctx, "squeue", "-h", "-j", job, "-o", "%i %T").CombinedOutput()
	if err != nil {
		// squeue fails for a job ID it has forgotten (MinJobAge passed).
		if strings.Contains(string(out), "Invalid job id") {
			return false, nil
		}
		return false, fmt.Errorf("squeue -j %s: %v: %s", job, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)) != "", nil
}

// Wait blocks until job has left the queue, polling every poll.
func Wait(ctx context.Context, job string, poll time.Duration) error {
	for {
		q, err := Queued(ctx, job)
		if err != nil {
			return err
		}
		if !q {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// TaskStates returns the queue's state of each job or array task of the
// user's jobs named siambench-*, keyed by ID ("123_4"), from squeue; empty
// where squeue is missing.
func TaskStates(ctx context.Context) map[string]string {
	out, err := exec.CommandContext(ctx, "squeue", "-h", "-r", "-o", "%i %T %j").Output()
	states := map[string]string{}
	if err != nil {
		return states
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasPrefix(f[2], "siambench-") {
			states[f[0]] = f[1]
		}
	}
	return states
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '=' || r == ',' || r == ':' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Submission is one bench run --executor slurm that submitted something,
// as recorded in DIR/slurm/submissions.json (newest last).
type Submission struct {
	At   time.Time `json:"at"`
	Jobs Jobs      `json:"jobs"`
	Runs []string  `json:"runs"` // the array's runs: task i trains Runs[i]
}

func submissionsPath(results string) string { return filepath.Join(Dir(results), "submissions.json") }

// Submissions returns the recorded submissions of a results directory.
func Submissions(results string) ([]Submission, error) {
	b, err := os.ReadFile(submissionsPath(results))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var subs []Submission
	if err := json.Unmarshal(b, &subs); err != nil {
		return nil, fmt.Errorf("%s: %w (delete it to forget earlier submissions)", submissionsPath(results), err)
	}
	return subs, nil
}

func record(results string, s Submission) error {
	subs, err := Submissions(results)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(append(subs, s), "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(submissionsPath(results), append(b, '\n'))
}

// Task is where a run was last submitted: its array task and log file.
type Task struct {
	Job string // "ARRAY_INDEX", e.g. "12_3"
	Log string
}

// LastTask returns the array task that last had run id, if any.
func LastTask(results string, subs []Submission, id string) (Task, bool) {
	for i := len(subs) - 1; i >= 0; i-- {
		for k, r := range subs[i].Runs {
			if r == id {
				job := fmt.Sprintf("%s_%d", subs[i].Jobs.Array, k)
				return Task{Job: job, Log: filepath.Join(Dir(results), "logs", "run-"+job+".out")}, true
			}
		}
	}
	return Task{}, false
}
