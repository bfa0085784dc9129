package cli

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// TestEveryVerbRegistered: each verb package under internal/cli (a folder
// NAME or NAMEcmd, factory aside) is a subcommand of the root, once.
func TestEveryVerbRegistered(t *testing.T) {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range ents {
		if e.IsDir() && e.Name() != "factory" && e.Name() != "testdata" {
			want = append(want, strings.TrimSuffix(e.Name(), "cmd"))
		}
	}
	io, _, _, _ := iostreams.Test()
	var have []string
	for _, c := range NewRootCmd(factory.New(io)).Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			have = append(have, c.Name())
		}
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Fatalf("root verbs %v, verb packages %v", have, want)
	}
}

// --log-level and --log-format reach the logs of every verb (here bench
// report's "report written"); a bad value is a usage error naming the
// choices.
func TestLogFlags(t *testing.T) {
	run := func(args ...string) (string, error) {
		io, _, _, errOut := iostreams.Test()
		root := NewRootCmd(factory.New(io))
		root.SetArgs(args)
		err := root.Execute()
		return errOut.String(), err
	}
	fixture := "../../reports/testdata/sweep"
	logs, err := run("--log-format", "json", "report", fixture, "--out", t.TempDir(), "--no-table")
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	line := strings.TrimSpace(logs)
	if i := strings.LastIndex(line, "\n"); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] != "report written" {
		t.Errorf("--log-format json: last log line %q is not the JSON record of \"report written\" (%v)", line, err)
	}
	if logs, err := run("--log-level", "error", "report", fixture, "--out", t.TempDir(), "--no-table"); err != nil || strings.Contains(logs, "report written") {
		t.Errorf("--log-level error still logs info (%v):\n%s", err, logs)
	}
	_, err = run("--log-level", "loud", "version")
	var ec interface{ ExitCode() int }
	if err == nil || !errors.As(err, &ec) || ec.ExitCode() != 2 || !strings.Contains(err.Error(), "debug, info, warn, error") {
		t.Errorf("--log-level loud: %v, want a usage error (exit 2) listing the levels", err)
	}
}
