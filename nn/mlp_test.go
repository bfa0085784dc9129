package nn_test

import (
	"math/rand/v2"

	"github.com/siambench/siambench/nn"
)

// newMLP is for nn's own tests; heads are built with kit.NewMLP (nn cannot import it).

// block is one layer of an MLP: Linear(in→Out, with bias if Bias), then BN
// over Out features if BN, then ReLU if ReLU. SimSiam's projector is three
// blocks all with BN, the last without ReLU; its predictor is
// {2048→512, BN, ReLU} then {512→2048, no BN, no ReLU, Bias}.
type block struct {
	Out  int
	BN   bool
	ReLU bool
	Bias bool
}

// newMLP builds a Sequential named name from blocks, starting from in
// input features. Child names are "name.i.j.weight" etc. (i the block,
// j the layer within it).
func newMLP(rng *rand.Rand, name string, in int, blocks ...block) *nn.Sequential {
	var mods []nn.Module
	for _, b := range blocks {
		layer := []nn.Module{nn.NewLinear(rng, in, b.Out, b.Bias)}
		if b.BN {
			layer = append(layer, nn.NewBatchNorm(b.Out, true))
		}
		if b.ReLU {
			layer = append(layer, nn.NewReLU())
		}
		mods = append(mods, nn.NewSequential("", layer...))
		in = b.Out
	}
	return nn.NewSequential(name, mods...)
}
