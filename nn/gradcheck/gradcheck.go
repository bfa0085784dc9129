// Package gradcheck compares the gradients that package nn computes by
// back-propagation with central finite differences, element by element.
//
// Use it in tests of every op, layer and loss:
//
//	x := nn.Randn(rng, 1, 3, 4).SetRequiresGrad(true)
//	gradcheck.Check(t, func() *nn.Tensor { return nn.Softmax(x) },
//		[]gradcheck.Input{{Name: "x", T: x}}, gradcheck.Options{})
//
// Every input is checked in its own subtest, so an input whose gradient was
// silently skipped shows up by name. Failures read
// "∂out[i]/∂x[j]: want a, got b" (want = finite difference).
package gradcheck

import (
	"fmt"
	"math"
	"testing"

	"github.com/siambench/siambench/nn"
)

// Input is one tensor the function depends on; it must require gradients.
type Input struct {
	Name string
	T    *nn.Tensor
}

// Options tune the comparison. Zero values mean the defaults.
type Options struct {
	// Step is the finite-difference step h (default 1e-2; the engine is float32).
	Step float64
	// Atol and Rtol: a derivative passes if |got−want| ≤ Atol + Rtol·|want|
	// (defaults 2e-3 and 2e-2).
	Atol, Rtol float64
	// MaxReports caps the failures reported per input (default 8).
	MaxReports int
	// AllowKinks excludes derivatives where the two one-sided differences
	// disagree beyond tolerance (a ReLU kink or max-pool tie within the step,
	// where no finite difference is meaningful), as long as at most 10% of an
	// input's entries are excluded. For composite networks; single ops are
	// tested on inputs kept away from kinks, with AllowKinks off.
	AllowKinks bool
}

func (o *Options) defaults() {
	if o.Step == 0 {
		o.Step = 1e-2
	}
	if o.Atol == 0 {
		o.Atol = 2e-3
	}
	if o.Rtol == 0 {
		o.Rtol = 2e-2
	}
	if o.MaxReports == 0 {
		o.MaxReports = 8
	}
}

// Jacobians returns, for each input, the analytic Jacobian (by
// BackwardWith of one-hot seeds) and the numeric one (central differences,
// differences taken in float64), both indexed [i*len(x)+j] for ∂out[i]/∂x[j].
func Jacobians(f func() *nn.Tensor, inputs []Input, step float64) (analytic, numeric [][]float64, err error) {
	analytic, numeric, _, err = jacobians(f, inputs, step)
	return analytic, numeric, err
}

// jacobians also returns, per entry, |forward − backward one-sided difference|.
func jacobians(f func() *nn.Tensor, inputs []Input, step float64) (analytic, numeric, spread [][]float64, err error) {
	for _, in := range inputs {
		if !in.T.RequiresGrad() {
			return nil, nil, nil, fmt.Errorf("input %q does not require gradients: call SetRequiresGrad(true)", in.Name)
		}
	}
	out := f()
	nOut := out.Len()
	var base []float32
	nn.NoGrad(func() { base = append([]float32(nil), f().Data...) })
	analytic = make([][]float64, len(inputs))
	numeric = make([][]float64, len(inputs))
	spread = make([][]float64, len(inputs))
	for k, in := range inputs {
		analytic[k] = make([]float64, nOut*in.T.Len())
		numeric[k] = make([]float64, nOut*in.T.Len())
		spread[k] = make([]float64, nOut*in.T.Len())
	}
	seed := make([]float32, nOut)
	for i := 0; i < nOut; i++ {
		for _, in := range inputs {
			in.T.ZeroGrad()
		}
		clear(seed)
		seed[i] = 1
		out.BackwardWith(seed)
		for k, in := range inputs {
			n := in.T.Len()
			if in.T.Grad == nil {
				continue // no gradient reached it: all zeros
			}
			for j := 0; j < n; j++ {
				analytic[k][i*n+j] = float64(in.T.Grad[j])
			}
		}
	}
	for _, in := range inputs {
		in.T.Grad = nil
	}
	for k, in := range inputs {
		n := in.T.Len()
		for j := 0; j < n; j++ {
			orig := in.T.Data[j]
			var plus, minus []float32
			nn.NoGrad(func() {
				in.T.Data[j] = orig + float32(step)
				plus = append([]float32(nil), f().Data...)
				in.T.Data[j] = orig - float32(step)
				minus = append([]float32(nil), f().Data...)
			})
			in.T.Data[j] = orig
			// the actual step after float32 rounding
			h := float64(orig+float32(step)) - float64(orig-float32(step))
			for i := 0; i < nOut; i++ {
				numeric[k][i*n+j] = (float64(plus[i]) - float64(minus[i])) / h
				fwd := (float64(plus[i]) - float64(base[i])) / (h / 2)
				bwd := (float64(base[i]) - float64(minus[i])) / (h / 2)
				spread[k][i*n+j] = math.Abs(fwd - bwd)
			}
		}
	}
	return analytic, numeric, spread, nil
}

// Check fails t when an analytic derivative of f's output with respect to
// an input differs from the central finite difference beyond tolerance.
// f must be deterministic and rebuild its graph from the inputs each call.
func Check(t testing.TB, f func() *nn.Tensor, inputs []Input, opt Options) {
	t.Helper()
	opt.defaults()
	analytic, numeric, spread, err := jacobians(f, inputs, opt.Step)
	if err != nil {
		t.Fatalf("gradcheck: %v", err)
		return
	}
	for k, in := range inputs {
		run(t, in.Name, func(t testing.TB) {
			n := in.T.Len()
			bad, kinks := 0, 0
			for idx, want := range numeric[k] {
				got := analytic[k][idx]
				tol := opt.Atol + opt.Rtol*math.Abs(want)
				if math.Abs(got-want) <= tol {
					continue
				}
				if opt.AllowKinks && spread[k][idx] > tol {
					kinks++
					continue
				}
				if bad < opt.MaxReports {
					t.Errorf("∂out[%d]/∂%s[%d]: want %.6g, got %.6g", idx/n, in.Name, idx%n, want, got)
				}
				bad++
			}
			if bad > opt.MaxReports {
				t.Errorf("… and %d more mismatches in %s", bad-opt.MaxReports, in.Name)
			}
			if kinks > 0 {
				t.Logf("%s: %d of %d derivatives excluded: one-sided differences disagree (kink within the step)", in.Name, kinks, len(numeric[k]))
				if kinks*10 > len(numeric[k]) {
					t.Errorf("%s: %d of %d derivatives not differentiable within the step (over 10%%): use a smaller Step or inputs away from kinks", in.Name, kinks, len(numeric[k]))
				}
			}
		})
	}
}

// run runs fn as a subtest when t is a *testing.T (or *testing.B), else inline.
func run(t testing.TB, name string, fn func(testing.TB)) {
	switch tt := t.(type) {
	case *testing.T:
		tt.Run(name, func(t *testing.T) { fn(t) })
	case *testing.B:
		tt.Run(name, func(b *testing.B) { fn(b) })
	default:
		fn(t)
	}
}
