// Package kit holds the building blocks every method plugin needs besides its
// own heads and loss: typed options with range checks (over sdk.Options),
// head construction (MLPs whose BN placement is a parameter), head optimizer
// wiring (SGD/LARS from nn/optim, fixed-lr groups), state (de)serialisation
// (an nn/checkpoint file of named tensor sections plus JSON meta), and the
// output_std collapse metric; and Method, which puts them together so that a
// method is its spec, its heads and its loss (SimCLR, BYOL, SimSiam, the
// scaffold). The four built-in methods use it; a user's own plugin may too.
//
// Shape legend: N=batch, D=features, K=width of a head's output.
package kit

import (
	"fmt"

	"github.com/siambench/siambench/sdk"
)

// Options are a method's validated options (sdk.Options: typed getters,
// defaults filled in) plus range checks whose errors list the valid options.
type Options struct {
	sdk.Options
	specs []sdk.OptionSpec
}

// ParseOptions validates given against specs (see sdk.ParseOptions: an
// unknown option or a value of the wrong type is an error wrapping
// sdk.ErrBadInput that lists the valid options) and fills in defaults.
func ParseOptions(specs []sdk.OptionSpec, given map[string]string) (Options, error) {
	o, err := sdk.ParseOptions(specs, given)
	if err != nil {
		return Options{}, err
	}
	return Options{Options: o, specs: specs}, nil
}

// Invalid returns the error for an option whose value parses but is out of
// range for the method: it wraps sdk.ErrBadInput and names the option, its
// value, the constraint and every valid option, e.g.
// "bad input: option dim=0: must be at least 1; valid options: ...".
func (o Options) Invalid(name, constraint string) error {
	return fmt.Errorf("%w: option %s=%s: %s; valid options: %s",
		sdk.ErrBadInput, name, o.String(name), constraint, sdk.DescribeOptions(o.specs))
}

// IntAtLeast returns the "int" option name, or an Invalid error when it is
// below min.
func (o Options) IntAtLeast(name string, min int) (int, error) {
	v := o.Int(name)
	if v < min {
		return 0, o.Invalid(name, fmt.Sprintf("must be at least %d", min))
	}
	return v, nil
}

// FloatIn returns the "float" option name, or an Invalid error unless
// lo < value ≤ hi (the lower bound is open: 0 is never a valid temperature).
func (o Options) FloatIn(name string, lo, hi float64) (float64, error) {
	v := o.Float(name)
	if !(v > lo && v <= hi) {
		return 0, o.Invalid(name, fmt.Sprintf("must be in (%g, %g]", lo, hi))
	}
	return v, nil
}

// Checker reads range-checked options and keeps the first error, so Init
// reads several and tests once:
//
//	c := o.Check()
//	dim, hidden := c.IntAtLeast("dim", 1), c.IntAtLeast("hidden", 1)
//	if c.Err != nil {
//		return c.Err
//	}
//
// Once Err is set, later reads return 0 and leave it as it is.
type Checker struct {
	o   Options
	Err error // the first failed check's error (see Options.Invalid), or nil
}

// Check returns a Checker over o.
func (o Options) Check() *Checker { return &Checker{o: o} }

// IntAtLeast is Options.IntAtLeast, keeping the first error.
func (c *Checker) IntAtLeast(name string, min int) int {
	if c.Err != nil {
		return 0
	}
	v, err := c.o.IntAtLeast(name, min)
	c.Err = err
	return v
}

// FloatIn is Options.FloatIn, keeping the first error.
func (c *Checker) FloatIn(name string, lo, hi float64) float64 {
	if c.Err != nil {
		return 0
	}
	v, err := c.o.FloatIn(name, lo, hi)
	c.Err = err
	return v
}
