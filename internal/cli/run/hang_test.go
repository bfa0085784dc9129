package run

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siambench/siambench/internal/proctest"
	"github.com/siambench/siambench/results"
)

// Tests of docs/reliability.md with the real bench and toy binaries: a
// stopped or crashing plugin is recovered from, Ctrl-C always ends bench,
// and no process or socket is left behind.

var smallSweep = []string{"run", "--methods", "toy", "--batch-sizes", "64", "--train-limit", "256", "--test-limit", "100",
	"--transfer", "none", "--no-baselines", "--no-report"} // 4 steps per epoch

// benchProc is a running bench with its own TMPDIR (where its plugin
// sockets live) and an environment mark that its plugins inherit.
type benchProc struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	tmp    string
	mark   string
	exited chan error
}

func startBench(t *testing.T, args ...string) *benchProc {
	t.Helper()
	return startBenchEnv(t, nil, args...)
}

// startBenchEnv starts bench with env added to its environment.
func startBenchEnv(t *testing.T, env []string, args ...string) *benchProc {
	t.Helper()
	bin := buildBinaries(t)
	// t.TempDir's path is long; socket paths must stay short, or bench
	// would put them in /tmp instead of this folder.
	tmp, err := os.MkdirTemp("", "bt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	b := &benchProc{tmp: tmp, exited: make(chan error, 1)}
	b.mark = "BENCH_TEST_MARK=" + strconv.Itoa(os.Getpid()) + "-" + strings.ReplaceAll(t.Name(), "/", "-")
	b.cmd = exec.Command(filepath.Join(bin, "bench"), args...)
	b.cmd.Env = append(os.Environ(), "SIAMBENCH_PLUGIN_PATH=", "TMPDIR="+b.tmp, b.mark)
	b.cmd.Env = append(b.cmd.Env, env...)
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.exited <- b.cmd.Wait() }()
	t.Cleanup(func() {
		// If the test failed with bench or a plugin still running: end them.
		b.cmd.Process.Kill()
		for _, p := range proctest.Marked(b.mark) {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	return b
}

// wait waits at most limit for bench to exit.
func (b *benchProc) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-b.exited:
		return err
	case <-time.After(limit):
		t.Fatalf("bench still running after %v:\n%s", limit, &b.out)
		return nil
	}
}

// checkNothingLeft fails if a process bench started (marked) still runs or
// bench's TMPDIR holds anything (its plugins' sockets live there).
func (b *benchProc) checkNothingLeft(t *testing.T) {
	t.Helper()
	var left []int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if left = proctest.Marked(b.mark); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("processes %v started by bench outlived it", left)
	}
	var files []string
	filepath.Walk(b.tmp, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != b.tmp {
			files = append(files, p)
		}
		return nil
	})
	if len(files) > 0 {
		t.Errorf("bench left in its TMPDIR: %v", files)
	}
}

func runStatus(t *testing.T, out string) (string, results.RunStatus) {
	t.Helper()
	var sw results.Sweep
	if results.ReadJSON(filepath.Join(out, results.SweepFile), &sw) != nil || len(sw.Runs) != 1 {
		return "", results.RunStatus{}
	}
	var st results.RunStatus
	results.ReadJSON(filepath.Join(out, results.RunsDir, sw.Runs[0], results.StatusFile), &st)
	return sw.Runs[0], st
}

// A plugin SIGSTOPped (in a step or in State past its deadline) or exiting
// inside State at the end of an epoch: bench kills it, restarts it from
// the last checkpoint and finishes with the results of a run without the
// fault, each epoch once in metrics.jsonl, nothing left running.
func TestPluginFaultsRecovered(t *testing.T) {
	refOut := filepath.Join(t.TempDir(), "ref")
	ref := startBench(t, append(smallSweep, "--epochs", "2", "--out", refOut)...)
	if err := ref.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("reference run: %v\n%s", err, &ref.out)
	}
	refID, _ := runStatus(t, refOut)
	refMs, err := results.ReadMetrics(filepath.Join(refOut, results.RunsDir, refID, results.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var refEval results.Eval
	if err := results.ReadJSON(filepath.Join(refOut, results.RunsDir, refID, results.EvalFile), &refEval); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                 string
		fault, in, faultStep string
	}{
		{"stop_in_step", "stop", "step", "5"},
		{"stop_in_state", "stop", "state", "4"},
		{"exit_in_state", "exit", "state", "4"},
		{"child_in_step", "child", "step", "2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sweep")
			once := filepath.Join(t.TempDir(), "fault-done")
			b := startBench(t, append(smallSweep, "--epochs", "2", "--out", out, "--step-timeout", "4s", "--call-timeout", "4s",
				"--set", "toy.fault="+tc.fault, "--set", "toy.fault_in="+tc.in, "--set", "toy.fault_step="+tc.faultStep,
				"--set", "toy.fault_once="+once)...)
			if err := b.wait(t, 2*time.Minute); err != nil {
				t.Fatalf("bench: %v\n%s", err, &b.out)
			}
			if _, err := os.Stat(once); err != nil {
				t.Fatalf("the fault never fired: the case tests nothing\n%s", &b.out)
			}
			id, st := runStatus(t, out)
			if st.Status != results.StatusCompleted || st.Restarts != 1 || st.EpochsDone != 2 {
				t.Fatalf("status %+v, want completed after 1 restart\n%s", st, &b.out)
			}
			ms, err := results.ReadMetrics(filepath.Join(out, results.RunsDir, id, results.MetricsFile))
			if err != nil || len(ms) != 2 || ms[0].Epoch != 1 || ms[1].Epoch != 2 {
				t.Fatalf("metrics.jsonl: %d epochs (%v), want 1 and 2 once each", len(ms), err)
			}
			for i := range ms {
				if ms[i].Loss != refMs[i].Loss || ms[i].KNNTop1 != refMs[i].KNNTop1 || ms[i].OutputStd != refMs[i].OutputStd {
					t.Errorf("epoch %d: loss/knn/std %v/%v/%v, without the fault %v/%v/%v", i+1,
						ms[i].Loss, ms[i].KNNTop1, ms[i].OutputStd, refMs[i].Loss, refMs[i].KNNTop1, refMs[i].OutputStd)
				}
			}
			var ev results.Eval
			if err := results.ReadJSON(filepath.Join(out, results.RunsDir, id, results.EvalFile), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.KNNTop1 != refEval.KNNTop1 || ev.LinearTop1 != refEval.LinearTop1 {
				t.Errorf("eval knn/linear %v/%v, without the fault %v/%v", ev.KNNTop1, ev.LinearTop1, refEval.KNNTop1, refEval.LinearTop1)
			}
			b.checkNothingLeft(t)
		})
	}
}

// Ctrl-C (SIGINT) or SIGTERM to a bench whose plugin is stopped (it
// answers nothing, not even shutdown) ends bench within a few seconds
// with exit code 130, the finished epoch saved, and no process or socket
// left behind.
func TestSignalWithStoppedPlugin(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sweep")
			b := startBench(t, append(smallSweep, "--epochs", "50", "--out", out)...)
			deadline := time.Now().Add(2 * time.Minute)
			plugin := 0
			for plugin == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("run never reached epoch 1:\n%s", &b.out)
				}
				select {
				case err := <-b.exited:
					t.Fatalf("bench exited early (%v):\n%s", err, &b.out)
				case <-time.After(20 * time.Millisecond):
				}
				if _, st := runStatus(t, out); st.EpochsDone < 1 {
					continue
				}
				if kids := proctest.Children(b.cmd.Process.Pid); len(kids) == 1 {
					plugin = kids[0]
				}
			}
			if err := syscall.Kill(plugin, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // bench now waits on the stopped plugin
			start := time.Now()
			if err := b.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := b.wait(t, 15*time.Second)
			took := time.Since(start)
			t.Logf("bench exited %v after the signal", took.Round(time.Millisecond))
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Fatalf("bench exit: %v, want exit code 130\n%s", err, &b.out)
			}
			if took > 8*time.Second {
				t.Errorf("bench took %v to end after the signal, want a few seconds", took)
			}
			if !strings.Contains(b.out.String(), "resume with") {
				t.Errorf("no resume command printed:\n%s", &b.out)
			}
			if _, st := runStatus(t, out); st.EpochsDone < 1 {
				t.Errorf("the finished epochs were not kept: %+v", st)
			}
			b.checkNothingLeft(t)
		})
	}
}

// A plugin whose describe mode never answers, or fails leaving a child
// that holds its stdout, stops neither `bench list` nor `bench run`: each
// ends with the reason (after pluginhost.DescribeTimeout at most) and
// leaves nothing running.
func TestDescribeFaultsE2E(t *testing.T) {
	cases := []struct {
		name, fault string
		args        []string
		fails       bool   // non-zero exit
		want        string // in the output
	}{
		{"list_sleep", "sleep", []string{"list"}, false, "no answer in time"},
		{"run_sleep", "sleep", append(smallSweep, "--epochs", "1"), true, "no answer in time"},
		{"run_child", "child", append(smallSweep, "--epochs", "1"), true, "injected describe failure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.args[0] == "run" {
				args = append(args, "--out", filepath.Join(t.TempDir(), "sweep"))
			}
			b := startBenchEnv(t, []string{"TOY_DESCRIBE_FAULT=" + tc.fault}, args...)
			err := b.wait(t, 30*time.Second)
			if (err != nil) != tc.fails {
				t.Fatalf("bench %s: exit %v, want failure %v\n%s", tc.args[0], err, tc.fails, &b.out)
			}
			if !strings.Contains(b.out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, &b.out)
			}
			b.checkNothingLeft(t)
		})
	}
}
