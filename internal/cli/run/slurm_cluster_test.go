//go:build slurm

// The Slurm executor against a real one-node cluster that the test starts
// (scripts/slurm-cluster.sh: munge, slurmctld, slurmd as root). Run with
// `make test-slurm`, which installs Debian's slurmctld, slurmd, slurm-client
// and munge first. What it proves and does not: README, "Sweeps on a Slurm
// cluster".

package run

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siambench/siambench/results"
)

type cluster struct {
	t    *testing.T
	env  []string
	bin  string // bench and the plugins, built as make build builds them
	work string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatal("the Slurm cluster test starts slurmd, which needs root: run make test-slurm as root")
	}
	root, _ := filepath.Abs("../../..")
	dir, err := os.MkdirTemp("", "slurm-test-*")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "slurm-cluster.sh")
	out, err := exec.Command("bash", script, "start", filepath.Join(dir, "cluster")).CombinedOutput()
	if err != nil {
		t.Fatalf("start the cluster: %v\n%s", err, out)
	}
	conf := strings.TrimPrefix(strings.TrimSpace(string(out[bytes.LastIndex(out, []byte("export ")):])), "export ")
	t.Cleanup(func() {
		exec.Command("bash", script, "stop", filepath.Join(dir, "cluster")).Run()
		os.RemoveAll(dir)
	})
	c := &cluster{t: t, env: append(os.Environ(), conf), bin: filepath.Join(dir, "bin"), work: dir}
	for pkg, name := range map[string]string{
		"./cmd/bench": "bench", "./plugins/simsiam": "bench-method-simsiam", "./plugins/byol": "bench-method-byol",
		"./internal/testplugins/toy": "bench-method-toy",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(c.bin, name), pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return c
}

// bench runs the bench binary; it returns stdout+stderr and the exit code.
func (c *cluster) bench(args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, "bench"), args...)
	cmd.Dir = c.work
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("bench %v: %v", args, err)
	}
	return string(out), code
}

func (c *cluster) cmd(name string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func readSummary(t *testing.T, dir string) results.Summary {
	t.Helper()
	var s results.Summary
	if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// numbers are what must not depend on where a run ran.
func numbers(s results.Summary) map[string][4]float64 {
	out := map[string][4]float64{}
	for _, r := range s.Runs {
		out[r.ID] = [4]float64{r.KNNTop1, r.LinearTop1, r.FeatStd, r.Transfer["default-mnist"]}
	}
	for k, b := range s.Baselines {
		out["baseline "+k] = [4]float64{b.KNNTop1, b.LinearTop1}
	}
	return out
}

func TestSlurmCluster(t *testing.T) {
	c := startCluster(t)
	sweepArgs := func(out string, extra ...string) []string {
		return append([]string{"run", "--methods", "simsiam,byol", "--seeds", "0,1", "--epochs", "1", "--batch-sizes", "64",
			"--train-limit", "512", "--test-limit", "256", "--out", filepath.Join(c.work, out)}, extra...)
	}

	t.Run("same numbers as a local sweep", func(t *testing.T) {
		if out, code := c.bench(sweepArgs("local")...); code != 0 {
			t.Fatalf("local sweep exited %d:\n%s", code, out)
		}
		out, code := c.bench(sweepArgs("slurm", "--executor", "slurm", "--wait")...)
		if code != 0 {
			t.Fatalf("slurm sweep exited %d:\n%s", code, out)
		}
		if !strings.Contains(out, "array job") || !strings.Contains(out, "bench status") {
			t.Errorf("submission output lacks the job IDs or the status command:\n%s", out)
		}
		local, remote := numbers(readSummary(t, filepath.Join(c.work, "local"))), numbers(readSummary(t, filepath.Join(c.work, "slurm")))
		if len(local) != 7 {
			t.Fatalf("local summary: %d rows, want 4 runs + 3 baselines", len(local))
		}
		for k, v := range local {
			if remote[k] != v {
				t.Errorf("%s: slurm %v, local %v", k, remote[k], v)
			}
		}
		if _, err := os.Stat(filepath.Join(c.work, "slurm", "report.md")); err != nil {
			t.Errorf("the report job wrote no report: %v", err)
		}
	})

	t.Run("resubmitting a finished sweep submits nothing", func(t *testing.T) {
		before := c.cmd("squeue", "-h", "-o", "%i")
		out, code := c.bench(sweepArgs("slurm", "--executor", "slurm", "--wait")...)
		if code != 0 || !strings.Contains(out, "nothing to submit") {
			t.Fatalf("exit %d, want 0 and 'nothing to submit':\n%s", code, out)
		}
		if after := c.cmd("squeue", "-h", "-o", "%i"); after != before {
			t.Fatalf("the queue changed: %q → %q", before, after)
		}
	})

	t.Run("a failing task reaches bench status and the exit code", func(t *testing.T) {
		dir := filepath.Join(c.work, "failing")
		out, code := c.bench("run", "--methods", "toy", "--set", "toy.fault=exit", "--epochs", "1", "--batch-sizes", "64",
			"--train-limit", "256", "--test-limit", "128", "--no-baselines", "--transfer", "none", "--out", dir,
			"--executor", "slurm", "--wait")
		if code == 0 {
			t.Fatalf("a sweep whose run failed exited 0:\n%s", out)
		}
		st, code := c.bench("status", dir, "--json")
		if code != 0 {
			t.Fatalf("bench status exited %d:\n%s", code, st)
		}
		var runs []struct {
			Status, Error string
			SlurmJob      string `json:"slurm_job"`
			SlurmLog      string `json:"slurm_log"`
		}
		if err := json.Unmarshal([]byte(st), &runs); err != nil {
			t.Fatalf("bench status --json: %v\n%s", err, st)
		}
		if len(runs) != 1 || runs[0].Status != results.StatusFailed || runs[0].Error == "" || runs[0].SlurmJob == "" {
			t.Fatalf("bench status: %+v, want one failed run with its error and Slurm task", runs)
		}
		if _, err := os.Stat(runs[0].SlurmLog); err != nil {
			t.Errorf("the failing task's log %s: %v", runs[0].SlurmLog, err)
		}
	})

	t.Run("killed and requeued tasks resume and match", func(t *testing.T) {
		args := func(out string, extra ...string) []string {
			return append([]string{"run", "--methods", "simsiam,byol", "--epochs", "3", "--batch-sizes", "64",
				"--train-limit", "1024", "--test-limit", "256", "--no-baselines", "--transfer", "none",
				"--out", filepath.Join(c.work, out)}, extra...)
		}
		if out, code := c.bench(args("local3")...); code != 0 {
			t.Fatalf("local sweep exited %d:\n%s", code, out)
		}
		dir := filepath.Join(c.work, "preempt")
		// One task at a time (%1), so the second waits while the first is hit.
		if out, code := c.bench(args("preempt", "--executor", "slurm", "--slurm-throttle", "1")...); code != 0 {
			t.Fatalf("submit exited %d:\n%s", code, out)
		}
		var sub []struct {
			Jobs struct{ Array string }
			Runs []string
		}
		b, err := os.ReadFile(filepath.Join(dir, "slurm", "submissions.json"))
		if err != nil || json.Unmarshal(b, &sub) != nil || len(sub) != 1 || len(sub[0].Runs) != 2 {
			t.Fatalf("submissions.json: %v %s", err, b)
		}
		arr := sub[0].Jobs.Array
		// waitEpoch waits until run id has finished at least one epoch.
		waitEpoch := func(id string) {
			deadline := time.Now().Add(3 * time.Minute)
			for time.Now().Before(deadline) {
				var st results.RunStatus
				if results.ReadJSON(filepath.Join(dir, "runs", id, results.StatusFile), &st) == nil && st.EpochsDone >= 1 {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Fatalf("run %s finished no epoch within 3 minutes", id)
		}
		start := time.Now()
		waitEpoch(sub[0].Runs[0])
		c.cmd("scancel", "--signal=KILL", arr+"_0") // the node "dies" under task 0
		t.Logf("%s: task 0 killed after its first epoch", time.Since(start).Round(time.Second))
		waitEpoch(sub[0].Runs[1])
		c.cmd("scontrol", "requeue", arr+"_1") // preempted: SIGTERM, checkpoint, back in the queue
		// Slurm holds a requeued job for 121 s before it is eligible again
		// (reason BeginTime); the test does not wait that long.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			st := strings.TrimSpace(c.cmd("squeue", "-h", "-j", arr+"_1", "-o", "%T %r"))
			if st == "" || strings.HasPrefix(st, "RUNNING") {
				break
			}
			if strings.Contains(st, "BeginTime") {
				exec.Command("scontrol", "update", "JobId="+arr+"_1", "StartTime=now").Run()
			}
		}
		t.Logf("%s: requeued task back in the queue", time.Since(start).Round(time.Second))
		waitGone := func(job string) {
			deadline := time.Now().Add(5 * time.Minute)
			for time.Now().Before(deadline) {
				if strings.TrimSpace(c.cmd("squeue", "-h", "-j", job, "-o", "%i")) == "" {
					return
				}
				time.Sleep(time.Second)
			}
			t.Fatalf("job %s still queued after 5 minutes:\n%s", job, c.cmd("squeue"))
		}
		waitGone(arr)
		t.Logf("%s: array done", time.Since(start).Round(time.Second))
		// The killed task is not requeued by Slurm: the same command
		// resubmits exactly what is missing.
		out, code := c.bench(args("preempt", "--executor", "slurm", "--wait")...)
		if code != 0 {
			t.Fatalf("resubmission exited %d:\n%s", code, out)
		}
		for i, id := range sub[0].Runs {
			var st results.RunStatus
			if err := results.ReadJSON(filepath.Join(dir, "runs", id, results.StatusFile), &st); err != nil {
				t.Fatal(err)
			}
			if st.Status != results.StatusCompleted || st.Resumed < 1 {
				t.Errorf("task %d (%s): status %s, resumed %d times; want completed after resuming", i, id, st.Status, st.Resumed)
			}
			ms, err := results.ReadMetrics(filepath.Join(dir, "runs", id, results.MetricsFile))
			if err != nil || len(ms) != 3 {
				t.Errorf("task %d (%s): %d epochs in metrics.jsonl (%v), want 3, each once", i, id, len(ms), err)
			}
		}
		local, remote := numbers(readSummary(t, filepath.Join(c.work, "local3"))), numbers(readSummary(t, dir))
		for k, v := range local {
			if remote[k] != v {
				t.Errorf("%s: interrupted on Slurm %v, uninterrupted locally %v", k, remote[k], v)
			}
		}
	})
}
