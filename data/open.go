package data

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/siambench/siambench/data/embedded"
)

// OpenOptions configures Open. The zero value opens from the cache directory
// or a known local copy, without downloading.
type OpenOptions struct {
	// Dir is the directory holding the dataset's files; "" searches
	// <CacheDir>/NAME and the known local copies (see Locate).
	Dir string
	// Download fetches the dataset into the cache when it is not found.
	Download bool
	// Fetch configures that download (its Dir defaults to CacheDir()).
	Fetch FetchOptions
	// ImageSize is the side images of a folder dataset are resized to; 0 means 32.
	ImageSize int
	// Unlabeled also loads STL-10's 100,000-image unlabeled split (2.7 GB).
	Unlabeled bool
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

// Names lists the dataset names Open accepts (besides "folder:PATH").
func Names() []string {
	return []string{"default", "default-mnist", "fashion-mnist", "mnist", "cifar10", "cifar100", "stl10", "stl10-unlabeled"}
}

// Open opens a dataset by name: "default" (the embedded Fashion-MNIST subset;
// also used for ""), "default-mnist" (the embedded MNIST subset),
// "fashion-mnist", "mnist", "cifar10", "cifar100", "stl10",
// "stl10-unlabeled" (STL-10's 100,000 unlabelled images as the only split,
// for pre-training; evaluate on "stl10") or "folder:PATH" (an image folder,
// labelled or not, see OpenFolder). Train and test share the
// train split's normalisation (Info.Norm). Errors say what was missing or
// broken and what to run.
func Open(ctx context.Context, name string, opts OpenOptions) (*Splits, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if name == "" {
		name = "default"
	}
	if p, ok := strings.CutPrefix(name, "folder:"); ok {
		if p == "" {
			return nil, fmt.Errorf("dataset %q: give the folder path after \"folder:\"", name)
		}
		return OpenFolder(ctx, p, opts.ImageSize)
	}
	switch name {
	case "default":
		return openEmbedded("default", "fashion-mnist", "Fashion-MNIST (embedded stratified subset: 1,000 train + 200 test images per class)", "MIT (Zalando SE)", FashionMNISTClasses)
	case "default-mnist":
		return openEmbedded("default-mnist", "mnist", "MNIST (embedded stratified subset: 500 train + 100 test images per class)", "CC BY-SA 3.0 (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)", MNISTClasses)
	}
	unlabeledOnly := name == "stl10-unlabeled"
	if unlabeledOnly {
		name, opts.Unlabeled = "stl10", true
	}
	src, err := LookupSource(name)
	if err != nil {
		return nil, fmt.Errorf("%w; or \"default\", \"default-mnist\", \"folder:PATH\"", err)
	}
	dir, err := Locate(name, opts.Dir)
	if err != nil {
		if !opts.Download || !errors.Is(err, errNotFound) || opts.Dir != "" {
			return nil, err
		}
		log.Info("dataset not found locally; downloading", "dataset", name)
		if dir, err = Fetch(ctx, name, opts.Fetch); err != nil {
			return nil, err
		}
	}
	log.Info("opening dataset", "dataset", name, "dir", dir)
	var train, test, unl *Memory
	var files []string
	switch name {
	case "mnist", "fashion-mnist":
		files = make([]string, 4)
		for i, f := range src.Files {
			files[i] = idxPath(dir, f.Name)
		}
		if train, err = LoadIDXPair(name+"/train", files[0], files[1], src.Classes); err != nil {
			return nil, err
		}
		if test, err = LoadIDXPair(name+"/test", files[2], files[3], src.Classes); err != nil {
			return nil, err
		}
	case "cifar10":
		train, test, files, err = openCIFAR10(dir)
	case "cifar100":
		train, test, files, err = openCIFAR100(dir)
	case "stl10":
		train, test, unl, files, err = openSTL10(dir, opts.Unlabeled)
	}
	if err != nil {
		return nil, err
	}
	info := Info{Name: name, Title: src.Title, Source: dir, License: src.License}
	for _, f := range files {
		fi := FileInfo{Path: f}
		if st, err := os.Stat(f); err == nil {
			fi.Size = st.Size()
		}
		info.Files = append(info.Files, fi)
	}
	if unlabeledOnly {
		info.Name, info.Title = "stl10-unlabeled", src.Title+", unlabelled split only"
		nm := computeNorm(unl)
		unl.SetNorm(nm)
		info.Norm = nm
		return &Splits{Train: unl, Info: info}, nil
	}
	return finish(train, test, unl, info), nil
}

// finish gives every split the train split's normalisation.
func finish(train, test, unl *Memory, info Info) *Splits {
	nm := computeNorm(train)
	train.SetNorm(nm)
	test.SetNorm(nm)
	s := &Splits{Train: train, Test: test}
	if unl != nil {
		unl.SetNorm(nm)
		s.Unlabeled = unl
	}
	info.Norm = nm
	s.Info = info
	return s
}

// embeddedPrefix marks FileInfo paths that live in the embedded FS.
const embeddedPrefix = "embedded:"

func openEmbedded(name, dir, title, license string, classes []string) (*Splits, error) {
	load := func(split, prefix string) (*Memory, error) {
		ip := path.Join(dir, prefix+"-images-idx3-ubyte.gz")
		lp := path.Join(dir, prefix+"-labels-idx1-ubyte.gz")
		im, err := readEmbeddedIDX(ip)
		if err != nil {
			return nil, err
		}
		lb, err := readEmbeddedIDX(lp)
		if err != nil {
			return nil, err
		}
		if len(im.Dims) != 3 || len(lb.Dims) != 1 || im.Dims[0] != lb.Dims[0] {
			return nil, fmt.Errorf("embedded %s: inconsistent dims %v / %v (rebuild with go run ./data/embedded/gen)", ip, im.Dims, lb.Dims)
		}
		labels := make([]int, len(lb.Data))
		for i, l := range lb.Data {
			labels[i] = int(l)
		}
		return NewMemory(name+"/"+split, 1, im.Dims[1], im.Dims[2], im.Data, labels, classes)
	}
	train, err := load("train", "train")
	if err != nil {
		return nil, err
	}
	test, err := load("test", "t10k")
	if err != nil {
		return nil, err
	}
	info := Info{Name: name, Title: title, Source: "embedded (compiled into the binary; see docs/data.md)", License: license}
	for _, p := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		fp := path.Join(dir, p)
		st, err := fs.Stat(embedded.FS, fp)
		if err != nil {
			return nil, fmt.Errorf("embedded dataset: %w", err)
		}
		info.Files = append(info.Files, FileInfo{Path: embeddedPrefix + fp, Size: st.Size()})
	}
	return finish(train, test, nil, info), nil
}

func readEmbeddedIDX(p string) (*IDX, error) {
	f, err := embedded.FS.Open(p)
	if err != nil {
		return nil, fmt.Errorf("embedded dataset: %w", err)
	}
	defer f.Close()
	x, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("embedded %s: %w", p, err)
	}
	return x, nil
}

// HashFiles fills in the SHA-256 of every file in i.Files (reading embedded
// files from the binary). It honours ctx between files.
func (i *Info) HashFiles(ctx context.Context) error {
	for k := range i.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		sum, err := hashPath(i.Files[k].Path)
		if err != nil {
			return err
		}
		i.Files[k].SHA256 = sum
	}
	return nil
}

func hashPath(p string) (string, error) {
	var r io.ReadCloser
	var err error
	if ep, ok := strings.CutPrefix(p, embeddedPrefix); ok {
		r, err = embedded.FS.Open(ep)
	} else {
		r, err = os.Open(filepath.Clean(p))
	}
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
