package data

import (
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cifarRecords builds n CIFAR records; pixel k of record i is (i+k) mod 256,
// the last label byte is i mod classes.
func cifarRecords(n, labelBytes, classes int) []byte {
	var out []byte
	for i := range n {
		for b := range labelBytes {
			if b == labelBytes-1 {
				out = append(out, byte(i%classes))
			} else {
				out = append(out, byte(i%20)) // coarse label, ignored
			}
		}
		for k := range 3072 {
			out = append(out, byte(i+k))
		}
	}
	return out
}

func writeCIFAR10(t *testing.T, dir string) {
	t.Helper()
	d := filepath.Join(dir, "cifar-10-batches-bin")
	must(t, os.MkdirAll(d, 0o755))
	for i := 1; i <= 5; i++ {
		must(t, os.WriteFile(filepath.Join(d, "data_batch_"+string(rune('0'+i))+".bin"), cifarRecords(3, 1, 10), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(d, "test_batch.bin"), cifarRecords(4, 1, 10), 0o644))
	must(t, os.WriteFile(filepath.Join(d, "batches.meta.txt"), []byte(strings.Join(CIFAR10Classes, "\n")+"\n\n"), 0o644))
}

func TestOpenCIFAR10(t *testing.T) {
	dir := t.TempDir()
	writeCIFAR10(t, dir)
	s, err := Open(context.Background(), "cifar10", OpenOptions{Dir: dir})
	must(t, err)
	if s.Train.Len() != 15 || s.Test.Len() != 4 {
		t.Fatalf("train %d test %d, want 15, 4", s.Train.Len(), s.Test.Len())
	}
	// Train image 4 is record 1 of data_batch_2: pixel k = (1+k) mod 256; plane
	// order R,G,B is kept.
	im := s.Train.Image(4)
	if im.C != 3 || im.H != 32 || im.W != 32 || im.Pix[0] != 1 || im.Pix[1024] != byte((1+1024)%256) || im.Pix[3071] != byte((1+3071)%256) {
		t.Fatalf("image 4: C=%d H=%d pix[0]=%d pix[1024]=%d", im.C, im.H, im.Pix[0], im.Pix[1024])
	}
	if s.Train.Label(4) != 1 || s.Test.Label(3) != 3 || s.Train.Classes()[9] != "truck" {
		t.Fatalf("labels %d %d classes %v", s.Train.Label(4), s.Test.Label(3), s.Train.Classes())
	}
	if len(s.Info.Files) != 6 || len(s.Info.Norm.Mean) != 3 {
		t.Fatalf("info %+v", s.Info)
	}
}

func TestOpenCIFAR100(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "cifar-100-binary")
	must(t, os.MkdirAll(d, 0o755))
	names := make([]string, 100)
	for i := range names {
		names[i] = "c" + string(rune('A'+i%26)) + string(rune('a'+i/26))
	}
	must(t, os.WriteFile(filepath.Join(d, "fine_label_names.txt"), []byte(strings.Join(names, "\n")), 0o644))
	must(t, os.WriteFile(filepath.Join(d, "train.bin"), cifarRecords(150, 2, 100), 0o644))
	must(t, os.WriteFile(filepath.Join(d, "test.bin"), cifarRecords(2, 2, 100), 0o644))
	s, err := Open(context.Background(), "cifar100", OpenOptions{Dir: dir})
	must(t, err)
	if s.Train.Len() != 150 || s.Train.Label(120) != 20 || len(s.Train.Classes()) != 100 {
		t.Fatalf("len %d label %d classes %d", s.Train.Len(), s.Train.Label(120), len(s.Train.Classes()))
	}
	if s.Train.Image(120).Pix[0] != 120 {
		t.Fatalf("pixel 0 of image 120 = %d, want 120", s.Train.Image(120).Pix[0])
	}
}

func TestCIFARErrors(t *testing.T) {
	dir := t.TempDir()
	p := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		must(t, os.WriteFile(f, b, 0o644))
		return f
	}
	cases := []struct {
		name  string
		file  string
		lb    int
		want  string
		class int
	}{
		{"truncated", p("trunc.bin", cifarRecords(2, 1, 10)[:5000]), 1, "not a multiple", 10},
		{"empty", p("empty.bin", nil), 1, "empty", 10},
		{"label range", p("lab.bin", cifarRecords(12, 1, 12)), 1, "label 10", 10},
		{"cifar100 read as 10", p("c100.bin", cifarRecords(3, 2, 100)), 1, "not a multiple", 10},
		{"missing", filepath.Join(dir, "missing.bin"), 1, "missing.bin", 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCIFARBinary("x", []string{tc.file}, tc.lb, CIFAR10Classes[:tc.class])
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Base(tc.file)) {
				t.Fatalf("want error naming %s and %q, got %v", filepath.Base(tc.file), tc.want, err)
			}
		})
	}
}

// stlImages writes n STL-10 images in the official column-major layout where
// the pixel at (c, y, x) has value (c*50 + y + 2*x + i) mod 256.
func stlImages(n int) []byte {
	out := make([]byte, 0, n*3*96*96)
	for i := range n {
		for c := range 3 {
			for x := range 96 {
				for y := range 96 {
					out = append(out, byte(c*50+y+2*x+i))
				}
			}
		}
	}
	return out
}

func TestOpenSTL10(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "stl10_binary")
	must(t, os.MkdirAll(d, 0o755))
	must(t, os.WriteFile(filepath.Join(d, "train_X.bin"), stlImages(3), 0o644))
	must(t, os.WriteFile(filepath.Join(d, "train_y.bin"), []byte{1, 10, 5}, 0o644))
	must(t, os.WriteFile(filepath.Join(d, "test_X.bin"), stlImages(2), 0o644))
	must(t, os.WriteFile(filepath.Join(d, "test_y.bin"), []byte{2, 3}, 0o644))
	must(t, os.WriteFile(filepath.Join(d, "unlabeled_X.bin"), stlImages(4), 0o644))
	s, err := Open(context.Background(), "stl10", OpenOptions{Dir: dir, Unlabeled: true})
	must(t, err)
	if s.Train.Len() != 3 || s.Test.Len() != 2 || s.Unlabeled == nil || s.Unlabeled.Len() != 4 {
		t.Fatalf("split sizes wrong: %+v", s)
	}
	if s.Train.Label(1) != 9 || s.Unlabeled.Label(0) != -1 {
		t.Fatalf("labels: %d %d", s.Train.Label(1), s.Unlabeled.Label(0))
	}
	im := s.Train.Image(2)
	for _, p := range [][3]int{{0, 0, 0}, {1, 5, 7}, {2, 95, 3}, {0, 10, 90}} {
		c, y, x := p[0], p[1], p[2]
		want := byte(c*50 + y + 2*x + 2)
		if got := im.Pix[c*96*96+y*96+x]; got != want {
			t.Errorf("pixel (c=%d,y=%d,x=%d) = %d, want %d (column-major not transposed?)", c, y, x, got, want)
		}
	}
	// Without Unlabeled the big split is not read.
	s2, err := Open(context.Background(), "stl10", OpenOptions{Dir: dir})
	must(t, err)
	if s2.Unlabeled != nil {
		t.Fatal("unlabeled split loaded without being asked for")
	}
	// "stl10-unlabeled": the unlabelled images as the only split, for pre-training.
	u, err := Open(context.Background(), "stl10-unlabeled", OpenOptions{Dir: dir})
	must(t, err)
	if u.Labeled() || u.Train.Len() != 4 || u.Train.Label(3) != -1 || u.Info.Name != "stl10-unlabeled" {
		t.Fatalf("stl10-unlabeled: labelled %v, %d images, name %q", u.Labeled(), u.Train.Len(), u.Info.Name)
	}
	if !s.Labeled() || u.Info.Norm.Mean[0] == 0 {
		t.Fatalf("stl10 labelled %v, unlabelled norm %v", s.Labeled(), u.Info.Norm)
	}
}

func TestSTL10Errors(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x.bin")
	must(t, os.WriteFile(x, stlImages(2), 0o644))
	y1 := filepath.Join(dir, "y1.bin")
	must(t, os.WriteFile(y1, []byte{1}, 0o644))
	y0 := filepath.Join(dir, "y0.bin")
	must(t, os.WriteFile(y0, []byte{0, 1}, 0o644))
	tr := filepath.Join(dir, "trunc.bin")
	must(t, os.WriteFile(tr, stlImages(1)[:1000], 0o644))
	cases := []struct{ name, x, y, want string }{
		{"count mismatch", x, y1, "count mismatch"},
		{"label zero", x, y0, "label 0"},
		{"truncated", tr, "", "not a multiple"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadSTL10Binary("s", tc.x, tc.y, STL10Classes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func writePNG(t *testing.T, p string, im image.Image) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	f, err := os.Create(p)
	must(t, err)
	if strings.HasSuffix(p, ".png") {
		must(t, png.Encode(f, im))
	} else {
		must(t, jpeg.Encode(f, im, &jpeg.Options{Quality: 95}))
	}
	must(t, f.Close())
}

func solid(w, h int, c color.Color) image.Image {
	im := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			im.Set(x, y, c)
		}
	}
	return im
}

func TestOpenFolder(t *testing.T) {
	root := t.TempDir()
	// train/ and test/ layout, mixed sizes and formats, colour.
	red, blue := color.RGBA{200, 10, 10, 255}, color.RGBA{10, 10, 200, 255}
	writePNG(t, filepath.Join(root, "train", "red", "a.png"), solid(50, 30, red))
	writePNG(t, filepath.Join(root, "train", "red", "b.jpg"), solid(17, 64, red))
	writePNG(t, filepath.Join(root, "train", "blue", "a.png"), solid(8, 8, blue))
	writePNG(t, filepath.Join(root, "test", "blue", "z.jpeg"), solid(100, 100, blue))
	must(t, os.WriteFile(filepath.Join(root, "train", "red", "notes.txt"), []byte("ignored"), 0o644))
	s, err := Open(context.Background(), "folder:"+root, OpenOptions{ImageSize: 16})
	must(t, err)
	if got := s.Train.Classes(); len(got) != 2 || got[0] != "blue" || got[1] != "red" {
		t.Fatalf("classes %v, want [blue red]", got)
	}
	if s.Train.Len() != 3 || s.Test.Len() != 1 || s.Test.Label(0) != 0 {
		t.Fatalf("train %d test %d", s.Train.Len(), s.Test.Len())
	}
	for i := range s.Train.Len() {
		im := s.Train.Image(i)
		if im.C != 3 || im.H != 16 || im.W != 16 {
			t.Fatalf("image %d shape %dx%dx%d", i, im.C, im.H, im.W)
		}
		r, b := im.Pix[8*16+8], im.Pix[2*256+8*16+8]
		wantRed := s.Train.Label(i) == 1
		if wantRed != (r > b) || absDiff(max(r, b), 200) > 6 {
			t.Errorf("image %d label %d: centre R=%d B=%d", i, s.Train.Label(i), r, b)
		}
	}
}

// A folder without class sub-folders is unlabelled: every image at any depth,
// in path order, hidden ones skipped, labels -1, no test split.
func TestOpenFolderUnlabeled(t *testing.T) {
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "top.png"), solid(10, 10, color.RGBA{10, 200, 10, 255}))
	writePNG(t, filepath.Join(root, "2021", "trip", "a.jpg"), solid(40, 20, color.RGBA{200, 10, 10, 255}))
	writePNG(t, filepath.Join(root, "2022", "b.png"), solid(12, 12, color.RGBA{10, 10, 200, 255}))
	writePNG(t, filepath.Join(root, ".thumbs", "c.png"), solid(4, 4, color.White))
	s, err := Open(context.Background(), "folder:"+root, OpenOptions{ImageSize: 8})
	must(t, err)
	if s.Labeled() || s.Test != nil || s.Train.Len() != 3 {
		t.Fatalf("labelled %v, test %v, %d images; want an unlabelled split of 3", s.Labeled(), s.Test, s.Train.Len())
	}
	// Path order: 2021/trip/a.jpg (red), 2022/b.png (blue), top.png (green).
	for i, ch := range []int{0, 2, 1} {
		im := s.Train.Image(i)
		if s.Train.Label(i) != -1 || im.H != 8 || im.Pix[ch*64+36] < 150 {
			t.Errorf("image %d: label %d, %dx%d, channel %d centre %d", i, s.Train.Label(i), im.H, im.W, ch, im.Pix[ch*64+36])
		}
	}
	// Class folders, but one has a nested folder of images: unlabelled too.
	root2 := t.TempDir()
	writePNG(t, filepath.Join(root2, "cats", "a.png"), solid(4, 4, color.White))
	writePNG(t, filepath.Join(root2, "dogs", "more", "b.png"), solid(4, 4, color.White))
	if s, err := Open(context.Background(), "folder:"+root2, OpenOptions{}); err != nil || s.Labeled() || s.Train.Len() != 2 {
		t.Fatalf("nested layout: %v, %+v", err, s)
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestOpenFolderGrayHoldOut(t *testing.T) {
	root := t.TempDir()
	for c, name := range []string{"cats", "dogs"} {
		for i := range 12 {
			g := image.NewGray(image.Rect(0, 0, 20, 20))
			for k := range g.Pix {
				g.Pix[k] = uint8(c*100 + i)
			}
			writePNG(t, filepath.Join(root, name, "img"+string(rune('a'+i))+".png"), g)
		}
	}
	s, err := Open(context.Background(), "folder:"+root, OpenOptions{ImageSize: 8})
	must(t, err)
	// Every tenth image per class is held out: 1 of 12 → 11 train, 1 test per class.
	if s.Train.Len() != 22 || s.Test.Len() != 2 {
		t.Fatalf("train %d test %d, want 22, 2", s.Train.Len(), s.Test.Len())
	}
	im := s.Test.Image(1)
	if im.C != 1 || im.Pix[0] != 109 || s.Test.Label(1) != 1 {
		t.Fatalf("held-out image: C=%d pix=%d label=%d, want 1, 109 (dogs/imgj), 1", im.C, im.Pix[0], s.Test.Label(1))
	}
}

func TestOpenFolderErrors(t *testing.T) {
	mk := func(files map[string]string) string {
		root := t.TempDir()
		for p, content := range files {
			full := filepath.Join(root, p)
			must(t, os.MkdirAll(filepath.Dir(full), 0o755))
			if content == "png" {
				writePNG(t, full, solid(4, 4, color.White))
			} else {
				must(t, os.WriteFile(full, []byte(content), 0o644))
			}
		}
		return root
	}
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"empty folder", map[string]string{}, []string{"is empty"}},
		{"class without images", map[string]string{"a/x.png": "png", "b/readme.txt": "hi"}, []string{`"b"`, "no PNG or JPEG"}},
		{"unreadable image", map[string]string{"train/a/broken.png": "not a png", "train/a/ok.png": "png", "test/a/ok.png": "png"}, []string{"broken.png", "cannot decode"}},
		{"no test images", map[string]string{"a/x.png": "png", "b/y.png": "png"}, []string{"no test images"}},
		{"unknown test class", map[string]string{"train/a/x.png": "png", "train/b/x.png": "png", "test/zzz/y.png": "png"}, []string{`"zzz"`, "not among"}},
		{"unlabelled, unreadable", map[string]string{"x/y/broken.jpg": "not a jpeg"}, []string{"broken.jpg", "cannot decode"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), "folder:"+mk(tc.files), OpenOptions{})
			if err == nil {
				t.Fatal("want error, got nil")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	if _, err := Open(context.Background(), "folder:/nonexistent/x", OpenOptions{}); err == nil || !strings.Contains(err.Error(), "/nonexistent/x") {
		t.Errorf("missing folder: %v", err)
	}
}

// stl10-unlabeled is opened from stl10's files; asked to fetch it, bench
// says to fetch stl10.
func TestSTL10UnlabeledFetch(t *testing.T) {
	if _, err := LookupSource("stl10-unlabeled"); err == nil || !strings.Contains(err.Error(), "fetch stl10") {
		t.Fatalf("LookupSource(stl10-unlabeled): %v", err)
	}
}
