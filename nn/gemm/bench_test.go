package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the GEMMs of one training step of DESIGN.md's reference
// network (im2col: col is (C·9)×(images·H·W)), plus square sizes.
//
//	fwd:  Y(cout × NHW)   = W(cout × cin·9) · col(cin·9 × NHW)
//	dW:   dW(cout × cin·9) = dY(cout × NHW) · colᵀ           (transB, long k)
//	dcol: dcol(cin·9 × NHW) = Wᵀ · dY                         (transA)
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	// What nn's conv issues: im2col in chunks of at most 1 MiB (L2), i.e.
	// one 28×28 image per GEMM at K=288, two 14×14 images at K=576.
	{"img-conv2-fwd:M32,K288,N784", false, false, 32, 784, 288},
	{"img-conv2-dW:M32,N288,K784", false, true, 32, 288, 784},
	{"img-conv2-dcol:M288,N784,K32", true, false, 288, 784, 32},
	{"img-conv4-fwd:M64,K576,N2x196", false, false, 64, 392, 576},
	{"img-conv4-dW:M64,N576,K2x196", false, true, 64, 576, 392},
	{"img-conv4-dcol:M576,N2x196,K64", true, false, 576, 392, 64},
	// The same GEMMs over the whole batch at once.
	{"conv2-fwd:M32,K288,N256x28x28", false, false, 32, 256 * 28 * 28, 288},
	{"conv4-fwd:M64,K576,N256x14x14", false, false, 64, 256 * 14 * 14, 576},
	{"conv3-fwd:M64,K288,N256x14x14", false, false, 64, 256 * 14 * 14, 288},
	{"conv2-dW:M32,N288,K256x28x28", false, true, 32, 288, 256 * 28 * 28},
	{"conv4-dcol:M576,N256x14x14,K64", true, false, 576, 256 * 14 * 14, 64},
	{"square-512", false, false, 512, 512, 512},
	{"square-1024", false, false, 1024, 1024, 1024},
}

// BenchmarkSgemm reports, for every compiled-in fast backend on the shapes
// above, GFLOP/s (2·m·n·k per call over wall time) and GFLOP/cpu-s (over the
// process's CPU time: per-core efficiency, which stays meaningful when other
// processes share the cores and wall time does not):
//
//	go test ./nn/gemm -run '^$' -bench Sgemm
func BenchmarkSgemm(b *testing.B) {
	backends := []Backend{Go{}, Gonum{}}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range benchShapes {
		aLen, bLen := s.m*s.k, s.k*s.n
		lda, ldb := s.k, s.n
		if s.transA {
			lda = s.m
		}
		if s.transB {
			ldb = s.k
		}
		a, bm, c := randSlice(rng, aLen), randSlice(rng, bLen), make([]float32, s.m*s.n)
		for _, be := range backends {
			b.Run(fmt.Sprintf("%s/%s", s.name, be.Name()), func(b *testing.B) {
				be.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n) // fault pages in
				cpu0 := processCPUSeconds()
				for b.Loop() {
					be.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
				cpu := processCPUSeconds() - cpu0
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				if cpu > 0 {
					b.ReportMetric(flops/cpu/1e9, "GFLOP/cpu-s")
				}
			})
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*rng.Float32() - 1
	}
	return s
}
