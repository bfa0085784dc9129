package data

import (
	"github.com/siambench/siambench/atomicfile"

	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// FetchOptions configures Fetch. The zero value downloads from the official
// URLs into CacheDir() with http.DefaultClient.
type FetchOptions struct {
	// Dir is the cache root; the dataset goes to Dir/NAME. "" means CacheDir().
	Dir string
	// BaseURL replaces the source's official base URL (mirrors, tests).
	BaseURL string
	// Client is the HTTP client; nil means http.DefaultClient.
	Client *http.Client
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// Progress, if set, is called as bytes arrive: total is -1 when unknown.
	Progress func(file string, done, total int64)
}

// Fetch downloads the named dataset (see Sources) into <Dir>/NAME, verifies
// the published MD5 of every file, extracts archives, and returns the
// dataset directory. With opts.Dir empty, a verified copy found by Locate
// (the cache, Debian's package, the GoMNIST module) is returned as is. Files already present and verified are not downloaded
// again; a download interrupted earlier resumes from its ".part" file with an
// HTTP Range request. Every file appears under its final name only once it
// is complete and verified (write to .part, fsync, rename).
func Fetch(ctx context.Context, name string, opts FetchOptions) (string, error) {
	src, err := LookupSource(name)
	if err != nil {
		return "", err
	}
	return FetchSource(ctx, src, opts)
}

// FetchSource is Fetch for an explicit Source.
func FetchSource(ctx context.Context, src Source, opts FetchOptions) (string, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Dir == "" {
		// A verified copy already on this machine (the cache, Debian's
		// package, the GoMNIST module) needs no download.
		if dir, err := locate(src, ""); err == nil && verified(ctx, src, dir) {
			log.Info("found a verified local copy; nothing to download", "dataset", src.Name, "dir", dir)
			return dir, nil
		}
	}
	root := opts.Dir
	if root == "" {
		var err error
		if root, err = CacheDir(); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(root, src.Name)
	if src.Archive && present(src, dir) {
		log.Info("dataset already present", "dataset", src.Name, "dir", dir)
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("fetch %s: %w", src.Name, err)
	}
	base := src.BaseURL
	if opts.BaseURL != "" {
		base = opts.BaseURL
	}
	client := opts.Client
	if client == nil {
		client = http.DefaultClient
	}
	for _, f := range src.Files {
		dst := filepath.Join(dir, f.Name)
		if sum, err := fileMD5(dst); err == nil && strings.EqualFold(sum, f.MD5) {
			log.Info("file already present and verified", "file", dst)
		} else {
			url := strings.TrimSuffix(base, "/") + "/" + f.Name
			log.Info("downloading", "url", url, "to", dst)
			if err := download(ctx, client, url, dst, f, opts.Progress); err != nil {
				return "", fmt.Errorf("fetch %s: %w", src.Name, err)
			}
		}
		if src.Archive {
			log.Info("extracting", "archive", dst)
			if err := extract(ctx, dst, dir, src.Contents); err != nil {
				return "", fmt.Errorf("fetch %s: %w", src.Name, err)
			}
			if err := os.Remove(dst); err != nil {
				return "", fmt.Errorf("fetch %s: remove archive after extraction: %w", src.Name, err)
			}
		}
	}
	return dir, nil
}

// download fetches url into dst via dst.part, resuming a partial file with a
// Range request, and renames it into place once its MD5 matches f.MD5.
func download(ctx context.Context, client *http.Client, url, dst string, f RemoteFile, progress func(string, int64, int64)) error {
	part := dst + ".part"
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w (check the network, or download from a mirror with --base-url; run the command again to resume)", url, err)
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		var start int64 = -1
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start); err != nil || start != have {
			return fmt.Errorf("download %s: server resumed at byte %d, want %d (Content-Range %q)", url, start, have, resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The partial file may already be complete; check it below.
		flags = -1
	case resp.StatusCode == http.StatusOK:
		have = 0
		flags |= os.O_TRUNC
	default:
		return fmt.Errorf("download %s: HTTP %s", url, resp.Status)
	}
	if flags != -1 {
		out, err := os.OpenFile(part, flags, 0o644)
		if err != nil {
			return fmt.Errorf("download %s: %w", url, err)
		}
		total := int64(-1)
		if resp.ContentLength >= 0 {
			total = have + resp.ContentLength
		} else if f.Size > 0 {
			total = f.Size
		}
		w := &progressWriter{w: out, done: have, total: total, name: filepath.Base(dst), fn: progress}
		_, cerr := io.Copy(w, resp.Body)
		serr := out.Sync()
		if err := out.Close(); err != nil && cerr == nil {
			cerr = err
		}
		if cerr == nil {
			cerr = serr
		}
		if cerr != nil {
			return fmt.Errorf("download %s: interrupted after %d bytes: %w (run the command again to resume)", url, w.done, cerr)
		}
	}
	sum, err := fileMD5(part)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if !strings.EqualFold(sum, f.MD5) {
		size := "?"
		if st, err := os.Stat(part); err == nil {
			size = fmt.Sprint(st.Size())
		}
		_ = os.Remove(part)
		return fmt.Errorf("download %s: checksum mismatch: got %s bytes with MD5 %s, published %d bytes with MD5 %s (the file was removed; run the command again, or check the mirror)", url, size, sum, f.Size, f.MD5)
	}
	if err := os.Rename(part, dst); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	return syncDir(filepath.Dir(dst))
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	name        string
	fn          func(string, int64, int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.fn != nil {
		p.fn(p.name, p.done, p.total)
	}
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	_ = d.Sync() // not supported on every filesystem; best effort
	return nil
}

func fileMD5(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// extract unpacks the regular files of a .tar.gz archive that lie under the
// top-level folders of contents into dir, atomically: everything is written
// to a temporary folder inside dir, hashed into the manifest, then each
// top-level folder is renamed into place. Members with absolute paths or
// ".." are refused.
func extract(ctx context.Context, archive, dir string, contents []string) error {
	tops := map[string]bool{}
	for _, c := range contents {
		tops[strings.SplitN(c, "/", 2)[0]] = true
	}
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("extract %s: %w", archive, err)
	}
	tmp, err := os.MkdirTemp(dir, ".extract-")
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer os.RemoveAll(tmp)
	tr := tar.NewReader(zr)
	sums := map[string]string{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("extract %s: corrupt archive: %w", archive, err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if hdr.Typeflag != tar.TypeReg || path.IsAbs(name) || strings.HasPrefix(name, "..") {
			continue
		}
		if !tops[strings.SplitN(name, "/", 2)[0]] {
			continue
		}
		out := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		w, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		h := sha256.New()
		_, cerr := io.Copy(io.MultiWriter(w, h), tr)
		if err := w.Close(); err != nil && cerr == nil {
			cerr = err
		}
		if cerr != nil {
			return fmt.Errorf("extract %s: %s: %w", archive, name, cerr)
		}
		sums[name] = hex.EncodeToString(h.Sum(nil))
	}
	for _, c := range contents {
		if _, ok := sums[c]; !ok {
			return fmt.Errorf("extract %s: archive lacks %s (wrong or damaged archive)", archive, c)
		}
	}
	for t := range tops {
		final := filepath.Join(dir, t)
		_ = os.RemoveAll(final)
		if err := os.Rename(filepath.Join(tmp, t), final); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return atomicfile.WriteFile(filepath.Join(dir, manifestName), []byte(b.String()))
}

// ---------------------------------------------------------------------------
// Verify.

// FileCheck is the result of verifying one file.
type FileCheck struct {
	Path    string
	OK      bool
	Problem string // why it failed; "" when OK
	// How says what it was checked against, e.g. "published MD5".
	How string
}

// Verify checks the dataset files in dir against src: IDX files against the
// published MD5 of the .gz, or else the SHA-256 of their decompressed content
// (repackaged copies such as Debian's differ only in gzip bytes); extracted
// archives against the SHA-256 manifest Fetch wrote. It returns one
// FileCheck per file and an error only when dir cannot be read at all.
func Verify(ctx context.Context, src Source, dir string) ([]FileCheck, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("verify %s: directory %s not found; run `bench data fetch %s`", src.Name, dir, src.Name)
	}
	var out []FileCheck
	if src.Archive {
		man, err := os.ReadFile(filepath.Join(dir, manifestName))
		if err != nil {
			return nil, fmt.Errorf("verify %s: no manifest %s in %s (the files were not fetched by bench; fetch again to verify them)", src.Name, manifestName, dir)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(man)), "\n") {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			want, rel, ok := strings.Cut(line, "  ")
			if !ok {
				return nil, fmt.Errorf("verify %s: malformed manifest line %q", src.Name, line)
			}
			p := filepath.Join(dir, filepath.FromSlash(rel))
			fc := FileCheck{Path: p, How: "SHA-256 recorded at extraction of the verified archive"}
			got, err := hashPath(p)
			switch {
			case err != nil:
				fc.Problem = err.Error()
			case got != want:
				fc.Problem = fmt.Sprintf("SHA-256 %s, want %s (file changed or damaged; delete %s and fetch again)", got, want, dir)
			default:
				fc.OK = true
			}
			out = append(out, fc)
		}
		return out, nil
	}
	for _, f := range src.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := idxPath(dir, f.Name)
		if p == "" {
			out = append(out, FileCheck{Path: filepath.Join(dir, f.Name), Problem: "missing"})
			continue
		}
		fc := FileCheck{Path: p}
		if sum, err := fileMD5(p); err == nil && strings.EqualFold(sum, f.MD5) {
			fc.OK, fc.How = true, "published MD5"
			out = append(out, fc)
			continue
		}
		fc.How = "SHA-256 of the decompressed content"
		got, err := rawSHA256(p)
		switch {
		case err != nil:
			fc.Problem = err.Error()
		case got != f.RawSHA256:
			fc.Problem = fmt.Sprintf("neither the MD5 nor the decompressed SHA-256 (%s) matches the published file", got)
		default:
			fc.OK = true
		}
		out = append(out, fc)
	}
	return out, nil
}

// verified reports whether every file of src in dir passes Verify.
func verified(ctx context.Context, src Source, dir string) bool {
	checks, err := Verify(ctx, src, dir)
	if err != nil || len(checks) == 0 {
		return false
	}
	for _, c := range checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// rawSHA256 hashes a file's content after gunzipping it if it is gzipped.
func rawSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if h, err := br.Peek(2); err == nil && h[0] == 0x1f && h[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		defer zr.Close()
		r = zr
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
