package nn_test

import (
	"fmt"
	"testing"

	"github.com/siambench/siambench/nn"
)

// BenchmarkBatchNorm1d times forward+backward of training-mode BN on a
// (512, 2048) head activation (SimSiam's projector width).
func BenchmarkBatchNorm1d(b *testing.B) {
	r := rng(1)
	x := req(nn.Randn(r, 1, 512, 2048))
	bn := nn.NewBatchNorm(2048, true)
	seed := nn.Randn(r, 1, 512, 2048).Data
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.ZeroGrad()
		y := bn.Forward(x)
		y.BackwardWith(seed)
		y.FreeGraph()
	}
}

// BenchmarkSimSiamHeads times one SimSiam head step at batch 256 on 512-d
// features, two views: projector (3 fc, BN on each, 2048 wide), predictor
// (2048→512→2048), symmetric negative-cosine loss, backward. The
// non-backbone half of a method step.
func BenchmarkSimSiamHeads(b *testing.B) {
	r := rng(2)
	proj := newMLP(r, "proj", 512,
		block{Out: 2048, BN: true, ReLU: true},
		block{Out: 2048, BN: true, ReLU: true},
		block{Out: 2048, BN: true})
	pred := newMLP(r, "pred", 2048,
		block{Out: 512, BN: true, ReLU: true},
		block{Out: 2048, Bias: true})
	v1 := req(nn.Randn(r, 1, 256, 512))
	v2 := req(nn.Randn(r, 1, 256, 512))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		z1, z2 := proj.Forward(v1), proj.Forward(v2)
		p1, p2 := pred.Forward(z1), pred.Forward(z2)
		loss := nn.Scale(nn.Add(
			nn.MeanAll(nn.CosineSimilarity(p1, z2.Detach())),
			nn.MeanAll(nn.CosineSimilarity(p2, z1.Detach()))), -0.5)
		loss.Backward()
		loss.FreeGraph()
	}
}

// BenchmarkConvStride2 times forward+backward (dx, dW) of the reference
// network's stride-2 layer, conv3x3(32→64, stride 2, pad 1) at batch 256
// on 28×28 maps (strided im2col/col2im; the GEMMs are small).
func BenchmarkConvStride2(b *testing.B) {
	r := rng(4)
	x := req(nn.Randn(r, 1, 256, 32, 28, 28))
	w := req(nn.Randn(r, 0.1, 64, 32, 3, 3))
	seed := nn.Randn(r, 1, 256, 64, 14, 14).Data
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.ZeroGrad()
		w.ZeroGrad()
		y := nn.Conv2d(x, w, nil, 2, 1)
		y.BackwardWith(seed)
		y.FreeGraph()
	}
}

// BenchmarkConvResNet18Stage times forward+backward (dx, dW) of one 3×3
// stride-1 convolution of each ResNet-18-CIFAR stage at batch 128 (two
// views of 64) on 32×32 input: 64 channels at 32×32, 128 at 16×16, 256 at
// 8×8, 512 at 4×4 (the same FLOPs each). GFLOP/s is reported per stage:
// the small planes are the ones stacking (stackImages) is for.
func BenchmarkConvResNet18Stage(b *testing.B) {
	for _, st := range []struct{ c, s int }{{64, 32}, {128, 16}, {256, 8}, {512, 4}} {
		b.Run(fmt.Sprintf("c%d-%dx%d", st.c, st.s, st.s), func(b *testing.B) {
			const n = 128
			r := rng(4)
			x := req(nn.Randn(r, 1, n, st.c, st.s, st.s))
			w := req(nn.Randn(r, 0.05, st.c, st.c, 3, 3))
			seed := nn.Randn(r, 1, n, st.c, st.s, st.s).Data
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				x.ZeroGrad()
				w.ZeroGrad()
				y := nn.Conv2d(x, w, nil, 1, 1)
				y.BackwardWith(seed)
				y.FreeGraph()
			}
			flops := 3 * 2 * float64(n*st.c*st.c*9*st.s*st.s)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
