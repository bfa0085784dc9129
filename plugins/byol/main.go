// Command bench-method-byol serves BYOL (arXiv:2006.07733) as a bench plugin.
package main

import (
	"github.com/siambench/siambench/plugins/byol/byol"
	"github.com/siambench/siambench/sdk"
)

func main() { sdk.Serve(byol.New()) }
