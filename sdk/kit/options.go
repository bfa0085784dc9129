// Package kit holds the building blocks every method plugin needs besides its
// own heads and loss: typed option parsing over sdk.OptionSpec, head
// optimizer wiring, state (de)serialisation, and the output_std collapse
// metric. The four built-in methods use it; a user's own plugin may too.
package kit

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/siambench/siambench/sdk"
)

// Options is a validated, typed view of a method's options: every key of the
// given map names a spec, every value parses as its spec's type, and every
// spec without a given value holds its default.
//
// The accessors (Bool, Int, Float, String) panic when name is not one of the
// specs or is read with the wrong type: that is a programmer error in the
// method, not bad user input, which ParseOptions has already rejected.
type Options struct {
	specs []sdk.OptionSpec
	raw   map[string]string
}

// ParseOptions validates given against specs and fills in defaults. An
// unknown key, a value that does not parse as its type, or an enum value
// outside its choices is an error that names the bad option and lists every
// valid option with its type, default and choices. A nil or empty given map
// means all defaults. Each spec's own Default must be valid; if it is not,
// the error says so (a bug in the method's Describe).
func ParseOptions(specs []sdk.OptionSpec, given map[string]string) (*Options, error) {
	o := &Options{specs: specs, raw: make(map[string]string, len(specs))}
	for _, s := range specs {
		if err := checkValue(s, s.Default); err != nil {
			return nil, fmt.Errorf("option %s: invalid default %q in the method's spec: %w", s.Name, s.Default, err)
		}
		o.raw[s.Name] = s.Default
	}
	// Report unknown keys in a stable order.
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s, ok := o.spec(k)
		if !ok {
			return nil, fmt.Errorf("unknown option %q; %s", k, ValidOptions(specs))
		}
		v := strings.TrimSpace(given[k])
		if err := checkValue(s, v); err != nil {
			return nil, fmt.Errorf("option %s=%q: %w; %s", k, given[k], err, ValidOptions(specs))
		}
		o.raw[k] = v
	}
	return o, nil
}

// ValidOptions renders specs as one line for error messages:
// "valid options: dim (int, default 512), head_bn (enum none|hidden|default|all, default default), ...".
func ValidOptions(specs []sdk.OptionSpec) string {
	if len(specs) == 0 {
		return "this method takes no options"
	}
	parts := make([]string, len(specs))
	for i, s := range specs {
		typ := s.Type
		if s.Type == "enum" {
			typ = "enum " + strings.Join(s.Choices, "|")
		}
		parts[i] = fmt.Sprintf("%s (%s, default %s)", s.Name, typ, s.Default)
	}
	return "valid options: " + strings.Join(parts, ", ")
}

func (o *Options) spec(name string) (sdk.OptionSpec, bool) {
	for _, s := range o.specs {
		if s.Name == name {
			return s, true
		}
	}
	return sdk.OptionSpec{}, false
}

func checkValue(s sdk.OptionSpec, v string) error {
	switch s.Type {
	case "bool":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("want a bool (true or false)")
		}
	case "int":
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("want an integer")
		}
	case "float":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("want a finite number")
		}
	case "enum":
		for _, c := range s.Choices {
			if v == c {
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(s.Choices, "|"))
	case "string":
	default:
		return fmt.Errorf("unknown option type %q (want bool, int, float, string or enum)", s.Type)
	}
	return nil
}

func (o *Options) get(name, typ string) string {
	s, ok := o.spec(name)
	if !ok {
		panic(fmt.Sprintf("kit: option %q is not in the method's spec", name))
	}
	if s.Type != typ && !(typ == "string" && s.Type == "enum") {
		panic(fmt.Sprintf("kit: option %q has type %s, read as %s", name, s.Type, typ))
	}
	return o.raw[name]
}

// Bool returns the value of a "bool" option.
func (o *Options) Bool(name string) bool {
	b, _ := strconv.ParseBool(o.get(name, "bool"))
	return b
}

// Int returns the value of an "int" option.
func (o *Options) Int(name string) int {
	n, _ := strconv.Atoi(o.get(name, "int"))
	return n
}

// Float returns the value of a "float" option.
func (o *Options) Float(name string) float64 {
	f, _ := strconv.ParseFloat(o.get(name, "float"), 64)
	return f
}

// String returns the value of a "string" or "enum" option.
func (o *Options) String(name string) string { return o.get(name, "string") }

// Map returns a copy of every option's effective value (defaults filled in),
// e.g. for logging or for a state blob that must be restored into the same
// configuration.
func (o *Options) Map() map[string]string {
	m := make(map[string]string, len(o.raw))
	for k, v := range o.raw {
		m[k] = v
	}
	return m
}

// Invalid returns the error for an option whose value parses but is out of
// range for the method, e.g. Invalid("dim", "must be at least 1"). The
// message names the option, its value, the constraint, and the valid options.
func (o *Options) Invalid(name, constraint string) error {
	return fmt.Errorf("option %s=%s: %s; %s", name, o.raw[name], constraint, ValidOptions(o.specs))
}

// IntAtLeast returns the "int" option name, or an Invalid error when it is
// below min.
func (o *Options) IntAtLeast(name string, min int) (int, error) {
	v := o.Int(name)
	if v < min {
		return 0, o.Invalid(name, fmt.Sprintf("must be at least %d", min))
	}
	return v, nil
}

// FloatIn returns the "float" option name, or an Invalid error unless
// lo < value ≤ hi (an open lower bound: 0 is never a valid temperature).
func (o *Options) FloatIn(name string, lo, hi float64) (float64, error) {
	v := o.Float(name)
	if !(v > lo && v <= hi) {
		return 0, o.Invalid(name, fmt.Sprintf("must be in (%g, %g]", lo, hi))
	}
	return v, nil
}
