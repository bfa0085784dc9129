package data

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR-10 binary: records of 1 label byte + 3072 pixel bytes (R, G, B planes
// of 32×32). CIFAR-100 binary: 1 coarse + 1 fine label byte + 3072 pixels; we
// use the fine (100-class) label.
// See https://www.cs.toronto.edu/~kriz/cifar.html.

// CIFAR10Classes are CIFAR-10's class names (batches.meta.txt).
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// LoadCIFARBinary reads one or more CIFAR binary files into a Memory dataset.
// labelBytes is 1 for CIFAR-10 and 2 for CIFAR-100 (the last label byte, the
// fine label, is used). Errors name the file: a size that is not a whole
// number of records, an empty file, a label outside the classes.
func LoadCIFARBinary(name string, paths []string, labelBytes int, classes []string) (*Memory, error) {
	var pix []uint8
	var labels []int
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read CIFAR file: %w", err)
		}
		if pix == nil {
			pix = make([]uint8, 0, len(raw)*len(paths))
		}
		if pix, labels, err = appendCIFAR(pix, labels, p, raw, labelBytes, classes); err != nil {
			return nil, err
		}
	}
	m, err := NewMemory(name, 3, 32, 32, pix, labels, classes)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// cifarImageBytes is one CIFAR image: 3 planes of 32×32.
const cifarImageBytes = 3 * 32 * 32

// appendCIFAR appends the records of raw, the content of the CIFAR binary
// file p, to pix and labels.
func appendCIFAR(pix []uint8, labels []int, p string, raw []byte, labelBytes int, classes []string) ([]uint8, []int, error) {
	rec := labelBytes + cifarImageBytes
	if len(raw) == 0 {
		return nil, nil, fmt.Errorf("%s: empty CIFAR file", p)
	}
	if len(raw)%rec != 0 {
		return nil, nil, fmt.Errorf("%s: size %d is not a multiple of the %d-byte CIFAR record (truncated or not a CIFAR binary file with %d label byte(s))", p, len(raw), rec, labelBytes)
	}
	n := len(raw) / rec
	for i := range n {
		r := raw[i*rec : (i+1)*rec]
		l := int(r[labelBytes-1])
		if l >= len(classes) {
			return nil, nil, fmt.Errorf("%s: record %d has label %d, outside the %d classes (wrong CIFAR variant?)", p, i, l, len(classes))
		}
		labels = append(labels, l)
		pix = append(pix, r[labelBytes:]...)
	}
	return pix, labels, nil
}

// readNames reads a class-name list, one name per non-empty line.
func readNames(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read class names: %w", err)
	}
	var names []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no class names in file", path)
	}
	return names, nil
}

// openCIFAR10 opens the extracted cifar-10-batches-bin directory.
func openCIFAR10(dir string) (train, test *Memory, files []string, err error) {
	d := filepath.Join(dir, "cifar-10-batches-bin")
	var tr []string
	for i := 1; i <= 5; i++ {
		tr = append(tr, filepath.Join(d, fmt.Sprintf("data_batch_%d.bin", i)))
	}
	te := filepath.Join(d, "test_batch.bin")
	classes := CIFAR10Classes
	if names, err := readNames(filepath.Join(d, "batches.meta.txt")); err == nil {
		classes = names
	}
	if train, err = LoadCIFARBinary("cifar10/train", tr, 1, classes); err != nil {
		return nil, nil, nil, err
	}
	if test, err = LoadCIFARBinary("cifar10/test", []string{te}, 1, classes); err != nil {
		return nil, nil, nil, err
	}
	return train, test, append(tr, te), nil
}

// openCIFAR100 opens the extracted cifar-100-binary directory.
func openCIFAR100(dir string) (train, test *Memory, files []string, err error) {
	d := filepath.Join(dir, "cifar-100-binary")
	classes, err := readNames(filepath.Join(d, "fine_label_names.txt"))
	if err != nil {
		return nil, nil, nil, err
	}
	tr, te := filepath.Join(d, "train.bin"), filepath.Join(d, "test.bin")
	if train, err = LoadCIFARBinary("cifar100/train", []string{tr}, 2, classes); err != nil {
		return nil, nil, nil, err
	}
	if test, err = LoadCIFARBinary("cifar100/test", []string{te}, 2, classes); err != nil {
		return nil, nil, nil, err
	}
	return train, test, []string{tr, te}, nil
}

// ---------------------------------------------------------------------------
// STL-10 binary: X files hold 3×96×96 images, each channel stored column-major
// (MATLAB order); y files hold one label byte per image, 1..10.
// See https://cs.stanford.edu/~acoates/stl10/.

// STL10Classes are STL-10's class names (class_names.txt).
var STL10Classes = []string{"airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"}

// LoadSTL10Binary reads an STL-10 X file and, unless labelsPath is "", its y
// file (labels 1..10, stored as 0..9; without labels every image gets -1).
// Pixels are transposed from column-major to the row-major C,H,W layout.
func LoadSTL10Binary(name, imagesPath, labelsPath string, classes []string) (*Memory, error) {
	f, err := os.Open(imagesPath)
	if err != nil {
		return nil, fmt.Errorf("open STL-10 images: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", imagesPath, err)
	}
	var rawLabels []byte
	if labelsPath != "" {
		if rawLabels, err = os.ReadFile(labelsPath); err != nil {
			return nil, fmt.Errorf("read STL-10 labels: %w", err)
		}
	}
	return decodeSTL10(name, imagesPath, bufio.NewReaderSize(f, 1<<20), st.Size(), labelsPath, rawLabels, classes)
}

const (
	stlSide       = 96
	stlImageBytes = 3 * stlSide * stlSide
)

// decodeSTL10 is LoadSTL10Binary on the images file's content r of size
// bytes (named imagesPath) and the labels file's content rawLabels (named
// labelsPath; "" means no labels file). The size is checked before anything
// is allocated, and the allocation is at most size bytes.
func decodeSTL10(name, imagesPath string, r io.Reader, size int64, labelsPath string, rawLabels []byte, classes []string) (*Memory, error) {
	const side = stlSide
	const imgBytes = stlImageBytes
	if size == 0 {
		return nil, fmt.Errorf("%s: empty STL-10 images file", imagesPath)
	}
	if size%imgBytes != 0 {
		return nil, fmt.Errorf("%s: size %d is not a multiple of the %d-byte STL-10 image (truncated?)", imagesPath, size, imgBytes)
	}
	n := int(size / imgBytes)
	var labels []int
	if labelsPath != "" {
		if len(rawLabels) != n {
			return nil, fmt.Errorf("count mismatch: %s holds %d images but %s holds %d labels", imagesPath, n, labelsPath, len(rawLabels))
		}
		labels = make([]int, n)
		for i, l := range rawLabels {
			if l < 1 || int(l) > len(classes) {
				return nil, fmt.Errorf("%s: label %d of image %d is outside 1..%d", labelsPath, l, i, len(classes))
			}
			labels[i] = int(l) - 1
		}
	} else {
		labels = make([]int, n)
		for i := range labels {
			labels[i] = -1
		}
	}
	pix := make([]uint8, n*imgBytes)
	buf := make([]uint8, imgBytes)
	for i := range n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("%s: image %d: %w", imagesPath, i, err)
		}
		dst := pix[i*imgBytes : (i+1)*imgBytes]
		for c := range 3 {
			src := buf[c*side*side : (c+1)*side*side]
			d := dst[c*side*side : (c+1)*side*side]
			for x := range side {
				col := src[x*side : (x+1)*side]
				for y, v := range col {
					d[y*side+x] = v
				}
			}
		}
	}
	return NewMemory(name, 3, side, side, pix, labels, classes)
}

// openSTL10 opens the extracted stl10_binary directory; the 100,000-image
// unlabeled split is read only when unlabeled is true (2.7 GB).
func openSTL10(dir string, unlabeled bool) (train, test, unl *Memory, files []string, err error) {
	d := filepath.Join(dir, "stl10_binary")
	classes := STL10Classes
	if names, err := readNames(filepath.Join(d, "class_names.txt")); err == nil {
		classes = names
	}
	trX, trY := filepath.Join(d, "train_X.bin"), filepath.Join(d, "train_y.bin")
	teX, teY := filepath.Join(d, "test_X.bin"), filepath.Join(d, "test_y.bin")
	if train, err = LoadSTL10Binary("stl10/train", trX, trY, classes); err != nil {
		return
	}
	if test, err = LoadSTL10Binary("stl10/test", teX, teY, classes); err != nil {
		return
	}
	files = []string{trX, trY, teX, teY}
	if unlabeled {
		uX := filepath.Join(d, "unlabeled_X.bin")
		if unl, err = LoadSTL10Binary("stl10/unlabeled", uX, "", classes); err != nil {
			return
		}
		files = append(files, uX)
	}
	return
}
