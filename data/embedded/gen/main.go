// Command gen regenerates the embedded datasets in data/embedded from the
// local copies of Fashion-MNIST and MNIST (found like `bench data` finds them:
// $SIAMBENCH_DATA, Debian's dataset-fashion-mnist, the GoMNIST module).
//
//	go run ./data/embedded/gen            # from the repository root
//
// Selection is stratified and seeded: for each class the indices of that
// class are shuffled with a fixed seed (Fisher-Yates over a SplitMix64
// stream) and the first k are kept, then the kept indices are sorted so the
// subset keeps the original file order. Files are gzipped IDX written with a
// zero gzip header time, so the output is byte-identical across runs (with the
// same Go release; the decompressed content is identical everywhere).
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/siambench/siambench/data"
)

type subset struct {
	name              string
	perClassTrain     int
	perClassTest      int
	seedTrain, seedTe uint64
}

func main() {
	out := flag.String("out", filepath.Join("data", "embedded"), "output directory (holds one folder per dataset)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	for _, s := range []subset{
		{name: "fashion-mnist", perClassTrain: 1000, perClassTest: 200, seedTrain: 1, seedTe: 2},
		{name: "mnist", perClassTrain: 500, perClassTest: 100, seedTrain: 3, seedTe: 4},
	} {
		dir, err := data.Locate(s.name, "")
		if err != nil {
			return err
		}
		slog.Info("source", "dataset", s.name, "dir", dir)
		src, err := data.LookupSource(s.name)
		if err != nil {
			return err
		}
		for _, sp := range []struct {
			prefix string
			k      int
			seed   uint64
		}{{"train", s.perClassTrain, s.seedTrain}, {"t10k", s.perClassTest, s.seedTe}} {
			imgs := filepath.Join(dir, sp.prefix+"-images-idx3-ubyte.gz")
			lbls := filepath.Join(dir, sp.prefix+"-labels-idx1-ubyte.gz")
			ds, err := data.LoadIDXPair(s.name, imgs, lbls, src.Classes)
			if err != nil {
				return err
			}
			idx, err := stratified(ds, sp.k, sp.seed)
			if err != nil {
				return fmt.Errorf("%s %s: %w", s.name, sp.prefix, err)
			}
			im0 := ds.Image(0)
			pix := make([]uint8, 0, len(idx)*im0.H*im0.W)
			lab := make([]uint8, 0, len(idx))
			for _, i := range idx {
				pix = append(pix, ds.Image(i).Pix...)
				lab = append(lab, uint8(ds.Label(i)))
			}
			od := filepath.Join(out, s.name)
			if err := os.MkdirAll(od, 0o755); err != nil {
				return err
			}
			if err := writeGz(filepath.Join(od, sp.prefix+"-images-idx3-ubyte.gz"), []int{len(idx), im0.H, im0.W}, pix); err != nil {
				return err
			}
			if err := writeGz(filepath.Join(od, sp.prefix+"-labels-idx1-ubyte.gz"), []int{len(idx)}, lab); err != nil {
				return err
			}
			slog.Info("wrote", "dataset", s.name, "split", sp.prefix, "images", len(idx))
		}
	}
	return nil
}

// stratified picks k indices of every class with a seeded shuffle.
func stratified(ds data.Dataset, k int, seed uint64) ([]int, error) {
	byClass := make([][]int, len(ds.Classes()))
	for i := range ds.Len() {
		byClass[ds.Label(i)] = append(byClass[ds.Label(i)], i)
	}
	state := seed
	next := func() uint64 { // SplitMix64
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	var keep []int
	for c, ix := range byClass {
		if len(ix) < k {
			return nil, fmt.Errorf("class %d has %d images, fewer than %d", c, len(ix), k)
		}
		for i := len(ix) - 1; i > 0; i-- {
			j := int(next() % uint64(i+1))
			ix[i], ix[j] = ix[j], ix[i]
		}
		keep = append(keep, ix[:k]...)
	}
	sort.Ints(keep)
	return keep, nil
}

func writeGz(path string, dims []int, payload []uint8) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if err := data.WriteIDX(zw, dims, payload); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
