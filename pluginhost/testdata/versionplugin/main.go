// Command versionplugin serves the toy method while claiming the protocol
// version in $FAKE_PROTOCOL: a stand-in for a plugin built against an older
// or newer SDK, for the host's version-mismatch tests.
package main

import (
	"os"
	"strconv"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/wire"
)

func main() {
	v, err := strconv.Atoi(os.Getenv("FAKE_PROTOCOL"))
	if err != nil {
		os.Exit(2)
	}
	plugin.Serve(wire.ServeConfig(v, sdk.NewServer(toy.New(), nil)))
}
