package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/siambench/siambench/data"
)

func TestStratified(t *testing.T) {
	// 3 classes with 5, 7 and 2 images.
	labels := []int{0, 1, 1, 0, 2, 1, 0, 1, 1, 0, 2, 1, 0, 1}
	ds, err := data.NewMemory("s", 1, 1, 1, make([]uint8, len(labels)), labels, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := stratified(ds, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 6 || !sort.IntsAreSorted(idx) {
		t.Fatalf("indices %v: want 6, sorted", idx)
	}
	per := map[int]int{}
	for _, i := range idx {
		per[labels[i]]++
	}
	if per[0] != 2 || per[1] != 2 || per[2] != 2 {
		t.Fatalf("per class %v, want 2 each", per)
	}
	again, _ := stratified(ds, 2, 7)
	other, _ := stratified(ds, 2, 8)
	if !equalInts(idx, again) {
		t.Error("same seed, different subset")
	}
	if equalInts(idx, other) {
		t.Error("seeds 7 and 8 chose the same subset (possible but unlikely here)")
	}
	if _, err := stratified(ds, 3, 7); err == nil || !strings.Contains(err.Error(), "class 2 has 2 images") {
		t.Errorf("too few images: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRegenerateMatchesEmbedded rebuilds the embedded files from the local
// copies of Fashion-MNIST and MNIST and checks that their content is
// identical to what is committed (the decompressed IDX bytes; the gzip bytes
// may differ between Go releases).
func TestRegenerateMatchesEmbedded(t *testing.T) {
	for _, n := range []string{"fashion-mnist", "mnist"} {
		if _, err := data.Locate(n, ""); err != nil {
			t.Skipf("cannot regenerate without the full datasets on this machine: %v", err)
		}
	}
	out := t.TempDir()
	if err := run(out); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"fashion-mnist", "mnist"} {
		for _, f := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
			got, err := data.ReadIDXFile(filepath.Join(out, n, f))
			if err != nil {
				t.Fatal(err)
			}
			want, err := data.ReadIDXFile(filepath.Join("..", n, f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, want.Data) || len(got.Dims) != len(want.Dims) || got.Dims[0] != want.Dims[0] {
				t.Errorf("%s/%s: regenerated content differs from the embedded file", n, f)
			}
			gz1, _ := os.ReadFile(filepath.Join(out, n, f))
			gz2, _ := os.ReadFile(filepath.Join("..", n, f))
			if !bytes.Equal(gz1, gz2) {
				t.Logf("%s/%s: same content, different gzip bytes (another Go release?)", n, f)
			}
		}
	}
}
