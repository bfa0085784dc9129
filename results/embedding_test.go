package results

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEmbeddingRoundTrip(t *testing.T) {
	e := &Embedding{
		Method: "simsiam", Dataset: "cifar10", Split: "test", Subset: "the first 100 test images of each class",
		Dim: 512, Classes: []string{"cat", "dog"}, ExplainedVariance: [2]float64{0.31234, 0.1},
		Label: []int{0, 1, 1}, X: []float64{-0.5, 0, 1.23456}, Y: []float64{2, -3e-5, 0.00001},
	}
	p := filepath.Join(t.TempDir(), "runs", "id", EmbeddingFile)
	if err := WriteEmbedding(p, e); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEmbedding(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
	}
	b, _ := os.ReadFile(p)
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Errorf("file has %d lines, want one (compact JSON)", n)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestEmbeddingCheck(t *testing.T) {
	base := func() *Embedding {
		return &Embedding{Classes: []string{"a", "b"}, Label: []int{0, 1}, X: []float64{0, 1}, Y: []float64{1, 0}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Embedding)
		want   string // "" for no error
	}{
		{"good", func(*Embedding) {}, ""},
		{"short x", func(e *Embedding) { e.X = e.X[:1] }, "2 labels, 1 x"},
		{"label out of range", func(e *Embedding) { e.Label[1] = 2 }, "label 2"},
		{"NaN", func(e *Embedding) { e.Y[0] = math.NaN() }, "not finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := base()
			tc.mutate(e)
			err := e.Check()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check() = %v, want %q", err, tc.want)
			}
		})
	}
	// A corrupt file is an error that names it.
	p := filepath.Join(t.TempDir(), EmbeddingFile)
	os.WriteFile(p, []byte(`{"label":[0],"x":[1],"y":[1],"classes":[]}`), 0o644)
	if _, err := ReadEmbedding(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("ReadEmbedding of an inconsistent file: %v", err)
	}
}
