package harness

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/eval"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/nn/npy"
	"github.com/siambench/siambench/nn/safetensors"
	"github.com/siambench/siambench/results"
)

// randomBN gives every BN non-trivial running statistics and affine
// parameters, so an export that drops or swaps them shows.
func randomBN(m nn.Module, rng *rand.Rand) {
	for _, p := range append(slices.Clone(m.Params()), m.Buffers()...) {
		if strings.Contains(p.Name, ".bn.") {
			for i := range p.T.Data {
				switch {
				case strings.HasSuffix(p.Name, "var"), strings.HasSuffix(p.Name, "gamma"):
					p.T.Data[i] = 0.5 + rng.Float32()
				default:
					p.T.Data[i] = rng.Float32() - 0.5
				}
			}
		}
	}
}

func features(t *testing.T, m nn.Module, c int) []float32 {
	t.Helper()
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, 3*c*16*16)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	m.SetTraining(false)
	defer m.SetTraining(true)
	out, err := forwardNoGrad(m, nn.New(x, 3, c, 16, 16))
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(out.Data)
}

// fakeRun writes a run folder holding config.json and a checkpoint of a
// random backbone (online) and another (target), as a trainer would.
func fakeRun(t *testing.T, backbone string, c int) (dir string, online nn.Module) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "runs", "run-1")
	online, _ = models.New(backbone, c, rand.New(rand.NewPCG(1, 1)))
	target, _ := models.New(backbone, c, rand.New(rand.NewPCG(2, 2)))
	randomBN(online, rand.New(rand.NewPCG(3, 3)))
	cfg := results.RunConfig{ID: "run-1", Method: "simsiam", Dataset: "default", Transfer: []string{"default-mnist"}, Backbone: backbone}
	if err := results.WriteJSON(filepath.Join(dir, results.ConfigFile), cfg); err != nil {
		t.Fatal(err)
	}
	err := saveCheckpoint(filepath.Join(dir, results.CheckpointFile), runCheckpoint{ckptHeader: ckptHeader{Epoch: 3}},
		[]ckptGroup{{Name: "backbone", Params: online.Params()}, {Name: "target", Params: target.Params()}},
		[]ckptGroup{{Name: "backbone", Params: online.Buffers()}, {Name: "target", Params: target.Buffers()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir, online
}

func TestLoadRunAndSafetensorsRoundTrip(t *testing.T) {
	for _, bb := range []string{"resnet-tiny", "refnet"} {
		t.Run(bb, func(t *testing.T) {
			dir, online := fakeRun(t, bb, 3)
			m, cfg, info, err := LoadRun(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Method != "simsiam" || info.InChannels != 3 || info.Epochs != 3 || info.Backbone != bb ||
				!slices.Equal(info.Transfer, []string{"default-mnist"}) || info.OutDim != 64 {
				t.Errorf("info %+v", info)
			}
			want := features(t, online, 3)
			if got := features(t, m, 3); !slices.Equal(got, want) {
				t.Fatal("loaded run backbone computes other features than the trained one")
			}
			p := filepath.Join(t.TempDir(), "w.safetensors")
			if err := SaveSafetensors(p, m, info); err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if f.Metadata[MetaBackbone] != bb || f.Metadata[MetaInChannels] != "3" || f.Metadata[MetaMethod] != "simsiam" || f.Metadata[MetaRunID] != "run-1" {
				t.Errorf("metadata %v", f.Metadata)
			}
			if n := len(m.Params()) + len(m.Buffers()); len(f.Tensors) != n {
				t.Errorf("%d tensors, want %d", len(f.Tensors), n)
			}
			m2, info2, err := LoadSafetensors(p, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if info2.RunID != "run-1" || info2.InChannels != 3 {
				t.Errorf("info %+v", info2)
			}
			if got := features(t, m2, 3); !slices.Equal(got, want) {
				t.Fatal("safetensors round trip changed the features")
			}
			if _, _, err := LoadSafetensors(p, "resnet18-cifar", nil); err == nil || !strings.Contains(err.Error(), "holds a") {
				t.Errorf("wrong --backbone: err %v", err)
			}
		})
	}
}

func TestLoadSafetensorsMismatch(t *testing.T) {
	m, _ := models.New("resnet-tiny", 1, rand.New(rand.NewPCG(1, 1)))
	ts, err := TorchTensors(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, ts []safetensors.Tensor, meta map[string]string) string {
		p := filepath.Join(dir, name)
		if err := safetensors.WriteFile(p, ts, meta); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// no metadata: channels from conv1.weight, backbone from the caller
	p := write("bare", append(slices.Clone(ts), safetensors.Tensor{Name: "bn1.num_batches_tracked", Shape: []int{}, Data: []float32{7}}), nil)
	if _, _, err := LoadSafetensors(p, "", nil); err == nil || !strings.Contains(err.Error(), "--backbone") {
		t.Errorf("no backbone: %v", err)
	}
	if _, info, err := LoadSafetensors(p, "resnet-tiny", nil); err != nil || info.InChannels != 1 {
		t.Errorf("bare file: %v %+v", err, info)
	}
	for name, c := range map[string]struct {
		ts   []safetensors.Tensor
		want string
	}{
		"missing": {ts[1:], "has no tensor conv1.weight"},
		"extra":   {append(slices.Clone(ts), safetensors.Tensor{Name: "fc.weight", Shape: []int{1}, Data: []float32{1}}), "not part of"},
		"shape":   {append([]safetensors.Tensor{{Name: "conv1.weight", Shape: []int{16, 1, 9}, Data: make([]float32, 144)}}, ts[1:]...), "has shape"},
	} {
		p := write(name, c.ts, map[string]string{MetaBackbone: "resnet-tiny", MetaInChannels: "1"})
		if _, _, err := LoadSafetensors(p, "", nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
	if _, _, _, err := LoadRun(dir, nil); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Errorf("LoadRun of a non-run folder: %v", err)
	}
}

// EvaluateBackbone is the sweep's protocol: the same numbers as
// evaluateFeatures over the splits a sweep of that config opens.
func TestEvaluateBackboneAndFeatures(t *testing.T) {
	ctx := context.Background()
	m, _ := models.New("refnet", 1, rand.New(rand.NewPCG(1, 1)))
	cfg := EvalDataConfig{Dataset: "default", Transfer: []string{"default-mnist", "none"}, TrainLimit: 200, TestLimit: 100}
	d, err := OpenEvalData(ctx, openData, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Channels() != 1 || !slices.Equal(d.Transfer(), []string{"default-mnist"}) {
		t.Fatalf("channels %d transfer %v", d.Channels(), d.Transfer())
	}
	got, err := EvaluateBackbone(ctx, m, d)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{OpenDataset: openData, Plan: &sweep.Plan{Config: sweep.Config{Dataset: "default", Transfer: cfg.Transfer, TrainLimit: 200, TestLimit: 100}}}
	ds, err := r.openDatasets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := evaluateFeatures(ctx, ds, func(ctx context.Context, x data.Dataset) (eval.Features, error) {
		return BackboneFeatures(ctx, m, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EvaluateBackbone %+v, the sweep's protocol on the same splits %+v", got, want)
	}
	if got.KNNTop1 <= 0.1 || got.LinearTop1 <= 0.1 || got.Transfer["default-mnist"] <= 0.1 {
		t.Errorf("implausible accuracies %+v", got)
	}

	test, _ := d.Split("test")
	fp, lp := filepath.Join(t.TempDir(), "f.npy"), filepath.Join(t.TempDir(), "l.npy")
	n, dim, err := SaveFeatures(ctx, m, test, fp, lp)
	if err != nil || n != 100 || dim != 64 {
		t.Fatalf("SaveFeatures: %d×%d %v", n, dim, err)
	}
	b, _ := os.ReadFile(fp)
	if descr, shape, raw, err := npy.Header(b); err != nil || descr != "<f4" || !slices.Equal(shape, []int{100, 64}) || len(raw) != 100*64*4 {
		t.Errorf("features.npy: %s %v %d %v", descr, shape, len(raw), err)
	}
	if _, err := d.Split("val"); err == nil {
		t.Error("split val accepted")
	}
}
