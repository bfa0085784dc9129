package reports

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siambench/siambench/results"
)

var fashionClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// fakeEmbedding is 60 points per class around centres on a circle of
// radius sep: larger sep, better separated classes.
func fakeEmbedding(method string, sep float64, seed uint64) *results.Embedding {
	rng := rand.New(rand.NewPCG(seed, 9))
	e := &results.Embedding{Method: method, Dataset: "fashion-mnist", Split: "test", Dim: 64,
		Subset: "the first 60 test images of each class, in split order (600 of 1000)", Classes: fashionClasses,
		ExplainedVariance: [2]float64{0.2 + sep/50, 0.1}}
	for i := 0; i < 600; i++ {
		c := i % 10
		a := 2 * math.Pi * float64(c) / 10
		e.Label = append(e.Label, c)
		e.X = append(e.X, sep*math.Cos(a)+rng.NormFloat64())
		e.Y = append(e.Y, sep*math.Sin(a)+rng.NormFloat64())
	}
	return e
}

// addEmbeddings stores embeddings in a copy of the fixture as the harness
// would: for simsiam (seed 0), byol (seed 1 only) and swav at batch 128, 5
// epochs, none for simclr (an older bench), and for the random-init baseline.
func addEmbeddings(t *testing.T, dir string) {
	t.Helper()
	ids := map[string]float64{"simsiam-f9e0568036f4": 6, "byol-358cea4be410": 4, "swav-415e3fa440d2": 3}
	for id, sep := range ids {
		p := filepath.Join(dir, results.RunsDir, id, results.EmbeddingFile)
		if err := results.WriteEmbedding(p, fakeEmbedding(strings.Split(id, "-")[0], sep, uint64(sep))); err != nil {
			t.Fatal(err)
		}
	}
	var sum results.Summary
	sp := filepath.Join(dir, results.SummaryFile)
	if err := results.ReadJSON(sp, &sum); err != nil {
		t.Fatal(err)
	}
	b := sum.Baselines[results.BaselineRandomInit]
	b.Embedding = "baselines/embeddings/random_init.json"
	if err := results.WriteEmbedding(filepath.Join(dir, filepath.FromSlash(b.Embedding)), fakeEmbedding(results.BaselineRandomInit, 0.5, 1)); err != nil {
		t.Fatal(err)
	}
	sum.Baselines[results.BaselineRandomInit] = b
	if err := results.WriteJSON(sp, sum); err != nil {
		t.Fatal(err)
	}
}

const embeddingPNG = "embedding-fashion-mnist-resnet-tiny-b128-e5.png"

func TestEmbeddingFigure(t *testing.T) {
	dir := copyFixture(t)
	addEmbeddings(t, dir)
	rep, md := generate(t, dir)

	var png string
	for _, p := range rep.Plots {
		if filepath.Base(p) == embeddingPNG {
			png = p
		}
		if strings.HasPrefix(filepath.Base(p), "embedding-") && filepath.Base(p) != embeddingPNG {
			t.Errorf("unexpected embedding figure %s (only batch 128, 5 epochs has embeddings)", p)
		}
	}
	if png == "" {
		t.Fatalf("no %s among the plots %v", embeddingPNG, rep.Plots)
	}
	for _, want := range []string{
		"## Embeddings of the test features",
		"](" + embeddingPNG + ")",
		"How to read it: the more a trained method's classes form separate clumps than the random-init backbone's",
		"No scatter for simclr at batch 128, 5 epochs: its result predates embeddings",
		"No scatter at batch 64, 5 epochs; batch 128, 10 epochs; batch 256, 5 epochs: no run there stored",
		"the first 60 test images of each class",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Beside the accuracy tables: after the main table, before the batch-size table.
	if i, j := strings.Index(md, "## Embeddings"), strings.Index(md, "## Batch size"); i < 0 || j < 0 || i > j {
		t.Errorf("embeddings section at %d, batch-size table at %d: want it right after the main table", i, j)
	}
	if strings.Count(md, embeddingPNG) != 1 {
		t.Errorf("%s linked %d times, want once (not again under Figures)", embeddingPNG, strings.Count(md, embeddingPNG))
	}

	// The PNG: four panels (simsiam, byol, swav, random init) plus a legend,
	// every class colour drawn.
	img := decodePNG(t, png)
	bd := img.Bounds()
	if bd.Dx() < 1400 || bd.Dy() < 360 {
		t.Errorf("size %dx%d, want four 3.6-inch panels in a row", bd.Dx(), bd.Dy())
	}
	colours := map[[3]uint8]int{}
	ink := 0
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			c := rgba(img.At(x, y))
			colours[[3]uint8{c.R, c.G, c.B}]++
			if c.R < 0xf0 || c.G < 0xf0 || c.B < 0xf0 {
				ink++
			}
		}
	}
	if frac := float64(ink) / float64(bd.Dx()*bd.Dy()); frac < 0.02 || frac > 0.5 {
		t.Errorf("non-white pixels %.1f%%, want 2-50%%", 100*frac)
	}
	for i, c := range classColours {
		if n := colours[[3]uint8{c.R, c.G, c.B}]; n < 1000 {
			t.Errorf("class %d (%s) colour %v covers %d pixels, want its points drawn", i, fashionClasses[i], c, n)
		}
	}

	// Golden image (≤ 1% of pixels may differ) for a reader to look at.
	// (not golden_*.png: TestGenerateGolden -update replaces those with the fixture's plots)
	golden := filepath.Join("testdata", "embedding_golden.png")
	if *update {
		b, err := os.ReadFile(png)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := comparePNG(t, golden, png); diff > 0.01 {
		t.Errorf("%s: %.2f%% of pixels differ from %s", embeddingPNG, 100*diff, golden)
	}
}

func TestEmbeddingFigureIsDeterministic(t *testing.T) {
	a, b := copyFixture(t), copyFixture(t)
	addEmbeddings(t, a)
	addEmbeddings(t, b)
	_, mda := generate(t, a)
	_, mdb := generate(t, b)
	if mda != mdb {
		t.Fatalf("reports differ:\n%s", firstDiff(mda, mdb))
	}
	x, err := os.ReadFile(filepath.Join(a, embeddingPNG))
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(filepath.Join(b, embeddingPNG))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s is not byte-identical across two renders", embeddingPNG)
	}
}

func TestEmbeddingsAbsentOrBroken(t *testing.T) {
	t.Run("older results: one line, no figure", func(t *testing.T) {
		rep, md := generate(t, copyFixture(t))
		for _, p := range rep.Plots {
			if strings.HasPrefix(filepath.Base(p), "embedding-") {
				t.Errorf("figure %s drawn without embeddings", p)
			}
		}
		if strings.Contains(md, "embedding-") {
			t.Error("report links an embedding figure it has none for")
		}
		if n := strings.Count(md, "No scatter of the features: none of these runs stored an `embedding.json`"); n != 1 {
			t.Errorf("the no-embeddings line appears %d times, want once", n)
		}
	})
	t.Run("corrupt file: a gap, the rest drawn", func(t *testing.T) {
		dir := copyFixture(t)
		addEmbeddings(t, dir)
		bad := filepath.Join(dir, results.RunsDir, "byol-358cea4be410", results.EmbeddingFile)
		if err := os.WriteFile(bad, []byte(`{"label":[0],"x":[`), 0o644); err != nil {
			t.Fatal(err)
		}
		rep, md := generate(t, dir)
		if !strings.Contains(md, "No scatter for simclr, byol at batch 128, 5 epochs") {
			t.Error("the unreadable byol embedding is not listed as missing")
		}
		found := false
		for _, g := range rep.Gaps {
			found = found || strings.Contains(g, "byol-358cea4be410") && strings.Contains(g, "embedding unreadable")
		}
		if !found {
			t.Errorf("no gap for the corrupt embedding: %v", rep.Gaps)
		}
	})
	t.Run("baseline path escaping baselines/: not read", func(t *testing.T) {
		dir := copyFixture(t)
		addEmbeddings(t, dir)
		var sum results.Summary
		sp := filepath.Join(dir, results.SummaryFile)
		results.ReadJSON(sp, &sum)
		b := sum.Baselines[results.BaselineRandomInit]
		b.Embedding = "baselines/../runs/simsiam-f9e0568036f4/embedding.json"
		sum.Baselines[results.BaselineRandomInit] = b
		results.WriteJSON(sp, sum)
		rep, md := generate(t, dir)
		if !strings.Contains(md, "No scatter for simclr, random-init backbone at batch 128") {
			t.Error("random init drawn from a path outside baselines/")
		}
		if len(rep.Gaps) == 0 || !strings.Contains(strings.Join(rep.Gaps, "\n"), "not a plain path") {
			t.Errorf("no gap for the bad path: %v", rep.Gaps)
		}
	})
}
