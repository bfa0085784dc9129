package kittest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/sdk"
)

// RunBinary is the end-to-end test of a plugin binary: it builds the main
// package in pkgDir (go build, as bench-method-NAME in a temporary
// directory, with CGO_ENABLED=0 as `make build` builds every binary), checks that its describe mode reports a compatible protocol
// and the spec of newMethod's instance, then launches it and checks with
// SameSteps that steps over gRPC are bit-identical to the method
// in-process, initialised with cfg. It is skipped under -short. A plugin's
// main_test.go is one call:
//
//	func TestPluginBinary(t *testing.T) {
//		kittest.RunBinary(t, ".", func() sdk.Method { return mymethod.New() }, sdk.InitConfig{...}, 4)
//	}
func RunBinary(t *testing.T, pkgDir string, newMethod func() sdk.Method, cfg sdk.InitConfig, steps int) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and launches the plugin binary")
	}
	local := sdk.InProcess(newMethod())
	bin := filepath.Join(t.TempDir(), pluginhost.Prefix+local.Describe().Name)
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = pkgDir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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
	SameSteps(t, remote, local, cfg, steps)
}

// Learns trains m on the synthetic problem (Train with cfg), logs the
// result and fails t with each of Check's reasons. It returns the result
// for the method's own checks (loss drop, output_std).
func Learns(t testing.TB, m sdk.Method, cfg Config, outputDim int) Result {
	t.Helper()
	res, err := Train(context.Background(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %v", m.Describe().Name, res)
	for _, why := range Check(res, outputDim) {
		t.Error(why)
	}
	return res
}

// Check returns why res does not show a method that learns, none if it
// does: the "output_dim" metric must be outputDim, and the trained
// encoder's kNN accuracy at least 0.9, at least the random init's + 0.25
// and at least the raw inputs' + 0.2. The bar lies between whole
// objectives and the same objectives without their negatives,
// equipartition or redundancy term (see docs/methods.md).
func Check(res Result, outputDim int) []string {
	var why []string
	if res.OutputDim != float64(outputDim) {
		why = append(why, fmt.Sprintf("output_dim metric %v, want %d (the harness's collapse rule needs it)", res.OutputDim, outputDim))
	}
	if res.FinalAcc < 0.9 || res.FinalAcc < res.InitAcc+0.25 || res.FinalAcc < res.RawAcc+0.2 {
		why = append(why, fmt.Sprintf("kNN accuracy after training %.3f; want ≥ 0.9, ≥ init (%.3f) + 0.25 and ≥ raw (%.3f) + 0.2", res.FinalAcc, res.InitAcc, res.RawAcc))
	}
	return why
}
