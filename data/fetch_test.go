package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// fileServer serves files by name with Range support (http.ServeContent).
// If cut[name] > 0, the first full (non-Range) request for it sends only
// that many bytes and then breaks the connection. It records Range headers.
type fileServer struct {
	mu     sync.Mutex
	files  map[string][]byte
	cut    map[string]int
	ranges []string
	hits   map[string]int
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	body, ok := s.files[name]
	s.hits[name]++
	cut := s.cut[name]
	rg := r.Header.Get("Range")
	if rg != "" {
		s.ranges = append(s.ranges, name+" "+rg)
	}
	if cut > 0 && rg == "" {
		delete(s.cut, name)
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if cut > 0 && rg == "" {
		w.Header().Set("Content-Length", itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:cut])
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

func itoa(n int) string { return strconv.Itoa(n) }

func newFileServer(t *testing.T, files map[string][]byte) (*fileServer, *httptest.Server) {
	fs := &fileServer{files: files, cut: map[string]int{}, hits: map[string]int{}}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv
}

// idxSource builds a 4-file IDX dataset and the Source describing it.
func idxSource(t *testing.T) (Source, map[string][]byte) {
	files := map[string][]byte{}
	var rf []RemoteFile
	for _, f := range []struct {
		name string
		dims []int
	}{{"train-images-idx3-ubyte.gz", []int{40, 28, 28}}, {"train-labels-idx1-ubyte.gz", []int{40}}, {"t10k-images-idx3-ubyte.gz", []int{10, 28, 28}}, {"t10k-labels-idx1-ubyte.gz", []int{10}}} {
		n := 1
		for _, d := range f.dims {
			n *= d
		}
		payload := make([]uint8, n)
		for i := range payload {
			payload[i] = uint8((i * 7) % 10) // valid labels too
		}
		b := idxBytes(t, f.dims, payload, true)
		files[f.name] = b
		rf = append(rf, RemoteFile{Name: f.name, Size: int64(len(b)), MD5: md5hex(b)})
	}
	return Source{Name: "mnist", Files: rf, Classes: MNISTClasses}, files
}

func TestFetchIDXAndVerify(t *testing.T) {
	src, files := idxSource(t)
	fs, srv := newFileServer(t, files)
	root := t.TempDir()
	var progressed bool
	dir, err := FetchSource(context.Background(), src, FetchOptions{Dir: root, BaseURL: srv.URL + "/", Progress: func(string, int64, int64) { progressed = true }})
	must(t, err)
	if dir != filepath.Join(root, "mnist") || !progressed {
		t.Fatalf("dir %s progress %v", dir, progressed)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from the served file", name)
		}
	}
	checks, err := Verify(context.Background(), src, dir)
	must(t, err)
	for _, c := range checks {
		if !c.OK || c.How != "published MD5" {
			t.Errorf("verify %s: ok=%v how=%q problem=%q", c.Path, c.OK, c.How, c.Problem)
		}
	}
	// The fetched files open as a dataset.
	s, err := Open(context.Background(), "mnist", OpenOptions{Dir: dir})
	must(t, err)
	if s.Train.Len() != 40 || s.Test.Len() != 10 {
		t.Fatalf("opened %d/%d", s.Train.Len(), s.Test.Len())
	}
	// A second fetch downloads nothing.
	before := fs.hits["train-images-idx3-ubyte.gz"]
	_, err = FetchSource(context.Background(), src, FetchOptions{Dir: root, BaseURL: srv.URL})
	must(t, err)
	if fs.hits["train-images-idx3-ubyte.gz"] != before {
		t.Error("verified file downloaded again")
	}
	// Damage a file: Verify names it.
	must(t, os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), idxBytes(t, []int{10}, make([]uint8, 10), true), 0o644))
	checks, err = Verify(context.Background(), src, dir)
	must(t, err)
	bad := 0
	for _, c := range checks {
		if !c.OK {
			bad++
			if !strings.Contains(c.Path, "t10k-labels") || c.Problem == "" {
				t.Errorf("unexpected failing check %+v", c)
			}
		}
	}
	if bad != 1 {
		t.Errorf("%d failing checks, want 1", bad)
	}
}

// TestVerifyRepackagedGzip: a copy recompressed with other gzip settings
// (Debian's) fails the MD5 but passes on the decompressed SHA-256.
func TestVerifyRepackagedGzip(t *testing.T) {
	src, files := idxSource(t)
	dir := t.TempDir()
	for i, f := range src.Files {
		x, err := ReadIDX(bytes.NewReader(files[f.Name]))
		must(t, err)
		var raw bytes.Buffer
		must(t, WriteIDX(&raw, x.Dims, x.Data))
		src.Files[i].RawSHA256 = sha256hex(raw.Bytes())
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Name = "repackaged"
		_, _ = zw.Write(raw.Bytes())
		must(t, zw.Close())
		must(t, os.WriteFile(filepath.Join(dir, f.Name), buf.Bytes(), 0o644))
	}
	checks, err := Verify(context.Background(), src, dir)
	must(t, err)
	for _, c := range checks {
		if !c.OK || !strings.Contains(c.How, "decompressed") {
			t.Errorf("%s: ok=%v how=%q problem=%q", c.Path, c.OK, c.How, c.Problem)
		}
	}
}

func TestFetchResumesWithRange(t *testing.T) {
	src, files := idxSource(t)
	fs, srv := newFileServer(t, files)
	name := "train-images-idx3-ubyte.gz"
	cut := len(files[name]) / 3
	fs.cut[name] = cut
	root := t.TempDir()
	_, err := FetchSource(context.Background(), src, FetchOptions{Dir: root, BaseURL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "again to resume") {
		t.Fatalf("broken download: want an error saying to resume, got %v", err)
	}
	part := filepath.Join(root, "mnist", name+".part")
	st, err := os.Stat(part)
	if err != nil || st.Size() != int64(cut) {
		t.Fatalf("partial file: %v, size %v, want %d", err, st, cut)
	}
	if _, err := os.Stat(filepath.Join(root, "mnist", name)); err == nil {
		t.Fatal("incomplete file appeared under its final name")
	}
	_, err = FetchSource(context.Background(), src, FetchOptions{Dir: root, BaseURL: srv.URL})
	must(t, err)
	if len(fs.ranges) != 1 || fs.ranges[0] != name+" bytes="+itoa(cut)+"-" {
		t.Fatalf("range requests %v, want one from byte %d", fs.ranges, cut)
	}
	got, err := os.ReadFile(filepath.Join(root, "mnist", name))
	must(t, err)
	if !bytes.Equal(got, files[name]) {
		t.Fatal("resumed file differs")
	}
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Error(".part file left behind")
	}
}

func TestFetchErrors(t *testing.T) {
	src, files := idxSource(t)
	_, srv := newFileServer(t, files)
	t.Run("checksum mismatch", func(t *testing.T) {
		bad := src
		bad.Files = append([]RemoteFile(nil), src.Files...)
		bad.Files[1].MD5 = strings.Repeat("0", 32)
		root := t.TempDir()
		_, err := FetchSource(context.Background(), bad, FetchOptions{Dir: root, BaseURL: srv.URL})
		if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), bad.Files[1].Name) {
			t.Fatalf("got %v", err)
		}
		for _, p := range []string{bad.Files[1].Name, bad.Files[1].Name + ".part"} {
			if _, err := os.Stat(filepath.Join(root, "mnist", p)); !os.IsNotExist(err) {
				t.Errorf("%s exists after a checksum mismatch", p)
			}
		}
	})
	t.Run("not found", func(t *testing.T) {
		missing := src
		missing.Files = []RemoteFile{{Name: "nope.gz", MD5: "x"}}
		_, err := FetchSource(context.Background(), missing, FetchOptions{Dir: t.TempDir(), BaseURL: srv.URL})
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := FetchSource(ctx, src, FetchOptions{Dir: t.TempDir(), BaseURL: srv.URL})
		if err == nil || !strings.Contains(err.Error(), "canceled") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unknown name", func(t *testing.T) {
		_, err := Fetch(context.Background(), "imagenet", FetchOptions{Dir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "cifar10") {
			t.Fatalf("got %v", err)
		}
	})
}

// tarGz builds a .tar.gz of the given members (name → content).
func tarGz(t *testing.T, members [][2]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range members {
		must(t, tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(m[1]))
		must(t, err)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	return buf.Bytes()
}

func TestFetchArchiveExtractsAndVerifies(t *testing.T) {
	batch := string(cifarRecords(2, 1, 10))
	members := [][2]string{{"cifar-10-batches-bin/batches.meta.txt", strings.Join(CIFAR10Classes, "\n")}}
	for i := 1; i <= 5; i++ {
		members = append(members, [2]string{"cifar-10-batches-bin/data_batch_" + itoa(i) + ".bin", batch})
	}
	members = append(members, [2]string{"cifar-10-batches-bin/test_batch.bin", batch}, [2]string{"../evil.txt", "x"}, [2]string{"other/readme", "y"})
	arch := tarGz(t, members)
	real, err := LookupSource("cifar10")
	must(t, err)
	src := real
	src.Files = []RemoteFile{{Name: "cifar-10-binary.tar.gz", MD5: md5hex(arch)}}
	_, srv := newFileServer(t, map[string][]byte{"cifar-10-binary.tar.gz": arch})
	root := t.TempDir()
	dir, err := FetchSource(context.Background(), src, FetchOptions{Dir: root, BaseURL: srv.URL})
	must(t, err)
	s, err := Open(context.Background(), "cifar10", OpenOptions{Dir: dir})
	must(t, err)
	if s.Train.Len() != 10 || s.Test.Len() != 2 {
		t.Fatalf("train %d test %d", s.Train.Len(), s.Test.Len())
	}
	for _, p := range []string{filepath.Join(root, "evil.txt"), filepath.Join(dir, "other"), filepath.Join(dir, "cifar-10-binary.tar.gz")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s should not exist", p)
		}
	}
	checks, err := Verify(context.Background(), src, dir)
	must(t, err)
	if len(checks) != 7 {
		t.Fatalf("%d checks, want 7", len(checks))
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("%s: %s", c.Path, c.Problem)
		}
	}
	// Damage one file; Verify names it.
	must(t, os.WriteFile(filepath.Join(dir, "cifar-10-batches-bin", "test_batch.bin"), []byte("x"), 0o644))
	checks, err = Verify(context.Background(), src, dir)
	must(t, err)
	for _, c := range checks {
		if strings.HasSuffix(c.Path, "test_batch.bin") == c.OK {
			t.Errorf("%s ok=%v problem %q", c.Path, c.OK, c.Problem)
		}
	}
	// An archive that lacks a required member is refused.
	broken := tarGz(t, members[:3])
	src.Files[0].MD5 = md5hex(broken)
	_, srv2 := newFileServer(t, map[string][]byte{"cifar-10-binary.tar.gz": broken})
	_, err = FetchSource(context.Background(), src, FetchOptions{Dir: t.TempDir(), BaseURL: srv2.URL})
	if err == nil || !strings.Contains(err.Error(), "lacks") {
		t.Fatalf("archive without test_batch.bin: %v", err)
	}
}

func TestOpenDownloads(t *testing.T) {
	_, files := idxSource(t)
	_, srv := newFileServer(t, files)
	// Open's download uses the published checksums, which the test files
	// cannot match: Open must fetch (reaching the server) and report the
	// mismatch clearly.
	t.Setenv("SIAMBENCH_DATA", t.TempDir())
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GOPATH", "")
	_, err := Open(context.Background(), "mnist", OpenOptions{Download: true, Fetch: FetchOptions{BaseURL: srv.URL}})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("Open with Download against a server with other files: %v", err)
	}
}

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
