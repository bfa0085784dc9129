package pluginhost

import (
	"bufio"
	"context"
	"errors"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/sdktest"
)

var toyCfg = sdk.InitConfig{FeatureDim: 12, BatchSize: 6, StepsPerEpoch: 5, TotalSteps: 50, Seed: 11}

func toyInput(k int) sdk.StepInput {
	rng := rand.New(rand.NewSource(int64(k)))
	in := sdk.StepInput{Step: k, Epoch: k / 5, LR: 0.1, BaseLR: 0.1}
	for v := 0; v < 2; v++ {
		x := make([]float32, toyCfg.BatchSize*toyCfg.FeatureDim)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		in.Views = append(in.Views, nn.New(x, toyCfg.BatchSize, toyCfg.FeatureDim))
	}
	return in
}

func withOptions(cfg sdk.InitConfig, kv ...string) sdk.InitConfig {
	cfg.Options = map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		cfg.Options[kv[i]] = kv[i+1]
	}
	return cfg
}

// requireSame fails unless two outputs are bitwise identical.
func requireSame(t *testing.T, what string, a, b sdk.StepOutput) {
	t.Helper()
	if math.Float64bits(a.Loss) != math.Float64bits(b.Loss) {
		t.Fatalf("%s: loss %v vs %v", what, a.Loss, b.Loss)
	}
	if len(a.Grads) != len(b.Grads) {
		t.Fatalf("%s: %d vs %d grads", what, len(a.Grads), len(b.Grads))
	}
	for i := range a.Grads {
		if !reflect.DeepEqual(a.Grads[i].Shape(), b.Grads[i].Shape()) || !reflect.DeepEqual(a.Grads[i].Data, b.Grads[i].Data) {
			t.Fatalf("%s: gradient %d differs", what, i)
		}
	}
	if !reflect.DeepEqual(a.Metrics, b.Metrics) {
		t.Fatalf("%s: metrics %v vs %v", what, a.Metrics, b.Metrics)
	}
}

// Over real gRPC the toy must give exactly what it gives in-process.
func TestRemoteEqualsInProcess(t *testing.T) {
	remote := launchToy(t, Options{})
	local := sdk.InProcess(toy.New())
	if !reflect.DeepEqual(remote.Describe(), local.Describe()) {
		t.Fatalf("specs differ:\nremote %+v\nlocal  %+v", remote.Describe(), local.Describe())
	}
	for _, c := range []sdk.Method{remote, local} {
		if err := c.Init(toyCfg); err != nil {
			t.Fatal(err)
		}
	}
	for k := 0; k < 3; k++ {
		ro, err := remote.Step(context.Background(), toyInput(k))
		if err != nil {
			t.Fatal(err)
		}
		lo, err := local.Step(context.Background(), toyInput(k))
		if err != nil {
			t.Fatal(err)
		}
		requireSame(t, "step "+strconv.Itoa(k), ro, lo)
	}
	rs, err := remote.State()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := local.State()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rs, ls) {
		t.Fatal("state blobs differ between remote and in-process")
	}
}

// The host's recipe for the run (InitConfig.Hyper: --set weight_decay=…)
// reaches the plugin over gRPC: the toy decays W by it, so a remote toy
// given a large weight decay matches an in-process toy given the same, and
// its second step differs from a remote toy given the spec's recipe.
func TestInitHyperReachesPlugin(t *testing.T) {
	heavy := toyCfg
	heavy.Hyper = sdk.Hyper{Optimizer: "sgd", WeightDecay: 0.5, Momentum: 0.9}
	remote, local, plain := launchToy(t, Options{}), sdk.InProcess(toy.New()), launchToy(t, Options{})
	for c, cfg := range map[sdk.Method]sdk.InitConfig{remote: heavy, local: heavy, plain: toyCfg} {
		if err := c.Init(cfg); err != nil {
			t.Fatal(err)
		}
	}
	var outs [3]sdk.StepOutput
	for k := 0; k < 2; k++ {
		for i, c := range []sdk.Method{remote, local, plain} {
			o, err := c.Step(context.Background(), toyInput(k))
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = o
		}
	}
	requireSame(t, "remote vs in-process, weight decay 0.5", outs[0], outs[1])
	if outs[0].Loss == outs[2].Loss {
		t.Fatalf("second step's loss %v is the same with weight decay 0.5 as with the spec's 1e-4: the recipe did not arrive", outs[0].Loss)
	}
}

// The conformance suite over real gRPC, one plugin process per instance.
func TestConformanceOverGRPC(t *testing.T) {
	for _, opts := range []map[string]string{nil, {"stopgrad": "true"}} {
		t.Run("stopgrad="+opts["stopgrad"], func(t *testing.T) {
			sdktest.Run(t, func() sdk.Method { return launchToy(t, Options{}) }, sdktest.Config{Init: sdk.InitConfig{Seed: 5, Options: opts}})
		})
	}
}

// SIGKILL the plugin mid-run: the next call is a crash; a new plugin given
// the same Init and the saved state continues exactly as an uninterrupted
// run (what the harness does after a crash).
func TestCrashRestartResumes(t *testing.T) {
	ref := sdk.InProcess(toy.New())
	if err := ref.Init(toyCfg); err != nil {
		t.Fatal(err)
	}
	c := launchToy(t, Options{})
	if err := c.Init(toyCfg); err != nil {
		t.Fatal(err)
	}
	var saved []byte
	for k := 0; k < 3; k++ {
		if _, err := ref.Step(context.Background(), toyInput(k)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Step(context.Background(), toyInput(k)); err != nil {
			t.Fatal(err)
		}
		if k == 1 { // a checkpoint after step 1; step 2 is lost with the process
			var err error
			if saved, err = c.State(); err != nil {
				t.Fatal(err)
			}
		}
	}
	oldPid := c.Pid()
	if err := syscall.Kill(oldPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err := c.Step(context.Background(), toyInput(3))
	if !IsCrash(err) {
		t.Fatalf("step after SIGKILL: err = %v, want a crash", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(oldPid)) {
		t.Errorf("crash error %q does not name the pid %d", err, oldPid)
	}
	c = relaunch(t, c, toyCfg, Options{})
	if c.Pid() == oldPid || c.Pid() == 0 {
		t.Fatalf("restart kept pid %d", c.Pid())
	}
	if err := c.SetState(saved); err != nil {
		t.Fatal(err)
	}
	// Redo step 2 from the checkpoint, then step 3: same as never crashing.
	if _, err := c.Step(context.Background(), toyInput(2)); err != nil {
		t.Fatal(err)
	}
	got, err := c.Step(context.Background(), toyInput(3))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Step(context.Background(), toyInput(3))
	if err != nil {
		t.Fatal(err)
	}
	requireSame(t, "step 3 after restart", got, want)
}

func TestFaults(t *testing.T) {
	t.Run("exit_is_a_crash", func(t *testing.T) {
		c := launchToy(t, Options{})
		if err := c.Init(withOptions(toyCfg, "fault", "exit", "fault_step", "1")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Step(context.Background(), toyInput(0)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Step(context.Background(), toyInput(1)); !IsCrash(err) {
			t.Fatalf("err = %v, want a crash", err)
		}
		if _, err := c.State(); !IsCrash(err) {
			t.Fatalf("State after the crash: err = %v, want a crash", err)
		}
	})
	t.Run("panic_is_an_error_and_plugin_stays_up", func(t *testing.T) {
		c := launchToy(t, Options{})
		if err := c.Init(withOptions(toyCfg, "fault", "panic", "fault_step", "1")); err != nil {
			t.Fatal(err)
		}
		_, err := c.Step(context.Background(), toyInput(1))
		if !errors.Is(err, sdk.ErrPanicked) || IsCrash(err) {
			t.Fatalf("err = %v, want sdk.ErrPanicked and no crash", err)
		}
		if !strings.Contains(err.Error(), "injected panic at step 1") {
			t.Errorf("error %q lacks the panic value", err)
		}
		if _, err := c.Step(context.Background(), toyInput(2)); err != nil {
			t.Fatalf("step after the panic: %v", err)
		}
		if c.Exited() {
			t.Fatal("plugin exited after a panic")
		}
	})
	t.Run("step_deadline", func(t *testing.T) {
		c := launchToy(t, Options{StepTimeout: 300 * time.Millisecond})
		if err := c.Init(withOptions(toyCfg, "fault", "slow", "fault_step", "0")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := c.Step(context.Background(), toyInput(0))
		if !errors.Is(err, ErrStepTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrStepTimeout", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("the deadline was not honoured: the step returned after %v", d)
		}
		// The plugin honoured ctx, so it is free for the next step at once.
		if _, err := c.Step(context.Background(), toyInput(1)); err != nil {
			t.Fatalf("step after the timeout: %v", err)
		}
	})
	t.Run("bad_options_listed", func(t *testing.T) {
		c := launchToy(t, Options{})
		err := c.Init(withOptions(toyCfg, "stopgrad", "perhaps"))
		if !errors.Is(err, sdk.ErrBadInput) {
			t.Fatalf("err = %v, want sdk.ErrBadInput", err)
		}
		for _, s := range []string{`"perhaps" is not a bool`, "dim (int, default 16)", "fault (one of none|panic|slow|exit|hang|stop|child|orphan, default none)"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q lacks %q", err, s)
			}
		}
	})
	t.Run("bad_shape_over_the_wire", func(t *testing.T) {
		c := launchToy(t, Options{})
		if err := c.Init(toyCfg); err != nil {
			t.Fatal(err)
		}
		in := toyInput(0)
		in.Views[1] = nn.Zeros(toyCfg.BatchSize, toyCfg.FeatureDim+1)
		_, err := c.Step(context.Background(), in)
		if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "view 1 has shape [6 13], want [6 12]") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestVersionMismatch(t *testing.T) {
	cases := []struct {
		claim int
		want  string
	}{
		{sdk.ProtocolVersion - 1, "speaks protocol " + strconv.Itoa(sdk.ProtocolVersion-1) + ", bench speaks " + strconv.Itoa(sdk.ProtocolVersion) + ": rebuild the plugin with `make build`"},
		{sdk.ProtocolVersion + 1, "speaks protocol " + strconv.Itoa(sdk.ProtocolVersion+1) + ", bench speaks " + strconv.Itoa(sdk.ProtocolVersion) + ": bench is older than the plugin; rebuild bench with `make build`"},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.claim), func(t *testing.T) {
			t.Setenv("FAKE_PROTOCOL", strconv.Itoa(tc.claim))
			_, err := Launch(context.Background(), versionBin, Options{Stderr: &testWriter{t: t}})
			if err == nil || !strings.Contains(err.Error(), "plugin bench-method-version "+tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("same", func(t *testing.T) {
		t.Setenv("FAKE_PROTOCOL", strconv.Itoa(sdk.ProtocolVersion))
		c, err := Launch(context.Background(), versionBin, Options{})
		if err != nil {
			t.Fatalf("the same protocol version was refused: %v", err)
		}
		c.Kill()
	})
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	notPlugin := dir + "/bench-method-liar"
	writeExe(t, notPlugin, "#!/bin/sh\necho hello\nsleep 5\n", 0o755)
	_, err := Launch(context.Background(), notPlugin, Options{StartTimeout: 3 * time.Second})
	if err == nil || !strings.Contains(err.Error(), notPlugin) {
		t.Fatalf("err = %v, want a start error naming the path", err)
	}
	if _, err := Launch(context.Background(), dir+"/bench-method-missing", Options{}); err == nil {
		t.Fatal("launching a missing file succeeded")
	}
}

// CleanupAll (called on SIGINT/SIGTERM) kills launched plugins.
func TestCleanupAll(t *testing.T) {
	c := launchToy(t, Options{})
	pid := c.Pid()
	CleanupAll()
	waitGone(t, pid)
	if _, err := c.Step(context.Background(), toyInput(0)); !IsCrash(err) {
		t.Fatalf("step after CleanupAll: err = %v, want a crash", err)
	}
}

// A host killed with SIGKILL (no cleanup possible) takes its plugin along:
// Pdeathsig.
func TestPluginDiesWithHost(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PLUGINHOST_HELPER=launch", "PLUGINHOST_PLUGIN="+toyBin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("plugin %d not running while its host lives: %v", pid, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, pid)
}

// waitGone waits until pid no longer exists (or is a zombie of nobody we know).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return // dead, waiting to be reaped
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("plugin process %d still alive after 10 s", pid)
}

// Requests and responses above gRPC's 4 MiB default pass: 2 views of
// 2048×512 float32 are 8 MiB each way.
func TestLargeMessages(t *testing.T) {
	c := launchToy(t, Options{})
	cfg := sdk.InitConfig{FeatureDim: 512, BatchSize: 2048, Seed: 1, Options: map[string]string{"dim": "2"}}
	if err := c.Init(cfg); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(9))
	in := sdk.StepInput{LR: 0.01}
	for v := 0; v < 2; v++ {
		x := make([]float32, cfg.BatchSize*cfg.FeatureDim)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		in.Views = append(in.Views, nn.New(x, cfg.BatchSize, cfg.FeatureDim))
	}
	out, err := c.Step(context.Background(), in)
	if err != nil {
		t.Fatalf("8 MiB step: %v", err)
	}
	if len(out.Grads) != 2 || out.Grads[1].Len() != cfg.BatchSize*cfg.FeatureDim {
		t.Fatalf("gradients: %d tensors", len(out.Grads))
	}
}
