//go:build root

// Tests that need root (make test-root): a results directory on a small
// tmpfs that fills up mid-sweep.

package run

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siambench/siambench/results"
)

// TestRootFullDisk: the disk holding --out fills up in the middle of a
// sweep. bench stops at once with exit code 1 and a message that says what
// to do (not a panic, not every remaining run marked failed); the run it was
// training is left resumable; once space is freed the same command finishes
// the sweep with the numbers of a sweep that never ran out of space.
func TestRootFullDisk(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test mounts a tmpfs, which needs root: run make test-root as root")
	}
	bin := buildBinaries(t)
	sweep := func(out string) (string, int) {
		cmd := exec.Command(filepath.Join(bin, "bench"), "run", "--methods", "toy", "--seeds", "0,1", "--epochs", "2",
			"--batch-sizes", "64", "--train-limit", "256", "--test-limit", "100", "--transfer", "none", "--no-baselines", "--out", out)
		cmd.Env = append(os.Environ(), "SIAMBENCH_PLUGIN_PATH=")
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			return buf.String(), cmd.ProcessState.ExitCode()
		case <-time.After(3 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("bench did not end within 3 minutes:\n%s", buf.String())
		}
		return "", 0
	}
	numbers := func(dir string) map[string][2]float64 {
		var sum results.Summary
		if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &sum); err != nil {
			t.Fatal(err)
		}
		m := map[string][2]float64{}
		for _, r := range sum.Runs {
			if r.Status != results.StatusCompleted {
				t.Errorf("%s: %s (%s)", r.ID, r.Status, r.Error)
			}
			m[r.ID] = [2]float64{r.KNNTop1, r.LinearTop1}
		}
		return m
	}

	ref := filepath.Join(t.TempDir(), "ref")
	if out, code := sweep(ref); code != 0 {
		t.Fatalf("reference sweep exited %d:\n%s", code, out)
	}
	want := numbers(ref)

	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	// Leave room for about one and a half checkpoints (≈ 530 KB each).
	var fs syscall.Statfs_t
	if err := syscall.Statfs(mnt, &fs); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, int64(fs.Bavail)*fs.Bsize-900<<10); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out := filepath.Join(mnt, "sweep")
	msg, code := sweep(out)
	if code != 1 {
		t.Errorf("exit code %d on a full disk, want 1 (an error stopped the sweep):\n%s", code, msg)
	}
	for _, s := range []string{"no space left on device", "free space", "rerun the same command"} {
		if !strings.Contains(msg, s) {
			t.Errorf("output lacks %q:\n%s", s, msg)
		}
	}
	if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
		t.Errorf("bench panicked:\n%s", msg)
	}
	var sw results.Sweep
	if err := results.ReadJSON(filepath.Join(out, results.SweepFile), &sw); err != nil {
		t.Fatal(err)
	}
	for _, id := range sw.Runs {
		var st results.RunStatus
		if results.ReadJSON(filepath.Join(out, results.RunsDir, id, results.StatusFile), &st) == nil && st.Status == results.StatusFailed {
			t.Errorf("run %s marked failed for a full disk; it must stay resumable", id)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if msg, code := sweep(out); code != 0 {
		t.Fatalf("rerun after freeing space exited %d:\n%s", code, msg)
	}
	got := numbers(out)
	if len(got) != len(want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: kNN/linear %v after the full disk, %v without", id, got[id], w)
		}
	}
}
