// Package nn is siambench's compute engine: dense float32 tensors with
// reverse-mode automatic differentiation, the ops and layers that
// self-supervised methods and their backbones need, and the Module/Param
// registry that optimizers and checkpoints walk.
//
// Shape legend used throughout the package:
//
//	N=batch, C=channels, H,W=spatial, D=features, O=output channels,
//	K=inner (contracted) dimension, KH,KW=kernel height and width.
//
// Every op checks its input shapes and panics with a *ShapeError naming the
// op and the shapes when they do not fit (a programmer error). Callers at an
// API boundary (the SDK, the harness) turn such panics into errors with Catch.
//
// All matrix products go through gemm.Current(); every other kernel is a
// small unexported function over plain []float32 slices (see kernels.go), so
// that another device backend can replace them without touching the layers.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Tensor is a dense, row-major float32 array with an optional gradient and,
// when it was produced by an op while gradients are recorded, a link to the
// op that made it.
//
// Data is the tensor's storage (len == product of the shape). Grad has the
// same length once a backward pass reached the tensor, and is nil before.
// Only leaves (tensors not produced by a recorded op, e.g. parameters, or
// inputs marked with SetRequiresGrad) keep their Grad after Backward;
// intermediate gradients are dropped as soon as they have been propagated.
type Tensor struct {
	Data []float32
	Grad []float32

	shape        []int
	requiresGrad bool
	node         *node // nil for leaves
	pooled       bool  // Data came from the scratch pool (see FreeGraph)
}

// New wraps data (no copy) as a tensor of the given shape. It panics with a
// *ShapeError when len(data) differs from the product of shape or a
// dimension is negative. New(data) with no shape is a 1-D tensor.
func New(data []float32, shape ...int) *Tensor {
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	n := checkedNumel("New", shape)
	if n != len(data) {
		panic(shapeErrorf("New", [][]int{shape}, "shape holds %d elements but data has %d", n, len(data)))
	}
	return &Tensor{Data: data, shape: append([]int(nil), shape...)}
}

// Zeros returns a zero tensor of the given shape.
func Zeros(shape ...int) *Tensor {
	n := checkedNumel("Zeros", shape)
	return &Tensor{Data: make([]float32, n), shape: append([]int(nil), shape...)}
}

// empty returns a tensor whose Data comes from the scratch pool with
// arbitrary contents: for op outputs that are fully overwritten.
func empty(shape ...int) *Tensor {
	n := checkedNumel("empty", shape)
	t := &Tensor{Data: getScratch(n), shape: append([]int(nil), shape...), pooled: true}
	if arena.on.Load() > 0 { // inside NoGradRecycle: recycled when it returns
		arena.mu.Lock()
		arena.ts = append(arena.ts, t)
		arena.mu.Unlock()
	}
	return t
}

// zeroed is empty with the data cleared.
func zeroed(shape ...int) *Tensor {
	t := empty(shape...)
	clear(t.Data)
	return t
}

// Full returns a tensor of the given shape with every element v.
func Full(v float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// Scalar returns a 0-d tensor holding v.
func Scalar(v float32) *Tensor { return &Tensor{Data: []float32{v}, shape: []int{}} }

// Randn returns a tensor of normal(0, std²) samples drawn from rng.
func Randn(rng *rand.Rand, std float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64()) * std
	}
	return t
}

// Uniform returns a tensor of uniform samples in [lo, hi) drawn from rng.
func Uniform(rng *rand.Rand, lo, hi float32, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.Data {
		t.Data[i] = lo + (hi-lo)*float32(rng.Float64())
	}
	return t
}

func checkedNumel(op string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(shapeErrorf(op, [][]int{shape}, "negative dimension"))
		}
		n *= d
	}
	return n
}

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() []int { return append([]int(nil), t.shape...) }

// NDim returns the number of dimensions.
func (t *Tensor) NDim() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
// It panics with a *ShapeError when i is out of range.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	if i < 0 || i >= len(t.shape) {
		panic(shapeErrorf("Dim", [][]int{t.shape}, "dimension %d out of range", i))
	}
	return t.shape[i]
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Item returns the single element of a one-element tensor; it panics with a
// *ShapeError otherwise.
func (t *Tensor) Item() float32 {
	if len(t.Data) != 1 {
		panic(shapeErrorf("Item", [][]int{t.shape}, "tensor has %d elements, want 1", len(t.Data)))
	}
	return t.Data[0]
}

// RequiresGrad reports whether gradients flow to this tensor: it is a leaf
// marked with SetRequiresGrad, or the output of a recorded op.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// SetRequiresGrad marks a leaf tensor as needing a gradient (parameters,
// feature inputs whose gradient the caller wants) and returns t.
// It panics when called on a non-leaf tensor with false.
func (t *Tensor) SetRequiresGrad(b bool) *Tensor {
	if t.node != nil && !b {
		panic(shapeErrorf("SetRequiresGrad", [][]int{t.shape}, "cannot turn off gradients of an op output; use Detach"))
	}
	t.requiresGrad = b
	return t
}

// IsLeaf reports whether t was not produced by a recorded op.
func (t *Tensor) IsLeaf() bool { return t.node == nil }

// ZeroGrad sets the gradient to zero (keeping its storage) when it exists.
func (t *Tensor) ZeroGrad() {
	clear(t.Grad)
}

// Clone returns a deep copy of the data as a new leaf (no gradient, no graph).
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Data: append([]float32(nil), t.Data...), shape: t.Shape()}
}

// String prints the shape and, for small tensors, the values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%s", fmtShape(t.shape))
	if len(t.Data) <= 16 {
		fmt.Fprintf(&b, "%v", t.Data)
	}
	return b.String()
}

// sameShape reports whether a and b have identical shapes.
func sameShape(a, b []int) bool { return slices.Equal(a, b) }

func fmtShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// ---------------------------------------------------------------------------
// Errors

// ShapeError is the panic value of an op whose inputs have the wrong shapes
// (or an otherwise invalid argument such as a label out of range).
type ShapeError struct {
	Op     string  // the op, e.g. "MatMul"
	Shapes [][]int // the offending input shapes, in argument order
	Msg    string  // what is wrong
}

func (e *ShapeError) Error() string {
	parts := make([]string, len(e.Shapes))
	for i, s := range e.Shapes {
		parts[i] = fmtShape(s)
	}
	return fmt.Sprintf("nn.%s: %s (shapes %s)", e.Op, e.Msg, strings.Join(parts, ", "))
}

func shapeErrorf(op string, shapes [][]int, format string, args ...any) *ShapeError {
	cp := make([][]int, len(shapes))
	for i, s := range shapes {
		cp[i] = append([]int{}, s...)
	}
	return &ShapeError{Op: op, Shapes: cp, Msg: fmt.Sprintf(format, args...)}
}

// Catch runs fn and returns the *ShapeError it panicked with, or nil. Other
// panics propagate unchanged. API boundaries (SDK, harness) use it to turn a
// misuse of the ops into an error:
//
//	if err := nn.Catch(func() { out = model.Forward(x) }); err != nil { ... }
func Catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if se, ok := r.(*ShapeError); ok {
				err = se
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}

// Finite reports whether every value of xs is finite (no NaN, no ±Inf).
func Finite(xs []float32) bool {
	for _, v := range xs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}
