package run

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/siambench/siambench/internal/proctest"
	"github.com/siambench/siambench/results"
)

// TestSIGKILLMidSweepThenRerun builds the real bench binary and the toy
// plugin, starts a two-run sweep, SIGKILLs bench in the middle of the second
// run, and reruns the same command: the finished run is reused untouched,
// the interrupted one resumes from its epoch checkpoint, and every result
// file parses.
func TestSIGKILLMidSweepThenRerun(t *testing.T) {
	bin := buildBinaries(t)
	out := filepath.Join(t.TempDir(), "sweep")
	args := []string{"run", "--methods", "toy", "--seeds", "0,1", "--epochs", "2", "--batch-sizes", "64",
		"--train-limit", "256", "--test-limit", "100", "--transfer", "none", "--no-baselines", "--no-report", "--out", out}
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(filepath.Join(bin, "bench"), args...)
		cmd.Env = append(os.Environ(), "SIAMBENCH_PLUGIN_PATH=")
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &buf
	}
	status := func(id string) (results.RunStatus, bool) {
		var st results.RunStatus
		err := results.ReadJSON(filepath.Join(out, results.RunsDir, id, results.StatusFile), &st)
		return st, err == nil
	}
	runIDs := func() []string {
		var sw results.Sweep
		if results.ReadJSON(filepath.Join(out, results.SweepFile), &sw) != nil {
			return nil
		}
		return sw.Runs
	}

	cmd, buf := start()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(3 * time.Minute)
	killed := false
	for !killed {
		select {
		case err := <-exited:
			t.Fatalf("bench exited before the kill (%v):\n%s", err, buf)
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("second run never reached its first epoch:\n%s", buf)
		case <-time.After(20 * time.Millisecond):
		}
		ids := runIDs()
		if len(ids) != 2 {
			continue
		}
		if st, ok := status(ids[1]); ok && st.Status == results.StatusRunning && st.EpochsDone == 1 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	<-exited
	ids := runIDs()
	first, _ := status(ids[0])
	if first.Status != results.StatusCompleted {
		t.Fatalf("first run should have finished before the kill: %+v", first)
	}
	evalPath := filepath.Join(out, results.RunsDir, ids[0], results.EvalFile)
	ckptPath := filepath.Join(out, results.RunsDir, ids[0], results.CheckpointFile)
	evalBefore, err := os.ReadFile(evalPath)
	if err != nil {
		t.Fatal(err)
	}
	ckptBefore, _ := os.Stat(ckptPath)

	// The same command again finishes the sweep.
	cmd, buf = start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rerun failed: %v\n%s", err, buf)
	}
	if !strings.Contains(buf.String(), "reusing it") {
		t.Errorf("rerun did not report reusing the finished run:\n%s", buf)
	}
	evalAfter, _ := os.ReadFile(evalPath)
	ckptAfter, _ := os.Stat(ckptPath)
	if !bytes.Equal(evalBefore, evalAfter) || !ckptAfter.ModTime().Equal(ckptBefore.ModTime()) {
		t.Error("the finished run was redone or modified")
	}
	second, _ := status(ids[1])
	if second.Status != results.StatusCompleted || second.Resumed != 1 || second.EpochsDone != 2 {
		t.Errorf("second run: %+v, want completed after one resume", second)
	}
	ms, err := results.ReadMetrics(filepath.Join(out, results.RunsDir, ids[1], results.MetricsFile))
	if err != nil || len(ms) != 2 || ms[0].Epoch != 1 || ms[1].Epoch != 2 {
		t.Errorf("second run metrics: %+v, %v", ms, err)
	}
	var sum results.Summary
	if err := results.ReadJSON(filepath.Join(out, results.SummaryFile), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Runs) != 2 {
		t.Fatalf("summary has %d runs, want 2", len(sum.Runs))
	}
	for _, r := range sum.Runs {
		if r.Status != results.StatusCompleted || r.KNNTop1 <= 0 || r.LinearTop1 <= 0 {
			t.Errorf("summary row %+v", r)
		}
	}
	// Every JSON file parses; no temporary files remain.
	filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		if strings.Contains(fi.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		if strings.HasSuffix(p, ".json") {
			var v any
			if err := results.ReadJSON(p, &v); err != nil {
				t.Errorf("corrupt: %v", err)
			}
		}
		return nil
	})
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// buildBinaries builds bench, the toy and the simsiam plugins once per test process into
// a directory removed when the tests end (TestMain).
func buildBinaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs("../../..")
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "bench-e2e-*"); buildErr != nil {
			return
		}
		for pkg, name := range map[string]string{"./cmd/bench": "bench", "./internal/testplugins/toy": "bench-method-toy",
			"./plugins/simsiam": "bench-method-simsiam"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, name), pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// TestPluginSIGKILLMidRun kills the real plugin process of a running sweep:
// bench starts a new plugin, restores the last epoch checkpoint, redoes the
// epoch, finishes the run and records the restart.
func TestPluginSIGKILLMidRun(t *testing.T) {
	bin := buildBinaries(t)
	out := filepath.Join(t.TempDir(), "sweep")
	cmd := exec.Command(filepath.Join(bin, "bench"), "run", "--methods", "toy", "--epochs", "3", "--batch-sizes", "64",
		"--train-limit", "256", "--test-limit", "100", "--transfer", "none", "--no-baselines", "--no-report", "--out", out)
	cmd.Env = append(os.Environ(), "SIAMBENCH_PLUGIN_PATH=")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var id string
	deadline := time.After(3 * time.Minute)
	for killed := false; !killed; {
		select {
		case err := <-exited:
			t.Fatalf("bench exited before the plugin was killed (%v):\n%s", err, &buf)
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("run never reached epoch 1:\n%s", &buf)
		case <-time.After(20 * time.Millisecond):
		}
		var sw results.Sweep
		if results.ReadJSON(filepath.Join(out, results.SweepFile), &sw) != nil || len(sw.Runs) != 1 {
			continue
		}
		id = sw.Runs[0]
		var st results.RunStatus
		if results.ReadJSON(filepath.Join(out, results.RunsDir, id, results.StatusFile), &st) != nil || st.EpochsDone != 1 {
			continue
		}
		kids := proctest.Children(cmd.Process.Pid)
		if len(kids) != 1 {
			continue
		}
		if err := syscall.Kill(kids[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed = true
	}
	if err := <-exited; err != nil {
		t.Fatalf("bench failed after the plugin was killed: %v\n%s", err, &buf)
	}
	var st results.RunStatus
	if err := results.ReadJSON(filepath.Join(out, results.RunsDir, id, results.StatusFile), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != results.StatusCompleted || st.Restarts != 1 || st.EpochsDone != 3 {
		t.Errorf("status after a plugin kill: %+v, want completed with plugin_restarts=1", st)
	}
	if !strings.Contains(buf.String(), "restarting it from the last checkpoint") {
		t.Errorf("the restart was not logged:\n%s", &buf)
	}
}
