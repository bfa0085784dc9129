package sdk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/siambench/siambench/nn"
)

// Errors the SDK and the host classify failures by (test with errors.Is).
var (
	// ErrBadInput marks an invalid request: unknown or bad options, wrong
	// number of views, wrong shapes, non-finite features, Step before Init.
	// Retrying the same call cannot succeed.
	ErrBadInput = errors.New("bad input")
	// ErrPanicked marks a panic inside the method, recovered by the SDK.
	// The method's state may be half-updated: restore it with SetState.
	ErrPanicked = errors.New("method panicked")
	// ErrNotSupported marks an optional call the method does not implement.
	ErrNotSupported = errors.New("not supported by this method")
)

// DetachedStepper is an optional interface for methods whose loss treats
// some function of the features as a constant (stop-gradient: SimSiam's
// sg(z), SwAV's codes). For such a method the gradient Step returns is not
// the derivative of the loss it returns, so the conformance suite checks it
// through StepDetached instead: the same step, except that every
// stop-gradient branch is computed from detached (one (B,D) tensor per view)
// rather than from in.Views. Step(in) must equal StepDetached(in, in.Views).
// The host never calls it during training.
type DetachedStepper interface {
	StepDetached(ctx context.Context, in StepInput, detached []*nn.Tensor) (StepOutput, error)
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// NumViews is the number of feature tensors a Step receives: the sum of
// the view groups' counts.
func (s Spec) NumViews() int {
	n := 0
	for _, v := range s.Views {
		n += v.Count
	}
	return n
}

// Validate checks that the spec is usable by the host: a lower-case name
// (it is the plugin's file-name suffix and the --methods key), at least one
// view, a known target schedule, well-formed options with valid defaults.
func (s Spec) Validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("spec: name %q must be lower-case letters, digits, '-' or '_', starting with a letter", s.Name)
	}
	if len(s.Views) == 0 {
		return fmt.Errorf("spec %s: no views: declare at least one ViewSpec", s.Name)
	}
	for i, v := range s.Views {
		if v.Count < 1 {
			return fmt.Errorf("spec %s: views[%d].count = %d, want ≥ 1", s.Name, i, v.Count)
		}
		if v.Preset == "" {
			return fmt.Errorf("spec %s: views[%d] has no augmentation preset", s.Name, i)
		}
	}
	if s.NumViews() < 2 {
		return fmt.Errorf("spec %s: %d view in total; a Siamese method needs at least 2", s.Name, s.NumViews())
	}
	if t := s.Target; t != nil {
		if t.Schedule != "cosine" && t.Schedule != "constant" {
			return fmt.Errorf("spec %s: target schedule %q, want cosine or constant", s.Name, t.Schedule)
		}
		if t.BaseMomentum < 0 || t.BaseMomentum >= 1 {
			return fmt.Errorf("spec %s: target base momentum %v, want in [0, 1)", s.Name, t.BaseMomentum)
		}
	}
	if s.Hyper.Optimizer != "" {
		if err := CheckOptimizer(s.Hyper.Optimizer); err != nil {
			return fmt.Errorf("spec %s: %w", s.Name, err)
		}
	}
	seen := map[string]bool{}
	for _, o := range s.Options {
		if o.Name == "" || seen[o.Name] {
			return fmt.Errorf("spec %s: option name %q empty or repeated", s.Name, o.Name)
		}
		seen[o.Name] = true
		if o.Type == "enum" && len(o.Choices) == 0 {
			return fmt.Errorf("spec %s: enum option %s has no choices", s.Name, o.Name)
		}
		if o.Min != nil || o.Max != nil || o.MinExclusive {
			if o.Type != "int" && o.Type != "float" {
				return fmt.Errorf("spec %s: option %s of type %s has a range; only int and float options can", s.Name, o.Name, o.Type)
			}
			for _, b := range []*float64{o.Min, o.Max} {
				if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
					return fmt.Errorf("spec %s: option %s: range bound %v is not finite (leave it nil for no bound)", s.Name, o.Name, *b)
				}
			}
			if o.MinExclusive && o.Min == nil {
				return fmt.Errorf("spec %s: option %s: MinExclusive without Min", s.Name, o.Name)
			}
			if o.Min != nil && o.Max != nil && *o.Min > *o.Max {
				return fmt.Errorf("spec %s: option %s: Min %v > Max %v", s.Name, o.Name, *o.Min, *o.Max)
			}
		}
		if err := checkValue(o, o.Default); err != nil {
			return fmt.Errorf("spec %s: default of %w", s.Name, err)
		}
	}
	return nil
}

// Optimizers are the optimizer names a Hyper may recommend and a run may
// set (--set METHOD.optimizer=…): the host trains the backbone, and kit the
// heads, with each of them.
var Optimizers = []string{"sgd", "lars"}

// CheckOptimizer returns an error naming the choices unless name is one of
// Optimizers.
func CheckOptimizer(name string) error {
	if slices.Contains(Optimizers, name) {
		return nil
	}
	return fmt.Errorf("optimizer %q: want %s", name, strings.Join(Optimizers, " or "))
}
