package cli

import (
	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/cli/plugincmd"
)

func init() {
	commands = append(commands, func(f *factory.Factory) *cobra.Command { return plugincmd.NewCmdPlugin(f, nil) })
}
