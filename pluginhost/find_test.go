package pluginhost

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/testplugins/toy/toy"
)

func writeExe(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	script := "#!/bin/sh\nexit 0\n"
	writeExe(t, filepath.Join(a, "bench-method-alpha"), script, 0o755)
	writeExe(t, filepath.Join(a, "bench-method-beta"), script, 0o644) // not executable
	writeExe(t, filepath.Join(a, "other-tool"), script, 0o755)        // wrong prefix
	writeExe(t, filepath.Join(a, "bench-method-Bad.Name"), script, 0o755)
	writeExe(t, filepath.Join(b, "bench-method-alpha"), script, 0o755) // shadowed by a
	writeExe(t, filepath.Join(b, "bench-method-gamma"), script, 0o755)
	if err := os.Mkdir(filepath.Join(b, "bench-method-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(b, "bench-method-gamma"), filepath.Join(b, "bench-method-link")); err != nil {
		t.Fatal(err)
	}

	got, err := Find([]string{a, filepath.Join(a, "missing"), b})
	if err != nil {
		t.Fatal(err)
	}
	want := []Found{
		{"alpha", filepath.Join(a, "bench-method-alpha")},
		{"gamma", filepath.Join(b, "bench-method-gamma")},
		{"link", filepath.Join(b, "bench-method-link")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Find:\n got %v\nwant %v", got, want)
	}

	if f, err := Lookup([]string{a, b}, "gamma"); err != nil || f.Path != want[1].Path {
		t.Fatalf("Lookup(gamma) = %v, %v", f, err)
	}
	_, err = Lookup([]string{a, b}, "simsiam")
	if err == nil {
		t.Fatal("Lookup of a missing plugin succeeded")
	}
	for _, s := range []string{"bench-method-simsiam", a, b, "alpha, gamma, link", "make build", "--plugin-dir"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Lookup error %q does not mention %q", err, s)
		}
	}
}

func TestSearchDirs(t *testing.T) {
	flagDir, env1, env2 := t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv(EnvPath, env1+string(os.PathListSeparator)+env2+string(os.PathListSeparator)+flagDir)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ = filepath.EvalSymlinks(exe)
	got := SearchDirs(flagDir)
	want := []string{flagDir, env1, env2, filepath.Dir(exe)} // flagDir not repeated
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SearchDirs:\n got %v\nwant %v", got, want)
	}
	t.Setenv(EnvPath, "")
	if got := SearchDirs(""); len(got) != 1 || got[0] != filepath.Dir(exe) {
		t.Fatalf("SearchDirs with no flag and no env = %v, want only the executable's dir", got)
	}
}

func TestDescribe(t *testing.T) {
	r, err := Describe(context.Background(), toyBin)
	if err != nil {
		t.Fatal(err)
	}
	if r.Compatible() != nil {
		t.Fatalf("toy built from this tree is incompatible: %v", r.Compatible())
	}
	if want := toy.New().Describe(); !reflect.DeepEqual(r.Spec, want) {
		t.Fatalf("describe spec:\n got %+v\nwant %+v", r.Spec, want)
	}

	dir := t.TempDir()
	cases := []struct {
		name, script, want string
	}{
		{"not_json", "#!/bin/sh\necho hello\n", "not a method spec"},
		{"fails", "#!/bin/sh\necho 'usage: nope' >&2\nexit 2\n", "usage: nope"},
		{"bad_spec", "#!/bin/sh\necho '{\"protocol\":1,\"name\":\"x\"}'\n", "no views"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "bench-method-"+tc.name)
			writeExe(t, p, tc.script, 0o755)
			_, err := Describe(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	old := DescribeResult{Protocol: 0, Spec: r.Spec}
	if err := old.Compatible(); err == nil || !strings.Contains(err.Error(), "rebuild the plugin") {
		t.Fatalf("old protocol: Compatible() = %v", err)
	}
}
