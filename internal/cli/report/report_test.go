package report

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

func TestReportParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    ReportOptions // only the flag and argument fields are compared
		wantErr string
	}{
		{name: "dir only", args: []string{"res"}, want: ReportOptions{Dir: "res"}},
		{name: "all flags", args: []string{"res", "--out", "/tmp/r", "--title", "My sweep", "--no-table"},
			want: ReportOptions{Dir: "res", OutDir: "/tmp/r", Title: "My sweep", NoTable: true}},
		{name: "short out", args: []string{"-o", "x", "res"}, want: ReportOptions{Dir: "res", OutDir: "x"}},
		{name: "no dir", args: nil, wantErr: "takes one argument, the results directory"},
		{name: "two dirs", args: []string{"a", "b"}, wantErr: "got 2"},
		{name: "unknown flag", args: []string{"res", "--bogus"}, wantErr: "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *ReportOptions
			cmd := NewCmdReport(factory.New(io), func(o *ReportOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Out)
			cmd.SetErr(io.ErrOut)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if got != nil {
					t.Fatal("runF called despite the bad arguments")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Dir != tc.want.Dir || got.OutDir != tc.want.OutDir || got.Title != tc.want.Title || got.NoTable != tc.want.NoTable {
				t.Errorf("options = %+v, want %+v", *got, tc.want)
			}
			if got.IO != io || got.Context == nil {
				t.Errorf("dependencies not filled: IO %v, Context %v", got.IO, got.Context)
			}
		})
	}
}

// TestReportRun runs the real command on the reports package's stored-results
// fixture.
func TestReportRun(t *testing.T) {
	dir := copyDir(t, filepath.Join("..", "..", "..", "reports", "testdata", "sweep"))
	io, _, out, errOut := iostreams.Test()
	cmd := NewCmdReport(factory.New(io), nil)
	cmd.SetArgs([]string{dir, "--title", "Fixture sweep"})
	cmd.SetContext(context.Background())
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench report: %v\nstderr: %s", err, errOut)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(md), "# Fixture sweep\n") {
		t.Errorf("title flag not applied: %.40q", md)
	}
	for _, want := range []string{"simsiam", "raw pixels (baseline)", "linear 10ep", "Report: " + filepath.Join(dir, "report.md") + " (6 plots)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(pngs) != 6 {
		t.Errorf("%d PNGs beside the report, want 6", len(pngs))
	}

	t.Run("json", func(t *testing.T) {
		io, _, out, _ := iostreams.Test()
		cmd := NewCmdReport(factory.New(io), nil)
		cmd.SetArgs([]string{dir, "--json"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		var w Written
		if err := json.Unmarshal(out.Bytes(), &w); err != nil {
			t.Fatalf("--json output is not JSON: %v\n%s", err, out)
		}
		if w.Report != filepath.Join(dir, "report.md") || len(w.Plots) != 6 || w.Gaps == nil {
			t.Errorf("--json: %+v, want the report path, 6 plots and a (possibly empty) gaps list", w)
		}
	})
	t.Run("no table, gaps reported", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "summary.json")); err != nil {
			t.Fatal(err)
		}
		io, _, out, errOut := iostreams.Test()
		cmd := NewCmdReport(factory.New(io), nil)
		cmd.SetArgs([]string{dir, "--no-table"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "raw pixels") {
			t.Errorf("--no-table printed the table:\n%s", out)
		}
		if !strings.Contains(errOut.String(), "gap(s) in the results") || !strings.Contains(errOut.String(), "summary.json is missing") {
			t.Errorf("stderr does not report the gap:\n%s", errOut)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		io, _, _, _ := iostreams.Test()
		cmd := NewCmdReport(factory.New(io), nil)
		cmd.SetArgs([]string{filepath.Join(dir, "nope")})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("err = %v", err)
		}
	})
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "sweep")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
