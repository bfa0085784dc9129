package nn

import (
	"fmt"
	"sync/atomic"

	"github.com/siambench/siambench/nn/gemm"
)

// Precision of the convolution products. FP32 everything is the default.
// With BF16, the forward pass and the input gradient of every convolution
// that runs as a fused tap product (3×3 and other odd square kernels at
// stride 1, same padding, and the stride-2 forward) round their operands
// to bfloat16 and multiply them on AMX with float32 sums; weight
// gradients, linear layers, batch norm, losses, the optimizer and the
// weights themselves stay float32 (mixed precision as PyTorch's CPU
// autocast, with the same two operand roundings per product).
type Precision string

const (
	FP32 Precision = "fp32"
	BF16 Precision = "bf16"
)

// Precisions lists the precisions SetPrecision takes.
func Precisions() []Precision { return []Precision{FP32, BF16} }

var useBF16 atomic.Bool

// SetPrecision sets the precision of the convolution products for this
// process. BF16 needs a CPU with AMX-BF16 (Intel Sapphire Rapids or later)
// and the Go GEMM backend; where they are missing it returns an error
// saying so and leaves the precision as it was, never emulating bf16
// slowly.
func SetPrecision(p Precision) error {
	switch p {
	case FP32:
		useBF16.Store(false)
		return nil
	case BF16:
		if _, err := gemm.BF16TapsOf(gemm.Current()); err != nil {
			return err
		}
		useBF16.Store(true)
		return nil
	}
	return fmt.Errorf("precision %q: choose fp32 or bf16", p)
}

// CurrentPrecision is the precision SetPrecision last set (FP32 at first).
func CurrentPrecision() Precision {
	if useBF16.Load() {
		return BF16
	}
	return FP32
}

// bf16Taps returns the AMX tap product when bf16 is on and backend be has
// one (a backend switched after SetPrecision may not: it then runs fp32).
func bf16Taps(be gemm.Backend) (gemm.BF16Taps, bool) {
	if !useBF16.Load() {
		return gemm.BF16Taps{}, false
	}
	t, err := gemm.BF16TapsOf(be)
	return t, err == nil
}

// tapTileNR is the tile width the tap products of backend be compute grids
// in (padded buffers and grids are laid out for it): AMX's with bf16 on,
// else the fused fp32 product's, else 1 (one Sgemm per tap).
func tapTileNR(be gemm.Backend) int {
	if t, ok := bf16Taps(be); ok {
		_, nr := t.TapTile()
		return nr
	}
	if f, ok := gemm.TapsOf(be); ok {
		_, nr := f.TapTile()
		return nr
	}
	return 1
}
