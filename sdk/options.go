package sdk

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Options are a method's option values, validated against its OptionSpecs
// with defaults filled in. Build them with ParseOptions; read them with the
// typed getters, which panic only on a name the spec does not declare (a
// programming error in the method).
type Options struct {
	specs map[string]OptionSpec
	vals  map[string]string
}

// ParseOptions checks given against specs and fills in defaults. An unknown
// name, a value that does not parse as the option's type, or an enum value
// outside its choices is an error that lists the valid options.
func ParseOptions(specs []OptionSpec, given map[string]string) (Options, error) {
	o := Options{specs: make(map[string]OptionSpec, len(specs)), vals: make(map[string]string, len(specs))}
	for _, s := range specs {
		o.specs[s.Name] = s
		o.vals[s.Name] = s.Default
	}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names) // report the first bad option deterministically
	for _, k := range names {
		s, ok := o.specs[k]
		if !ok {
			return Options{}, fmt.Errorf("%w: unknown option %q; valid options: %s", ErrBadInput, k, DescribeOptions(specs))
		}
		if err := checkValue(s, given[k]); err != nil {
			return Options{}, fmt.Errorf("%w: %v; valid options: %s", ErrBadInput, err, DescribeOptions(specs))
		}
		o.vals[k] = given[k]
	}
	return o, nil
}

// DescribeOptions renders option specs for error messages and help:
// "dim (int ≥ 1, default 64), head_bn (one of none|hidden|default, default default)".
func DescribeOptions(specs []OptionSpec) string {
	if len(specs) == 0 {
		return "(this method has no options)"
	}
	parts := make([]string, len(specs))
	for i, s := range specs {
		typ := s.Type
		if s.Type == "enum" {
			typ = "one of " + strings.Join(s.Choices, "|")
		}
		if r := s.RangeText(); r != "" {
			typ += " " + r
		}
		parts[i] = fmt.Sprintf("%s (%s, default %s)", s.Name, typ, s.Default)
	}
	return strings.Join(parts, ", ")
}

// Check reports whether v is a valid value of option s: it parses as the
// option's type, is one of an enum's choices, and lies in the range of an
// int or float option (Min, Max, MinExclusive). A float must be finite.
// The error names the option, the value and what is allowed, e.g.
// "option dim=-1: must be ≥ 1" or "option temperature=0: must be in (0, 100]".
func (s OptionSpec) Check(v string) error { return checkValue(s, v) }

// RangeText describes the range of an int or float option: "≥ 1", "> 0",
// "≤ 1", "in (0, 100]" (both bounds: interval notation, "(" open); ""
// when unbounded.
func (s OptionSpec) RangeText() string {
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	switch {
	case s.Min != nil && s.Max != nil:
		open := "["
		if s.MinExclusive {
			open = "("
		}
		return "in " + open + g(*s.Min) + ", " + g(*s.Max) + "]"
	case s.Min != nil && s.MinExclusive:
		return "> " + g(*s.Min)
	case s.Min != nil:
		return "≥ " + g(*s.Min)
	case s.Max != nil:
		return "≤ " + g(*s.Max)
	}
	return ""
}

// checkRange reports whether x (the value v parsed) lies in s's range.
func (s OptionSpec) checkRange(v string, x float64) error {
	lo := s.Min == nil || x > *s.Min || (x == *s.Min && !s.MinExclusive)
	hi := s.Max == nil || x <= *s.Max
	if lo && hi {
		return nil
	}
	return fmt.Errorf("option %s=%s: must be %s", s.Name, v, s.RangeText())
}

// checkValue reports whether v is a valid value of option s.
func checkValue(s OptionSpec, v string) error {
	switch s.Type {
	case "bool":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("option %s: %q is not a bool (true or false)", s.Name, v)
		}
	case "int":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("option %s: %q is not an integer", s.Name, v)
		}
		return s.checkRange(v, float64(n))
	case "float":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("option %s: %q is not a finite number", s.Name, v)
		}
		return s.checkRange(v, f)
	case "enum":
		for _, c := range s.Choices {
			if v == c {
				return nil
			}
		}
		return fmt.Errorf("option %s: %q is not one of %s", s.Name, v, strings.Join(s.Choices, "|"))
	case "string":
	default:
		return fmt.Errorf("option %s: unknown type %q (want bool, int, float, string or enum)", s.Name, s.Type)
	}
	return nil
}

func (o Options) get(name string) string {
	v, ok := o.vals[name]
	if !ok {
		panic(fmt.Sprintf("sdk.Options: option %q is not declared in the method's Spec.Options", name))
	}
	return v
}

// String returns the option's value as given (or its default).
func (o Options) String(name string) string { return o.get(name) }

// Bool returns a "bool" option.
func (o Options) Bool(name string) bool {
	b, err := strconv.ParseBool(o.get(name))
	if err != nil {
		panic(fmt.Sprintf("sdk.Options: option %q is not a bool: %v", name, err))
	}
	return b
}

// Int returns an "int" option.
func (o Options) Int(name string) int {
	n, err := strconv.Atoi(o.get(name))
	if err != nil {
		panic(fmt.Sprintf("sdk.Options: option %q is not an int: %v", name, err))
	}
	return n
}

// Float returns a "float" option.
func (o Options) Float(name string) float64 {
	f, err := strconv.ParseFloat(o.get(name), 64)
	if err != nil {
		panic(fmt.Sprintf("sdk.Options: option %q is not a float: %v", name, err))
	}
	return f
}

// Map returns every option's value (defaults filled in), e.g. for results.
func (o Options) Map() map[string]string {
	m := make(map[string]string, len(o.vals))
	for k, v := range o.vals {
		m[k] = v
	}
	return m
}
