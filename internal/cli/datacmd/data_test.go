package datacmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// execute runs `data ARGS...` with rf, returning stdout and the error.
func execute(t *testing.T, rf *RunFuncs, args ...string) (string, error) {
	t.Helper()
	io, _, out, _ := iostreams.Test()
	cmd := NewCmdData(factory.New(io), rf)
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestParse(t *testing.T) {
	var fetch *FetchOptions
	var verify *VerifyOptions
	var info *InfoOptions
	var show *ShowOptions
	rf := &RunFuncs{
		Fetch:  func(o *FetchOptions) error { fetch = o; return nil },
		Verify: func(o *VerifyOptions) error { verify = o; return nil },
		Info:   func(o *InfoOptions) error { info = o; return nil },
		Show:   func(o *ShowOptions) error { show = o; return nil },
	}
	tests := []struct {
		name    string
		args    []string
		check   func() bool
		wantErr string
	}{
		{"fetch two", []string{"fetch", "mnist", "cifar10", "--dir", "/d", "--base-url", "http://m/"},
			func() bool {
				return strings.Join(fetch.Names, ",") == "mnist,cifar10" && fetch.Dir == "/d" && fetch.BaseURL == "http://m/"
			}, ""},
		{"fetch none", []string{"fetch"}, nil, "name at least one dataset"},
		{"fetch unknown", []string{"fetch", "imagenet"}, nil, `unknown dataset "imagenet"`},
		{"verify", []string{"verify", "cifar10", "--dir", "x"}, func() bool { return verify.Name == "cifar10" && verify.Dir == "x" }, ""},
		{"verify no arg", []string{"verify"}, nil, "accepts 1 arg"},
		{"info default", []string{"info"}, func() bool { return info.Name == "default" && !info.JSON }, ""},
		{"info flags", []string{"info", "folder:/x", "--image-size", "64", "--json", "--no-hash", "--unlabeled"},
			func() bool {
				return info.Name == "folder:/x" && info.ImageSize == 64 && info.JSON && info.NoHash && info.Unlabeled
			}, ""},
		{"show defaults", []string{"show", "-o", "g.png"},
			func() bool {
				return show.Out == "g.png" && show.Dataset == "default" && show.Aug == "simsiam" && show.Images == 8 && show.Views == 6 && show.Split == "train"
			}, ""},
		{"show flags", []string{"show", "--out", "g.png", "--dataset", "cifar10", "--aug", "byol1,byol2", "--images", "3", "--views", "2", "--seed", "9", "--epoch", "4", "--size", "-50", "--zoom", "2", "--split", "test", "--image-size", "48"},
			func() bool {
				return show.Dataset == "cifar10" && show.Aug == "byol1,byol2" && show.Images == 3 && show.Views == 2 && show.Seed == 9 && show.Epoch == 4 && show.Size == -50 && show.Zoom == 2 && show.Split == "test" && show.ImageSize == 48
			}, ""},
		{"show no out", []string{"show"}, nil, "--out is required"},
		{"show bad preset", []string{"show", "-o", "g.png", "--aug", "simsiam,moco"}, nil, `unknown augmentation preset "moco"`},
		{"show bad split", []string{"show", "-o", "g.png", "--split", "val"}, nil, "--split"},
		{"show bad views", []string{"show", "-o", "g.png", "--views", "0"}, nil, "--views"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fetch, verify, info, show = nil, nil, nil, nil
			_, err := execute(t, rf, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if fetch != nil || verify != nil || info != nil || show != nil {
					t.Fatal("run function called despite bad arguments")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check() {
				t.Fatalf("options not parsed as expected: %+v %+v %+v %+v", fetch, verify, info, show)
			}
		})
	}
}

func TestRunInfo(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	must(t, runInfo(&InfoOptions{IO: io, Name: "default-mnist"}))
	s := out.String()
	for _, want := range []string{"default-mnist", "CC BY-SA 3.0", "1×28×28", "total", "5000", "1000", "sha256 ", "embedded:mnist/train-images-idx3-ubyte.gz"} {
		if !strings.Contains(s, want) {
			t.Errorf("info output lacks %q:\n%s", want, s)
		}
	}
	out.Reset()
	must(t, runInfo(&InfoOptions{IO: io, Name: "default", JSON: true, NoHash: true}))
	var got infoJSON
	must(t, json.Unmarshal(out.Bytes(), &got))
	if got.Splits["train"].Images != 10000 || got.Splits["test"].PerClass[3] != 200 || got.Channels != 1 || got.Files[0].SHA256 != "" || len(got.Classes) != 10 {
		t.Errorf("json: %+v", got)
	}
	err := runInfo(&InfoOptions{IO: io, Name: "folder:" + t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestRunShow(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	path := filepath.Join(t.TempDir(), "sub", "grid.png")
	opts := &ShowOptions{IO: io, Dataset: "default", Aug: "swav-global,swav-local", Out: path, Split: "test", Images: 3, Views: 2, Zoom: 2}
	must(t, runShow(opts))
	if !strings.Contains(out.String(), "wrote "+path) {
		t.Errorf("output: %s", out.String())
	}
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	im, err := png.Decode(f)
	must(t, err)
	// 3 columns and 3 rows of 28·2 px cells with 4 px gaps.
	if b := im.Bounds(); b.Dx() != 4+3*(56+4) || b.Dy() != 4+3*(56+4) {
		t.Fatalf("grid is %v", b)
	}
	// The first column is the original: test image 0 (the first of its class).
	s, err := data.Open(context.Background(), "default", data.OpenOptions{})
	must(t, err)
	src := s.Test.Image(0)
	for _, p := range [][2]int{{0, 0}, {14, 14}, {27, 5}, {10, 20}} {
		y, x := p[0], p[1]
		r, _, _, _ := im.At(4+2*x+1, 4+2*y+1).RGBA()
		if want := uint32(src.Pix[y*28+x]); r>>8 != want {
			t.Errorf("original pixel (%d,%d) = %d, want %d", y, x, r>>8, want)
		}
	}
	// The swav-local view (column 2) is half size: its cell is background
	// beyond 14·2 px.
	bg, _, _, _ := im.At(4+2*60+40, 4+40).RGBA()
	if bg>>8 != 40 {
		t.Errorf("local view cell beyond 28 px is %d, want background 40", bg>>8)
	}
	// Unwritable destination: a clear error naming it.
	blocker := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(blocker, nil, 0o644))
	opts.Out = filepath.Join(blocker, "grid.png")
	if err := runShow(opts); err == nil || !strings.Contains(err.Error(), blocker) {
		t.Errorf("unwritable output: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// gzIDX returns a gzipped IDX file.
func gzIDX(t *testing.T, dims []int, payload []uint8) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	must(t, data.WriteIDX(zw, dims, payload))
	must(t, zw.Close())
	return buf.Bytes()
}

func TestRunFetch(t *testing.T) {
	files := map[string][]byte{
		"train-images-idx3-ubyte.gz": gzIDX(t, []int{3, 28, 28}, make([]uint8, 3*784)),
		"train-labels-idx1-ubyte.gz": gzIDX(t, []int{3}, []uint8{0, 1, 2}),
		"t10k-images-idx3-ubyte.gz":  gzIDX(t, []int{1, 28, 28}, make([]uint8, 784)),
		"t10k-labels-idx1-ubyte.gz":  gzIDX(t, []int{1}, []uint8{4}),
	}
	src := data.Source{Name: "mnist", Classes: data.MNISTClasses}
	for _, n := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		sum := md5.Sum(files[n])
		src.Files = append(src.Files, data.RemoteFile{Name: n, MD5: hex.EncodeToString(sum[:])})
	}
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(b))
	}))
	defer srv.Close()
	lookup := func(name string) (data.Source, error) {
		if name == "mnist" {
			return src, nil
		}
		return data.LookupSource(name)
	}
	root := t.TempDir()
	io, _, out, _ := iostreams.Test()
	must(t, runFetch(&FetchOptions{IO: io, Lookup: lookup, Names: []string{"mnist"}, Dir: root, BaseURL: srv.URL}))
	if want := "mnist: ready in " + filepath.Join(root, "mnist"); !strings.Contains(out.String(), want) || hits != 4 {
		t.Fatalf("output %q (want %q), %d requests", out.String(), want, hits)
	}
	// With no --dir, a verified copy in the cache ($SIAMBENCH_DATA) is used
	// without any request.
	t.Setenv("SIAMBENCH_DATA", root)
	hits = 0
	out.Reset()
	must(t, runFetch(&FetchOptions{IO: io, Lookup: lookup, Names: []string{"mnist"}, BaseURL: srv.URL}))
	if hits != 0 || !strings.Contains(out.String(), filepath.Join(root, "mnist")) {
		t.Fatalf("local copy: %d requests, output %q", hits, out.String())
	}
	// The real CIFAR-10 checksum cannot match what this server sends.
	files["cifar-10-binary.tar.gz"] = []byte("not the real archive")
	err := runFetch(&FetchOptions{IO: io, Lookup: lookup, Names: []string{"cifar10"}, Dir: t.TempDir(), BaseURL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), "c32a1d4ab5d03f1284b67883e8d87530") {
		t.Fatalf("fetch with a bad archive: %v", err)
	}
}

func TestRunVerify(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	// A directory laid out like a fetched CIFAR-10 with a manifest that one
	// file no longer matches.
	dir := t.TempDir()
	d := filepath.Join(dir, "cifar-10-batches-bin")
	must(t, os.MkdirAll(d, 0o755))
	var man strings.Builder
	for _, n := range []string{"data_batch_1.bin", "test_batch.bin"} {
		must(t, os.WriteFile(filepath.Join(d, n), []byte(n), 0o644))
		man.WriteString(sha256hex([]byte(n)) + "  cifar-10-batches-bin/" + n + "\n")
	}
	must(t, os.WriteFile(filepath.Join(dir, "siambench.sha256"), []byte(man.String()), 0o644))
	// Locate needs every content file to be present.
	for i := 2; i <= 5; i++ {
		must(t, os.WriteFile(filepath.Join(d, "data_batch_"+string(rune('0'+i))+".bin"), nil, 0o644))
	}
	must(t, runVerify(&VerifyOptions{IO: io, Name: "cifar10", Dir: dir}))
	if !strings.Contains(out.String(), "all 2 files verified") {
		t.Fatalf("output: %s", out.String())
	}
	must(t, os.WriteFile(filepath.Join(d, "test_batch.bin"), []byte("changed"), 0o644))
	out.Reset()
	err := runVerify(&VerifyOptions{IO: io, Name: "cifar10", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 files") || !strings.Contains(out.String(), "FAIL  "+filepath.Join(d, "test_batch.bin")) {
		t.Fatalf("err %v output %s", err, out.String())
	}
	out.Reset()
	err = runVerify(&VerifyOptions{IO: io, Name: "cifar10", Dir: dir, JSON: true})
	var res VerifyResult
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", jerr, out)
	}
	bad := 0
	for _, f := range res.Files {
		if !f.OK {
			bad++
			if f.Path != filepath.Join(d, "test_batch.bin") || f.Problem == "" {
				t.Errorf("failed file %+v, want test_batch.bin with its problem", f)
			}
		}
	}
	if err == nil || res.OK || len(res.Files) != 2 || bad != 1 || res.Dataset != "cifar10" {
		t.Errorf("--json with one changed file: err %v, result %+v: want a non-nil error, ok false, 2 files, 1 failed", err, res)
	}
	if err := runVerify(&VerifyOptions{IO: io, Name: "default"}); err == nil || !strings.Contains(err.Error(), "bench data info default") {
		t.Errorf("verify default: %v", err)
	}
	if err := runVerify(&VerifyOptions{IO: io, Name: "stl10", Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "bench data fetch stl10") {
		t.Errorf("verify missing: %v", err)
	}
}

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
