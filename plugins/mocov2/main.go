// Command bench-method-mocov2 serves MoCo v2 (arXiv:2003.04297) as a bench plugin.
package main

import (
	"github.com/siambench/siambench/plugins/mocov2/mocov2"
	"github.com/siambench/siambench/sdk"
)

func main() { sdk.Serve(mocov2.New()) }
