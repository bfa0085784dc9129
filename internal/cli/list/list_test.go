package list

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/sdk"
)

// pluginDir holds a real toy plugin plus broken ones, built once.
var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "list-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = dir
	var stderr bytes.Buffer
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bench-method-toy"), "github.com/siambench/siambench/internal/testplugins/toy")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build toy: %v\n%s", err, stderr.String())
		os.Exit(1)
	}
	scripts := map[string]string{
		// Not a plugin at all.
		"bench-method-broken": "#!/bin/sh\necho 'segmentation fault' >&2\nexit 139\n",
		// Built against an older SDK.
		"bench-method-old": "#!/bin/sh\necho '{\"protocol\":0,\"name\":\"old\",\"version\":\"0.0.1\",\"views\":[{\"count\":2,\"preset\":\"simsiam\"}]}'\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestNewCmdListParse(t *testing.T) {
	cases := []struct {
		args    []string
		wantDir string
		json    bool
		wantErr bool
	}{
		{args: nil},
		{args: []string{"--json"}, json: true},
		{args: []string{"--plugin-dir", "/x/y"}, wantDir: "/x/y"},
		{args: []string{"extra"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *ListOptions
			cmd := NewCmdList(factory.New(io), func(o *ListOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.PluginDir != tc.wantDir || got.JSON != tc.json {
				t.Fatalf("opts = %+v", got)
			}
		})
	}
}

func onlyDir(dir string) func(string) []string {
	return func(flag string) []string {
		if flag != "" {
			return []string{flag}
		}
		return []string{dir}
	}
}

func TestListTable(t *testing.T) {
	io, _, out, errOut := iostreams.Test()
	opts := &ListOptions{IO: io, Dirs: pluginhost.SearchDirs, Describe: pluginhost.Describe, PluginDir: pluginDir}
	if err := runList(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{"name", "version", "views", "target", "negatives", "options",
		"toy", "0.1.0", "2×simsiam", "dim=16 stopgrad=false fault=none fault_step=0",
		"broken", "old", "0.0.1 (unusable, see below)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if i, j := strings.Index(table, "broken"), strings.Index(table, "toy"); i > j {
		t.Errorf("rows not sorted by name:\n%s", table)
	}
	for _, want := range []string{
		"warning: broken (" + filepath.Join(pluginDir, "bench-method-broken") + "): describe",
		"warning: old (",
		"plugin bench-method-old speaks protocol 0, bench speaks 1: rebuild the plugin with `make build`",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "warning: toy") {
		t.Errorf("the working plugin got a warning:\n%s", errOut.String())
	}
}

func TestListJSON(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	opts := &ListOptions{IO: io, Dirs: onlyDir(pluginDir), Describe: pluginhost.Describe, JSON: true}
	if err := runList(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(entries) != 3 {
		t.Fatalf("%d entries, want 3: %+v", len(entries), entries)
	}
	byName := map[string]Entry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	toyEntry := byName["toy"]
	if toyEntry.Error != "" || toyEntry.Spec == nil || toyEntry.Protocol != sdk.ProtocolVersion {
		t.Fatalf("toy entry = %+v", toyEntry)
	}
	want := toy.New().Describe()
	if toyEntry.Spec.Name != want.Name || len(toyEntry.Spec.Options) != len(want.Options) || toyEntry.Spec.Hyper != want.Hyper {
		t.Fatalf("toy spec = %+v, want %+v", toyEntry.Spec, want)
	}
	if byName["broken"].Error == "" || byName["old"].Error == "" {
		t.Fatalf("broken plugins carry no error: %+v", entries)
	}
}

func TestListEmptyAndBadDir(t *testing.T) {
	io, _, out, errOut := iostreams.Test()
	empty := t.TempDir()
	if err := runList(context.Background(), &ListOptions{IO: io, Dirs: onlyDir(empty), Describe: pluginhost.Describe}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "no method plugins (bench-method-NAME) found in "+empty) || !strings.Contains(errOut.String(), "make build") {
		t.Fatalf("out %q err %q", out.String(), errOut.String())
	}
	io, _, out, _ = iostreams.Test()
	if err := runList(context.Background(), &ListOptions{IO: io, Dirs: onlyDir(empty), Describe: pluginhost.Describe, JSON: true}); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != "[]" {
		t.Fatalf("empty JSON = %q, want []", out.String())
	}
	err := runList(context.Background(), &ListOptions{IO: io, Dirs: onlyDir(empty), Describe: pluginhost.Describe, PluginDir: filepath.Join(empty, "nope")})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing --plugin-dir: err = %v", err)
	}
}

func TestFormatters(t *testing.T) {
	cases := []struct{ got, want string }{
		{Views([]sdk.ViewSpec{{Count: 2, Preset: "swav-global", Size: 224}, {Count: 6, Preset: "swav-local", Size: -43}}), "2×swav-global@224px + 6×swav-local@43%"},
		{Target(nil), "-"},
		{Target(&sdk.TargetSpec{BaseMomentum: 0.996, Schedule: "cosine"}), "EMA 0.996→1 (cosine)"},
		{Target(&sdk.TargetSpec{BaseMomentum: 0.99, Schedule: "constant"}), "EMA 0.99 (constant)"},
		{Options(nil), "-"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
