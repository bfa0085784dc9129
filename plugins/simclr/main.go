// Command bench-method-simclr serves SimCLR (arXiv:2002.05709) as a bench plugin.
package main

import (
	"github.com/siambench/siambench/plugins/simclr/simclr"
	"github.com/siambench/siambench/sdk"
)

func main() { sdk.Serve(simclr.New()) }
