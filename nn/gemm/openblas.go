//go:build cgo && !noopenblas

package gemm

// The OpenBLAS backend is compiled whenever cgo is available (the default on
// a machine with a C compiler); build with CGO_ENABLED=0 or -tags noopenblas
// to leave it out, and the pure-Go backend becomes the default.

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>

// sgemm_rm hides the CBLAS enum types, whose Go spelling depends on the C
// compiler, behind plain ints.
static void sgemm_rm(int ta, int tb, blasint m, blasint n, blasint k, float alpha,
                     const float *a, blasint lda, const float *b, blasint ldb,
                     float beta, float *c, blasint ldc) {
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
	            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
)

func init() {
	register("openblas", func() Backend { return OpenBLAS{} })
	defaultBackend = sync.OnceValue(func() Backend {
		if openBLASPassedOver() != "" {
			return Go{}
		}
		return OpenBLAS{}
	})
	defaultNote = openBLASPassedOver
}

// oldCores are OpenBLAS kernel cores without AVX2/FMA. OpenBLAS falls back
// to one of them (usually Prescott) on a CPU newer than its CPU table: Debian's
// 0.3.21 runs Prescott's SSE3 kernels on Sapphire/Emerald Rapids, 4-8× slower
// than the Go backend's AVX-512 kernel there.
var oldCores = []string{"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
	"coppermine", "northwood", "banias", "athlon", "opteron", "barcelona", "bobcat", "sandybridge", "nano", "generic"}

// openBLASPassedOver says why Default is Go rather than OpenBLAS, or "" when
// OpenBLAS is the default: it is passed over only when its kernel core lacks
// AVX2 while the Go backend has an AVX2 or AVX-512 micro-kernel.
func openBLASPassedOver() string {
	goKern := cpuKernels()[0]
	if goKern == kernelGeneric {
		return ""
	}
	core := OpenBLASCore()
	lc := strings.ToLower(core)
	for _, old := range oldCores {
		if strings.HasPrefix(lc, old) {
			return fmt.Sprintf("OpenBLAS runs its %s kernels (no AVX2) on this CPU while the Go backend has %s; "+
				"set %s=openblas to use OpenBLAS anyway, or OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2) if your OpenBLAS is known correct on this CPU",
				core, goKern.name, EnvVar)
		}
	}
	return ""
}

// OpenBLAS calls cblas_sgemm of the system OpenBLAS through cgo. It is the
// default backend when compiled in. OpenBLAS runs its own thread pool
// (openblas_get_num_threads, set by OPENBLAS_NUM_THREADS or
// OMP_NUM_THREADS), so callers should not also split one GEMM over
// goroutines. OpenBLAS picks its kernel at load time from the CPU, unless
// OPENBLAS_CORETYPE forces one (see LogChoice).
type OpenBLAS struct{}

// Name returns "openblas".
func (OpenBLAS) Name() string { return "openblas" }

// Info reports OpenBLAS's thread count, the kernel core it selected and its
// build configuration, e.g. "threads=2 core=Cooperlake config=OpenBLAS 0.3.21 ...".
func (OpenBLAS) Info() string {
	s := fmt.Sprintf("threads=%d core=%s config=%s", OpenBLASThreads(), OpenBLASCore(),
		strings.TrimSpace(C.GoString(C.openblas_get_config())))
	if ct, ok := coreTypeOverride(); ok {
		s += " OPENBLAS_CORETYPE=" + ct
	}
	return s
}

// OpenBLASThreads returns the size of OpenBLAS's thread pool.
func OpenBLASThreads() int { return int(C.openblas_get_num_threads()) }

// OpenBLASCore returns the name of the kernel core OpenBLAS is running,
// e.g. "Cooperlake", "SkylakeX" or "Haswell".
func OpenBLASCore() string { return strings.TrimSpace(C.GoString(C.openblas_get_corename())) }

// SetOpenBLASThreads resizes OpenBLAS's thread pool; n < 1 is treated as 1.
func SetOpenBLASThreads(n int) { C.openblas_set_num_threads(C.int(max(1, n))) }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with cblas_sgemm (row-major).
// It panics, naming the argument, if a size is negative, a leading dimension
// is too small or a slice is too short.
func (OpenBLAS) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs("openblas", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		// Nothing to multiply: C = beta·C. Done here because A or B may be an
		// empty slice we cannot take the address of.
		scaleC(m, n, beta, c, ldc)
		return
	}
	ta, tb := C.int(0), C.int(0)
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	C.sgemm_rm(ta, tb, C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(&a[0]), C.blasint(lda),
		(*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}
