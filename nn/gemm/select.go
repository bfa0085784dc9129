package gemm

import (
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
)

// EnvVar names the environment variable the harness reads to pick a backend:
// "go", "go:KERNEL", "gonum", "naive", or "" / "auto" for Default.
const EnvVar = "SIAMBENCH_GEMM"

// registry maps backend names to constructors. It is filled by init
// functions only and read-only afterwards.
var registry = map[string]func() Backend{
	"naive": func() Backend { return Naive{} },
}

func register(name string, f func() Backend) { registry[name] = f }

// Names returns the names of the backends compiled into this binary, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Parse returns the backend called name (case-insensitive, surrounding space
// ignored). "" and "auto" give Default(); "go:KERNEL" is the Go backend on
// the named micro-kernel (go:avx2-6x16 on an AVX-512 CPU, to compare
// kernels). An unknown name or a kernel this CPU cannot run is an error that
// lists the available names; "openblas" says why that backend is gone.
func Parse(name string) (Backend, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" || n == "auto" || n == "default" {
		return Default(), nil
	}
	if kn, ok := strings.CutPrefix(n, "go:"); ok {
		var names []string
		for _, k := range cpuKernels() {
			if k.name == kn {
				return Go{kernel: k}, nil
			}
			names = append(names, k.name)
		}
		return nil, fmt.Errorf("gemm backend %q: this CPU's Go micro-kernels are %s", name, strings.Join(names, ", "))
	}
	if f, ok := registry[n]; ok {
		return f(), nil
	}
	if n == "openblas" {
		return nil, fmt.Errorf("gemm backend %q was removed: it cannot run the fused convolution products and measured 2.3× slower than the Go backend per training step (docs/gemm.md); choose one of %s, or auto",
			name, strings.Join(Names(), ", "))
	}
	return nil, fmt.Errorf("unknown gemm backend %q: choose one of %s, or auto", name, strings.Join(Names(), ", "))
}

// FromEnv returns the backend named by $SIAMBENCH_GEMM (Default when unset).
// The error names the variable so the user knows what to fix.
func FromEnv() (Backend, error) {
	v := os.Getenv(EnvVar)
	b, err := Parse(v)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", EnvVar, v, err)
	}
	return b, nil
}

var logOnce sync.Once

// LogChoice logs, once per process, which GEMM backend Current() returns and
// its Info (micro-kernel, threads). A nil logger means slog.Default().
func LogChoice(l *slog.Logger) {
	logOnce.Do(func() {
		if l == nil {
			l = slog.Default()
		}
		b := Current()
		l.Info("gemm backend", "name", b.Name(), "info", b.Info())
	})
}

// scaleC computes C = beta·C over an m×n matrix with row stride ldc; beta 0
// writes zeros without reading C (BLAS semantics: NaNs in C do not survive).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
