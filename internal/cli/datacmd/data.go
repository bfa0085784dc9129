// Package datacmd implements `bench data`: fetch, verify, inspect datasets
// and draw a PNG grid of augmented views.
package datacmd

import (
	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/factory"
)

// RunFuncs replace the sub-commands' run functions (for parse tests); a nil
// RunFuncs or a nil field runs the real command.
type RunFuncs struct {
	Fetch  func(*FetchOptions) error
	Verify func(*VerifyOptions) error
	Info   func(*InfoOptions) error
	Show   func(*ShowOptions) error
}

// NewCmdData returns the `data` command with its sub-commands.
func NewCmdData(f *factory.Factory, rf *RunFuncs) *cobra.Command {
	if rf == nil {
		rf = &RunFuncs{}
	}
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Fetch, verify and inspect datasets; draw augmented views",
		Long: `Datasets: "default" (embedded Fashion-MNIST subset, no set-up needed),
"default-mnist" (embedded MNIST subset), fashion-mnist, mnist, cifar10, cifar100,
stl10, and folder:PATH (one sub-folder of PNG/JPEG images per class).

Downloads go to $SIAMBENCH_DATA, or to the user cache directory
(e.g. ~/.cache/siambench/data). Local copies of Fashion-MNIST (Debian's
dataset-fashion-mnist) and MNIST (the GoMNIST Go module) are used without
downloading.`,
	}
	cmd.AddCommand(NewCmdFetch(f, rf.Fetch), NewCmdVerify(f, rf.Verify), NewCmdInfo(f, rf.Info), NewCmdShow(f, rf.Show))
	return cmd
}
