package plugincmd

import (
	"bytes"
	"context"
	"debug/elf"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/sdk"
)

// repoRoot is this checkout (the test runs in internal/cli/plugincmd).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := moduleRoot(wd)
	if root == "" {
		t.Fatalf("%s is not inside the siambench module", wd)
	}
	return root
}

func TestNewCmdParse(t *testing.T) {
	cases := []struct {
		args    []string
		want    NewOptions
		wantErr bool
	}{
		{args: []string{"new", "mine"}, want: NewOptions{Name: "mine"}},
		{args: []string{"new", "mine", "--dir", "x/y", "--module", "example.org/m", "--siambench", "/src/sb"},
			want: NewOptions{Name: "mine", Dir: "x/y", Module: "example.org/m", Checkout: "/src/sb"}},
		{args: []string{"new"}, wantErr: true},
		{args: []string{"new", "a", "b"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *NewOptions
			cmd := NewCmdPlugin(factory.New(io), func(o *NewOptions) error { got = o; return nil })
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
			if got.Name != tc.want.Name || got.Dir != tc.want.Dir || got.Module != tc.want.Module || got.Checkout != tc.want.Checkout {
				t.Fatalf("opts = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func newOpts(wd, name string) (*NewOptions, *bytes.Buffer) {
	io, _, out, _ := iostreams.Test()
	return &NewOptions{IO: io, Getwd: func() (string, error) { return wd, nil }, BuiltFrom: func() string { return "" }, Name: name}, out
}

func TestNewErrors(t *testing.T) {
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	notCheckout := t.TempDir()
	t.Setenv(EnvCheckout, "")
	cases := []struct {
		name string
		mod  func(o *NewOptions)
		want string
	}{
		{"bad_name", func(o *NewOptions) { o.Name = "My Method" }, "use lower-case letters"},
		{"dir_not_empty", func(o *NewOptions) { o.Dir = full }, "exists and is not empty"},
		{"no_checkout", func(o *NewOptions) { o.Dir = filepath.Join(tmp, "a") }, "pass --siambench PATH"},
		{"bad_checkout", func(o *NewOptions) { o.Dir = filepath.Join(tmp, "b"); o.Checkout = notCheckout }, "--siambench = " + notCheckout + " is not a siambench checkout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := newOpts(tmp, "mine")
			tc.mod(o)
			err := runNew(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// With no --dir inside a checkout, the plugin goes to ROOT/plugins/NAME
// (checked on a stand-in checkout: a directory with siambench's go.mod).
func TestNewDefaultDirInCheckout(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+ModulePath+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "internal", "x")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	o, out := newOpts(sub, "mine")
	if err := runNew(o); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "plugins", "mine")
	for _, f := range []string{"main.go", "method.go", "method_test.go", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		t.Error("an in-checkout plugin got its own go.mod")
	}
	if !strings.Contains(out.String(), "go test ./plugins/mine") || !strings.Contains(out.String(), "make build") {
		t.Errorf("next steps: %q", out.String())
	}
}

// runGo runs the go tool in dir and fails the test with its output on error.
func runGo(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build and the scaffold's README build
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// assertStatic fails t unless the ELF binary at path is statically linked:
// no program interpreter and no shared libraries (what `ldd` calls "not a
// dynamic executable"), so it runs on a machine with nothing installed.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s has a program interpreter: it is dynamically linked", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("%s links shared libraries %v", path, libs)
	}
}

// stepOnce launches a built scaffold over real gRPC and takes one step.
func stepOnce(t *testing.T, bin, name string) {
	t.Helper()
	r, err := pluginhost.Describe(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	if r.Spec.Name != name || r.Compatible() != nil {
		t.Fatalf("describe: %+v", r)
	}
	c, err := pluginhost.Launch(context.Background(), bin, pluginhost.Options{StepTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Kill()
	if err := c.Init(sdk.InitConfig{FeatureDim: 8, BatchSize: 4, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	in := sdk.StepInput{LR: 0.05}
	for v := 0; v < 2; v++ {
		x := make([]float32, 32)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		in.Views = append(in.Views, nn.New(x, 4, 8))
	}
	out, err := c.Step(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !(out.Loss > 0 && out.Loss < 20) || len(out.Grads) != 2 || out.Metrics["output_std"] <= 0 {
		t.Fatalf("step output: loss %v, %d grads, metrics %v", out.Loss, len(out.Grads), out.Metrics)
	}
}

// Inside this checkout: the scaffold compiles, vets, passes its
// conformance test, and the built binary works as a plugin. It is written
// under testdata/ so ./... patterns never pick it up, and removed after.
func TestScaffoldInRepoBuildsAndPasses(t *testing.T) {
	root := repoRoot(t)
	wd, _ := os.Getwd()
	parent, err := os.MkdirTemp(filepath.Join(wd, "testdata"), "scaffold-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	dir := filepath.Join(parent, "inrepo")
	o, _ := newOpts(root, "inrepo")
	o.Dir = dir
	if err := runNew(o); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(root, dir)
	pkg := "./" + filepath.ToSlash(rel)
	runGo(t, root, "vet", pkg)
	out := runGo(t, root, "test", "-count=1", "-v", pkg)
	for _, want := range []string{"--- PASS: TestConformance", "--- PASS: TestConformance/gradients", "--- PASS: TestLearns"} {
		if !strings.Contains(out, want) {
			t.Fatalf("generated tests: no %q:\n%s", want, out)
		}
	}
	bin := filepath.Join(t.TempDir(), "bench-method-inrepo")
	runGo(t, root, "build", "-o", bin, pkg)
	assertStatic(t, bin)
	stepOnce(t, bin, "inrepo")
	if gofmt, err := exec.Command("gofmt", "-l", dir).CombinedOutput(); err != nil || len(gofmt) > 0 {
		t.Errorf("scaffold is not gofmt'ed: %s %v", gofmt, err)
	}
}

// Outside any checkout: its own module, replace → this checkout; go build
// and go test work as generated (no go mod tidy needed).
func TestScaffoldOutsideRepoBuildsAndPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module end to end (~10 s)")
	}
	root := repoRoot(t)
	tmp := t.TempDir()
	o, out := newOpts(tmp, "outside")
	o.Checkout = root
	o.Module = "example.org/outside"
	if err := runNew(o); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "outside")
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module example.org/outside", "replace " + ModulePath + " => " + root} {
		if !strings.Contains(string(gomod), want) {
			t.Fatalf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	if !strings.Contains(out.String(), "CGO_ENABLED=0 go build -o bench-method-outside .") {
		t.Errorf("next steps: %q", out.String())
	}
	runGo(t, dir, "vet", "./...")
	testOut := runGo(t, dir, "test", "-count=1", "-v", "./...")
	if !strings.Contains(testOut, "--- PASS: TestConformance") || !strings.Contains(testOut, "--- PASS: TestLearns") {
		t.Fatalf("conformance suite did not pass:\n%s", testOut)
	}
	runGo(t, dir, "build", "-o", "bench-method-outside", ".")
	assertStatic(t, filepath.Join(dir, "bench-method-outside"))
	stepOnce(t, filepath.Join(dir, "bench-method-outside"), "outside")
}

func TestBuiltFrom(t *testing.T) {
	if got, want := builtFrom(), repoRoot(t); got != want {
		t.Fatalf("builtFrom() = %q, want %q", got, want)
	}
}
