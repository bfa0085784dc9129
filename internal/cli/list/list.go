// Package list implements `bench list`: the method plugins bench can find,
// read through each plugin's describe mode (nothing is trained or started
// beyond that).
package list

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/sdk"
)

// ListOptions are the inputs of bench list.
type ListOptions struct {
	IO *iostreams.IO
	// Dirs returns the directories searched for a --plugin-dir value.
	Dirs func(pluginDir string) []string
	// Describe reads a plugin's spec (its describe mode).
	Describe func(ctx context.Context, path string) (pluginhost.DescribeResult, error)

	PluginDir string
	JSON      bool
}

// NewCmdList returns the list command. When runF is non-nil it is called
// with the parsed options instead of runList (for parse tests).
func NewCmdList(f *factory.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Dirs: pluginhost.SearchDirs, Describe: pluginhost.Describe}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the method plugins bench finds",
		Long: `List every method plugin (an executable named bench-method-NAME) found in
--plugin-dir, in the directories of $SIAMBENCH_PLUGIN_PATH (colon-separated)
and next to the bench binary, in that order of precedence, with its version,
the views it wants, whether it uses a momentum target backbone or negative
pairs, and its options. Plugins are only asked to describe themselves.`,
		Example: `  bench list
  bench list --json
  bench list --plugin-dir ./my-plugins`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.PluginDir, "plugin-dir", "", "directory searched for bench-method-NAME plugins before the others")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the plugins and their full specs as JSON")
	return cmd
}

// Entry is one plugin in the listing (the --json output is a list of them).
type Entry struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Protocol int       `json:"protocol,omitempty"`
	Spec     *sdk.Spec `json:"spec,omitempty"`
	// Error says why the plugin cannot be used (describe failed, or its
	// protocol differs from bench's); empty when it is usable.
	Error string `json:"error,omitempty"`
}

func runList(ctx context.Context, opts *ListOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.PluginDir != "" {
		info, err := os.Stat(opts.PluginDir)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--plugin-dir %s does not exist", opts.PluginDir)
		}
		if err != nil {
			return fmt.Errorf("--plugin-dir: %w", err)
		}
		if !info.IsDir() {
			return fmt.Errorf("--plugin-dir %s is not a directory", opts.PluginDir)
		}
	}
	dirs := opts.Dirs(opts.PluginDir)
	found, err := pluginhost.Find(dirs)
	if err != nil {
		return err
	}
	entries := make([]Entry, 0, len(found))
	for _, f := range found {
		e := Entry{Name: f.Name, Path: f.Path}
		r, err := opts.Describe(ctx, f.Path)
		if err != nil {
			e.Error = err.Error()
		} else {
			spec := r.Spec
			e.Protocol, e.Spec = r.Protocol, &spec
			if err := r.Compatible(); err != nil {
				e.Error = err.Error()
			} else if spec.Name != f.Name {
				e.Error = fmt.Sprintf("file is named %s%s but the method calls itself %q: rename one of them", pluginhost.Prefix, f.Name, spec.Name)
			}
		}
		entries = append(entries, e)
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
		return nil
	}
	if len(entries) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "no method plugins (bench-method-NAME) found in %s\nbuild them with `make build`, or point --plugin-dir or $%s at a directory holding them\n",
			strings.Join(dirs, ", "), pluginhost.EnvPath)
		return nil
	}
	return printTable(opts.IO, entries)
}

func printTable(io *iostreams.IO, entries []Entry) error {
	t := tablewriter.NewTable(io.Out,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	t.Header([]string{"name", "version", "views", "target", "negatives", "options"})
	var problems []string
	for _, e := range entries {
		if e.Spec == nil {
			if err := t.Append([]string{e.Name, "?", "-", "-", "-", "(unusable, see below)"}); err != nil {
				return fmt.Errorf("print table: %w", err)
			}
			problems = append(problems, fmt.Sprintf("%s (%s): %s", e.Name, e.Path, e.Error))
			continue
		}
		s := e.Spec
		version := s.Version
		if e.Error != "" {
			version += " (unusable, see below)"
			problems = append(problems, fmt.Sprintf("%s (%s): %s", e.Name, e.Path, e.Error))
		}
		if err := t.Append([]string{e.Name, version, Views(s.Views), Target(s.Target), yesNo(s.Negatives), Options(s.Options)}); err != nil {
			return fmt.Errorf("print table: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("print table: %w", err)
	}
	sort.Strings(problems)
	for _, p := range problems {
		fmt.Fprintf(io.ErrOut, "warning: %s\n", p)
	}
	return nil
}

// Views renders view groups as "2×simsiam" or "2×swav-global + 6×swav-local@-43".
// A non-zero size follows "@": pixels, or a negative percentage of the image.
func Views(vs []sdk.ViewSpec) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%d×%s", v.Count, v.Preset)
		switch {
		case v.Size > 0:
			parts[i] += "@" + strconv.Itoa(v.Size) + "px"
		case v.Size < 0:
			parts[i] += "@" + strconv.Itoa(-v.Size) + "%"
		}
	}
	return strings.Join(parts, " + ")
}

// Target renders the momentum target, "-" when there is none.
func Target(t *sdk.TargetSpec) string {
	if t == nil {
		return "-"
	}
	if t.Schedule == "cosine" {
		return fmt.Sprintf("EMA %g→1 (cosine)", t.BaseMomentum)
	}
	return fmt.Sprintf("EMA %g (%s)", t.BaseMomentum, t.Schedule)
}

// Options renders options as "name=default" pairs.
func Options(os []sdk.OptionSpec) string {
	if len(os) == 0 {
		return "-"
	}
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = o.Name + "=" + o.Default
	}
	return strings.Join(parts, " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
