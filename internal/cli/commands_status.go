package cli

import (
	"github.com/spf13/cobra"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/cli/status"
)

func init() {
	commands = append(commands, func(f *factory.Factory) *cobra.Command { return status.NewCmdStatus(f, nil) })
}
