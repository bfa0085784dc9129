// Command bench-method-swav serves SwAV (arXiv:2006.09882) as a bench plugin.
package main

import (
	"github.com/siambench/siambench/plugins/swav/swav"
	"github.com/siambench/siambench/sdk"
)

func main() { sdk.Serve(swav.New()) }
