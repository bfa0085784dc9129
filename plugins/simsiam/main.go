// Command bench-method-simsiam serves SimSiam (arXiv:2011.10566) as a bench plugin.
package main

import (
	"github.com/siambench/siambench/plugins/simsiam/simsiam"
	"github.com/siambench/siambench/sdk"
)

func main() { sdk.Serve(simsiam.New()) }
