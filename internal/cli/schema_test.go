package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/results"
)

// TestNewerSchemaRefused: bench report and bench status, run as Main runs
// them, refuse a results file of a newer schema with a non-zero exit code and
// a message naming the file, its version, the newest this bench reads and
// the remedy. The fixture's files (no schema field: the earlier bench) are
// copied and only the file under test is stamped 99.
func TestNewerSchemaRefused(t *testing.T) {
	fixture := filepath.Join("..", "..", "reports", "testdata", "sweep")
	const runID = "simsiam-11ae39f39d34"
	newer := func(t *testing.T, src, dst string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.Replace(string(b), "{", `{"schema": 99,`, 1))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		file string // relative to the results dir: the one stamped 99
		args []string
	}{
		{"report summary", results.SummaryFile, []string{"report", "DIR", "--out", "OUT"}},
		{"status sweep", results.SweepFile, []string{"status", "DIR"}},
		{"status of a run", filepath.Join(results.RunsDir, runID, results.StatusFile), []string{"status", "DIR"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != results.SweepFile {
				// status reads the runs sweep.json plans: only this one.
				sw := fmt.Sprintf(`{"command":"bench run","config":{},"runs":[%q]}`, runID)
				if err := os.WriteFile(filepath.Join(dir, results.SweepFile), []byte(sw), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			newer(t, filepath.Join(fixture, tc.file), filepath.Join(dir, tc.file))
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.NewReplacer("DIR", dir, "OUT", t.TempDir()).Replace(a)
			}
			io, _, out, errOut := iostreams.Test()
			code := Execute(context.Background(), factory.New(io), args)
			if code == 0 {
				t.Fatalf("bench %s: exit code 0\nstdout: %s", strings.Join(args, " "), out)
			}
			msg := errOut.String()
			for _, want := range []string{
				"error: ", filepath.Join(dir, tc.file) + " has results schema 99",
				fmt.Sprintf("this bench reads schema %d at most", results.Schema),
				"written by a newer bench; use that bench (or a newer one)",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, "delete it") {
				t.Errorf("a newer file is not corrupt; the message should not say to delete it:\n%s", msg)
			}
		})
	}
	t.Run("fixture without the field reads", func(t *testing.T) {
		io, _, _, errOut := iostreams.Test()
		if code := Execute(context.Background(), factory.New(io), []string{"report", fixture, "--out", t.TempDir(), "--no-table"}); code != 0 {
			t.Fatalf("bench report of the fixture: exit code %d\n%s", code, errOut)
		}
		if code := Execute(context.Background(), factory.New(io), []string{"status", fixture}); code != 0 {
			t.Fatalf("bench status of the fixture: exit code %d\n%s", code, errOut)
		}
	})
}
