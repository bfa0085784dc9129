package models

import (
	"syscall"
	"testing"
	"time"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gemm"
	"github.com/siambench/siambench/nn/optim"
)

func gemmName() string { b := gemm.Current(); return b.Name() + " (" + b.Info() + ")" }

// useEnvBackend selects the GEMM backend named by $SIAMBENCH_GEMM, if set.
func useEnvBackend(b *testing.B) {
	be, err := gemm.FromEnv()
	if err != nil {
		b.Fatal(err)
	}
	gemm.Use(be)
}

// BenchmarkRefNetStep times one training step (forward, backward, SGD
// momentum 0.9) of the reference network at batch 256 on 1×28×28 input:
// the engine's headline number (DESIGN.md, Compute engine).
func BenchmarkRefNetStep(b *testing.B) {
	useEnvBackend(b)
	b.Logf("gemm backend: %s", gemmName())
	net := NewRefNetClassifier(1, 10, rng(1))
	opt := optim.NewSGD([]optim.Group{{Params: net.Params()}}, 0.9, false)
	x := nn.Randn(rng(2), 1, 256, 1, 28, 28)
	labels := make([]int, 256)
	for i := range labels {
		labels[i] = i % 10
	}
	step := func() {
		opt.ZeroGrad()
		loss := nn.CrossEntropy(net.Forward(x), labels)
		loss.Backward()
		opt.Step(0.01)
		loss.FreeGraph()
	}
	step() // warm the scratch pools
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		step()
	}
	// CPU time per step: on a shared machine wall time mostly measures the
	// other processes; CPU seconds / 2 is the wall time on 2 idle cores.
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
	// 109.28 MFLOP of convolution per image per step (DESIGN.md)
	b.ReportMetric(109.28e6*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkConvBN times forward+backward of conv3x3(32→32)-BN-ReLU at batch
// 256 on 28×28 maps: the reference network's dominant layer.
func BenchmarkConvBN(b *testing.B) {
	useEnvBackend(b)
	r := rng(3)
	x := nn.Randn(r, 1, 256, 32, 28, 28).SetRequiresGrad(true)
	cb := newConvBN(r, "l", 32, 32, 3, 1, 1)
	seed := make([]float32, 256*32*28*28)
	for i := range seed {
		seed[i] = 1e-3 * float32(i%7)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		x.ZeroGrad()
		y := nn.ReLU(cb.Forward(x))
		y.BackwardWith(seed)
		y.FreeGraph()
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
}

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
