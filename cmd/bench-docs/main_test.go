package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDocsUpToDate regenerates the command reference into a temporary
// folder: the committed docs/cli must be byte-identical, page for page.
func TestDocsUpToDate(t *testing.T) {
	committed := filepath.Join("..", "..", "docs", "cli")
	fresh := t.TempDir()
	if err := generate(fresh); err != nil {
		t.Fatal(err)
	}
	pages := func(dir string) []string {
		ps, err := filepath.Glob(filepath.Join(dir, "bench*.md"))
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range ps {
			ps[i] = filepath.Base(p)
		}
		return ps
	}
	want, have := pages(fresh), pages(committed)
	if !slices.Equal(want, have) {
		t.Fatalf("docs/cli is stale: run make docs (pages %v, the commands give %v)", have, want)
	}
	for _, name := range want {
		w, err := os.ReadFile(filepath.Join(fresh, name))
		if err != nil {
			t.Fatal(err)
		}
		h, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w, h) {
			t.Errorf("docs/cli is stale: run make docs (%s differs from what the commands give)", name)
		}
	}
	// Twice gives the same bytes: nothing dated or random in the pages.
	again := t.TempDir()
	if err := generate(again); err != nil {
		t.Fatal(err)
	}
	for _, name := range want {
		a, _ := os.ReadFile(filepath.Join(fresh, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if !bytes.Equal(a, b) || bytes.Contains(a, []byte("Auto generated")) {
			t.Errorf("%s is not deterministic", name)
		}
	}
}

// TestGenerateRemovesOldPages: a page of a command that no longer exists
// goes; other files in the folder stay.
func TestGenerateRemovesOldPages(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"bench_gone.md", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bench_gone.md")); !os.IsNotExist(err) {
		t.Errorf("bench_gone.md kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Errorf("README.md removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bench_run.md")); err != nil {
		t.Error(err)
	}
}
