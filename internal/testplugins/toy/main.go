// Command bench-method-toy serves the toy method (a test fixture) as a plugin.
package main

import (
	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/sdk"
)

func main() {
	toy.FaultsFromEnv() // describe-mode faults for the host's tests
	sdk.Serve(toy.New())
}
