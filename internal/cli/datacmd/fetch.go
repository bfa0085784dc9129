package datacmd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// FetchOptions are the inputs of bench data fetch.
type FetchOptions struct {
	IO      *iostreams.IO
	Logger  *slog.Logger
	Context context.Context
	// Client is the HTTP client; nil means the default.
	Client *http.Client
	// Lookup returns the Source of a dataset name (data.LookupSource).
	Lookup func(name string) (data.Source, error)

	Names []string
	// Dir is the cache root (default $SIAMBENCH_DATA or the user cache dir).
	Dir string
	// BaseURL replaces the official download location (a mirror).
	BaseURL string
}

// NewCmdFetch returns `bench data fetch NAME...`.
func NewCmdFetch(f *factory.Factory, runF func(*FetchOptions) error) *cobra.Command {
	opts := &FetchOptions{IO: f.IO, Logger: f.Logger, Lookup: data.LookupSource}
	cmd := &cobra.Command{
		Use:   "fetch NAME...",
		Short: "Download datasets into the cache and verify their checksums",
		Long: `Download each named dataset (` + strings.Join(sourceNames(), ", ") + `) from its official
location into the cache directory, verify the published MD5 checksums, and extract
archives. A verified local copy (the cache, Debian's dataset-fashion-mnist package,
the GoMNIST Go module) is used as is. An interrupted download resumes where it
stopped when the command is run again.`,
		Example: `  bench data fetch cifar10
  SIAMBENCH_DATA=/data bench data fetch mnist fashion-mnist
  bench data fetch cifar10 --base-url https://mirror.example.org/cifar/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("name at least one dataset to fetch: %s", strings.Join(sourceNames(), ", "))
			}
			for _, a := range args {
				if _, err := opts.Lookup(a); err != nil {
					return err
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return runFetch(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "cache root (default $SIAMBENCH_DATA or the user cache dir)")
	cmd.Flags().StringVar(&opts.BaseURL, "base-url", "", "download from this base URL instead of the official one")
	return cmd
}

func runFetch(opts *FetchOptions) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	for _, name := range opts.Names {
		fo := data.FetchOptions{Dir: opts.Dir, BaseURL: opts.BaseURL, Client: opts.Client, Logger: opts.Logger}
		if opts.IO.IsTerminal() {
			fo.Progress = progressPrinter(opts.IO)
		}
		src, err := opts.Lookup(name)
		if err != nil {
			return err
		}
		dir, err := data.FetchSource(ctx, src, fo)
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "%s: ready in %s\n", name, dir)
	}
	return nil
}

// progressPrinter redraws one progress line on the terminal, at most 10 times a second.
func progressPrinter(io *iostreams.IO) func(string, int64, int64) {
	var last time.Time
	return func(file string, done, total int64) {
		if now := time.Now(); now.Sub(last) < 100*time.Millisecond && done != total {
			return
		} else {
			last = now
		}
		if total > 0 {
			fmt.Fprintf(io.ErrOut, "\r%s: %.1f / %.1f MB (%.0f%%)", file, float64(done)/1e6, float64(total)/1e6, 100*float64(done)/float64(total))
		} else {
			fmt.Fprintf(io.ErrOut, "\r%s: %.1f MB", file, float64(done)/1e6)
		}
		if done == total {
			fmt.Fprintln(io.ErrOut)
		}
	}
}

func sourceNames() []string {
	var n []string
	for _, s := range data.Sources() {
		n = append(n, s.Name)
	}
	return n
}
