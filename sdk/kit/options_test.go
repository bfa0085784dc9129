package kit

import (
	"strings"
	"testing"

	"github.com/siambench/siambench/sdk"
)

var testSpecs = []sdk.OptionSpec{
	{Name: "stopgrad", Type: "bool", Default: "true", Help: "stop-gradient on the target branch"},
	{Name: "dim", Type: "int", Default: "512", Help: "projector output width"},
	{Name: "temperature", Type: "float", Default: "0.5", Help: "softmax temperature"},
	{Name: "head_bn", Type: "enum", Default: "default", Choices: []string{"none", "hidden", "default", "all"}, Help: "BN in heads"},
	{Name: "tag", Type: "string", Default: "", Help: "free text"},
}

func TestParseOptionsValues(t *testing.T) {
	tests := []struct {
		name  string
		given map[string]string
		// want* are the expected effective values.
		wantStop bool
		wantDim  int
		wantTemp float64
		wantBN   string
		wantTag  string
	}{
		{name: "nil map gives defaults", given: nil, wantStop: true, wantDim: 512, wantTemp: 0.5, wantBN: "default"},
		{name: "all set", given: map[string]string{"stopgrad": "false", "dim": "64", "temperature": "0.1", "head_bn": "none", "tag": "x"},
			wantStop: false, wantDim: 64, wantTemp: 0.1, wantBN: "none", wantTag: "x"},
		{name: "spaces trimmed and bool spellings", given: map[string]string{"stopgrad": " 0 ", "dim": " 8"}, wantStop: false, wantDim: 8, wantTemp: 0.5, wantBN: "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseOptions(testSpecs, tc.given)
			if err != nil {
				t.Fatal(err)
			}
			if got := o.Bool("stopgrad"); got != tc.wantStop {
				t.Errorf("stopgrad = %v, want %v", got, tc.wantStop)
			}
			if got := o.Int("dim"); got != tc.wantDim {
				t.Errorf("dim = %v, want %v", got, tc.wantDim)
			}
			if got := o.Float("temperature"); got != tc.wantTemp {
				t.Errorf("temperature = %v, want %v", got, tc.wantTemp)
			}
			if got := o.String("head_bn"); got != tc.wantBN {
				t.Errorf("head_bn = %v, want %v", got, tc.wantBN)
			}
			if got := o.String("tag"); got != tc.wantTag {
				t.Errorf("tag = %q, want %q", got, tc.wantTag)
			}
			if m := o.Map(); len(m) != len(testSpecs) {
				t.Errorf("Map has %d entries, want %d", len(m), len(testSpecs))
			}
		})
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct {
		name  string
		given map[string]string
		want  []string // substrings the error must contain
	}{
		{name: "unknown key", given: map[string]string{"stopgrads": "false"}, want: []string{`unknown option "stopgrads"`, "valid options:", "stopgrad (bool, default true)", "head_bn (enum none|hidden|default|all, default default)"}},
		{name: "bad bool", given: map[string]string{"stopgrad": "maybe"}, want: []string{`stopgrad="maybe"`, "want a bool", "valid options:"}},
		{name: "bad int", given: map[string]string{"dim": "5.5"}, want: []string{`dim="5.5"`, "want an integer"}},
		{name: "bad float", given: map[string]string{"temperature": "warm"}, want: []string{"temperature", "want a finite number"}},
		{name: "nan float", given: map[string]string{"temperature": "NaN"}, want: []string{"want a finite number"}},
		{name: "bad enum", given: map[string]string{"head_bn": "some"}, want: []string{`head_bn="some"`, "want one of none|hidden|default|all"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseOptions(testSpecs, tc.given)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseOptionsBadDefault(t *testing.T) {
	_, err := ParseOptions([]sdk.OptionSpec{{Name: "k", Type: "int", Default: "many"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "invalid default") {
		t.Fatalf("err = %v, want an invalid default error", err)
	}
}

func TestRangeHelpers(t *testing.T) {
	o, err := ParseOptions(testSpecs, map[string]string{"dim": "0", "temperature": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.IntAtLeast("dim", 1); err == nil || !strings.Contains(err.Error(), "dim=0: must be at least 1") {
		t.Errorf("IntAtLeast err = %v", err)
	}
	if _, err := o.FloatIn("temperature", 0, 10); err == nil || !strings.Contains(err.Error(), "must be in (0, 10]") {
		t.Errorf("FloatIn err = %v", err)
	}
	o, _ = ParseOptions(testSpecs, map[string]string{"dim": "3", "temperature": "10"})
	if v, err := o.IntAtLeast("dim", 1); err != nil || v != 3 {
		t.Errorf("IntAtLeast = %v, %v", v, err)
	}
	if v, err := o.FloatIn("temperature", 0, 10); err != nil || v != 10 {
		t.Errorf("FloatIn = %v, %v", v, err)
	}
}

func TestAccessorMisusePanics(t *testing.T) {
	o, _ := ParseOptions(testSpecs, nil)
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{"unknown name", func() { o.Int("nope") }},
		{"wrong type", func() { o.Int("stopgrad") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("want a panic for a programmer error")
				}
			}()
			tc.fn()
		})
	}
}

func TestValidOptionsEmpty(t *testing.T) {
	if got := ValidOptions(nil); got != "this method takes no options" {
		t.Errorf("ValidOptions(nil) = %q", got)
	}
	if _, err := ParseOptions(nil, map[string]string{"x": "1"}); err == nil || !strings.Contains(err.Error(), "takes no options") {
		t.Errorf("err = %v", err)
	}
}
