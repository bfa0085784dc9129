package nn

// Concat and Split along axis 0 (the batch).

// Concat stacks tensors along axis 0; all must have the same shape apart
// from dimension 0. It panics with a *ShapeError otherwise or when ts is empty.
func Concat(ts []*Tensor) *Tensor {
	if len(ts) == 0 {
		panic(shapeErrorf("Concat", nil, "no tensors"))
	}
	first := ts[0].shape
	if len(first) == 0 {
		panic(shapeErrorf("Concat", [][]int{first}, "cannot concatenate 0-d tensors"))
	}
	total := 0
	for _, t := range ts {
		if len(t.shape) != len(first) || !sameShape(t.shape[1:], first[1:]) {
			panic(shapeErrorf("Concat", [][]int{first, t.shape}, "shapes differ beyond axis 0"))
		}
		total += t.shape[0]
	}
	shape := append([]int{total}, first[1:]...)
	out := empty(shape...)
	off := 0
	offs := make([]int, len(ts))
	for i, t := range ts {
		offs[i] = off
		copy(out.Data[off:], t.Data)
		off += len(t.Data)
	}
	return record(out, "Concat", func(dout []float32) {
		for i, t := range ts {
			if g := gradOf(t); g != nil {
				addTo(g, dout[offs[i]:offs[i]+len(t.Data)])
			}
		}
	}, ts...)
}

// Split cuts t along axis 0 into pieces of the given sizes, which must sum
// to t's dimension 0. Each piece is a new tensor (copied); gradients flow
// back to t.
func Split(t *Tensor, sizes ...int) []*Tensor {
	if len(t.shape) == 0 {
		panic(shapeErrorf("Split", [][]int{t.shape}, "cannot split a 0-d tensor"))
	}
	sum := 0
	for _, s := range sizes {
		if s < 0 {
			panic(shapeErrorf("Split", [][]int{t.shape, sizes}, "negative size"))
		}
		sum += s
	}
	if sum != t.shape[0] {
		panic(shapeErrorf("Split", [][]int{t.shape, sizes}, "sizes sum to %d, dimension 0 is %d", sum, t.shape[0]))
	}
	row := 1
	for _, d := range t.shape[1:] {
		row *= d
	}
	outs := make([]*Tensor, len(sizes))
	off := 0
	for i, s := range sizes {
		shape := append([]int{s}, t.shape[1:]...)
		o := empty(shape...)
		lo := off * row
		copy(o.Data, t.Data[lo:lo+s*row])
		outs[i] = record(o, "Split", func(dout []float32) {
			if g := gradOf(t); g != nil {
				addTo(g[lo:lo+len(dout)], dout)
			}
		}, t)
		off += s
	}
	return outs
}
