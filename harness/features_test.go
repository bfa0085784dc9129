package harness

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/nn"
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
