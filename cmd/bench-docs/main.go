// Command bench-docs writes the Markdown reference of every bench command,
// docs/cli/bench.md, bench_run.md, ... (make docs), with cobra/doc from the
// command tree itself: Use, Short, Long, Example and every flag with its
// default. Usage: bench-docs [DIR] (default docs/cli).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/siambench/siambench/internal/cli"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

func main() {
	dir := filepath.Join("docs", "cli")
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := generate(dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench-docs:", err)
		os.Exit(1)
	}
}

// generate replaces dir's bench*.md with the reference of every command (a
// removed command's page goes too). The bytes depend on the code alone: no
// "Auto generated ... on DATE" footer, and the factory is built on test
// streams, so nothing of the terminal or the machine leaks in.
func generate(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "bench*.md"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	io, _, _, _ := iostreams.Test()
	root := cli.NewRootCmd(factory.New(io))
	// cobra adds `bench completion` only when it executes; the pages list it
	// like the other commands.
	root.InitDefaultCompletionCmd()
	noDates(root)
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return fmt.Errorf("generate %s: %w", dir, err)
	}
	return nil
}

// noDates sets DisableAutoGenTag on c and every command below it: cobra/doc
// checks it per page.
func noDates(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		noDates(sub)
	}
}
