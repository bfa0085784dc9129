// Package gemm holds the single-precision matrix multiply behind every dense
// and convolution layer of package nn, behind one small interface so that a
// different backend (gonum or the naive reference today, a GPU later) can be swapped in with
// Use without touching the layers.
//
// All matrices are row-major float32. Shapes follow BLAS:
//
//	C (m×n) = alpha·op(A)·op(B) + beta·C
//
// where op(A) is m×k (A is k×m when transA) and op(B) is k×n (B is n×k when
// transB). lda, ldb, ldc are the row strides of A, B and C as stored.
package gemm

import "sync/atomic"

// Backend is a single-precision GEMM implementation.
type Backend interface {
	// Name identifies the backend in logs and reports, e.g. "go" or "naive".
	Name() string
	// Info describes the backend's configuration (threads, kernel core) for logs.
	Info() string
	// Sgemm computes C = alpha·op(A)·op(B) + beta·C in place in c.
	// It panics if a slice is too short for the given shape (a programmer error).
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
		b []float32, ldb int, beta float32, c []float32, ldc int)
}

var current atomic.Pointer[backendBox]

type backendBox struct{ b Backend }

// Use makes b the backend used by Current. It is safe to call concurrently,
// but layers read Current once per op, so switch backends between steps.
func Use(b Backend) { current.Store(&backendBox{b}) }

// Current returns the backend set by Use, or the best backend compiled in
// (see Default) when Use was never called.
func Current() Backend {
	if p := current.Load(); p != nil {
		return p.b
	}
	b := Default()
	current.CompareAndSwap(nil, &backendBox{b})
	return current.Load().b
}

// Default returns the pure-Go backend on this CPU's fastest micro-kernel
// (Go{}), on every CPU: AVX-512, AVX2-only and neither (the portable kernel).
// It is the only backend with fused tap products (Taps), which the
// convolutions run on; docs/gemm.md has the measurements behind the choice.
func Default() Backend { return Go{} }

// Naive is the reference triple loop: slow, obviously correct, the oracle the
// fast backends are tested against.
type Naive struct{}

func (Naive) Name() string { return "naive" }
func (Naive) Info() string { return "naive triple loop (reference)" }

func (Naive) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs("naive", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// Serializer is implemented by backends that can run a GEMM entirely on the
// calling goroutine. Callers that parallelise over many independent GEMMs
// themselves (nn's convolution runs image by image on every core) use the
// serial variant, so that each core keeps its own operands in its own cache
// and no call waits for a thread pool to hand out and collect work.
type Serializer interface {
	// Serial returns a backend that computes the same products as the
	// receiver, using only the calling goroutine.
	Serial() Backend
}

// SerialOf returns b's serial variant when b has one (see Serializer).
func SerialOf(b Backend) (Backend, bool) {
	if s, ok := b.(Serializer); ok {
		return s.Serial(), true
	}
	return nil, false
}

// Serial returns Naive: it always runs on the calling goroutine.
func (Naive) Serial() Backend { return Naive{} }
