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
// "go", "openblas", "gonum", "naive", or "" / "auto" for Default.
const EnvVar = "SIAMBENCH_GEMM"

// registry maps backend names to constructors. It is filled by init
// functions only (the pure-Go backends here, OpenBLAS when compiled in) and
// read-only afterwards.
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
// kernels). An unknown name, a kernel this CPU cannot run, or "openblas" in
// a binary built without cgo, is an error that lists the available names.
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
		return nil, fmt.Errorf("gemm backend %q is not compiled into this binary (it needs cgo and libopenblas-dev: run `make deps` and rebuild with CGO_ENABLED=1); available: %s",
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

// coreTypeOverride reports whether OPENBLAS_CORETYPE is set in the
// environment, which makes OpenBLAS use that kernel instead of the one it
// would detect for this CPU.
func coreTypeOverride() (string, bool) {
	v, ok := os.LookupEnv("OPENBLAS_CORETYPE")
	return v, ok && v != ""
}

// defaultNote, when set (by the OpenBLAS backend), explains a Default that
// is not the backend one would expect; "" means nothing to explain.
var defaultNote func() string

var logOnce sync.Once

// LogChoice logs, once per process, which GEMM backend Current() returns and
// its Info (threads, OpenBLAS kernel core), and why OpenBLAS was passed over
// when it is compiled in but Default chose Go. When the backend is OpenBLAS and
// OPENBLAS_CORETYPE is set, it also logs a warning: the variable forces that
// kernel (Haswell = AVX2 kernels), which on an AVX-512 CPU costs about half
// the sgemm throughput. LogChoice does not change the variable; OpenBLAS
// reads it when the library loads, so only the user can. A nil logger means
// slog.Default().
func LogChoice(l *slog.Logger) {
	logOnce.Do(func() { logChoice(l, Current()) })
}

func logChoice(l *slog.Logger, b Backend) {
	if l == nil {
		l = slog.Default()
	}
	l.Info("gemm backend", "name", b.Name(), "info", b.Info())
	if defaultNote != nil && b.Name() == Default().Name() {
		if note := defaultNote(); note != "" {
			l.Warn("gemm backend: OpenBLAS is compiled in but not the default", "why", note)
		}
	}
	if ct, ok := coreTypeOverride(); ok && b.Name() == "openblas" {
		l.Warn("OPENBLAS_CORETYPE is set: OpenBLAS uses the forced kernel instead of the one detected for this CPU",
			"OPENBLAS_CORETYPE", ct,
			"cost", "on an AVX-512 CPU a forced Haswell (AVX2) kernel runs sgemm at about half speed",
			"fix", "unset OPENBLAS_CORETYPE before starting the process if your OpenBLAS is known to be correct on this CPU")
	}
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
