// Package plugincmd implements `bench plugin` and `bench plugin new NAME`,
// which scaffolds a method plugin that compiles and passes the SDK's
// conformance suite, inside a siambench checkout (plugins/NAME, built by
// make build) or anywhere else (its own Go module, pointed at a local
// siambench checkout with a replace directive).
package plugincmd

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// ModulePath is siambench's Go module path.
const ModulePath = "github.com/siambench/siambench"

// EnvCheckout names a siambench checkout for scaffolds outside it.
const EnvCheckout = "SIAMBENCH_SRC"

//go:embed templates/*.tmpl
var templates embed.FS

// NewOptions are the inputs of bench plugin new.
type NewOptions struct {
	IO *iostreams.IO
	// Getwd returns the working directory.
	Getwd func() (string, error)
	// BuiltFrom returns the checkout bench was compiled from ("" if unknown).
	BuiltFrom func() string

	Name     string
	Dir      string // where to write; default plugins/NAME in a checkout, else ./NAME
	Module   string // module path outside a checkout; default example.com/bench-method-NAME
	Checkout string // --siambench: the checkout a module outside it replaces siambench with
}

// NewCmdPlugin returns `bench plugin` with its subcommand `new`.
func NewCmdPlugin(f *factory.Factory, runF func(*NewOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Work with method plugins",
		Long:  "Create method plugins. `bench list` shows the plugins bench finds.",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdNew(f, runF))
	return cmd
}

// NewCmdNew returns `bench plugin new NAME`. When runF is non-nil it is
// called with the parsed options instead of runNew (for parse tests).
func NewCmdNew(f *factory.Factory, runF func(*NewOptions) error) *cobra.Command {
	opts := &NewOptions{IO: f.IO, Getwd: os.Getwd, BuiltFrom: builtFrom}
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Scaffold a new method plugin",
		Long: `Scaffold a method plugin named NAME: main.go (one line), method.go (a
projector and a contrastive NT-Xent loss to replace with yours),
method_test.go (the SDK conformance suite, a learning check, the built binary
checked over gRPC, a step benchmark) and a README. It compiles, learns and
passes its tests as generated.

Inside a siambench checkout it goes to plugins/NAME, where make build builds
bin/bench-method-NAME. Elsewhere it becomes its own Go module whose go.mod
replaces github.com/siambench/siambench with a local checkout: the one bench
was built from, or --siambench PATH, or $SIAMBENCH_SRC.`,
		Example: `  bench plugin new mymethod
  bench plugin new mymethod --dir ~/src/mymethod --module example.com/mymethod`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runNew(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "directory to create (default plugins/NAME inside a siambench checkout, else ./NAME)")
	cmd.Flags().StringVar(&opts.Module, "module", "", "Go module path when outside a checkout (default example.com/bench-method-NAME)")
	cmd.Flags().StringVar(&opts.Checkout, "siambench", "", "siambench checkout a plugin outside it builds against (default: the one bench was built from, or $"+EnvCheckout+")")
	return cmd
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// data is what the templates see.
type data struct {
	Name     string
	InRepo   bool
	RelDir   string // plugin dir relative to the checkout root (in-repo)
	Checkout string // the checkout replaced in (out of repo)
}

func runNew(opts *NewOptions) error {
	if !nameRE.MatchString(opts.Name) {
		return fmt.Errorf("plugin name %q: use lower-case letters, digits, '-' or '_', starting with a letter (it becomes bench-method-NAME and the --methods key)", opts.Name)
	}
	wd, err := opts.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	dir := opts.Dir
	if dir == "" {
		if root := moduleRoot(wd); root != "" {
			dir = filepath.Join(root, "plugins", opts.Name)
		} else {
			dir = filepath.Join(wd, opts.Name)
		}
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(wd, dir)
	}
	dir = filepath.Clean(dir)
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty: choose another --dir or remove it", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", dir, err)
	}

	d := data{Name: opts.Name}
	files := map[string]string{"main.go": "main.go.tmpl", "method.go": "method.go.tmpl", "method_test.go": "method_test.go.tmpl", "README.md": "README.md.tmpl"}
	var gomod, gosum []byte
	if root := moduleRoot(filepath.Dir(dir)); root != "" {
		d.InRepo = true
		if d.RelDir, err = filepath.Rel(root, dir); err != nil {
			return err
		}
	} else {
		checkout, err := findCheckout(opts)
		if err != nil {
			return err
		}
		d.Checkout = checkout
		module := opts.Module
		if module == "" {
			module = "example.com/bench-method-" + opts.Name
		}
		if gomod, err = externalGoMod(checkout, module); err != nil {
			return err
		}
		if gosum, err = os.ReadFile(filepath.Join(checkout, "go.sum")); err != nil {
			return fmt.Errorf("read the checkout's go.sum: %w", err)
		}
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for out, tmpl := range files {
		t, err := template.ParseFS(templates, "templates/"+tmpl)
		if err != nil {
			return fmt.Errorf("template %s: %w", tmpl, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			return fmt.Errorf("template %s: %w", tmpl, err)
		}
		if err := os.WriteFile(filepath.Join(dir, out), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
	}
	if gomod != nil {
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644); err != nil {
			return fmt.Errorf("write go.mod: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644); err != nil {
			return fmt.Errorf("write go.sum: %w", err)
		}
	}

	fmt.Fprintf(opts.IO.Out, "created method plugin %s in %s\n\nnext:\n", opts.Name, dir)
	if d.InRepo {
		fmt.Fprintf(opts.IO.Out, "  go test ./%s\n  make build\n  bin/bench list\n  bin/bench run --methods %s\n", d.RelDir, opts.Name)
	} else {
		fmt.Fprintf(opts.IO.Out, "  cd %s\n  go test ./...\n  CGO_ENABLED=0 go build -o bench-method-%s .\n  SIAMBENCH_PLUGIN_PATH=$PWD bench run --methods %s\n(go.mod replaces %s with %s)\n",
			dir, opts.Name, opts.Name, ModulePath, d.Checkout)
	}
	return nil
}

// moduleRoot returns the root of the siambench checkout containing dir (or
// dir's nearest existing ancestor), or "" if dir is not inside one.
func moduleRoot(dir string) string {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if mod, err := modulePath(filepath.Join(d, "go.mod")); err == nil {
			if mod == ModulePath {
				return d
			}
			return "" // inside some other module
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// modulePath reads the module line of a go.mod file.
func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", gomod)
}

// builtFrom is the checkout this bench binary was compiled from, read from
// the source path the compiler recorded (empty under -trimpath).
func builtFrom() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	// file is ROOT/internal/cli/plugincmd/plugincmd.go.
	return filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(file))))
}

// findCheckout picks the siambench checkout for a scaffold outside one.
func findCheckout(opts *NewOptions) (string, error) {
	candidates := []struct{ path, from string }{
		{opts.Checkout, "--siambench"},
		{os.Getenv(EnvCheckout), "$" + EnvCheckout},
		{opts.BuiltFrom(), "the checkout bench was built from"},
	}
	for _, c := range candidates {
		if c.path == "" {
			continue
		}
		abs, err := filepath.Abs(c.path)
		if err != nil {
			return "", err
		}
		mod, err := modulePath(filepath.Join(abs, "go.mod"))
		if err == nil && mod == ModulePath {
			return abs, nil
		}
		if c.from != "the checkout bench was built from" {
			return "", fmt.Errorf("%s = %s is not a siambench checkout (no go.mod with module %s)", c.from, c.path, ModulePath)
		}
	}
	return "", fmt.Errorf("a plugin outside a siambench checkout needs one to build against: pass --siambench PATH (a clone of siambench) or set $%s", EnvCheckout)
}

// externalGoMod writes the go.mod of a plugin module outside the checkout:
// the checkout's go version and requirements (so the same dependency
// versions resolve offline from its go.sum), plus siambench itself,
// replaced by the checkout.
func externalGoMod(checkout, module string) ([]byte, error) {
	src, err := os.ReadFile(filepath.Join(checkout, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("read the checkout's go.mod: %w", err)
	}
	var goLine string
	var reqs []string
	inBlock := false
	for _, line := range strings.Split(string(src), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "go "):
			goLine = t
		case t == "require (":
			inBlock = true
		case inBlock && t == ")":
			inBlock = false
		case inBlock && t != "" && !strings.HasPrefix(t, "//"):
			reqs = append(reqs, strings.TrimSpace(strings.Split(t, "//")[0]))
		case strings.HasPrefix(t, "require "):
			reqs = append(reqs, strings.TrimSpace(strings.Split(strings.TrimPrefix(t, "require "), "//")[0]))
		}
	}
	if goLine == "" {
		return nil, fmt.Errorf("%s/go.mod has no go line", checkout)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "module %s\n\n%s\n\nrequire %s v0.0.0-00010101000000-000000000000\n\nrequire (\n", module, goLine, ModulePath)
	for _, r := range reqs {
		fmt.Fprintf(&b, "\t%s // indirect\n", r)
	}
	fmt.Fprintf(&b, ")\n\nreplace %s => %s\n", ModulePath, checkout)
	return []byte(b.String()), nil
}
