package kit

import (
	"errors"
	"strings"
	"testing"

	"github.com/siambench/siambench/sdk"
)

var testSpecs = []sdk.OptionSpec{
	{Name: "stopgrad", Type: "bool", Default: "true", Help: "stop-gradient on the target branch"},
	{Name: "dim", Type: "int", Default: "512", Help: "projector output width"},
	{Name: "temperature", Type: "float", Default: "0.5", Help: "softmax temperature"},
	{Name: "head_bn", Type: "enum", Default: "default", Choices: []string{"none", "hidden", "default", "all"}, Help: "BN in heads"},
}

func TestParseOptionsDefaultsAndValues(t *testing.T) {
	o, err := ParseOptions(testSpecs, map[string]string{"dim": "64", "head_bn": "none"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Int("dim") != 64 || o.String("head_bn") != "none" || !o.Bool("stopgrad") || o.Float("temperature") != 0.5 {
		t.Errorf("got dim=%d head_bn=%s stopgrad=%v temperature=%v", o.Int("dim"), o.String("head_bn"), o.Bool("stopgrad"), o.Float("temperature"))
	}
	if _, err := ParseOptions(testSpecs, map[string]string{"dims": "1"}); err == nil || !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "head_bn") {
		t.Errorf("unknown option: err = %v, want ErrBadInput listing the valid options", err)
	}
}

func TestRangeHelpers(t *testing.T) {
	tests := []struct {
		name    string
		given   map[string]string
		check   func(o Options) (float64, error)
		want    float64
		wantErr string // substring; "" means no error
	}{
		{"int ok", map[string]string{"dim": "3"}, func(o Options) (float64, error) { v, err := o.IntAtLeast("dim", 1); return float64(v), err }, 3, ""},
		{"int at bound", map[string]string{"dim": "1"}, func(o Options) (float64, error) { v, err := o.IntAtLeast("dim", 1); return float64(v), err }, 1, ""},
		{"int too small", map[string]string{"dim": "0"}, func(o Options) (float64, error) { v, err := o.IntAtLeast("dim", 1); return float64(v), err }, 0, "option dim=0: must be at least 1"},
		{"float ok", map[string]string{"temperature": "10"}, func(o Options) (float64, error) { return o.FloatIn("temperature", 0, 10) }, 10, ""},
		{"float zero", map[string]string{"temperature": "0"}, func(o Options) (float64, error) { return o.FloatIn("temperature", 0, 10) }, 0, "option temperature=0: must be in (0, 10]"},
		{"float too big", map[string]string{"temperature": "10.5"}, func(o Options) (float64, error) { return o.FloatIn("temperature", 0, 10) }, 0, "must be in (0, 10]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseOptions(testSpecs, tc.given)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.check(o)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %v, want an error containing %q", got, tc.wantErr)
			}
			if !errors.Is(err, sdk.ErrBadInput) {
				t.Errorf("error %q does not wrap sdk.ErrBadInput", err)
			}
			for _, w := range []string{tc.wantErr, "valid options:", "stopgrad (bool, default true)", "head_bn (one of none|hidden|default|all"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A Checker returns the first failed check's error, and later reads leave it.
func TestChecker(t *testing.T) {
	o, err := ParseOptions(testSpecs, map[string]string{"dim": "0", "temperature": "-1"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.Check()
	temp, dim := c.FloatIn("temperature", 0, 1), c.IntAtLeast("dim", 1)
	if temp != 0 || dim != 0 || c.Err == nil || !errors.Is(c.Err, sdk.ErrBadInput) || !strings.Contains(c.Err.Error(), "option temperature=-1") {
		t.Errorf("temperature %v, dim %v, err %v: want the temperature error first", temp, dim, c.Err)
	}
	o, _ = ParseOptions(testSpecs, nil)
	c = o.Check()
	if dim, temp := c.IntAtLeast("dim", 1), c.FloatIn("temperature", 0, 1); dim != 512 || temp != 0.5 || c.Err != nil {
		t.Errorf("defaults: dim %v, temperature %v, err %v", dim, temp, c.Err)
	}
}
