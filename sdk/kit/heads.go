package kit

import (
	"fmt"
	"math/rand/v2"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
)

// BN says whether and how a head layer normalises its output.
type BN int

const (
	// NoBN: Linear with bias, no normalisation.
	NoBN BN = iota
	// Affine: Linear without bias (BN's β replaces it), then BatchNorm with
	// learnable γ and β.
	Affine
	// Plain: Linear without bias, then BatchNorm without γ and β (SimSiam's
	// projector output, BatchNorm1d(affine=False) in the official code).
	Plain
)

// Layer is one layer of a head: Linear(in→Out), then BN, then ReLU if set.
type Layer struct {
	Out  int
	BN   BN
	ReLU bool
}

// NewMLP builds a head from layers, starting from in input features. Layer
// i's tensors are named "name.i.0.weight", "name.i.0.bias" (only without BN),
// "name.i.1.gamma"/"beta" (Affine) and "name.i.1.running_mean"/"running_var"
// (Affine and Plain). Linear weights are initialised as PyTorch's nn.Linear
// from rng. A non-positive width is an error wrapping sdk.ErrBadInput.
func NewMLP(rng *rand.Rand, name string, in int, layers ...Layer) (*nn.Sequential, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("%w: head %s: no layers", sdk.ErrBadInput, name)
	}
	mods := make([]nn.Module, len(layers))
	for i, l := range layers {
		if in < 1 || l.Out < 1 {
			return nil, fmt.Errorf("%w: head %s: layer %d maps %d → %d features; widths must be at least 1", sdk.ErrBadInput, name, i, in, l.Out)
		}
		seq := []nn.Module{nn.NewLinear(rng, in, l.Out, l.BN == NoBN)}
		switch l.BN {
		case Affine:
			seq = append(seq, nn.NewBatchNorm(l.Out, true))
		case Plain:
			seq = append(seq, nn.NewBatchNorm(l.Out, false))
		}
		if l.ReLU {
			seq = append(seq, nn.NewReLU())
		}
		mods[i] = nn.NewSequential("", seq...)
		in = l.Out
	}
	return nn.NewSequential(name, mods...), nil
}

// HasBN reports whether any layer normalises (then a training step needs a
// batch of at least 2).
func HasBN(layers ...Layer) bool {
	for _, l := range layers {
		if l.BN != NoBN {
			return true
		}
	}
	return false
}

// ForwardKeepStats applies m to x in m's current mode but leaves m's buffers
// (BN running statistics) as they were: for a second, stop-gradient pass
// over other inputs (sdk.DetachedStepper) that must not change the state a
// normal step leaves behind.
func ForwardKeepStats(m nn.Module, x *nn.Tensor) *nn.Tensor {
	bufs := m.Buffers()
	saved := make([][]float32, len(bufs))
	for i, b := range bufs {
		saved[i] = append([]float32(nil), b.T.Data...)
	}
	y := m.Forward(x)
	for i, b := range bufs {
		copy(b.T.Data, saved[i])
	}
	return y
}

// Leaves returns copies of xs as leaf tensors that require gradients: the
// method's view of the host's features, whose Grad after Backward is what
// Step returns.
func Leaves(xs []*nn.Tensor) []*nn.Tensor {
	out := make([]*nn.Tensor, len(xs))
	for i, x := range xs {
		out[i] = nn.New(append([]float32(nil), x.Data...), x.Shape()...).SetRequiresGrad(true)
	}
	return out
}

// Grads returns each leaf's gradient as a new tensor of its shape; a leaf
// no gradient reached gives zeros.
func Grads(leaves []*nn.Tensor) []*nn.Tensor {
	out := make([]*nn.Tensor, len(leaves))
	for i, x := range leaves {
		g := make([]float32, x.Len())
		copy(g, x.Grad)
		out[i] = nn.New(g, x.Shape()...)
	}
	return out
}
