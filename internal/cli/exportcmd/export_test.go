package exportcmd

import (
	"github.com/siambench/siambench/internal/clitest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/nn/npy"
	"github.com/siambench/siambench/nn/safetensors"
	"github.com/siambench/siambench/results"
)

func TestMain(m *testing.M) { clitest.Main(m) }

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	io, _, out, _ := iostreams.Test()
	err := clitest.Run(NewCmdExport(factory.New(io), nil), io, args...)
	return out.String(), err
}

func TestExportParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    ExportOptions
		wantErr string
	}{
		{args: []string{"r"}, want: ExportOptions{RunDir: "r", Format: "safetensors", Split: "test"}},
		{args: []string{"r", "--features", "--split", "train", "-o", "d"}, want: ExportOptions{RunDir: "r", Format: "safetensors", Split: "train", Features: true, Out: "d"}},
		{args: []string{"r", "--format", "onnx"}, wantErr: `unknown --format "onnx"`},
		{args: []string{"r", "--features", "--split", "val"}, wantErr: `unknown --split "val"`},
		{args: []string{"r", "--split", "train"}, wantErr: "--split goes with --features"},
		{args: nil, wantErr: "takes one argument"},
	} {
		io, _, _, _ := iostreams.Test()
		var got *ExportOptions
		err := clitest.Run(NewCmdExport(factory.New(io), func(o *ExportOptions) error { got = o; return nil }), io, tc.args...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
				t.Errorf("%v: err %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got.RunDir != tc.want.RunDir || got.Format != tc.want.Format || got.Split != tc.want.Split ||
			got.Features != tc.want.Features || got.Out != tc.want.Out || got.IO != io {
			t.Errorf("%v: options %+v, want %+v", tc.args, *got, tc.want)
		}
	}
}

func TestExportWeightsAndFeatures(t *testing.T) {
	dir := clitest.TrainedRun(t)
	var cfg results.RunConfig
	if err := results.ReadJSON(filepath.Join(dir, results.ConfigFile), &cfg); err != nil {
		t.Fatal(err)
	}
	out, err := execute(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "backbone.safetensors")
	if !strings.Contains(out, p) || !strings.Contains(out, "resnet-tiny") {
		t.Errorf("output %q", out)
	}
	f, err := safetensors.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["run_id"] != cfg.ID || f.Metadata["method"] != "toy" || f.Metadata["in_channels"] != "1" || f.Metadata["backbone"] != "resnet-tiny" {
		t.Errorf("metadata %v", f.Metadata)
	}
	for _, n := range []string{"conv1.weight", "bn1.running_var", "layer2.0.downsample.0.weight", "layer3.0.bn2.bias"} {
		if _, ok := f.Get(n); !ok {
			t.Errorf("no tensor %s", n)
		}
	}
	// the exported file loads back into the run's backbone
	m, _, _, err := harness.LoadRun(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m2, _, err := harness.LoadSafetensors(p, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, pa := range m.Buffers() {
		if !slices.Equal(pa.T.Data, m2.Buffers()[i].T.Data) {
			t.Fatalf("buffer %s differs after export", pa.Name)
		}
	}

	fdir := filepath.Join(t.TempDir(), "feats")
	if out, err = execute(t, dir, "--features", "--split", "train", "--out", fdir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(fdir, "features-train.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if descr, shape, _, err := npy.Header(b); err != nil || descr != "<f4" || !slices.Equal(shape, []int{256, 64}) {
		t.Errorf("features-train.npy: %s %v %v", descr, shape, err)
	}
	b, err = os.ReadFile(filepath.Join(fdir, "labels-train.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if descr, shape, _, err := npy.Header(b); err != nil || descr != "<i8" || !slices.Equal(shape, []int{256}) {
		t.Errorf("labels-train.npy: %s %v %v", descr, shape, err)
	}
	if _, err := execute(t, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("export of a non-run folder: %v", err)
	}
}
