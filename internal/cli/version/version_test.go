package version

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/nn/gemm"
)

func TestVersion(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	f := factory.New(io)
	f.Version = "abc123"
	t.Run("parse", func(t *testing.T) {
		var got *VersionOptions
		cmd := NewCmdVersion(f, func(o *VersionOptions) error { got = o; return nil })
		cmd.SetArgs([]string{})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Version != "abc123" {
			t.Fatalf("options: %+v", got)
		}
		cmd = NewCmdVersion(f, func(o *VersionOptions) error { return nil })
		cmd.SetArgs([]string{"extra"})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		if err := cmd.Execute(); err == nil {
			t.Error("want error for an extra argument")
		}
	})
	t.Run("run", func(t *testing.T) {
		cmd := NewCmdVersion(f, nil)
		cmd.SetArgs([]string{})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		b, _ := gemm.FromEnv()
		for _, want := range []string{"bench abc123", runtime.Version(), "gemm: " + b.Name(), b.Info()} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		out.Reset()
		cmd := NewCmdVersion(f, nil)
		cmd.SetArgs([]string{"--json"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		var got Info
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("--json output is not JSON: %v\n%s", err, out)
		}
		b, _ := gemm.FromEnv()
		want := Info{Version: "abc123", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GEMM: b.Name(), GEMMAt: b.Info()}
		if got != want {
			t.Errorf("--json gives %+v, want %+v", got, want)
		}
	})
}
