package gemm

import (
	"strings"
	"testing"

	"github.com/siambench/siambench/nn/gemm/internal/kern"
)

// TestDefaultPerCPUClass pins the backend and micro-kernel chosen for each
// class of CPU: Default is the Go backend everywhere, on the fastest kernel
// the class can run. On this CPU the chosen kernel also runs and agrees with
// the naive reference (the classes it cannot run are checked for the choice
// only; calling their kernels here would fault).
func TestDefaultPerCPUClass(t *testing.T) {
	cases := []struct {
		name     string
		features kern.Features
		want     string
	}{
		{"avx512 (Intel and AMD)", kern.Features{AVX512: true, AVX2FMA: true}, "avx512-8x32"},
		{"avx2 only", kern.Features{AVX2FMA: true}, "avx2-6x16"},
		{"neither", kern.Features{}, "generic-4x4"},
	}
	here := kern.Detect()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks := kernelsFor(tc.features)
			if len(kern.Available()) == 0 && tc.want != "generic-4x4" {
				// A build without the assembly kernels (-tags purego or
				// another architecture) offers the portable one only.
				tc.want = "generic-4x4"
			}
			if ks[0].name != tc.want {
				t.Fatalf("kernel for %+v = %s, want %s", tc.features, ks[0].name, tc.want)
			}
			if last := ks[len(ks)-1]; last != kernelGeneric {
				t.Fatalf("kernel list for %+v ends with %s, want the portable kernel", tc.features, last.name)
			}
			runnable := (!tc.features.AVX512 || here.AVX512) && (!tc.features.AVX2FMA || here.AVX2FMA)
			if !runnable {
				return
			}
			b, err := Parse("go:" + ks[0].name)
			if err != nil {
				t.Fatalf("Parse(go:%s) on a CPU that can run it: %v", ks[0].name, err)
			}
			if !strings.Contains(b.Info(), "kernel="+tc.want) {
				t.Fatalf("Parse(go:%s).Info() = %q", ks[0].name, b.Info())
			}
			const m, n, k = 37, 45, 29
			a, bm := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range bm {
				bm[i] = float32(i%5) - 2
			}
			got, want := make([]float32, m*n), make([]float32, m*n)
			b.Sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, got, n)
			Naive{}.Sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, want, n)
			for i := range got {
				if got[i] != want[i] { // small integers: exact in float32
					t.Fatalf("go:%s C[%d] = %v, want %v", ks[0].name, i, got[i], want[i])
				}
			}
		})
	}
	if got := Default().Name(); got != "go" {
		t.Fatalf("Default() = %s, want go", got)
	}
	if got, want := Default().Info(), "kernel="+kernelsFor(here)[0].name; !strings.Contains(got, want) {
		t.Fatalf("Default().Info() = %q, want %s", got, want)
	}
}

// TestOpenBLASIsGone: asking for the removed backend says why and what to
// use instead, rather than "unknown".
func TestOpenBLASIsGone(t *testing.T) {
	_, err := Parse("openblas")
	if err == nil || !strings.Contains(err.Error(), "removed") || !strings.Contains(err.Error(), "go") {
		t.Fatalf("Parse(openblas): error %v should say it was removed and name the alternatives", err)
	}
}
