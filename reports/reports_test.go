package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"github.com/siambench/siambench/internal/clitest"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/siambench/siambench/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const fixture = "testdata/sweep"

// copyFixture copies the stored-results fixture into a fresh temporary
// directory (Generate writes beside the results) and returns its path.
func copyFixture(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "sweep")
	err := filepath.WalkDir(fixture, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fixture, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy fixture: %v", err)
	}
	return dst
}

func generate(t *testing.T, dir string) (*Report, string) {
	t.Helper()
	rep, err := Generate(context.Background(), dir, Options{})
	if err != nil {
		t.Fatalf("Generate(%s): %v", dir, err)
	}
	md, err := os.ReadFile(rep.Path)
	if err != nil {
		t.Fatalf("read report: %v", err)
	}
	return rep, string(md)
}

func readSummary(t *testing.T) results.Summary {
	t.Helper()
	var s results.Summary
	if err := results.ReadJSON(filepath.Join(fixture, results.SummaryFile), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// --- golden and determinism

func TestGenerateGolden(t *testing.T) {
	dir := copyFixture(t)
	rep, md := generate(t, dir)
	golden := filepath.Join("testdata", "report_golden.md")
	if *update {
		if err := os.WriteFile(golden, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
		// Keep a copy of the PNGs beside the golden Markdown so a reader of
		// the repository can look at what the fixture renders to.
		old, _ := filepath.Glob(filepath.Join("testdata", "golden_*.png"))
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range rep.Plots {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("testdata", "golden_"+filepath.Base(p)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run go test ./reports -update to create it): %v", err)
	}
	if md != string(want) {
		t.Errorf("report.md differs from %s (rerun with -update if the change is intended):\n%s", golden, firstDiff(string(want), md))
	}
	for _, p := range rep.Plots {
		gp := filepath.Join("testdata", "golden_"+filepath.Base(p))
		if diff := comparePNG(t, gp, p); diff > 0.01 {
			t.Errorf("%s: %.2f%% of pixels differ from %s (more than 1%%; rerun with -update if intended)", filepath.Base(p), 100*diff, gp)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := copyFixture(t), copyFixture(t)
	ra, mda := generate(t, a)
	rb, mdb := generate(t, b)
	if mda != mdb {
		t.Fatalf("two runs on the same results differ:\n%s", firstDiff(mda, mdb))
	}
	// Running again in place (report and PNGs already there) changes nothing.
	_, mda2 := generate(t, a)
	if mda2 != mda {
		t.Fatalf("regenerating in place changed the report:\n%s", firstDiff(mda, mda2))
	}
	if len(ra.Plots) != len(rb.Plots) {
		t.Fatalf("plot counts differ: %d vs %d", len(ra.Plots), len(rb.Plots))
	}
	for i := range ra.Plots {
		x, _ := os.ReadFile(ra.Plots[i])
		y, _ := os.ReadFile(rb.Plots[i])
		if !bytes.Equal(x, y) {
			t.Errorf("%s is not byte-identical across runs", filepath.Base(ra.Plots[i]))
		}
	}
}

// --- content

func TestMainRowsMatchSummary(t *testing.T) {
	sum := readSummary(t)
	rep, _ := generate(t, copyFixture(t))
	s := Setting{Dataset: "fashion-mnist", Backbone: "resnet-tiny"}
	if got := rep.Epochs[s]; len(got) != 2 || got[0] != 5 || got[1] != 10 {
		t.Fatalf("epoch columns = %v, want [5 10]", got)
	}
	// Expected numbers straight from summary.json.
	want := func(method string, batch, epochs int, f func(results.SummaryRun) float64) (mean, std float64, n, runs int) {
		var xs []float64
		for _, r := range sum.Runs {
			if r.Method != method || r.BatchSize != batch || r.Epochs != epochs || len(r.Options) > 0 {
				continue
			}
			runs++
			if r.Status == results.StatusCompleted || r.Status == results.StatusCollapsed {
				xs = append(xs, f(r))
			}
		}
		for _, x := range xs {
			mean += x
		}
		mean /= float64(len(xs))
		for _, x := range xs {
			std += (x - mean) * (x - mean)
		}
		return mean, math.Sqrt(std / float64(len(xs)-1)), len(xs), runs
	}
	lin := func(r results.SummaryRun) float64 { return r.LinearTop1 }
	knn := func(r results.SummaryRun) float64 { return r.KNNTop1 }
	tests := []struct {
		label     string
		batch     int
		epochs    int
		neg, mom  bool
		wantN     int // seeds with numbers
		wantRuns  int // seeds planned
		collapsed int
	}{
		{"simsiam", 128, 5, false, false, 3, 3, 0},
		{"simsiam", 128, 10, false, false, 3, 3, 0},
		{"simsiam", 64, 5, false, false, 2, 2, 0},
		{"byol", 128, 10, false, true, 2, 3, 0}, // seed 2 still running
		{"simclr", 128, 5, true, false, 2, 2, 0},
		{"swav", 128, 5, false, false, 2, 3, 0}, // seed 2 failed
	}
	for _, tc := range tests {
		t.Run(tc.label+"/"+itoa(tc.batch)+"/"+itoa(tc.epochs), func(t *testing.T) {
			row := findRow(t, rep.Main, tc.label, tc.batch)
			if row.Negatives != tc.neg || row.MomentumEncoder != tc.mom {
				t.Errorf("negatives, momentum = %v, %v; want %v, %v", row.Negatives, row.MomentumEncoder, tc.neg, tc.mom)
			}
			c := cellAt(t, row, tc.epochs)
			for _, probe := range []struct {
				name string
				got  Stat
				f    func(results.SummaryRun) float64
			}{{"linear", c.Linear, lin}, {"knn", c.KNN, knn}} {
				m, sd, n, runs := want(tc.label, tc.batch, tc.epochs, probe.f)
				if probe.got.N != tc.wantN || n != tc.wantN || c.Runs != runs || runs != tc.wantRuns {
					t.Errorf("%s: n = %d of %d, want %d of %d", probe.name, probe.got.N, c.Runs, tc.wantN, tc.wantRuns)
				}
				if math.Abs(probe.got.Mean-m) > 1e-12 || math.Abs(probe.got.Std-sd) > 1e-12 {
					t.Errorf("%s: got %v ± %v, want %v ± %v", probe.name, probe.got.Mean, probe.got.Std, m, sd)
				}
			}
			if c.Collapsed != tc.collapsed {
				t.Errorf("collapsed = %d, want %d", c.Collapsed, tc.collapsed)
			}
		})
	}
	// The collapsed ablation is not in the main table; baselines are, in order.
	var labels []string
	for _, r := range rep.Main {
		labels = append(labels, r.Label)
		if strings.Contains(r.Label, "stopgrad") {
			t.Errorf("ablation %q must not be in the main table", r.Label)
		}
	}
	wantLabels := []string{"simclr", "byol", "swav", "simsiam", "simsiam", "simsiam", "raw pixels", "random-init backbone", "supervised backbone"}
	if strings.Join(labels, ",") != strings.Join(wantLabels, ",") {
		t.Errorf("main rows = %v, want %v", labels, wantLabels)
	}
	raw := findRow(t, rep.Main, "raw pixels", 0)
	for _, c := range raw.Cells {
		if c.Linear.Mean != sum.Baselines[results.BaselineRawPixels].LinearTop1 || c.KNN.Mean != sum.Baselines[results.BaselineRawPixels].KNNTop1 {
			t.Errorf("raw pixels cell %d ep = %v/%v, want the stored baseline", c.Epochs, c.Linear.Mean, c.KNN.Mean)
		}
	}
}

func findRow(t *testing.T, rows []MainRow, label string, batch int) MainRow {
	t.Helper()
	for _, r := range rows {
		if r.Label == label && r.BatchSize == batch {
			return r
		}
	}
	t.Fatalf("no main row %q batch %d", label, batch)
	return MainRow{}
}

func cellAt(t *testing.T, r MainRow, epochs int) MainCell {
	t.Helper()
	for _, c := range r.Cells {
		if c.Epochs == epochs {
			return c
		}
	}
	t.Fatalf("row %q has no %d-epoch cell", r.Label, epochs)
	return MainCell{}
}

func TestMarkdownSaysWhatHappened(t *testing.T) {
	sum := readSummary(t)
	dir := copyFixture(t)
	rep, md := generate(t, dir)

	var newest time.Time
	var failedID, runningID string
	var collapsed []string
	for _, r := range sum.Runs {
		if r.FinishedAt.After(newest) {
			newest = r.FinishedAt
		}
		switch r.Status {
		case results.StatusFailed:
			failedID = r.ID
		case results.StatusRunning:
			runningID = r.ID
		case results.StatusCollapsed:
			collapsed = append(collapsed, r.ID)
		}
	}
	musts := []struct{ name, want string }{
		{"date from the newest finish time", "| date | " + newest.UTC().Format("2006-01-02 15:04 UTC")},
		{"machine", "AMD EPYC 9B45 (Zen 5) (2 cores), linux/amd64"},
		{"gemm backend", "openblas 0.3.21 (threads=2, core=Cooperlake)"},
		{"code version", "| code version | 3f9c2a1b7d4e |"},
		{"main table", "## Methods × epoch budgets (Table 4 style)"},
		{"batch table", "## Batch size (Table 2 style)"},
		{"transfer table", "## Transfer (Table 5 style)"},
		{"ablation table", "## Ablations of method options"},
		{"cost table", "## Cost"},
		{"kNN best-epoch table", "## kNN monitor: final and best epoch"},
		{"swav does not beat raw pixels", "**swav** (batch 128): best linear"},
		{"honest verdict", "does **not** beat raw pixels"},
		{"failed run listed", "`" + failedID + "`"},
		{"failed run's error", "rpc error: code = Unavailable"},
		{"running run listed", "`" + runningID + "`"},
		{"n of planned seeds", "(n=2 of 3)"},
		{"collapse flag", "**yes** (2 of 2)"},
		{"1/sqrt(d) for d=256", "0.0625"},
		{"baseline rows", "| *raw pixels* | — | — | — | 84.2 | 84.2 | 85.5 | 85.5 |"},
		{"transfer baseline", "| *raw pixels* | — | — | 91.9 |"},
	}
	for _, m := range musts {
		if !strings.Contains(md, m.want) {
			t.Errorf("%s: report lacks %q", m.name, m.want)
		}
	}
	for _, id := range collapsed {
		if !strings.Contains(md, "Run `"+id+"`") || !strings.Contains(md, "collapsed: output std") {
			t.Errorf("collapsed run %s and its reason are not listed", id)
		}
	}
	// The collapsed ablation peaked at epoch 1 and fell: its best-kNN row says so.
	if !regexp.MustCompile(`\| simsiam \(stopgrad=false\) \| 128 \| 5 \| 10\.\d ± \d\.\d \[[^]]*\] \(n=2\) \| 2\d\.\d ± \d\.\d \[[^]]*\] \(n=2\) \| 1 \| 1\d\.\d \|`).MatchString(md) {
		t.Errorf("kNN table lacks the collapsed run's early peak")
	}
	// swav's verdict line is the one that says it does not beat raw pixels.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "- **swav**") && !strings.Contains(line, "does **not** beat raw pixels") {
			t.Errorf("swav line lacks the verdict: %s", line)
		}
		if strings.HasPrefix(line, "- **byol**") && strings.Contains(line, "does **not**") {
			t.Errorf("byol beats raw pixels but the report says otherwise: %s", line)
		}
	}
	// Every linked PNG exists beside the report, by relative path, and every
	// written PNG is linked.
	links := regexp.MustCompile(`!\[[^\]]*\]\(([^)]+)\)`).FindAllStringSubmatch(md, -1)
	if len(links) != len(rep.Plots) {
		t.Errorf("report links %d images, Generate wrote %d", len(links), len(rep.Plots))
	}
	for _, l := range links {
		if filepath.IsAbs(l[1]) || strings.Contains(l[1], "/") {
			t.Errorf("image link %q is not a relative path beside the report", l[1])
		}
		if _, err := os.Stat(filepath.Join(dir, l[1])); err != nil {
			t.Errorf("linked image missing: %v", err)
		}
	}
	var names []string
	for _, p := range rep.Plots {
		names = append(names, filepath.Base(p))
	}
	sort.Strings(names)
	wantNames := []string{
		"acc-vs-batch-fashion-mnist-resnet-tiny.png", "acc-vs-epochs-fashion-mnist-resnet-tiny.png",
		"acc-vs-time-fashion-mnist-resnet-tiny.png",
		"curves-fashion-mnist-resnet-tiny-b128-e10.png", "curves-fashion-mnist-resnet-tiny-b128-e5.png",
		"curves-fashion-mnist-resnet-tiny-simsiam-e5-by-batch.png",
	}
	if strings.Join(names, " ") != strings.Join(wantNames, " ") {
		t.Errorf("plots = %v, want %v", names, wantNames)
	}
}

// --- PNGs

// TestPlotsAreReadable decodes every PNG and checks its size and that it
// holds a real drawing: enough ink, several colours, and each method's
// colour present in the figures that show that method.
func TestPlotsAreReadable(t *testing.T) {
	rep, _ := generate(t, copyFixture(t))
	simsiamColour := palette[3] // methods in order simclr, byol, swav, simsiam
	swavColour := palette[2]
	for _, p := range rep.Plots {
		t.Run(filepath.Base(p), func(t *testing.T) {
			img := decodePNG(t, p)
			b := img.Bounds()
			if b.Dx() < 900 || b.Dy() < 450 {
				t.Errorf("size %dx%d, want at least 900x450 to be readable", b.Dx(), b.Dy())
			}
			ink, colours := 0, map[color.RGBA]int{}
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					c := rgba(img.At(x, y))
					colours[c]++
					if c.R < 0xf0 || c.G < 0xf0 || c.B < 0xf0 {
						ink++
					}
				}
			}
			frac := float64(ink) / float64(b.Dx()*b.Dy())
			if frac < 0.02 || frac > 0.5 {
				t.Errorf("non-white pixels = %.1f%%, want 2-50%% (blank or flooded plot)", 100*frac)
			}
			if len(colours) < 20 {
				t.Errorf("only %d distinct colours: axes, text and curves missing?", len(colours))
			}
			// simsiam runs appear in every figure; swav in the 128-batch ones.
			if colours[simsiamColour] < 50 {
				t.Errorf("simsiam's colour %v covers %d pixels, want its curves drawn", simsiamColour, colours[simsiamColour])
			}
			if strings.Contains(p, "b128-e5") && colours[swavColour] < 50 {
				t.Errorf("swav's colour covers %d pixels in the 128/5 curves", colours[swavColour])
			}
		})
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img
}

func rgba(c color.Color) color.RGBA {
	r, g, b, a := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// comparePNG returns the fraction of pixels of got that differ from the
// golden PNG by more than a small tolerance per channel (1 when the sizes
// differ). On a difference it writes a diff image next to got and logs it.
func comparePNG(t *testing.T, goldenPath, gotPath string) float64 {
	t.Helper()
	if _, err := os.Stat(goldenPath); err != nil {
		t.Errorf("golden PNG missing (run go test ./reports -update): %v", err)
		return 0
	}
	want, got := decodePNG(t, goldenPath), decodePNG(t, gotPath)
	if want.Bounds() != got.Bounds() {
		return 1
	}
	b := got.Bounds()
	diff := image.NewRGBA(b)
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			w, g := rgba(want.At(x, y)), rgba(got.At(x, y))
			if absDiff(w.R, g.R) > 16 || absDiff(w.G, g.G) > 16 || absDiff(w.B, g.B) > 16 {
				n++
				diff.Set(x, y, color.RGBA{0xff, 0, 0, 0xff})
			} else {
				diff.Set(x, y, color.RGBA{0xff, 0xff, 0xff, 0xff})
			}
		}
	}
	frac := float64(n) / float64(b.Dx()*b.Dy())
	if n > 0 {
		dp := strings.TrimSuffix(gotPath, ".png") + "_diff.png"
		if f, err := os.Create(dp); err == nil {
			png.Encode(f, diff)
			f.Close()
			t.Logf("%s: %d pixels differ from the golden; diff image: %s", filepath.Base(gotPath), n, dp)
		}
	}
	return frac
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// --- bad input

func TestBadResults(t *testing.T) {
	tests := []struct {
		name string
		// prepare damages a fresh copy of the fixture and returns the
		// directory to pass to Generate.
		prepare func(t *testing.T, dir string) string
		wantErr string // "" when a report must still be written
		wantGap string // a gap the report must list
	}{
		{name: "missing dir", prepare: func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") }, wantErr: "does not exist"},
		{name: "file instead of dir", prepare: func(t *testing.T, dir string) string {
			return filepath.Join(dir, results.SummaryFile)
		}, wantErr: "is a file"},
		{name: "empty dir", prepare: func(t *testing.T, dir string) string { return t.TempDir() }, wantErr: "no results in"},
		{name: "corrupt summary", prepare: func(t *testing.T, dir string) string {
			write(t, filepath.Join(dir, results.SummaryFile), `{"runs": [`)
			return dir
		}, wantErr: "summary.json: unexpected end of JSON input (the file is corrupt"},
		{name: "summary without runs", prepare: func(t *testing.T, dir string) string {
			write(t, filepath.Join(dir, results.SummaryFile), `{"runs": [], "baselines": {}}`)
			return dir
		}, wantErr: "lists no runs and no baselines"},
		{name: "missing summary is rebuilt from runs", prepare: func(t *testing.T, dir string) string {
			rm(t, filepath.Join(dir, results.SummaryFile))
			return dir
		}, wantGap: "summary.json is missing"},
		{name: "corrupt metrics", prepare: func(t *testing.T, dir string) string {
			write(t, filepath.Join(dir, results.RunsDir, firstRun(t, dir, results.StatusCompleted), results.MetricsFile), "{\"epoch\":1}\nnot json\n{\"epoch\":3}\n")
			return dir
		}, wantGap: "per-epoch metrics unreadable"},
		{name: "missing metrics", prepare: func(t *testing.T, dir string) string {
			rm(t, filepath.Join(dir, results.RunsDir, firstRun(t, dir, results.StatusCompleted), results.MetricsFile))
			return dir
		}, wantGap: "so it has no per-epoch curves"},
		{name: "corrupt status", prepare: func(t *testing.T, dir string) string {
			write(t, filepath.Join(dir, results.RunsDir, firstRun(t, dir, results.StatusCompleted), results.StatusFile), "{")
			return dir
		}, wantGap: "status.json: unexpected end of JSON input"},
		{name: "accuracy stored as percent", prepare: func(t *testing.T, dir string) string {
			var s results.Summary
			mustRead(t, filepath.Join(dir, results.SummaryFile), &s)
			s.Runs[0].LinearTop1 = 87.2
			if err := results.WriteJSON(filepath.Join(dir, results.SummaryFile), s); err != nil {
				t.Fatal(err)
			}
			return dir
		}, wantGap: "linear_top1 = 87.2 is not a fraction in [0,1]"},
		{name: "run id escaping runs/", prepare: func(t *testing.T, dir string) string {
			var s results.Summary
			mustRead(t, filepath.Join(dir, results.SummaryFile), &s)
			s.Runs[0].ID = "../../etc"
			if err := results.WriteJSON(filepath.Join(dir, results.SummaryFile), s); err != nil {
				t.Fatal(err)
			}
			return dir
		}, wantGap: `run id "../../etc" is not a plain folder name`},
		{name: "corrupt baseline file without summary", prepare: func(t *testing.T, dir string) string {
			rm(t, filepath.Join(dir, results.SummaryFile))
			write(t, filepath.Join(dir, results.BaselinesDir, "supervised.json"), "[")
			return dir
		}, wantGap: "supervised.json: unexpected end of JSON input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.prepare(t, copyFixture(t))
			rep, err := Generate(context.Background(), dir, Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v (damaged per-run files must be gaps, not errors)", err)
			}
			md, err := os.ReadFile(rep.Path)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, g := range rep.Gaps {
				found = found || strings.Contains(g, tc.wantGap)
			}
			if !found {
				t.Errorf("gaps %q lack %q", rep.Gaps, tc.wantGap)
			}
			if !strings.Contains(string(md), "## Gaps in the results") || !strings.Contains(string(md), cell(tc.wantGap)) {
				t.Errorf("report does not show the gap %q", tc.wantGap)
			}
			if len(rep.Main) == 0 {
				t.Errorf("no main rows: a damaged run must not empty the report")
			}
		})
	}
}

// TestRebuiltSummaryMatches checks that, without summary.json, the rows
// rebuilt from the run folders give the same main table.
func TestRebuiltSummaryMatches(t *testing.T) {
	full, _ := generate(t, copyFixture(t))
	dir := copyFixture(t)
	rm(t, filepath.Join(dir, results.SummaryFile))
	rebuilt, md := generate(t, dir)
	if len(full.Main) != len(rebuilt.Main) {
		t.Fatalf("rows: %d with summary, %d rebuilt", len(full.Main), len(rebuilt.Main))
	}
	for i := range full.Main {
		a, b := full.Main[i], rebuilt.Main[i]
		if a.Label != b.Label || a.BatchSize != b.BatchSize || len(a.Cells) != len(b.Cells) {
			t.Fatalf("row %d: %q/%d vs rebuilt %q/%d", i, a.Label, a.BatchSize, b.Label, b.BatchSize)
		}
		for j := range a.Cells {
			if a.Cells[j] != b.Cells[j] {
				t.Errorf("row %q cell %d: %+v vs rebuilt %+v", a.Label, j, a.Cells[j], b.Cells[j])
			}
		}
	}
	if !strings.Contains(md, "the rows were rebuilt from the run folders") {
		t.Errorf("rebuilt report does not say so")
	}
}

func TestGenerateHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, copyFixture(t), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestOutDirAndTitle(t *testing.T) {
	dir := copyFixture(t)
	out := filepath.Join(t.TempDir(), "elsewhere")
	rep, err := Generate(context.Background(), dir, Options{OutDir: out, Title: "My sweep"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Path != filepath.Join(out, ReportFile) {
		t.Errorf("path = %s", rep.Path)
	}
	md, _ := os.ReadFile(rep.Path)
	if !strings.HasPrefix(string(md), "# My sweep\n") {
		t.Errorf("title not used: %.40q", md)
	}
	if _, err := os.Stat(filepath.Join(dir, ReportFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("report written into the results dir although OutDir was set (err=%v)", err)
	}
}

// --- terminal table

func TestPrintTable(t *testing.T) {
	rep, _ := generate(t, copyFixture(t))
	var buf bytes.Buffer
	if err := rep.PrintTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"fashion-mnist, resnet-tiny", "linear 5ep", "kNN 10ep", "raw pixels (baseline)", "(n=2 of 3)", "84.2", "supervised backbone (baseline)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// One table line per main row, in order, after the header line.
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "│") {
			f := strings.Split(line, "│")
			got = append(got, strings.TrimSpace(f[1]))
		}
	}
	if len(got) != len(rep.Main)+1 || got[0] != "method" {
		t.Fatalf("printed %d table lines, want header + %d rows:\n%s", len(got), len(rep.Main), out)
	}
	for i, r := range rep.Main {
		want := r.Label
		if r.Baseline != "" {
			want += " (baseline)"
		}
		if got[i+1] != want {
			t.Errorf("row %d = %q, want %q", i, got[i+1], want)
		}
	}
	var empty bytes.Buffer
	if err := PrintMainTable(&empty, nil, nil); err != nil || !strings.Contains(empty.String(), "No results") {
		t.Errorf("empty table: %q, %v", empty.String(), err)
	}
}

// --- helpers under test

func TestStatOf(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want Stat
	}{
		{"none", nil, Stat{}},
		{"one seed has no std", []float64{0.5}, Stat{Mean: 0.5, N: 1}},
		{"sample std (n-1)", []float64{0.1, 0.3}, Stat{Mean: 0.2, Std: math.Sqrt(0.02), N: 2}},
		{"three", []float64{1, 2, 3}, Stat{Mean: 2, Std: 1, N: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := statOf(tc.xs)
			if got.N != tc.want.N || math.Abs(got.Mean-tc.want.Mean) > 1e-12 || math.Abs(got.Std-tc.want.Std) > 1e-12 {
				t.Errorf("statOf(%v) = %+v, want %+v", tc.xs, got, tc.want)
			}
		})
	}
}

func TestStatCell(t *testing.T) {
	tests := []struct {
		s    Stat
		runs int
		want string
	}{
		{Stat{Mean: 0.6774, Std: 0.0012, Lo: 0.674419, Hi: 0.680381, N: 3}, 3, "67.7 ± 0.1 [67.4, 68.0] (n=3)"},
		{Stat{Mean: 0.6775, N: 1}, 1, "67.8 (n=1)"},
		{Stat{Mean: 0.5, Std: 0.01, Lo: 0.41015, Hi: 0.58985, N: 2}, 3, "50.0 ± 1.0 [41.0, 59.0] (n=2 of 3)"},
		{Stat{}, 2, "no result (n=0 of 2)"},
	}
	for _, tc := range tests {
		if got := statCell(tc.s, tc.runs); got != tc.want {
			t.Errorf("statCell(%+v, %d) = %q, want %q", tc.s, tc.runs, got, tc.want)
		}
	}
}

func TestCellEscapes(t *testing.T) {
	if got := cell("a|b\nc"); got != `a\|b c` {
		t.Errorf("cell = %q", got)
	}
}

// --- small helpers

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string, v any) {
	t.Helper()
	if err := results.ReadJSON(path, v); err != nil {
		t.Fatal(err)
	}
}

// firstRun returns the ID of the first run (by ID) with the given status.
func firstRun(t *testing.T, dir, status string) string {
	t.Helper()
	var s results.Summary
	mustRead(t, filepath.Join(dir, results.SummaryFile), &s)
	var ids []string
	for _, r := range s.Runs {
		if r.Status == status {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("fixture has no %s run", status)
	}
	sort.Strings(ids)
	return ids[0]
}

// firstDiff shows the first differing line of two texts.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n- " + x + "\n+ " + y
		}
	}
	return "(no line differs)"
}

// --- several settings, baselines only

func TestSeveralSettings(t *testing.T) {
	dir := copyFixture(t)
	var s results.Summary
	mustRead(t, filepath.Join(dir, results.SummaryFile), &s)
	for i := range s.Runs {
		if s.Runs[i].Method == "byol" {
			s.Runs[i].Dataset = "cifar10"
		}
	}
	if err := results.WriteJSON(filepath.Join(dir, results.SummaryFile), s); err != nil {
		t.Fatal(err)
	}
	rep, md := generate(t, dir)
	cifar := Setting{Dataset: "cifar10", Backbone: "resnet-tiny"}
	fm := Setting{Dataset: "fashion-mnist", Backbone: "resnet-tiny"}
	if len(rep.Epochs) != 2 || len(rep.Epochs[cifar]) != 2 || len(rep.Epochs[fm]) != 2 {
		t.Fatalf("epochs per setting = %v", rep.Epochs)
	}
	ci := strings.Index(md, "## Pre-trained on cifar10, backbone resnet-tiny")
	fi := strings.Index(md, "## Pre-trained on fashion-mnist, backbone resnet-tiny")
	if ci < 0 || fi < 0 || ci > fi {
		t.Fatalf("setting sections missing or out of order (cifar10 at %d, fashion-mnist at %d)", ci, fi)
	}
	// The stored baselines were computed on fashion-mnist: they must not be
	// shown as cifar10's.
	if !strings.Contains(md[ci:fi], "No raw-pixel baseline is stored for this setting") {
		t.Errorf("cifar10 section does not say it has no baseline")
	}
	if strings.Contains(md[ci:fi], "*raw pixels*") {
		t.Errorf("fashion-mnist baselines shown under cifar10")
	}
	for _, r := range rep.Main {
		if r.Dataset == "cifar10" && (r.Baseline != "" || r.Method != "byol") {
			t.Errorf("unexpected cifar10 row %+v", r.Label)
		}
	}
	var cifarPlots int
	for _, p := range rep.Plots {
		if strings.Contains(filepath.Base(p), "cifar10-resnet-tiny") {
			cifarPlots++
		}
	}
	if cifarPlots == 0 {
		t.Errorf("no plots for the cifar10 setting: %v", rep.Plots)
	}
	var buf bytes.Buffer
	if err := rep.PrintTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "cifar10, resnet-tiny") || !strings.Contains(buf.String(), "fashion-mnist, resnet-tiny") {
		t.Errorf("terminal table lacks a setting:\n%s", buf.String())
	}
}

func TestBaselinesOnly(t *testing.T) {
	dir := t.TempDir()
	sum := results.Summary{Baselines: map[string]results.Baseline{
		results.BaselineRawPixels: {Dataset: "mnist", KNNTop1: 0.97, LinearTop1: 0.92},
	}}
	if err := results.WriteJSON(filepath.Join(dir, results.SummaryFile), sum); err != nil {
		t.Fatal(err)
	}
	rep, md := generate(t, dir)
	if len(rep.Plots) != 0 {
		t.Errorf("plots without runs: %v", rep.Plots)
	}
	for _, want := range []string{"No method runs were stored for this setting", "| *raw pixels* | 92.0 | 97.0 |", "| date | not recorded"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestResultCell(t *testing.T) {
	tests := []struct {
		name         string
		s            Stat
		runs, failed int
		want         string
	}{
		{"none failed", statOf([]float64{0.4, 0.6}), 2, 0, "50.0 ± 14.1 [-77.1, 177.1] (n=2)"},
		{"all failed", Stat{}, 2, 2, "failed ‡"},
		{"some failed", Stat{Mean: 0.5, N: 1}, 2, 1, "50.0 (n=1 of 2) ‡"},
		{"failed and unfinished", Stat{}, 3, 1, "no result (n=0 of 3) ‡"},
		{"unfinished only", Stat{}, 1, 0, "no result (n=0 of 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultCell(tc.s, tc.runs, tc.failed); got != tc.want {
				t.Errorf("resultCell = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFailedRunsShowFailed: a sweep whose only run failed, and one where
// one option variant failed beside a completed one, show "failed" with a
// footnote giving the reason in every table the run appears in (main and
// ablation tables, the terminal table), never 0.0% or "no result".
func TestFailedRunsShowFailed(t *testing.T) {
	failed := results.SummaryRun{ID: "toy-b64-e1-s0-aaaa", Method: "toy", Options: map[string]string{"dim": "-1"},
		Dataset: "default", Backbone: "refnet", BatchSize: 64, Epochs: 1, Status: results.StatusFailed,
		Error: "init method toy: bad input: option dim = -1, want ≥ 1"}
	done := results.SummaryRun{ID: "toy-b64-e1-s0-bbbb", Method: "toy", Options: map[string]string{},
		Dataset: "default", Backbone: "refnet", BatchSize: 64, Epochs: 1, Status: results.StatusCompleted,
		KNNTop1: 0.4, LinearTop1: 0.5, WallSeconds: 2, ImagesPerSecond: 100}
	failedDefault := failed
	failedDefault.Options = map[string]string{}
	cases := []struct {
		name string
		runs []results.SummaryRun
		want []string
	}{
		{"only run failed", []results.SummaryRun{failedDefault},
			[]string{"| toy | 64 | no | no | failed ‡ | failed ‡ |", "‡ `toy-b64-e1-s0-aaaa` (toy, batch 64, 1 epochs, seed 0) failed: init method toy: bad input: option dim = -1, want ≥ 1",
				"every run failed (‡), so no numbers"}},
		{"one variant failed", []results.SummaryRun{done, failed},
			[]string{"| toy | dim=-1 | 64 | 1 | failed ‡ | failed ‡ |", "‡ `toy-b64-e1-s0-aaaa` (toy (dim=-1), batch 64, 1 epochs, seed 0) failed: init method toy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := results.WriteJSON(filepath.Join(dir, results.SummaryFile), results.Summary{Runs: tc.runs}); err != nil {
				t.Fatal(err)
			}
			rep, md := generate(t, dir)
			for _, want := range tc.want {
				if !strings.Contains(md, want) {
					t.Errorf("report lacks %q:\n%s", want, md)
				}
			}
			if strings.Contains(md, "| 0.0 (n=") || strings.Contains(md, "no result") {
				t.Errorf("report shows a failed run as a number or 'no result':\n%s", md)
			}
			var buf bytes.Buffer
			if err := rep.PrintTable(&buf); err != nil {
				t.Fatal(err)
			}
			if tc.name == "only run failed" && (!strings.Contains(buf.String(), "failed ‡") || !strings.Contains(buf.String(), "‡ some or all seeds of the cell failed")) {
				t.Errorf("terminal table:\n%s", &buf)
			}
		})
	}
}

// Accuracies over 2000 images are multiples of 0.05%: their ties round half
// away from zero however they fall in binary (0.7915 is 79.149999…%).
func TestPctRoundsTiesAwayFromZero(t *testing.T) {
	for x, want := range map[float64]string{
		0.7915: "79.2", 0.7755: "77.6", 0.8055: "80.6", 0.6725: "67.3", 0.7914: "79.1",
		-0.0305: "-3.1", 0.03: "3.0", 1: "100.0", 0: "0.0",
	} {
		if got := Pct(x); got != want {
			t.Errorf("Pct(%v) = %s, want %s", x, got, want)
		}
	}
}

func TestMain(m *testing.M) { clitest.Main(m) }

// A report that rebuilds summary.json from the run folders gets the rows the
// sweep wrote (one results.NewSummaryRun for both), checked on a real sweep.
func TestRebuiltRowsEqualSweepRows(t *testing.T) {
	dir := filepath.Dir(filepath.Dir(clitest.TrainedRun(t))) // DIR/runs/ID
	var want results.Summary
	if err := results.ReadJSON(filepath.Join(dir, results.SummaryFile), &want); err != nil {
		t.Fatal(err)
	}
	got, err := rebuildSummary(context.Background(), &sweep{dir: dir, configs: map[string]*runFiles{}})
	if err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(got.Runs)
	wj, _ := json.Marshal(want.Runs)
	if len(want.Runs) == 0 || string(gj) != string(wj) {
		t.Errorf("rows rebuilt from the run folders differ from summary.json's:\nrebuilt      %s\nsummary.json %s", gj, wj)
	}
}
