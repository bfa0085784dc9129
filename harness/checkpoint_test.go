package harness

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
	"github.com/siambench/siambench/results"
)

func TestCheckpointRoundTripAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint.bin")
	rng := rand.New(rand.NewPCG(1, 1))
	a, _ := tinyBackbone("tiny", 1, rng)
	params := []ckptGroup{{Name: "backbone", Params: a.Params()}}
	buffers := []ckptGroup{{Name: "backbone", Params: a.Buffers()}}
	a.Buffers()[0].T.Data[0] = 0.25
	c := runCheckpoint{ckptHeader: ckptHeader{Epoch: 3, Step: 24, Restarts: 1, Images: 768}, Blob: []byte("state")}
	if err := saveCheckpoint(path, c, params, buffers, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadCheckpoint(filepath.Join(dir, "none.bin")); err != errNoCheckpoint {
		t.Fatalf("missing file: want errNoCheckpoint, got %v", err)
	}
	got, f, err := loadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != 3 || got.Step != 24 || got.Restarts != 1 || string(got.Blob) != "state" {
		t.Errorf("header/blob round trip: %+v", got)
	}
	b, _ := tinyBackbone("tiny", 1, rand.New(rand.NewPCG(2, 2)))
	if err := restoreTensors(path, f, []ckptGroup{{Name: "backbone", Params: b.Params()}}, []ckptGroup{{Name: "backbone", Params: b.Buffers()}}, nil); err != nil {
		t.Fatal(err)
	}
	for i, p := range a.Params() {
		for j, v := range p.T.Data {
			if b.Params()[i].T.Data[j] != v {
				t.Fatalf("param %s[%d] not restored", p.Name, j)
			}
		}
	}
	if b.Buffers()[0].T.Data[0] != 0.25 {
		t.Error("buffer not restored")
	}

	t.Run("another architecture", func(t *testing.T) {
		wide := nn.NewSequential("tiny", nn.NewConv2d(rng, 1, 16, 3, 2, 1, false))
		err := restoreTensors(path, f, []ckptGroup{{Name: "backbone", Params: wide.Params()}}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "another architecture") {
			t.Errorf("want architecture error, got %v", err)
		}
	})
	t.Run("corrupt file", func(t *testing.T) {
		raw, _ := os.ReadFile(path)
		raw[len(raw)/2] ^= 0xff
		bad := filepath.Join(dir, "bad.bin")
		os.WriteFile(bad, raw, 0o644)
		_, _, err := loadCheckpoint(bad)
		if err == nil || !strings.Contains(err.Error(), "delete") {
			t.Errorf("want a corrupt-file error telling what to do, got %v", err)
		}
	})
}

// failingOpt is an optimizer whose SetState always fails.
type failingOpt struct{ optim.Optimizer }

func (failingOpt) SetState([]*nn.Param) error { return errors.New("bad optimizer state") }

// TestRestoreAllOrNothing: a checkpoint one of whose sections (or whose
// optimizer state) does not fit is refused before anything is copied, so
// the model keeps every value it had, also in the sections that did fit.
func TestRestoreAllOrNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoint.bin")
	online, _ := tinyBackbone("tiny", 1, rand.New(rand.NewPCG(1, 1)))
	target, _ := tinyBackbone("tiny", 1, rand.New(rand.NewPCG(2, 2)))
	online.Buffers()[0].T.Data[0] = 0.25
	if err := saveCheckpoint(path, runCheckpoint{ckptHeader: ckptHeader{Epoch: 1}},
		[]ckptGroup{{Name: "backbone", Params: online.Params()}, {Name: "target", Params: target.Params()}},
		[]ckptGroup{{Name: "backbone", Params: online.Buffers()}, {Name: "target", Params: target.Buffers()}}, nil); err != nil {
		t.Fatal(err)
	}
	_, f, err := loadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func(ms ...nn.Module) [][]float32 {
		var out [][]float32
		for _, m := range ms {
			for _, p := range append(m.Params(), m.Buffers()...) {
				out = append(out, slices.Clone(p.T.Data))
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(3, 3))
	fresh, _ := tinyBackbone("tiny", 1, rng)
	wideTarget := nn.NewSequential("tiny", nn.NewConv2d(rng, 1, 16, 3, 2, 1, false), nn.NewBatchNorm(16, true))
	fittingTarget, _ := tinyBackbone("tiny", 1, rng)
	cases := []struct {
		name    string
		target  nn.Module
		opt     optim.Optimizer // nil: none restored
		wantErr string
	}{
		{"target of another width", wideTarget, nil, "another architecture"},
		{"optimizer state refused", fittingTarget, failingOpt{}, "bad optimizer state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(fresh, tc.target)
			err := restoreTensors(path, f,
				[]ckptGroup{{Name: "backbone", Params: fresh.Params()}, {Name: "target", Params: tc.target.Params()}},
				[]ckptGroup{{Name: "backbone", Params: fresh.Buffers()}, {Name: "target", Params: tc.target.Buffers()}}, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want an error containing %q, got %v", tc.wantErr, err)
			}
			if after := snapshot(fresh, tc.target); !reflect.DeepEqual(after, before) {
				t.Fatal("a refused checkpoint changed the model (half applied)")
			}
		})
	}
	// The same file restores into a model that fits.
	if err := restoreTensors(path, f,
		[]ckptGroup{{Name: "backbone", Params: fresh.Params()}, {Name: "target", Params: fittingTarget.Params()}},
		[]ckptGroup{{Name: "backbone", Params: fresh.Buffers()}, {Name: "target", Params: fittingTarget.Buffers()}}, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snapshot(fresh, fittingTarget), snapshot(online, target)) {
		t.Fatal("restore did not copy every section")
	}
}

func TestCollapseReason(t *testing.T) {
	ep := func(std float64) results.EpochMetrics {
		return results.EpochMetrics{OutputStd: std, Metrics: map[string]float64{"output_std": std}}
	}
	d := 512 // healthy ≈ 0.0442, threshold 0.00442
	cases := []struct {
		name string
		ms   []results.EpochMetrics
		dim  int
		want bool
	}{
		{"healthy", []results.EpochMetrics{ep(0.044), ep(0.043)}, d, false},
		{"the paper's collapse (std → 0.004 at d=512)", []results.EpochMetrics{ep(0.044), ep(0.004)}, d, true},
		{"halved is not collapse", []results.EpochMetrics{ep(0.044), ep(0.022)}, d, false},
		{"unknown dim: tenfold fall", []results.EpochMetrics{ep(0.05), ep(0.004)}, 0, true},
		{"unknown dim: steady", []results.EpochMetrics{ep(0.05), ep(0.04)}, 0, false},
		{"no output_std metric", []results.EpochMetrics{{}}, d, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := collapseReason(tc.ms, tc.dim)
			if (r != "") != tc.want {
				t.Errorf("want collapsed=%v, got reason %q", tc.want, r)
			}
		})
	}
}
