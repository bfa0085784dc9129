package cli

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// TestEveryVerbRegistered: each verb package under internal/cli (a folder
// NAME or NAMEcmd, factory aside) is a subcommand of the root, once.
func TestEveryVerbRegistered(t *testing.T) {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range ents {
		if e.IsDir() && e.Name() != "factory" && e.Name() != "testdata" {
			want = append(want, strings.TrimSuffix(e.Name(), "cmd"))
		}
	}
	io, _, _, _ := iostreams.Test()
	var have []string
	for _, c := range NewRootCmd(factory.New(io)).Commands() {
		if c.Name() != "help" && c.Name() != "completion" {
			have = append(have, c.Name())
		}
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Fatalf("root verbs %v, verb packages %v", have, want)
	}
}
