package sdk

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/siambench/siambench/wire"
)

// fixed is a minimal valid method for Serve's argument handling.
type fixed struct {
	Method
	spec Spec
}

func (f fixed) Describe() Spec { return f.spec }

func validSpec() Spec {
	return Spec{Name: "demo", Version: "1.2.3", Views: []ViewSpec{{Count: 2, Preset: "simsiam"}},
		Options: []OptionSpec{{Name: "dim", Type: "int", Default: "8"}}}
}

func TestServeArgs(t *testing.T) {
	noEnv := func(string) string { return "" }
	cases := []struct {
		name     string
		spec     Spec
		args     []string
		code     int
		out, err string // substrings of stdout / stderr
	}{
		{"describe", validSpec(), []string{"/x/bench-method-demo", "describe"}, 0, `"name": "demo"`, ""},
		{"usage", validSpec(), []string{"/x/bench-method-demo", "train"}, 2, "", "usage: bench-method-demo describe"},
		{"no_cookie", validSpec(), []string{"/x/bench-method-demo"}, 1, "", "bench starts it: bench list, bench run --methods demo"},
		{"bad_spec", Spec{Name: "demo"}, []string{"/x/bench-method-demo", "describe"}, 1, "", "invalid method spec: spec demo: no views"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := serve(fixed{spec: tc.spec}, tc.args, noEnv, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.err) {
				t.Fatalf("stdout %q (want %q), stderr %q (want %q)", stdout.String(), tc.out, stderr.String(), tc.err)
			}
		})
	}
	var stdout bytes.Buffer
	serve(fixed{spec: validSpec()}, []string{"bench-method-demo", "describe"}, noEnv, &stdout, &bytes.Buffer{})
	var d DescribeJSON
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Protocol != ProtocolVersion || d.Version != "1.2.3" || len(d.Options) != 1 {
		t.Fatalf("describe JSON = %+v", d)
	}
	if wire.MagicCookieKey == "" {
		t.Fatal("no handshake cookie")
	}
}
