package evalcmd

import (
	"encoding/json"
	"github.com/siambench/siambench/internal/clitest"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/results"
)

func TestMain(m *testing.M) { clitest.Main(m) }

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	io, _, out, _ := iostreams.Test()
	err := clitest.Run(NewCmdEval(factory.New(io), nil), io, args...)
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
		err := clitest.Run(NewCmdEval(factory.New(io), func(o *EvalOptions) error { got = o; return nil }), io, tc.args...)
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
	dir := clitest.TrainedRun(t)
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
