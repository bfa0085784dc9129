package gradcheck

import (
	"fmt"
	"strings"
	"testing"

	"github.com/siambench/siambench/nn"
)

// recorder captures what Check reports instead of failing the real test.
type recorder struct {
	testing.TB
	errs, logs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Logf(format string, a ...any) { r.logs = append(r.logs, fmt.Sprintf(format, a...)) }

func TestCheckCatchesWrongGradient(t *testing.T) {
	x := nn.New([]float32{0.5, -1.5, 2}, 3).SetRequiresGrad(true)
	cases := []struct {
		name    string
		f       func() *nn.Tensor
		wantBad bool
	}{
		{"correct", func() *nn.Tensor { return nn.Mul(x, x) }, false},
		// x·sg(x): backprop gives x, the true derivative of x² is 2x
		{"stop-gradient-misuse", func() *nn.Tensor { return nn.Mul(x, x.Detach()) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			Check(r, tc.f, []Input{{Name: "x", T: x}}, Options{})
			if got := len(r.errs) > 0; got != tc.wantBad {
				t.Fatalf("reported errors %v, want errors: %v", r.errs, tc.wantBad)
			}
			if tc.wantBad && (!strings.HasPrefix(r.errs[0], "∂out[0]/∂x[0]: want 0.99") || !strings.HasSuffix(r.errs[0], "got 0.5")) {
				t.Fatalf("message %q, want ∂out[0]/∂x[0]: want ≈1, got 0.5", r.errs[0])
			}
		})
	}
}

func TestCheckRejectsInputWithoutGrad(t *testing.T) {
	x := nn.New([]float32{1}, 1)
	r := &recorder{}
	Check(r, func() *nn.Tensor { return nn.Exp(x) }, []Input{{Name: "x", T: x}}, Options{})
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], `input "x" does not require gradients`) {
		t.Fatalf("errors %v", r.errs)
	}
}

func TestAllowKinks(t *testing.T) {
	// ReLU at exactly 0 has no derivative: one-sided differences 0 and 1
	x := nn.New([]float32{0, 1, -1}, 3).SetRequiresGrad(true)
	f := func() *nn.Tensor { return nn.ReLU(x) }
	strict := &recorder{}
	Check(strict, f, []Input{{Name: "x", T: x}}, Options{})
	if len(strict.errs) == 0 {
		t.Fatal("a kink passed the strict check")
	}
	lenient := &recorder{}
	Check(lenient, f, []Input{{Name: "x", T: x}}, Options{AllowKinks: true})
	// the kink is 1 of 9 Jacobian entries: more than the 10% AllowKinks tolerates
	if len(lenient.errs) != 1 || !strings.Contains(lenient.errs[0], "over 10%") {
		t.Fatalf("want the over-10%% error for 1 kink in 9 entries, got %v", lenient.errs)
	}
}
