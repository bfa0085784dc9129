package harness

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
)

// With re-estimated BN statistics, eval mode (running statistics) must
// reproduce train mode (batch statistics) on a large batch of the same data;
// with the initial statistics (mean 0, var 1) it must not.
func TestRecalibrateBN(t *testing.T) {
	ctx := context.Background()
	sp, err := data.Open(ctx, "default", data.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds := NewSubset(sp.Train, 1024)
	bb, _ := tinyBackbone("tiny", 1, rand.New(rand.NewPCG(3, 3)))
	idx := make([]int, 512)
	for i := range idx {
		idx[i] = i
	}
	x, c, h, w := normalizedBatch(ds, idx, data.NormOf(ds))
	in := nn.New(x, len(idx), c, h, w)
	bb.SetTraining(true)
	var trainOut *nn.Tensor
	nn.NoGrad(func() { trainOut = bb.Forward(in) }) // also moves running stats a little
	maxDiff := func() float64 {
		bb.SetTraining(false)
		defer bb.SetTraining(true)
		out, err := forwardNoGrad(bb, in)
		if err != nil {
			t.Fatal(err)
		}
		var d float64
		for i, v := range out.Data {
			d = math.Max(d, math.Abs(float64(v-trainOut.Data[i])))
		}
		return d
	}
	before := maxDiff()
	if err := RecalibrateBN(ctx, bb, ds, 128, 7); err != nil {
		t.Fatal(err)
	}
	after := maxDiff()
	if !(after < 0.1*before) || after > 0.05 {
		t.Errorf("eval vs train output max diff: before recalibration %.4f, after %.4f (want < 0.05 and 10× smaller)", before, after)
	}
}

func TestSubset(t *testing.T) {
	sp, err := data.Open(context.Background(), "default", data.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSubset(sp.Train, 500)
	if s.Len() != 500 {
		t.Fatalf("len %d", s.Len())
	}
	counts := make([]int, len(sp.Train.Classes()))
	for i := 0; i < s.Len(); i++ {
		counts[s.Label(i)]++
	}
	for c, n := range counts {
		if n < 25 || n > 75 { // 50 expected per class
			t.Errorf("class %d has %d of 500 images: the subset is not a random sample", c, n)
		}
	}
	if NewSubset(sp.Train, 0) != sp.Train || NewSubset(sp.Train, 1<<30) != sp.Train {
		t.Error("limit 0 or ≥ len must return the dataset itself")
	}
	n1, n2 := data.NormOf(s), data.NormOf(sp.Train)
	if n1.Mean[0] != n2.Mean[0] || n1.Std[0] != n2.Std[0] {
		t.Error("subset must keep the parent's normalisation")
	}
}

// TestFeaturesBatchFree: the feature-extraction batch follows each
// backbone's footprint (ResNet-18-CIFAR's whole forward at 500 images would
// hold 2.8 GB) and changes no feature's bits: every image's features are the
// same in batches of 7 as in one batch of 500.
func TestFeaturesBatchFree(t *testing.T) {
	ctx := context.Background()
	sp, err := data.Open(ctx, "default", data.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds := NewSubset(sp.Train, 300)
	nm := data.NormOf(ds)
	lab, err := labels(ds)
	if err != nil {
		t.Fatal(err)
	}
	batches := map[string]int{}
	for _, name := range []string{"refnet", "resnet-tiny", "resnet18-cifar"} {
		bb, err := models.New(name, 1, rand.New(rand.NewPCG(5, 5)))
		if err != nil {
			t.Fatal(err)
		}
		bb.SetTraining(false)
		b, err := featureBatch(bb, ds, nm)
		if err != nil {
			t.Fatal(err)
		}
		batches[name] = b
		if name == "resnet18-cifar" {
			continue // its forward over 300 images twice is too slow for make test
		}
		whole, err := backboneFeatures(ctx, bb, ds, lab, nm, 500)
		if err != nil {
			t.Fatal(err)
		}
		small, err := backboneFeatures(ctx, bb, ds, lab, nm, 7)
		if err != nil {
			t.Fatal(err)
		}
		if whole.D != small.D || len(whole.Data) != len(small.Data) || whole.N != 300 {
			t.Fatalf("%s: shapes differ: %d×%d vs %d×%d", name, whole.N, whole.D, small.N, small.D)
		}
		for i, v := range whole.Data {
			if math.Float32bits(v) != math.Float32bits(small.Data[i]) {
				t.Fatalf("%s: feature %d (image %d) is %v in one batch of 500, %v in batches of 7", name, i, i/whole.D, v, small.Data[i])
			}
		}
	}
	t.Logf("feature batches within %d MiB: %v", evalBudget>>20, batches)
	if batches["refnet"] != evalBatch {
		t.Errorf("refnet's feature batch is %d, want the full %d (it fits the budget)", batches["refnet"], evalBatch)
	}
	if b := batches["resnet18-cifar"]; b >= evalBatch/2 || b < 16 {
		t.Errorf("resnet18-cifar's feature batch is %d; want a fraction of %d that still batches (≥ 16)", b, evalBatch)
	}
}
