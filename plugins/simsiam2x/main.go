// Command bench-method-simsiam2x serves SimSiam's "asymmetric 2×" (Chen &
// He, CVPR 2021, Section 4.6): two pairs of views per image, the
// asymmetric loss on each. The method is SimSiam's (plugins/simsiam).
package main

import (
	"github.com/siambench/siambench/plugins/simsiam/simsiam"
	"github.com/siambench/siambench/sdk"
)

func main() { sdk.Serve(simsiam.NewAsym2x()) }
