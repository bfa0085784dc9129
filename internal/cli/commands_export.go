package cli

import (
	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/exportcmd"
	"github.com/siambench/siambench/internal/cli/factory"
)

func init() {
	commands = append(commands, func(f *factory.Factory) *cobra.Command { return exportcmd.NewCmdExport(f, nil) })
}
