//go:build interop

// These tests load what bench export writes in real PyTorch (Debian's
// python3-torch at /usr/bin/python3, installed by `make test-interop`):
// the safetensors weights into plain torch.nn modules, the .npy features
// with numpy.

package harness

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/nn/npy"
)

const interopScript = "testdata/export_interop.py"

func python(t *testing.T, args ...string) []byte {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import torch, numpy").Run(); err != nil {
		t.Fatalf("the interop tests need Debian's python3-torch (%v): run `make test-interop`, which installs it", err)
	}
	out, err := exec.Command("/usr/bin/python3", append([]string{interopScript}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("python %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return out
}

func readF32(t *testing.T, path string) ([]float32, []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	descr, shape, raw, err := npy.Header(b)
	if err != nil || descr != "<f4" {
		t.Fatalf("%s: %s %v", path, descr, err)
	}
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v, shape
}

// TestInteropTorchLoadsExportedBackbone: a backbone with random weights and
// non-trivial BN statistics, exported as safetensors, loaded with
// load_state_dict(strict=True) into the torch.nn definition of
// docs/export.md, computes the same features in eval mode (relative L2
// error ≤ 1e-5).
func TestInteropTorchLoadsExportedBackbone(t *testing.T) {
	for _, tc := range []struct {
		backbone string
		c, side  int
	}{{"refnet", 1, 28}, {"resnet-tiny", 3, 32}, {"resnet-small", 1, 28}, {"resnet18-cifar", 3, 32}} {
		t.Run(tc.backbone, func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(5, 6))
			m, err := models.New(tc.backbone, tc.c, rng)
			if err != nil {
				t.Fatal(err)
			}
			randomBN(m, rng)
			w := filepath.Join(dir, "w.safetensors")
			if err := SaveSafetensors(w, m, WeightsInfo{Backbone: tc.backbone, InChannels: tc.c, Method: "simsiam", RunID: "r"}); err != nil {
				t.Fatal(err)
			}
			const n = 4
			x := make([]float32, n*tc.c*tc.side*tc.side)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			xp := filepath.Join(dir, "x.npy")
			if err := npy.SaveFloat32(xp, x, n, tc.c, tc.side, tc.side); err != nil {
				t.Fatal(err)
			}
			m.SetTraining(false)
			ours, err := forwardNoGrad(m, nn.New(slices.Clone(x), n, tc.c, tc.side, tc.side))
			if err != nil {
				t.Fatal(err)
			}
			yp := filepath.Join(dir, "y.npy")
			python(t, "features", w, xp, yp)
			theirs, shape := readF32(t, yp)
			if !slices.Equal(shape, []int{n, m.(models.Backbone).OutDim()}) {
				t.Fatalf("torch features have shape %v", shape)
			}
			rel := relL2(ours.Data, theirs)
			t.Logf("%s: relative L2 difference %.2e over %d features", tc.backbone, rel, len(theirs))
			if !(rel <= 1e-5) {
				t.Errorf("features differ from PyTorch's: relative L2 %.3e > 1e-5", rel)
			}
		})
	}
}

// TestInteropTorchTrainedBackboneLoads: the other direction — a backbone
// built in PyTorch (its own init, random BN statistics), its state_dict
// saved as safetensors with no metadata and num_batches_tracked included,
// loads with LoadSafetensors (what bench eval --weights does) and computes
// PyTorch's features.
func TestInteropTorchTrainedBackboneLoads(t *testing.T) {
	for _, tc := range []struct {
		backbone string
		c, side  int
	}{{"refnet", 3, 20}, {"resnet-tiny", 1, 28}} {
		t.Run(tc.backbone, func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(7, 8))
			const n = 3
			x := make([]float32, n*tc.c*tc.side*tc.side)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			xp, w, yp := filepath.Join(dir, "x.npy"), filepath.Join(dir, "torch.safetensors"), filepath.Join(dir, "y.npy")
			if err := npy.SaveFloat32(xp, x, n, tc.c, tc.side, tc.side); err != nil {
				t.Fatal(err)
			}
			python(t, "save", tc.backbone, strconv.Itoa(tc.c), xp, w, yp)
			if _, _, err := LoadSafetensors(w, "", nil); err == nil {
				t.Error("a file without metadata loaded without --backbone")
			}
			m, info, err := LoadSafetensors(w, tc.backbone, nil)
			if err != nil {
				t.Fatal(err)
			}
			if info.InChannels != tc.c {
				t.Errorf("in_channels %d, want %d", info.InChannels, tc.c)
			}
			m.SetTraining(false)
			ours, err := forwardNoGrad(m, nn.New(x, n, tc.c, tc.side, tc.side))
			if err != nil {
				t.Fatal(err)
			}
			theirs, _ := readF32(t, yp)
			if rel := relL2(ours.Data, theirs); !(rel <= 1e-5) {
				t.Errorf("features differ from PyTorch's: relative L2 %.3e > 1e-5", rel)
			} else {
				t.Logf("%s: relative L2 difference %.2e", tc.backbone, rel)
			}
		})
	}
}

func relL2(ours, theirs []float32) float64 {
	if len(ours) != len(theirs) {
		return math.Inf(1)
	}
	var num, den float64
	for i, v := range ours {
		d := float64(v) - float64(theirs[i])
		num += d * d
		den += float64(v) * float64(v)
	}
	return math.Sqrt(num / den)
}

// TestInteropNumpyLoadsFeatures: numpy.load reads the exported features and
// labels with the dtypes, shapes and values bench computed.
func TestInteropNumpyLoadsFeatures(t *testing.T) {
	ctx := context.Background()
	sp, err := data.Open(ctx, "default", data.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds := NewSubset(sp.Test, 50)
	m, _ := models.New("refnet", 1, rand.New(rand.NewPCG(1, 1)))
	dir := t.TempDir()
	fp, lp := filepath.Join(dir, "features-test.npy"), filepath.Join(dir, "labels-test.npy")
	if _, _, err := SaveFeatures(ctx, m, ds, fp, lp); err != nil {
		t.Fatal(err)
	}
	f, err := BackboneFeatures(ctx, m, ds)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		DType       string    `json:"dtype"`
		Shape       []int     `json:"shape"`
		Sum         float64   `json:"sum"`
		Row0        []float64 `json:"row0"`
		LabelsDType string    `json:"labels_dtype"`
		LabelsShape []int     `json:"labels_shape"`
		Labels      []int     `json:"labels"`
	}
	if err := json.Unmarshal(python(t, "npy", fp, lp), &got); err != nil {
		t.Fatal(err)
	}
	if got.DType != "float32" || !slices.Equal(got.Shape, []int{50, 64}) || got.LabelsDType != "int64" || !slices.Equal(got.LabelsShape, []int{50}) {
		t.Fatalf("numpy sees %+v", got)
	}
	if !slices.Equal(got.Labels, f.Labels) {
		t.Errorf("labels %v, want %v", got.Labels, f.Labels)
	}
	var sum float64
	for _, v := range f.Data {
		sum += float64(v)
	}
	if math.Abs(sum-got.Sum) > 1e-9*math.Max(1, math.Abs(sum)) {
		t.Errorf("feature sum %v in numpy, %v here", got.Sum, sum)
	}
	for j, v := range got.Row0 {
		if float32(v) != f.Data[j] {
			t.Errorf("row 0 col %d: numpy %v, here %v", j, v, f.Data[j])
		}
	}
}
