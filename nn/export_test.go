package nn

// SetPoisonScratch makes every recycled buffer start as NaN (tests only).
func SetPoisonScratch(on bool) { poisonScratch.Store(on) }

// Conv2dNaive computes the same as Conv2d with direct loops: the reference
// the fast path is tested against.
func Conv2dNaive(x, w, b *Tensor, stride, pad int) *Tensor {
	g := convCheck("Conv2dNaive", x, w, b, stride, pad)
	out := empty(g.n, g.o, g.oh, g.ow)
	var bias []float32
	if b != nil {
		bias = b.Data
	}
	convForwardNaive(out.Data, x.Data, w.Data, bias, g)
	return record(out, "Conv2dNaive", func(dout []float32) {
		var db []float32
		if b != nil {
			db = gradOf(b)
		}
		convBackwardNaive(gradOf(x), gradOf(w), db, dout, x.Data, w.Data, g)
	}, x, w, b)
}

// ScratchHeld is the bytes the free lists hold (tests only).
func ScratchHeld() int64 { return scratchHeld.Load() }
