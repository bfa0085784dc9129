// Package clitest holds what the command packages' tests share: a small
// trained run to evaluate and export, and running a cobra command as the
// CLI does. It is imported by tests only.
package clitest

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/sdk"
)

var (
	runOnce sync.Once
	runDir  string
	runErr  error
	runRoot string // removed by Main
)

// Main runs the package's tests and then removes the folder TrainedRun
// made: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if runRoot != "" {
		os.RemoveAll(runRoot)
	}
	os.Exit(code)
}

// TrainedRun runs a one-epoch sweep of the toy method on resnet-tiny
// (256 train, 100 test images) once per test binary and returns its run
// folder.
func TrainedRun(t testing.TB) string {
	t.Helper()
	runOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bench-run-test")
		if err != nil {
			runErr = err
			return
		}
		runRoot = dir
		ctx := context.Background()
		methods := harness.InProcess{"toy": func() sdk.Method { return toy.New() }}
		off := false
		cfg := sweep.Config{Methods: []string{"toy"}, Dataset: "default", Backbone: "resnet-tiny", BatchSizes: []int{32},
			Epochs: []int{1}, Seeds: []int64{0}, TrainLimit: 256, TestLimit: 100, Baselines: &off, Transfer: []string{"none"}}
		plan, err := sweep.MakePlan(ctx, cfg, methods.Describe, sweep.Code{Version: "test"})
		if err != nil {
			runErr = err
			return
		}
		st, err := harness.OpenStore(dir)
		if err != nil {
			runErr = err
			return
		}
		defer st.Close()
		r := &harness.Runner{Plan: plan, Store: st, Methods: methods, Workers: 1,
			NewBackbone: func(name string, c int, rng *rand.Rand) (nn.Module, error) { return models.New(name, c, rng) },
			OpenDataset: func(ctx context.Context, name string) (*data.Splits, error) {
				return data.Open(ctx, name, data.OpenOptions{})
			}}
		if runErr = r.Run(ctx); runErr == nil {
			runDir = st.RunDir(plan.Runs[0].Config.ID)
		}
	})
	if runErr != nil {
		t.Fatal(runErr)
	}
	return runDir
}

// Run executes cmd with args on io's streams as the CLI does (cobra prints
// neither usage nor the error itself).
func Run(cmd *cobra.Command, io *iostreams.IO, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.Execute()
}
