// Package version implements `bench version`.
package version

import (
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
}

// NewCmdVersion returns the version command. When runF is non-nil it is
// called with the parsed options instead of runVersion (for parse tests).
func NewCmdVersion(f *factory.Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO, Version: f.Version, Backend: gemm.FromEnv}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the code version, Go version and GEMM backend",
		Long: `Print the code version stamped into every run ID and report, the Go toolchain
and platform, and the matrix-multiply backend that training uses (set it with
SIAMBENCH_GEMM).`,
		Example: "  bench version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runVersion(opts)
		},
	}
}

func runVersion(opts *VersionOptions) error {
	b, err := opts.Backend()
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "bench %s\n", opts.Version)
	fmt.Fprintf(opts.IO.Out, "go: %s %s/%s, %d CPUs\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(opts.IO.Out, "gemm: %s (%s)\n", b.Name(), b.Info())
	return nil
}
