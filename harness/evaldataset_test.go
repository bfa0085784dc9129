package harness

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/reports"
	"github.com/siambench/siambench/results"
)

// writeSTL10 writes a small STL-10 in the official binary layout: train and
// test images whose colour says their class (so a backbone can learn them),
// and unl unlabelled images.
func writeSTL10(t *testing.T, dir string, train, test, unl int) {
	t.Helper()
	d := filepath.Join(dir, "stl10_binary")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	images := func(n int, labels bool) (x, y []byte) {
		for i := range n {
			cls := i % 3
			for c := range 3 {
				for range 96 * 96 {
					v := 40 + rng.IntN(40)
					if c == cls {
						v += 120
					}
					x = append(x, byte(v))
				}
			}
			if labels {
				y = append(y, byte(cls+1)) // STL-10 labels are 1..10
			}
		}
		return x, y
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x, y := images(train, true)
	write("train_X.bin", x)
	write("train_y.bin", y)
	x, y = images(test, true)
	write("test_X.bin", x)
	write("test_y.bin", y)
	x, _ = images(unl, false)
	write("unlabeled_X.bin", x)
}

// The STL-10 protocol end to end: pre-train on the unlabelled split,
// evaluate (kNN, linear probe, baselines) on the labelled train/test.
func TestSTL10UnlabeledProtocol(t *testing.T) {
	ddir, out := t.TempDir(), t.TempDir()
	writeSTL10(t, ddir, 30, 15, 48)
	cfg := smallConfig("toy")
	cfg.Dataset, cfg.EvalDataset, cfg.BatchSizes, cfg.Epochs, cfg.TrainLimit, cfg.TestLimit = "stl10-unlabeled", "stl10", []int{16}, []int{1}, 0, 0
	on := true
	cfg.Baselines, cfg.Transfer = &on, []string{"none"}
	r := newTestRunner(t, out, cfg, toyMethods())
	r.OpenDataset = func(ctx context.Context, name string) (*data.Splits, error) {
		return data.Open(ctx, name, data.OpenOptions{Dir: ddir})
	}
	est, err := r.Estimates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if est.TrainImages != 48 {
		t.Errorf("the methods train on %d images, want the 48 unlabelled ones", est.TrainImages)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sum results.Summary
	if err := results.ReadJSON(filepath.Join(out, results.SummaryFile), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Runs) != 1 {
		t.Fatalf("%d runs", len(sum.Runs))
	}
	row := sum.Runs[0]
	if row.Status != results.StatusCompleted || row.Dataset != "stl10-unlabeled" || row.EvalDataset != "stl10" || row.LinearTop1 <= 0 {
		t.Fatalf("run row %+v", row)
	}
	if len(sum.Baselines) == 0 {
		t.Fatal("no baselines")
	}
	for k, b := range sum.Baselines {
		if b.Dataset != "stl10" {
			t.Errorf("baseline %s computed on %q, want the evaluation dataset stl10", k, b.Dataset)
		}
	}
	// The report says where the backbones were pre-trained and evaluated, and
	// shows the baselines (computed on stl10) beside the run.
	rep, err := reports.Generate(context.Background(), out, reports.Options{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "stl10-unlabeled, evaluated on stl10") {
		t.Error("the report does not say where the backbones were pre-trained and evaluated")
	}
	baselineRows := 0
	for _, r := range rep.Main {
		if r.Baseline != "" && r.Eval == "stl10" {
			baselineRows++
		}
	}
	if baselineRows < 3 {
		t.Errorf("%d baseline rows beside the run in the main table, want raw pixels, random init and supervised", baselineRows)
	}
	// The same sweep evaluated where it pre-trains is another run.
	cfg2 := cfg
	cfg2.EvalDataset = ""
	cfg2.Dataset = "stl10"
	p1, p2 := r.Plan.Runs[0].Config.ID, newTestRunner(t, t.TempDir(), cfg2, toyMethods()).Plan.Runs[0].Config.ID
	if p1 == p2 {
		t.Error("pre-training on stl10-unlabeled and on stl10 gave the same run ID")
	}
}

// An unlabelled pre-training dataset needs an evaluation dataset, which
// must have labels and the same channels; each mistake says what to do.
func TestEvalDatasetErrors(t *testing.T) {
	folder := t.TempDir()
	for i := range 40 { // an unlabelled folder of RGB images
		im := image.NewRGBA(image.Rect(0, 0, 12, 12))
		for p := range im.Pix {
			im.Pix[p] = uint8(i * 5)
		}
		im.Set(0, 0, color.RGBA{255, 0, 0, 255})
		f, err := os.Create(filepath.Join(folder, "img"+string(rune('A'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, im); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	gray := t.TempDir() // and an unlabelled folder of gray ones
	for i := range 40 {
		f, err := os.Create(filepath.Join(gray, "g"+string(rune('A'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, image.NewGray(image.Rect(0, 0, 12, 12))); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for _, tc := range []struct {
		name, dataset, eval string
		want                []string
	}{
		{"no eval dataset", "folder:" + folder, "", []string{"has no labels", "--eval-dataset NAME"}},
		{"unlabelled eval dataset", "default", "folder:" + gray, []string{"evaluation dataset", "has no labels"}},
		{"channels differ", "folder:" + folder, "default", []string{"has 1 channels", "has 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig("toy")
			cfg.Dataset, cfg.EvalDataset = tc.dataset, tc.eval
			err := newTestRunner(t, t.TempDir(), cfg, toyMethods()).Run(context.Background())
			if err == nil || !errors.Is(err, sweep.ErrInvalid) {
				t.Fatalf("err = %v, want an ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// An unlabelled folder pre-trains a backbone that is evaluated on a
// labelled dataset of the same channels.
func TestUnlabeledFolderPretraining(t *testing.T) {
	gray := t.TempDir()
	for i := range 64 {
		g := image.NewGray(image.Rect(0, 0, 28, 28))
		for p := range g.Pix {
			g.Pix[p] = uint8((p*7 + i*13) % 256)
		}
		f, err := os.Create(filepath.Join(gray, "g"+string(rune('A'+i%26))+string(rune('a'+i/26))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, g); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	cfg := smallConfig("toy")
	cfg.Dataset, cfg.EvalDataset, cfg.Epochs = "folder:"+gray, "default", []int{1}
	out := t.TempDir()
	if err := newTestRunner(t, out, cfg, toyMethods()).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sum results.Summary
	if err := results.ReadJSON(filepath.Join(out, results.SummaryFile), &sum); err != nil {
		t.Fatal(err)
	}
	if r := sum.Runs[0]; r.Status != results.StatusCompleted || r.EvalDataset != "default" || r.KNNTop1 <= 0.1 {
		t.Fatalf("run %+v", r)
	}
}
