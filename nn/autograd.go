package nn

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// node records how an op's output was made: its inputs and the function
// that, given the output's gradient, accumulates (+=) into their gradients.
type node struct {
	op       string
	inputs   []*Tensor
	backward func(dout []float32)
}

// noGradDepth counts active NoGrad calls. It is process-wide: while any
// goroutine is inside NoGrad, no goroutine records graph.
var noGradDepth atomic.Int32

// NoGrad runs fn with graph recording off: ops inside produce plain tensors
// without backward links (evaluation, EMA updates, monitors). Nested calls
// are fine. Recording is process-wide state, so do not train in another
// goroutine while one is inside NoGrad.
func NoGrad(fn func()) {
	noGradDepth.Add(1)
	defer noGradDepth.Add(-1)
	fn()
}

// NoGradRecycle runs fn like NoGrad, then hands the storage of every tensor
// an op made inside fn back to the engine's buffer pool, except the tensors
// fn returns (and any view sharing their storage). Use it for forward passes
// whose intermediate activations are garbage once fn returns — evaluation,
// EMA targets: FreeGraph cannot find them, since nothing was recorded, and
// left to the garbage collector they cost a fresh, zeroed allocation every
// batch. Like NoGrad it is process-wide: run no other ops in another
// goroutine meanwhile. Afterwards the Data of the recycled intermediates
// must not be used. Calls may nest; an inner call's results stay alive
// until the outer call decides.
func NoGradRecycle(fn func() []*Tensor) []*Tensor {
	keep, _ := noGradRecycle(fn, false)
	return keep
}

// ForwardBytes runs fn like NoGradRecycle, recycles everything its ops
// made (its results too) and returns the bytes of that storage: what a
// NoGradRecycle call of fn holds when fn returns, since every intermediate
// lives until then. Callers size forward-only batches to a memory budget
// with it (a probe batch of a few inputs scales linearly).
func ForwardBytes(fn func() []*Tensor) int64 {
	_, bytes := noGradRecycle(fn, true)
	return bytes
}

// noGradRecycle is NoGradRecycle; with all, fn's results are recycled too.
// It returns the bytes of pooled storage the ops inside fn made.
func noGradRecycle(fn func() []*Tensor, all bool) ([]*Tensor, int64) {
	arena.mu.Lock()
	start := len(arena.ts)
	arena.mu.Unlock()
	arena.on.Add(1)
	var keep []*Tensor
	func() {
		defer arena.on.Add(-1)
		NoGrad(func() { keep = fn() })
	}()
	kept := make(map[*float32]bool, len(keep))
	for _, k := range keep {
		if !all && k != nil && cap(k.Data) > 0 {
			kept[unsafe.SliceData(k.Data)] = true
		}
	}
	var bytes int64
	arena.mu.Lock()
	made := arena.ts[start:]
	var survivors []*Tensor
	for _, t := range made {
		if !t.pooled || cap(t.Data) == 0 {
			continue // freed meanwhile (FreeGraph)
		}
		bytes += 4 * int64(cap(t.Data))
		if kept[unsafe.SliceData(t.Data)] {
			survivors = append(survivors, t)
			continue
		}
		putScratch(t.Data)
		t.Data, t.pooled = nil, false
	}
	clear(made)
	arena.ts = arena.ts[:start]
	if arena.on.Load() > 0 { // nested: the outer call decides about the results
		arena.ts = append(arena.ts, survivors...)
	}
	arena.mu.Unlock()
	if all {
		keep = nil
	}
	return keep, bytes
}

// arena records the tensors ops make while NoGradRecycle runs.
var arena struct {
	on atomic.Int32
	mu sync.Mutex
	ts []*Tensor
}

// GradEnabled reports whether ops currently record graph.
func GradEnabled() bool { return noGradDepth.Load() == 0 }

// needsGraph reports whether an op on these inputs must record a node.
func needsGraph(ins ...*Tensor) bool {
	if noGradDepth.Load() != 0 {
		return false
	}
	for _, t := range ins {
		if t != nil && t.requiresGrad {
			return true
		}
	}
	return false
}

// record attaches a node to out when any input needs a gradient and
// recording is on. backward receives dout (out's gradient) and must add
// into the gradients of the inputs that need one (see gradOf).
func record(out *Tensor, op string, backward func(dout []float32), ins ...*Tensor) *Tensor {
	if !needsGraph(ins...) {
		return out
	}
	out.requiresGrad = true
	out.node = &node{op: op, inputs: ins, backward: backward}
	return out
}

// gradOf returns t's gradient storage, allocating zeros on first use, or nil
// when t needs no gradient (so backward functions can skip it).
func gradOf(t *Tensor) []float32 {
	if t == nil || !t.requiresGrad {
		return nil
	}
	if t.Grad == nil {
		if t.node != nil {
			// intermediate gradient: recycled when its node has run
			t.Grad = getScratch(len(t.Data))
			clear(t.Grad)
		} else {
			t.Grad = make([]float32, len(t.Data))
		}
	}
	return t.Grad
}

// gradFor is gradOf for a backward function that writes every element of
// the gradient: when the storage is new (an intermediate tensor's first
// gradient) it is returned uninitialised with fresh set, and the caller
// must clear each chunk right before accumulating into it (cache-hot)
// instead of the whole buffer being zeroed in a separate pass.
func gradFor(t *Tensor) (g []float32, fresh bool) {
	if t == nil || !t.requiresGrad {
		return nil, false
	}
	if t.Grad == nil && t.node != nil {
		t.Grad = getScratch(len(t.Data))
		return t.Grad, true
	}
	return gradOf(t), false
}

// adoptGrad hands out's gradient storage to in, whose gradient has not been
// allocated yet, and reports whether it did: a backward function whose
// input gradient is computed elementwise in place from dout (each element
// read before it is written) saves a buffer so. The engine does not
// recycle an adopted dout (out.Grad is nil when the function returns).
func adoptGrad(in, out *Tensor) bool {
	if in == nil || !in.requiresGrad || in.Grad != nil || in.node == nil ||
		out.Grad == nil || len(out.Grad) != len(in.Data) || in == out {
		return false
	}
	in.Grad, out.Grad = out.Grad, nil
	return true
}

// Detach returns a tensor sharing t's data with no link to the graph
// (stop-gradient): nothing flows back through it.
func (t *Tensor) Detach() *Tensor {
	return &Tensor{Data: t.Data, shape: t.Shape()}
}

// Backward computes the gradient of the scalar t with respect to every leaf
// that requires one, accumulating (+=) into their Grad. It panics with a
// *ShapeError when t has more than one element (use BackwardWith).
func (t *Tensor) Backward() {
	if len(t.Data) != 1 {
		panic(shapeErrorf("Backward", [][]int{t.shape}, "Backward needs a scalar; use BackwardWith to seed a gradient of this shape"))
	}
	t.BackwardWith([]float32{1})
}

// BackwardWith back-propagates the given gradient of t (same length as
// t.Data), accumulating into the Grad of every leaf that requires one. The
// graph is kept, so BackwardWith may be called again (gradients add up).
// A t that does not require a gradient is a no-op.
func (t *Tensor) BackwardWith(grad []float32) {
	if len(grad) != len(t.Data) {
		panic(shapeErrorf("BackwardWith", [][]int{t.shape, {len(grad)}}, "gradient has %d elements, tensor has %d", len(grad), len(t.Data)))
	}
	if !t.requiresGrad {
		return
	}
	t.backward(grad, false)
}

// BackwardFree is Backward followed by FreeGraph, but each intermediate
// tensor's storage is released as soon as the backward pass is past it
// (the last backward step that reads it has run), as PyTorch frees a
// graph's saved tensors. The gradients of the graph's leaves are the same
// as Backward's; what it saves is the peak memory of the backward pass,
// since the gradients of early layers reuse the storage of late layers'
// activations. Read what is needed from the graph (t's value included)
// before calling it; afterwards the graph is gone, as after FreeGraph.
func (t *Tensor) BackwardFree() {
	if len(t.Data) != 1 {
		panic(shapeErrorf("BackwardFree", [][]int{t.shape}, "BackwardFree needs a scalar; use BackwardWithFree to seed a gradient of this shape"))
	}
	t.BackwardWithFree([]float32{1})
}

// BackwardWithFree is BackwardWith followed by FreeGraph, releasing as it
// goes (see BackwardFree).
func (t *Tensor) BackwardWithFree(grad []float32) {
	if len(grad) != len(t.Data) {
		panic(shapeErrorf("BackwardWithFree", [][]int{t.shape, {len(grad)}}, "gradient has %d elements, tensor has %d", len(grad), len(t.Data)))
	}
	if !t.requiresGrad {
		t.FreeGraph()
		return
	}
	t.backward(grad, true)
}

// backward runs the graph below t in reverse topological order from grad.
// With free, every intermediate tensor is released once its own backward
// step has run: the steps that read a tensor are its own and its
// consumers', and a consumer comes later in the order, so it has run
// already. Tensors whose storage a leaf of the graph shares (a Detach or
// Reshape view used as an op's input without a link back) are released
// at the end instead, with t itself.
func (t *Tensor) backward(grad []float32, free bool) {
	order := topoOrder(t)
	var shared map[*float32]bool
	if free {
		shared = leafStorage(order)
	}
	g := gradOf(t)
	for i, v := range grad {
		g[i] += v
	}
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		if n.Grad != nil { // else no gradient reached it
			n.node.backward(n.Grad)
			putScratch(n.Grad) // intermediate gradient no longer needed (nil if adopted)
			n.Grad = nil
		}
		if free && n != t && (cap(n.Data) == 0 || !shared[unsafe.SliceData(n.Data)]) {
			n.release()
			order[i] = nil
		}
	}
	if !free {
		return
	}
	for _, n := range order {
		if n != nil {
			n.release()
		}
	}
}

// leafStorage returns the storage of every input of the graph's ops that is
// not itself an op output (nor a view linked back by Reshape).
func leafStorage(order []*Tensor) map[*float32]bool {
	m := map[*float32]bool{}
	for _, n := range order {
		for _, in := range n.node.inputs {
			if in != nil && in.node == nil && cap(in.Data) > 0 {
				m[unsafe.SliceData(in.Data)] = true
			}
		}
	}
	return m
}

// topoOrder returns the non-leaf tensors reachable from root, inputs before
// outputs. It is iterative so deep graphs cannot overflow the stack.
func topoOrder(root *Tensor) []*Tensor {
	var order []*Tensor
	if root.node == nil {
		return nil
	}
	visited := map[*Tensor]bool{root: true}
	type frame struct {
		t    *Tensor
		next int
	}
	stack := []frame{{t: root}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.t.node.inputs) {
			in := f.t.node.inputs[f.next]
			f.next++
			if in != nil && in.node != nil && !visited[in] {
				visited[in] = true
				stack = append(stack, frame{t: in})
			}
			continue
		}
		order = append(order, f.t)
		stack = stack[:len(stack)-1]
	}
	return order
}

// Reshape returns a tensor with the same data (shared, no copy) and a new
// shape; one dimension may be -1 and is inferred. Gradients flow through.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic(shapeErrorf("Reshape", [][]int{t.shape, shape}, "more than one -1"))
			}
			infer = i
			continue
		}
		if d < 0 {
			panic(shapeErrorf("Reshape", [][]int{t.shape, shape}, "negative dimension"))
		}
		known *= d
	}
	if infer >= 0 {
		if known == 0 || len(t.Data)%known != 0 {
			panic(shapeErrorf("Reshape", [][]int{t.shape, shape}, "cannot infer -1 for %d elements", len(t.Data)))
		}
		shape[infer] = len(t.Data) / known
		known *= shape[infer]
	}
	if known != len(t.Data) {
		panic(shapeErrorf("Reshape", [][]int{t.shape, shape}, "element count %d != %d", len(t.Data), known))
	}
	out := &Tensor{Data: t.Data, shape: shape}
	return record(out, "Reshape", func(dout []float32) {
		if dx := gradOf(t); dx != nil {
			addTo(dx, dout)
		}
	}, t)
}

// FreeGraph releases the graph below t for reuse: the storage of every
// intermediate tensor reachable from t (t itself included, leaves such as
// parameters and inputs excluded) goes back to the engine's scratch pool,
// and the backward links are dropped. On an op output made inside NoGrad it
// releases that tensor alone; on a tensor the caller made (New, Zeros) it
// does nothing.
//
// Call it once a training step is finished with the graph (after Backward
// and the optimizer step) to keep the step free of allocation and garbage
// collection. Afterwards the Data of those tensors, and of any view of them
// made by Reshape or Detach, must not be used: copy out what you still need
// first. Without FreeGraph the garbage collector reclaims the graph as usual.
func (t *Tensor) FreeGraph() {
	if t.node == nil {
		// an op output made without recording (NoGrad): only t itself
		if t.pooled {
			putScratch(t.Data)
			t.pooled = false
			t.Data = nil
		}
		return
	}
	for _, n := range topoOrder(t) {
		n.release()
	}
}

// release hands an intermediate tensor's storage back to the pool and cuts
// its backward link.
func (n *Tensor) release() {
	if n.pooled {
		putScratch(n.Data)
		n.pooled = false
	}
	if n.Grad != nil && n.node != nil {
		n.Grad = nil
	}
	n.Data = nil
	n.node = nil
	n.requiresGrad = false
}

// Custom makes out the result of a user-defined op on inputs, so gradients
// flow through it: backward receives out's gradient dout and must add (+=)
// ∂loss/∂inputs[i] into dins[i], which is nil for inputs that need no
// gradient. out must be a fresh tensor the caller computed from the
// inputs' Data (e.g. nn.Zeros then a loop); Custom returns it. Check a
// custom op with nn/gradcheck. Inside NoGrad, or when no input requires a
// gradient, nothing is recorded.
func Custom(name string, out *Tensor, backward func(dout []float32, dins [][]float32), inputs ...*Tensor) *Tensor {
	if out.node != nil {
		panic(shapeErrorf("Custom", [][]int{out.shape}, "output of %s is already an op's output; pass a fresh tensor", name))
	}
	return record(out, name, func(dout []float32) {
		dins := make([][]float32, len(inputs))
		for i, in := range inputs {
			dins[i] = gradOf(in)
		}
		backward(dout, dins)
	}, inputs...)
}
