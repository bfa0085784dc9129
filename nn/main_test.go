package nn_test

import (
	"os"
	"testing"

	"github.com/siambench/siambench/nn"
)

// TestMain runs every test of the package with recycled buffers poisoned
// (NaN), so an op that reads part of an output or gradient buffer before
// writing it fails loudly wherever it is exercised.
func TestMain(m *testing.M) {
	nn.SetPoisonScratch(true)
	os.Exit(m.Run())
}
