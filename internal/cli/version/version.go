// Package version implements `bench version`.
package version

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/nn/gemm"
)

// VersionOptions are the inputs of bench version.
type VersionOptions struct {
	IO      *iostreams.IO
	Version string
	// Backend returns the GEMM backend bench would use ($SIAMBENCH_GEMM).
	Backend func() (gemm.Backend, error)
	JSON    bool
}

// Info is what bench version --json prints.
type Info struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	CPUs    int    `json:"cpus"`
	GEMM    string `json:"gemm_backend"` // the name, e.g. go
	GEMMAt  string `json:"gemm_info"`    // kernel and threads, e.g. kernel=avx512-8x32 threads=2
}

// NewCmdVersion returns the version command. When runF is non-nil it is
// called with the parsed options instead of runVersion (for parse tests).
func NewCmdVersion(f *factory.Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO, Version: f.Version, Backend: gemm.FromEnv}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the code version, Go version and GEMM backend",
		Long: `Print the code version stamped into every run ID and report, the Go toolchain
and platform, and the matrix-multiply backend that training uses (set it with
SIAMBENCH_GEMM).`,
		Example: "  bench version\n  bench version --json | jq -r .gemm_info",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runVersion(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON object instead of lines")
	return cmd
}

func runVersion(opts *VersionOptions) error {
	b, err := opts.Backend()
	if err != nil {
		return err
	}
	if opts.JSON {
		b, _ := json.MarshalIndent(Info{Version: opts.Version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
			CPUs: runtime.NumCPU(), GEMM: b.Name(), GEMMAt: b.Info()}, "", "  ")
		_, err := fmt.Fprintf(opts.IO.Out, "%s\n", b)
		return err
	}
	fmt.Fprintf(opts.IO.Out, "bench %s\n", opts.Version)
	fmt.Fprintf(opts.IO.Out, "go: %s %s/%s, %d CPUs\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(opts.IO.Out, "gemm: %s (%s)\n", b.Name(), b.Info())
	return nil
}
