package run

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/harness/sweep"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/results"
	"github.com/siambench/siambench/sdk"
)

func parse(t *testing.T, args ...string) (*RunOptions, error) {
	t.Helper()
	io, _, _, _ := iostreams.Test()
	var got *RunOptions
	cmd := NewCmdRun(factory.New(io), func(o *RunOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	err := cmd.Execute()
	return got, err
}

func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "sweep.yaml")
	os.WriteFile(yml, []byte("methods: [byol]\nepochs: [5]\nseeds: [7]\nset: [byol.base_lr=0.1]\n"), 0o644)
	f := false
	cases := []struct {
		name string
		args []string
		want func(sweep.Config) sweep.Config // from the defaults
	}{
		{"no flags is the default sweep", nil, func(c sweep.Config) sweep.Config { return c }},
		{"lists and scalars", []string{"--methods", "simsiam,byol", "--batch-sizes", "64,128", "--epochs", "2", "--seeds", "0,1",
			"--dataset", "mnist", "--backbone", "resnet-tiny", "--out", "x", "--train-limit", "300", "--test-limit", "50"},
			func(c sweep.Config) sweep.Config {
				c.Methods, c.BatchSizes, c.Epochs, c.Seeds = []string{"simsiam", "byol"}, []int{64, 128}, []int{2}, []int64{0, 1}
				c.Dataset, c.Backbone, c.Out, c.TrainLimit, c.TestLimit = "mnist", "resnet-tiny", "x", 300, 50
				return c
			}},
		{"repeatable --set with variants", []string{"--set", "simsiam.stopgrad=true,false", "--set", "simsiam.head_bn=hidden"},
			func(c sweep.Config) sweep.Config {
				c.Set = []string{"simsiam.stopgrad=true,false", "simsiam.head_bn=hidden"}
				return c
			}},
		{"no transfer, no baselines", []string{"--transfer", "none", "--no-baselines"},
			func(c sweep.Config) sweep.Config { c.Transfer, c.Baselines = []string{"none"}, &f; return c }},
		{"config file, flags override it", []string{"--config", yml, "--epochs", "3"},
			func(c sweep.Config) sweep.Config {
				c.Methods, c.Epochs, c.Seeds, c.Set = []string{"byol"}, []int{3}, []int64{7}, []string{"byol.base_lr=0.1"}
				return c
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parse(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := o.SweepConfig()
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(sweep.Defaults())
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config:\n got %+v\nwant %+v", got, want)
			}
			// The resume command reproduces the same config.
			o2, err := parse(t, got.Args()...)
			if err != nil {
				t.Fatalf("parse %v: %v", got.Args(), err)
			}
			again, _ := o2.SweepConfig()
			if !reflect.DeepEqual(again, got) {
				t.Errorf("Args() does not round-trip:\n %+v\n %+v", again, got)
			}
		})
	}
	t.Run("flags", func(t *testing.T) {
		o, _ := parse(t, "--dry-run", "--no-report", "--plugin-dir", "/p")
		if !o.DryRun || !o.NoReport || o.PluginDir != "/p" {
			t.Errorf("%+v", o)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, args := range [][]string{{"extra-arg"}, {"--epochs", "x"}, {"--nosuch"}} {
			if _, err := parse(t, args...); err == nil {
				t.Errorf("%v: want error", args)
			}
		}
		o, _ := parse(t, "--config", filepath.Join(dir, "missing.yaml"))
		if _, err := o.SweepConfig(); err == nil {
			t.Error("missing config file: want error")
		}
	})
	t.Run("help has examples", func(t *testing.T) {
		io, _, out, _ := iostreams.Test()
		cmd := NewCmdRun(factory.New(io), nil)
		cmd.SetOut(out)
		cmd.SetArgs([]string{"--help"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"simsiam.stopgrad=true,false", "--dry-run", "--config sweep.yaml",
			"Exit status:", "3    the sweep finished but at least one run failed", "2    usage", "repeating one of them adds to its list",
			"earlier runs"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("help lacks %q", want)
			}
		}
	})
}

func inProcess(string, *slog.Logger) (harness.Methods, error) {
	return harness.InProcess{"toy": func() sdk.Method { return toy.New() }}, nil
}

func TestRunInProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	io, _, out, errOut := iostreams.Test()
	f := factory.New(io)
	f.Version = "test"
	run := func(args ...string) error {
		cmd := NewCmdRun(f, func(o *RunOptions) error { o.Methods = inProcess; return runRun(o) })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		cmd.SetContext(context.Background())
		return cmd.Execute()
	}
	args := []string{"--methods", "toy", "--epochs", "1", "--batch-sizes", "64", "--train-limit", "256", "--test-limit", "100",
		"--transfer", "none", "--no-baselines", "--no-report", "--out", dir}

	t.Run("dry run writes nothing", func(t *testing.T) {
		if err := run(append(args, "--dry-run")...); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "toy-b64-e1-s0-") || !strings.Contains(out.String(), "estimated time") || !strings.Contains(out.String(), "new") {
			t.Errorf("dry-run output:\n%s", out.String())
		}
		if _, err := os.Stat(dir); err == nil {
			t.Error("dry run created the results dir")
		}
	})
	out.Reset()
	t.Run("run", func(t *testing.T) {
		if err := run(args...); err != nil {
			t.Fatalf("%v\n%s", err, errOut.String())
		}
		var s results.Summary
		if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &s); err != nil {
			t.Fatal(err)
		}
		if len(s.Runs) != 1 || s.Runs[0].Status != results.StatusCompleted || s.Environment.GEMMBackend == "" {
			t.Fatalf("summary: %+v", s)
		}
		if !strings.Contains(out.String(), s.Runs[0].ID) || !strings.Contains(errOut.String(), "gemm") {
			t.Errorf("output lacks the run line or the gemm log:\n%s\n%s", out.String(), errOut.String())
		}
	})
	out.Reset()
	t.Run("dry run after: finished", func(t *testing.T) {
		if err := run(append(args, "--dry-run")...); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "finished (reused)") {
			t.Errorf("dry-run output:\n%s", out.String())
		}
	})
	t.Run("dry run --json", func(t *testing.T) {
		var sum results.Summary
		if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &sum); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := run(append(slices.Clone(args), "--seeds", "0,1", "--dry-run", "--json")...); err != nil {
			t.Fatal(err)
		}
		var p Plan
		if err := json.Unmarshal(out.Bytes(), &p); err != nil {
			t.Fatalf("--dry-run --json output is not one JSON plan: %v\n%s", err, out)
		}
		if len(p.Runs) != 2 || p.Runs[0].ID != sum.Runs[0].ID || p.Runs[0].State != "finished (reused)" || p.Runs[0].EstimateSeconds != 0 ||
			p.Runs[1].State != "new" || p.Runs[1].Seed != 1 || p.Runs[1].EstimateSeconds <= 0 || p.TotalSeconds != p.Runs[1].EstimateSeconds ||
			p.BaselinesSeconds != nil || p.TrainImages != 256 || p.GEMMBackend == "" {
			t.Errorf("plan %+v: want the finished seed-0 run reused, a new seed-1 run with a positive estimate that is the total, no baselines, 256 images", p)
		}
		err := run(append(slices.Clone(args), "--json")...)
		var ec interface{ ExitCode() int }
		if err == nil || !errors.As(err, &ec) || ec.ExitCode() != ExitUsage || !strings.Contains(err.Error(), "--json needs --dry-run") {
			t.Errorf("--json without --dry-run: %v, want a usage error", err)
		}
	})
	t.Run("a second sweep into the same --out keeps the first", func(t *testing.T) {
		var first results.Summary
		if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &first); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		second := append(slices.Clone(args), "--seeds", "1")
		if err := run(append(slices.Clone(second), "--dry-run")...); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "holds 1 earlier run(s) not in this sweep") {
			t.Errorf("dry run does not say it keeps the earlier run:\n%s", out.String())
		}
		out.Reset()
		if err := run(second...); err != nil {
			t.Fatalf("%v\n%s", err, errOut.String())
		}
		if !strings.Contains(out.String(), "holds 1 earlier run(s) not in this sweep; they are kept in summary.json") {
			t.Errorf("run does not say it keeps the earlier run:\n%s", out.String())
		}
		var s results.Summary
		if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &s); err != nil {
			t.Fatal(err)
		}
		if len(s.Runs) != 2 || s.Runs[1].ID != first.Runs[0].ID || s.Runs[0].Seed != 1 {
			t.Errorf("summary after the second sweep: %+v", s.Runs)
		}
		// Both runs are in the printed table too.
		for _, id := range []string{s.Runs[0].ID, first.Runs[0].ID} {
			if !strings.Contains(out.String(), id) {
				t.Errorf("output lacks run %s:\n%s", id, out.String())
			}
		}
	})
	t.Run("bad input", func(t *testing.T) {
		cases := map[string][]string{
			"unknown option": {"--methods", "toy", "--set", "toy.nosuch=1", "--out", dir},
			"unknown method": {"--methods", "nosuch", "--out", dir},
			"bad backbone":   {"--methods", "toy", "--backbone", "nosuch", "--out", dir},
			"batch too big":  {"--methods", "toy", "--batch-sizes", "512", "--train-limit", "100", "--out", filepath.Join(dir, "b")},
		}
		wants := map[string]string{"unknown option": "nosuch", "unknown method": "nosuch", "bad backbone": "unknown backbone", "batch too big": "exceeds"}
		// Usage errors exit 2; a dataset too small for the batch is found
		// when the sweep opens it (1).
		codes := map[string]int{"unknown option": ExitUsage, "unknown method": ExitError, "bad backbone": ExitUsage, "batch too big": ExitError}
		for name, a := range cases {
			err := run(a...)
			if err == nil || !strings.Contains(err.Error(), wants[name]) {
				t.Errorf("%s: want error containing %q, got %v", name, wants[name], err)
			}
			code := ExitError
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) {
				code = ec.ExitCode()
			}
			if code != codes[name] {
				t.Errorf("%s: exit code %d, want %d", name, code, codes[name])
			}
		}
	})
}
