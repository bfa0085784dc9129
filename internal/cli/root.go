// Package cli assembles the bench command tree. Each verb lives in its own
// package under internal/cli/<verb>; this file only wires them together.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/datacmd"
	"github.com/siambench/siambench/internal/cli/evalcmd"
	"github.com/siambench/siambench/internal/cli/exportcmd"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/cli/list"
	"github.com/siambench/siambench/internal/cli/plugincmd"
	"github.com/siambench/siambench/internal/cli/report"
	"github.com/siambench/siambench/internal/cli/run"
	"github.com/siambench/siambench/internal/cli/status"
	"github.com/siambench/siambench/internal/cli/version"
	"github.com/siambench/siambench/internal/iostreams"
)

// NewRootCmd returns the root command with every verb added: the one list
// of verbs is the AddCommand call below.
func NewRootCmd(f *factory.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "bench",
		Short: "Compare Siamese self-supervised learning methods fairly",
		Long: `bench trains SimSiam, BYOL, SimCLR, SwAV, MoCo v2, Barlow Twins and any
method you add as a plugin under one shared backbone, one data pipeline and
one evaluation protocol, and writes paper-style tables and plots.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var logLevel, logFormat string
	pf := root.PersistentFlags()
	pf.StringVar(&logLevel, "log-level", "info", "log messages at this level and above: "+strings.Join(factory.LogLevels, ", "))
	pf.StringVar(&logFormat, "log-format", "text", "log lines as text (key=value) or json (one object a line, for log collectors)")
	_ = root.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions(factory.LogLevels, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions(factory.LogFormats, cobra.ShellCompDirectiveNoFileComp))
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := f.SetLogging(logLevel, logFormat); err != nil {
			return usageError{err}
		}
		return nil
	}
	// A bad flag is a usage error: exit code 2, as bench run documents.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.AddCommand(
		datacmd.NewCmdData(f, nil),
		evalcmd.NewCmdEval(f, nil),
		exportcmd.NewCmdExport(f, nil),
		list.NewCmdList(f, nil),
		plugincmd.NewCmdPlugin(f, nil),
		report.NewCmdReport(f, nil),
		run.NewCmdRun(f, nil),
		status.NewCmdStatus(f, nil),
		version.NewCmdVersion(f, nil),
	)
	return root
}

// usageError is a flag error; the process exits with code 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
func (usageError) ExitCode() int   { return 2 }

// Main runs the CLI with the process's streams and arguments and returns the
// exit code. Errors are printed once, without usage or stack traces.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, factory.New(iostreams.System()), os.Args[1:])
}

// Execute runs the command line args (without the program name) with f's
// streams and returns the exit code, as Main does; tests call it in-process.
func Execute(ctx context.Context, f *factory.Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(f.IO.ErrOut, "error: %v\n", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}
