package data

import (
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder for image folders
	_ "image/png"  // register the PNG decoder for image folders
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/image/draw"
)

// A labelled image folder holds one sub-folder per class with PNG or JPEG
// files of any size. If the folder has a train/ sub-folder, train/ is the
// train split and test/ (or val/) the test split; otherwise every tenth
// image of each class (in file-name order) is held out as the test split.
//
// Any other layout is an unlabelled folder: every PNG or JPEG below it, at
// any depth (hidden files and folders skipped), in path order, is the one
// split (Splits.Labeled is false), for pre-training only. A folder is
// labelled when it (or its train/) has at least two sub-folders, holds no
// image itself, and every image below it lies directly in one of those
// sub-folders. Images are cropped to
// their centre square and resized to Size×Size with a bilinear (anti-aliased)
// filter. A folder whose images are all grayscale gives 1-channel images,
// otherwise 3 channels (RGB; alpha is dropped).

var imageExt = map[string]bool{".png": true, ".jpg": true, ".jpeg": true}

type folderItem struct {
	path  string
	label int
}

// OpenFolder reads an image folder as described above, resizing to size
// (32 if size ≤ 0). Errors name the offending folder or file: an empty
// folder, a class folder without images, an image that cannot be decoded.
func OpenFolder(ctx context.Context, root string, size int) (*Splits, error) {
	if size <= 0 {
		size = 32
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("image folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("image folder %s is not a directory", root)
	}
	trainDir, testDir := root, ""
	if isDir(filepath.Join(root, "train")) {
		trainDir = filepath.Join(root, "train")
		for _, t := range []string{"test", "val"} {
			if isDir(filepath.Join(root, t)) {
				testDir = filepath.Join(root, t)
				break
			}
		}
	}
	if !classLayout(trainDir) {
		return openUnlabeledFolder(ctx, root, size)
	}
	classes, trainItems, err := scanFolder(trainDir, nil)
	if err != nil {
		return nil, err
	}
	var testItems []folderItem
	if testDir != "" {
		if _, testItems, err = scanFolder(testDir, classes); err != nil {
			return nil, err
		}
	} else {
		// Hold out every tenth image of each class (stable: file-name order).
		var keep []folderItem
		seen := make([]int, len(classes))
		for _, it := range trainItems {
			if seen[it.label]%10 == 9 {
				testItems = append(testItems, it)
			} else {
				keep = append(keep, it)
			}
			seen[it.label]++
		}
		trainItems = keep
	}
	if len(testItems) == 0 {
		return nil, fmt.Errorf("image folder %s: no test images (add a test/ folder, or at least 10 images per class for the automatic hold-out)", root)
	}
	all := append(append([]folderItem{}, trainItems...), testItems...)
	pix, c, err := decodeAll(ctx, all, size)
	if err != nil {
		return nil, err
	}
	sz := c * size * size
	labelsOf := func(items []folderItem) []int {
		l := make([]int, len(items))
		for i, it := range items {
			l[i] = it.label
		}
		return l
	}
	base := "folder:" + root
	train, err := NewMemory(base+"/train", c, size, size, pix[:len(trainItems)*sz], labelsOf(trainItems), classes)
	if err != nil {
		return nil, err
	}
	test, err := NewMemory(base+"/test", c, size, size, pix[len(trainItems)*sz:], labelsOf(testItems), classes)
	if err != nil {
		return nil, err
	}
	nm := computeNorm(train)
	train.SetNorm(nm)
	test.SetNorm(nm)
	return &Splits{Train: train, Test: test, Info: Info{
		Name: base, Title: "image folder " + root, Source: root,
		License: "as given by the folder's owner", Norm: nm,
	}}, nil
}

// classLayout reports whether dir is laid out as one sub-folder of images
// per class (see OpenFolder).
func classLayout(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return true // scanFolder reports it
	}
	classes := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !e.IsDir() {
			if imageExt[strings.ToLower(filepath.Ext(e.Name()))] {
				return false // an image outside any class folder
			}
			continue
		}
		classes++
		sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			return true
		}
		for _, f := range sub {
			if f.IsDir() && !strings.HasPrefix(f.Name(), ".") && hasImages(filepath.Join(dir, e.Name(), f.Name())) {
				return false // images nested deeper than a class folder
			}
		}
	}
	return classes >= 2
}

// hasImages reports whether some image lies at any depth below dir.
func hasImages(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && imageExt[strings.ToLower(filepath.Ext(p))] {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// openUnlabeledFolder reads every image below root, at any depth, as one
// unlabelled split.
func openUnlabeledFolder(ctx context.Context, root string, size int) (*Splits, error) {
	var items []folderItem
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("image folder: %w", err)
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && imageExt[strings.ToLower(filepath.Ext(p))] {
			items = append(items, folderItem{path: p, label: -1})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("image folder %s is empty: no PNG or JPEG images at any depth (a labelled folder has one sub-folder of images per class)", root)
	}
	pix, c, err := decodeAll(ctx, items, size)
	if err != nil {
		return nil, err
	}
	labels := make([]int, len(items))
	for i := range labels {
		labels[i] = -1
	}
	base := "folder:" + root
	train, err := NewMemory(base, c, size, size, pix, labels, nil)
	if err != nil {
		return nil, err
	}
	nm := computeNorm(train)
	train.SetNorm(nm)
	return &Splits{Train: train, Info: Info{
		Name: base, Title: "unlabelled image folder " + root, Source: root,
		License: "as given by the folder's owner", Norm: nm,
	}}, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// scanFolder lists dir's class sub-folders and their images. With known
// classes (the test split) every sub-folder must be one of them.
func scanFolder(dir string, known []string) ([]string, []folderItem, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("image folder: %w", err)
	}
	var classes []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("image folder %s is empty: want one sub-folder of PNG/JPEG images per class", dir)
	}
	sort.Strings(classes)
	index := map[string]int{}
	if known != nil {
		for i, c := range known {
			index[c] = i
		}
		for _, c := range classes {
			if _, ok := index[c]; !ok {
				return nil, nil, fmt.Errorf("image folder %s: class %q is not among the train classes %v", dir, c, known)
			}
		}
	} else {
		for i, c := range classes {
			index[c] = i
		}
	}
	var items []folderItem
	for _, c := range classes {
		sub := filepath.Join(dir, c)
		files, err := os.ReadDir(sub)
		if err != nil {
			return nil, nil, fmt.Errorf("image folder: %w", err)
		}
		n := 0
		for _, f := range files {
			if f.IsDir() || !imageExt[strings.ToLower(filepath.Ext(f.Name()))] {
				continue
			}
			items = append(items, folderItem{path: filepath.Join(sub, f.Name()), label: index[c]})
			n++
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("image folder %s: class folder %q has no PNG or JPEG images", dir, c)
		}
	}
	if known != nil {
		classes = known
	}
	return classes, items, nil
}

// decodeAll decodes and resizes every item in parallel into one pixel slice
// of size×size images with the channel count c (1 if all are gray, else 3).
// Workers write RGB planes straight into the result, which is compacted to
// one plane per image when every image was gray.
func decodeAll(ctx context.Context, items []folderItem, size int) ([]uint8, int, error) {
	hw := size * size
	pix := make([]uint8, len(items)*3*hw)
	gray := make([]bool, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	next := make(chan int)
	budget := newPixelBudget(MaxImagePixels)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var im *image.RGBA
				im, gray[i], errs[i] = decodeResize(items[i].path, size, budget)
				if errs[i] != nil {
					continue
				}
				dst := pix[i*3*hw : (i+1)*3*hw]
				for p := range hw {
					dst[p], dst[hw+p], dst[2*hw+p] = im.Pix[p*4], im.Pix[p*4+1], im.Pix[p*4+2]
				}
			}
		}()
	}
	var ctxErr error
feed:
	for i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctxErr != nil {
		return nil, 0, fmt.Errorf("decode image folder: %w", ctxErr)
	}
	allGray := true
	for i, err := range errs {
		if err != nil {
			return nil, 0, err
		}
		allGray = allGray && gray[i]
	}
	if !allGray {
		return pix, 3, nil
	}
	// Keep the first plane of each image (R = G = B for gray sources).
	for i := range items {
		copy(pix[i*hw:(i+1)*hw], pix[i*3*hw:i*3*hw+hw])
	}
	return pix[: len(items)*hw : len(items)*hw], 1, nil
}

// MaxImagePixels bounds the width×height an image file of an image folder
// may declare (64 Mi pixels, e.g. 8192×8192). The header is read with
// image.DecodeConfig and checked before anything is decoded, so a small file
// claiming huge dimensions is an error naming the file, never an allocation.
// It is also the budget shared by the parallel decoders: images being
// decoded at once hold at most MaxImagePixels pixels together (at most 8
// bytes each, for 16-bit RGBA), whatever the number of cores.
const MaxImagePixels = 1 << 26

// decodeResize decodes one file, crops its centre square and scales it to
// size×size RGBA; gray reports whether the source was a grayscale image.
func decodeResize(path string, size int, budget *pixelBudget) (*image.RGBA, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("image folder: %w", err)
	}
	defer f.Close()
	return decodeImage(f, path, size, MaxImagePixels, budget)
}

// decodeImage is decodeResize on an open file r named path, refusing images
// whose header declares more than maxPixels pixels. With a budget, the
// declared pixels are taken from it for the decode (nil: no budget).
func decodeImage(r io.ReadSeeker, path string, size, maxPixels int, budget *pixelBudget) (*image.RGBA, bool, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return nil, false, fmt.Errorf("%s: cannot decode image (%w); want PNG or JPEG", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, false, fmt.Errorf("%s: %s image has zero size (%d×%d); remove or replace the file", path, format, cfg.Width, cfg.Height)
	}
	// Compare in 64 bits: the product of two header fields may overflow int on 32-bit machines.
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if pixels > int64(maxPixels) {
		return nil, false, fmt.Errorf("%s: %s header declares %d×%d pixels, more than the limit of %d pixels (e.g. %d×%d): shrink the image, or remove the file if it is damaged",
			path, format, cfg.Width, cfg.Height, maxPixels, isqrt(maxPixels), isqrt(maxPixels))
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	if budget != nil {
		budget.acquire(pixels)
		defer budget.release(pixels)
	}
	src, format, err := image.Decode(r)
	if err != nil {
		return nil, false, fmt.Errorf("%s: cannot decode image (%w); want PNG or JPEG", path, err)
	}
	b := src.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, false, fmt.Errorf("%s: %s image decodes to %d×%d but its header says %d×%d; the file is damaged", path, format, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	side := min(b.Dx(), b.Dy())
	x0 := b.Min.X + (b.Dx()-side)/2
	y0 := b.Min.Y + (b.Dy()-side)/2
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	// Opaque black under transparent pixels, so alpha never leaks into RGB.
	draw.Draw(dst, dst.Bounds(), &image.Uniform{C: color.Black}, image.Point{}, draw.Src)
	draw.BiLinear.Scale(dst, dst.Bounds(), src, image.Rect(x0, y0, x0+side, y0+side), draw.Over, nil)
	var isGray bool
	switch src.(type) {
	case *image.Gray, *image.Gray16:
		isGray = true
	}
	return dst, isGray, nil
}

// pixelBudget is a counting semaphore over pixels: the decoders of an image
// folder take an image's pixels before decoding it and give them back after,
// so their memory together stays bounded.
type pixelBudget struct {
	mu    sync.Mutex
	freed sync.Cond
	free  int64
	used  int64 // pixels held now
	peak  int64 // most pixels held at once (for tests)
}

func newPixelBudget(n int64) *pixelBudget {
	b := &pixelBudget{free: n}
	b.freed.L = &b.mu
	return b
}

// acquire waits until n pixels are free and takes them. n must not exceed
// the budget's size, or acquire waits for ever.
func (b *pixelBudget) acquire(n int64) {
	b.mu.Lock()
	for b.free < n {
		b.freed.Wait()
	}
	b.free -= n
	b.used += n
	b.peak = max(b.peak, b.used)
	b.mu.Unlock()
}

// release gives back n pixels taken by acquire.
func (b *pixelBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	b.used -= n
	b.mu.Unlock()
	b.freed.Broadcast()
}

// isqrt is ⌊√n⌋ for n ≥ 0.
func isqrt(n int) int {
	r := int(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}
