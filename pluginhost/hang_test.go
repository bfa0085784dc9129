package pluginhost

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siambench/siambench/internal/proctest"
	"github.com/siambench/siambench/internal/testplugins/toy/toy"
)

// Tests of the reliability guarantees of docs/reliability.md: every wait on
// a plugin ends, a plugin that does not answer is killed with its process
// group, and nothing (process, socket) is left behind.

// fastKill are Options that make a stuck plugin show quickly (yet leave a
// healthy toy call, microseconds, ample time on a loaded machine).
var fastKill = Options{StepTimeout: 2 * time.Second, CallTimeout: 2 * time.Second, KillGrace: 300 * time.Millisecond}

// waitStopped waits until pid is stopped (state T): the fault happened.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, _, _ := proctest.Stat(pid); st == "T" {
			return
		}
	}
	st, _, _ := proctest.Stat(pid)
	t.Fatalf("plugin %d never stopped (state %q)", pid, st)
}

// killBounded runs c.Kill and fails if it takes longer than limit; it then
// checks that the plugin's process group is empty and its socket folder gone.
func killBounded(t *testing.T, c *Client, limit time.Duration) {
	t.Helper()
	pid := c.Pid()
	c.procMu.Lock()
	dir := c.proc.socketDir
	c.procMu.Unlock()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		c.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("Kill of plugin %d did not return within %v", pid, limit)
	}
	t.Logf("Kill returned after %v", time.Since(start).Round(time.Millisecond))
	waitGone(t, pid)
	if m := proctest.GroupMembers(pid); len(m) > 0 {
		t.Errorf("processes %v of the plugin's group outlived Kill", m)
	}
	if dir == "" {
		t.Fatal("no socket folder recorded")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket folder %s left after Kill (%v)", dir, err)
	}
}

// A plugin frozen with SIGSTOP answers nothing, not even go-plugin's
// shutdown call: the call returns at its deadline, Kill returns within its
// grace plus a little, the process is gone, and a restarted plugin given
// the saved state goes on.
func TestStoppedPlugin(t *testing.T) {
	cases := []struct {
		name, in string
		call     func(c *Client, saved []byte) error
	}{
		{"step", "step", func(c *Client, _ []byte) error { _, err := c.Step(context.Background(), toyInput(1)); return err }},
		{"state", "state", func(c *Client, _ []byte) error { _, err := c.State(); return err }},
		{"set_state", "setstate", func(c *Client, saved []byte) error { return c.SetState(saved) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := launchToy(t, fastKill)
			// fault_step 1: the second step, or a state holding one step.
			if err := c.Init(withOptions(toyCfg, "fault", "stop", "fault_step", "1", "fault_in", tc.in)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Step(context.Background(), toyInput(0)); err != nil {
				t.Fatal(err)
			}
			var saved []byte
			if tc.in != "state" {
				var err error
				if saved, err = c.State(); err != nil {
					t.Fatal(err)
				}
			}
			pid := c.Pid()
			start := time.Now()
			err := tc.call(c, saved)
			if !errors.Is(err, ErrStepTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s on a stopped plugin: err = %v, want ErrStepTimeout", tc.name, err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("the call returned after %v, deadline 2 s", d)
			}
			waitStopped(t, pid)
			killBounded(t, c, 5*time.Second)
			c = relaunch(t, c, withOptions(toyCfg, "fault", "stop", "fault_step", "1", "fault_in", tc.in), fastKill)
			if c.Pid() == pid {
				t.Fatal("restart kept the stopped process")
			}
			if tc.in == "step" { // (in set_state the restore would stop it again)
				if err := c.SetState(saved); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Step(context.Background(), toyInput(5)); err != nil {
				t.Fatalf("step after the restart: %v", err)
			}
		})
	}
}

// A plugin blocked forever in a step, ignoring ctx, is the same: the step
// returns at the deadline and Kill ends it.
func TestHungPlugin(t *testing.T) {
	c := launchToy(t, fastKill)
	if err := c.Init(withOptions(toyCfg, "fault", "hang", "fault_step", "0")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Step(context.Background(), toyInput(0)); !errors.Is(err, ErrStepTimeout) {
		t.Fatalf("err = %v, want ErrStepTimeout", err)
	}
	killBounded(t, c, 5*time.Second)
}

// A plugin that crashes leaving a child that holds its stdout and stderr:
// the call is a crash, Kill still returns at once and ends the child (it is
// in the plugin's process group).
func TestCrashLeavesChild(t *testing.T) {
	c := launchToy(t, fastKill)
	if err := c.Init(withOptions(toyCfg, "fault", "child", "fault_step", "0")); err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	if _, err := c.Step(context.Background(), toyInput(0)); !IsCrash(err) {
		t.Fatalf("err = %v, want a crash", err)
	}
	var kids []int
	for deadline := time.Now().Add(5 * time.Second); len(kids) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, p := range proctest.GroupMembers(pid) {
			if p != pid {
				kids = append(kids, p)
			}
		}
	}
	if len(kids) == 0 {
		t.Fatal("the toy left no child: the test tests nothing")
	}
	killBounded(t, c, 5*time.Second)
	for _, k := range kids {
		waitGone(t, k)
	}
}

// A plugin that crashes leaving a child outside its process group that
// holds the pipes to bench: Kill cannot end that child, but it stops
// reading the pipes and returns.
func TestCrashLeavesOrphan(t *testing.T) {
	mark := "PLUGINHOST_TEST_MARK=" + strconv.Itoa(os.Getpid()) + "-orphan"
	k, v, _ := strings.Cut(mark, "=")
	t.Setenv(k, v)
	c := launchToy(t, fastKill)
	if err := c.Init(withOptions(toyCfg, "fault", "orphan", "fault_step", "0")); err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	if _, err := c.Step(context.Background(), toyInput(0)); !IsCrash(err) {
		t.Fatalf("err = %v, want a crash", err)
	}
	var orphans []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		orphans = nil
		for _, p := range proctest.Marked(mark) {
			if _, _, g := proctest.Stat(p); g != pid {
				orphans = append(orphans, p)
			}
		}
		if len(orphans) > 0 {
			break
		}
	}
	if len(orphans) == 0 {
		t.Fatal("the toy left no child outside its group: the test tests nothing")
	}
	defer func() {
		for _, p := range orphans {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}()
	killBounded(t, c, 6*time.Second)
}

// Kill after the plugin was SIGKILLed removes its socket folder, and
// CleanupAll removes the folder of all sockets.
func TestSocketsRemoved(t *testing.T) {
	c := launchToy(t, fastKill)
	if err := c.Init(toyCfg); err != nil {
		t.Fatal(err)
	}
	c.procMu.Lock()
	dir := c.proc.socketDir
	c.procMu.Unlock()
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("socket folder %s: %v entries, %v: the plugin's socket should be there", dir, len(ents), err)
	}
	root := filepath.Dir(dir)
	if err := syscall.Kill(c.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killBounded(t, c, 5*time.Second)
	other := launchToy(t, fastKill)
	CleanupAll()
	waitGone(t, other.Pid())
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket root %s left after CleanupAll (%v)", root, err)
	}
}

// Launch gives up when its ctx ends, killing a plugin that never shakes hands.
func TestLaunchHonoursCtx(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bench-method-mute")
	writeExe(t, p, "#!/bin/sh\nexec sleep 60\n", 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Launch(ctx, p, Options{Stderr: &testWriter{t: t}})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Launch returned after %v", d)
	}
}

// Describe mode has a deadline, and whatever the plugin leaves running in
// its process group is killed.
func TestDescribeFaults(t *testing.T) {
	cases := []struct {
		fault    string
		want     string // in the error; "" means success
		deadline time.Duration
	}{
		{"sleep", "no answer in time", 2 * time.Second},
		{"child", "injected describe failure", 10 * time.Second},
		{"child-ok", "", 10 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) {
			mark := "PLUGINHOST_TEST_MARK=" + strconv.Itoa(os.Getpid()) + "-" + tc.fault
			k, v, _ := strings.Cut(mark, "=")
			t.Setenv(k, v)
			t.Setenv(toy.EnvDescribeFault, tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			start := time.Now()
			_, err := Describe(ctx, toyBin)
			d := time.Since(start)
			if tc.want == "" && err != nil {
				t.Fatalf("describe: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if d > tc.deadline+4*time.Second || tc.fault != "sleep" && d > 4*time.Second {
				t.Fatalf("Describe returned after %v", d)
			}
			time.Sleep(100 * time.Millisecond)
			if left := proctest.Marked(mark); len(left) > 0 {
				t.Fatalf("processes %v left running after Describe", left)
			}
		})
	}
}

// A $TMPDIR too long for Unix socket paths does not stop plugins from
// listening: their sockets go to /tmp instead.
func TestLongTMPDIR(t *testing.T) {
	CleanupAll() // forget the socket folder made under the usual $TMPDIR
	long := filepath.Join(t.TempDir(), strings.Repeat("x", 60))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", long)
	defer CleanupAll()
	c := launchToy(t, fastKill)
	if err := c.Init(toyCfg); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Step(context.Background(), toyInput(0)); err != nil {
		t.Fatal(err)
	}
}
