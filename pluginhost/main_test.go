package pluginhost

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/siambench/siambench/sdk"
)

// Plugin binaries built once for the package's tests.
var (
	toyBin     string // internal/testplugins/toy as bench-method-toy
	versionBin string // testdata/versionplugin: claims $FAKE_PROTOCOL
)

func TestMain(m *testing.M) {
	if os.Getenv("PLUGINHOST_HELPER") == "launch" {
		helperLaunch()
		return
	}
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	toyBin = filepath.Join(dir, "bench-method-toy")
	versionBin = filepath.Join(dir, "bench-method-version")
	for bin, pkg := range map[string]string{
		toyBin:     "github.com/siambench/siambench/internal/testplugins/toy",
		versionBin: "github.com/siambench/siambench/pluginhost/testdata/versionplugin",
	} {
		var stderr bytes.Buffer
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, stderr.String())
			os.Exit(1)
		}
	}
	code := m.Run()
	CleanupAll()
	os.RemoveAll(dir)
	os.Exit(code)
}

// helperLaunch is a host process for the parent-death test: it launches the
// plugin named by $PLUGINHOST_PLUGIN, prints its pid and waits to be killed.
func helperLaunch() {
	c, err := Launch(context.Background(), os.Getenv("PLUGINHOST_PLUGIN"), Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(c.Pid())
	time.Sleep(time.Minute)
	os.Exit(0)
}

// relaunch kills c and launches a new toy plugin initialised with cfg, as
// the harness does after a crash.
func relaunch(t *testing.T, c *Client, cfg sdk.InitConfig, opts Options) *Client {
	t.Helper()
	c.Kill()
	n := launchToy(t, opts)
	if err := n.Init(cfg); err != nil {
		t.Fatalf("init after relaunch: %v", err)
	}
	return n
}

func launchToy(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.Stderr == nil {
		opts.Stderr = &testWriter{t: t}
	}
	c, err := Launch(context.Background(), toyBin, opts)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(c.Kill)
	return c
}

// testWriter sends plugin stderr to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(b, "\n"))
	return len(b), nil
}
