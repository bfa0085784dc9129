// Command bench-method-barlowtwins serves Barlow Twins (arXiv:2103.03230) as a bench plugin.
package main

import (
	"github.com/siambench/siambench/plugins/barlowtwins/barlowtwins"
	"github.com/siambench/siambench/sdk"
)

func main() { sdk.Serve(barlowtwins.New()) }
