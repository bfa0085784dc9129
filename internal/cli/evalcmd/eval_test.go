package evalcmd

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/results"
	"github.com/siambench/siambench/sdk"
)

var (
	runOnce sync.Once
	runDir  string
	runErr  error
	runRoot string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if runRoot != "" {
		os.RemoveAll(runRoot)
	}
	os.Exit(code)
}

// trainedRun runs a one-epoch sweep of the toy method on resnet-tiny
// (256 train, 100 test images) once and returns its run folder.
func trainedRun(t *testing.T) string {
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

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	io, _, out, _ := iostreams.Test()
	cmd := NewCmdEval(factory.New(io), nil)
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

func TestEvalParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		check   func(o *EvalOptions) bool
		wantErr string
	}{
		{args: []string{"r"}, check: func(o *EvalOptions) bool { return o.RunDir == "r" && !o.Set["dataset"] }},
		{args: []string{"--weights", "w.safetensors", "--backbone", "refnet", "--dataset", "mnist", "--transfer", "none", "--json", "--test-limit", "5"},
			check: func(o *EvalOptions) bool {
				return o.Weights == "w.safetensors" && o.Backbone == "refnet" && o.Dataset == "mnist" && o.JSON &&
					o.Set["dataset"] && o.Set["transfer"] && o.Set["test-limit"] && !o.Set["train-limit"] && o.TestLimit == 5
			}},
		{args: nil, wantErr: "nothing to evaluate"},
		{args: []string{"r", "--weights", "w"}, wantErr: "not both"},
		{args: []string{"r", "--backbone", "refnet"}, wantErr: "--backbone goes with --weights"},
		{args: []string{"a", "b"}, wantErr: "at most one argument"},
		{args: []string{"r", "--train-limit", "-1"}, wantErr: "must be ≥ 0"},
	} {
		io, _, _, _ := iostreams.Test()
		var got *EvalOptions
		cmd := NewCmdEval(factory.New(io), func(o *EvalOptions) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		cmd.SetOut(io.Out)
		cmd.SetErr(io.ErrOut)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
				t.Errorf("%v: err %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !tc.check(got) || got.IO != io {
			t.Errorf("%v: err %v, options %+v", tc.args, err, got)
		}
	}
}

// bench eval of a finished run reproduces the run's own final evaluation:
// the same checkpoint, splits and protocol code give the same numbers.
func TestEvalRunMatchesSweep(t *testing.T) {
	dir := trainedRun(t)
	out, err := execute(t, dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if res.Stored == nil {
		t.Fatal("the run's eval.json was not read")
	}
	if res.KNNTop1 != res.Stored.KNNTop1 || res.LinearTop1 != res.Stored.LinearTop1 {
		t.Errorf("bench eval kNN %.4f linear %.4f; the sweep stored kNN %.4f linear %.4f", res.KNNTop1, res.LinearTop1, res.Stored.KNNTop1, res.Stored.LinearTop1)
	}
	if res.Backbone != "resnet-tiny" || res.Method != "toy" || res.TrainLimit != 256 || res.TestLimit != 100 || res.FeatureDim != 64 {
		t.Errorf("result %+v", res)
	}
	var file Result
	if err := results.ReadJSON(filepath.Join(dir, "backbone-eval.json"), &file); err != nil || file.KNNTop1 != res.KNNTop1 {
		t.Errorf("JSON file: %v %+v", err, file)
	}
}

func TestEvalWeights(t *testing.T) {
	m, _ := models.New("refnet", 1, rand.New(rand.NewPCG(4, 4)))
	w := filepath.Join(t.TempDir(), "refnet.safetensors")
	if err := harness.SaveSafetensors(w, m, harness.WeightsInfo{Backbone: "refnet", InChannels: 1}); err != nil {
		t.Fatal(err)
	}
	out, err := execute(t, "--weights", w, "--train-limit", "200", "--test-limit", "100", "--transfer", "default-mnist")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kNN (k=200)", "linear probe", "transfer linear", "default-mnist", "refnet.eval.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(strings.TrimSuffix(w, ".safetensors") + ".eval.json"); err != nil {
		t.Error(err)
	}
	if _, err := execute(t, "--weights", w, "--backbone", "resnet-tiny"); err == nil || !strings.Contains(err.Error(), "holds a refnet") {
		t.Errorf("wrong backbone: %v", err)
	}
	if _, err := execute(t, "--weights", w, "--dataset", "cifar10-does-not-exist"); err == nil {
		t.Error("unknown dataset accepted")
	}
}
