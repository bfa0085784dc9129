package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/siambench/siambench/internal/pluginhost"
	"github.com/siambench/siambench/plugins/swav/swav"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit/kittest"
)

// The real plugin binary: its describe mode reports the method's spec, and
// served over gRPC it gives bit-identical steps and state to the method
// in-process.
func TestPluginBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and launches the plugin binary")
	}
	bin := filepath.Join(t.TempDir(), pluginhost.Prefix+"swav")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	local := sdk.InProcess(swav.New())
	d, err := pluginhost.Describe(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Compatible(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Spec, local.Describe()) {
		t.Fatalf("describe mode: %+v\nwant %+v", d.Spec, local.Describe())
	}
	remote, err := pluginhost.Launch(context.Background(), bin, pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remote.Kill)
	kittest.SameSteps(t, remote, local, sdk.InitConfig{FeatureDim: 16, BatchSize: 8, StepsPerEpoch: 2, TotalSteps: 6, Seed: 4,
		Options: map[string]string{"dim": "16", "hidden": "32", "prototypes": "12", "queue": "16", "freeze_epochs": "0"}}, 4)
}
