// Command bench compares Siamese self-supervised learning methods under one
// backbone, one data pipeline and one evaluation protocol. See README.md.
package main

import (
	"os"

	"github.com/siambench/siambench/internal/cli"
)

func main() { os.Exit(cli.Main()) }
