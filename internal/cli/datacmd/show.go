package datacmd

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/atomicfile"
	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// ShowOptions are the inputs of bench data show.
type ShowOptions struct {
	IO      *iostreams.IO
	Logger  *slog.Logger
	Context context.Context

	Dataset string
	// Aug is a comma-separated list of presets; views cycle through them
	// (e.g. "byol1,byol2", "swav-global,swav-local").
	Aug   string
	Out   string
	Split string // "train" or "test"
	// Images is the number of rows (one image each), Views the augmented
	// views per image.
	Images, Views int
	Seed          int64
	Epoch         int
	// Size is the view side (0: the image side; -N: N% of it). swav-local
	// views default to -50.
	Size int
	// Zoom scales every pixel to Zoom×Zoom (0: automatic, cells ≥ 96 px).
	Zoom int
	Dir  string
	// ImageSize is the side folder images are resized to (0: 32).
	ImageSize int
}

// NewCmdShow returns `bench data show`.
func NewCmdShow(f *factory.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, Logger: f.Logger}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Draw a PNG grid of images and their augmented views",
		Long: `Write a PNG grid: one row per image (the first image of each class, then the
next ones), the original in the first column and augmented views after it, exactly
as the loader makes them for the given seed and epoch (the view in column k is view
k-1 of that image). Presets: ` + strings.Join(data.PresetNames(), ", ") + `.`,
		Example: `  bench data show --out grid.png
  bench data show --dataset cifar10 --aug byol1,byol2 --views 6 --out byol.png
  bench data show --aug swav-global,swav-local --out swav.png`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Out == "" {
				return fmt.Errorf("--out is required: the PNG file to write")
			}
			if opts.Images < 1 || opts.Views < 1 || opts.Images > 100 || opts.Views > 32 {
				return fmt.Errorf("--images must be in 1..100 and --views in 1..32 (got %d and %d)", opts.Images, opts.Views)
			}
			if opts.Split != "train" && opts.Split != "test" {
				return fmt.Errorf("--split must be train or test, got %q", opts.Split)
			}
			if opts.Zoom < 0 || opts.Zoom > 16 {
				return fmt.Errorf("--zoom must be in 0..16 (0: automatic), got %d", opts.Zoom)
			}
			for _, p := range strings.Split(opts.Aug, ",") {
				if _, err := data.Preset(p); err != nil {
					return err
				}
			}
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return runShow(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dataset, "dataset", "default", "dataset name (see bench data --help)")
	fl.StringVar(&opts.Aug, "aug", "simsiam", "augmentation preset(s), comma-separated; views cycle through them")
	fl.StringVarP(&opts.Out, "out", "o", "", "PNG file to write (required)")
	fl.StringVar(&opts.Split, "split", "train", "train or test")
	fl.IntVar(&opts.Images, "images", 8, "number of images (rows)")
	fl.IntVar(&opts.Views, "views", 6, "augmented views per image")
	fl.Int64Var(&opts.Seed, "seed", 0, "loader seed")
	fl.IntVar(&opts.Epoch, "epoch", 0, "epoch whose views to draw")
	fl.IntVar(&opts.Size, "size", 0, "view side in pixels (0: image side; -N: N% of it)")
	fl.IntVar(&opts.Zoom, "zoom", 0, "pixel zoom (0: automatic)")
	fl.StringVar(&opts.Dir, "dir", "", "dataset directory (default: where bench finds it)")
	fl.IntVar(&opts.ImageSize, "image-size", 0, "side that folder images are resized to (default 32)")
	return cmd
}

func runShow(opts *ShowOptions) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := data.Open(ctx, opts.Dataset, data.OpenOptions{Dir: opts.Dir, ImageSize: opts.ImageSize, Logger: opts.Logger})
	if err != nil {
		return err
	}
	ds := s.Train
	if opts.Split == "test" {
		if !s.Labeled() {
			return fmt.Errorf("dataset %s is unlabelled: it has one split, train (--split train)", opts.Dataset)
		}
		ds = s.Test
	}
	rows := pickRows(ds, opts.Images)
	im0 := ds.Image(0)
	side := min(im0.H, im0.W)
	var augs []data.Aug
	var sides []int
	for _, p := range strings.Split(opts.Aug, ",") {
		spec := data.ViewSpec{Count: 1, Size: opts.Size, Preset: p}
		if p == "swav-local" && opts.Size == 0 {
			spec.Size = -50
		}
		a, err := spec.Aug()
		if err != nil {
			return err
		}
		augs = append(augs, a)
		sides = append(sides, spec.Side(side))
	}
	cell := max(im0.H, im0.W)
	for _, sd := range sides {
		cell = max(cell, sd)
	}
	zoom := opts.Zoom
	if zoom == 0 {
		zoom = max(1, (96+cell-1)/cell)
	}
	const gap = 4
	cw := cell*zoom + gap
	grid := image.NewRGBA(image.Rect(0, 0, gap+cw*(1+opts.Views), gap+cw*len(rows)))
	bg := color.RGBA{40, 40, 40, 255}
	for i := 0; i < len(grid.Pix); i += 4 {
		grid.Pix[i], grid.Pix[i+1], grid.Pix[i+2], grid.Pix[i+3] = bg.R, bg.G, bg.B, bg.A
	}
	nm := data.NormOf(ds)
	var aug data.Augmenter
	for r, idx := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		im := ds.Image(idx)
		y := gap + r*cw
		drawPixels(grid, gap, y, zoom, im.C, im.H, im.W, func(c, i int) float32 { return float32(im.Pix[c*im.H*im.W+i]) / 255 })
		for v := range opts.Views {
			a, sd := &augs[v%len(augs)], sides[v%len(augs)]
			buf := make([]float32, im.C*sd*sd)
			aug.Apply(buf, im, a, sd, &nm, opts.Seed, opts.Epoch, idx, v)
			drawPixels(grid, gap+(v+1)*cw, y, zoom, im.C, sd, sd, func(c, i int) float32 { return buf[c*sd*sd+i]*nm.Std[c] + nm.Mean[c] })
		}
	}
	if err := writePNG(opts.Out, grid); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "wrote %s: %d images of %s (%s) × original + %d views (%s), seed %d, epoch %d\n",
		opts.Out, len(rows), opts.Dataset, opts.Split, opts.Views, opts.Aug, opts.Seed, opts.Epoch)
	return nil
}

// pickRows returns the first image of each class in turn, then the next
// ones, until n indices (or the dataset) are used up.
func pickRows(ds data.Dataset, n int) []int {
	n = min(n, ds.Len())
	var rows []int
	used := map[int]bool{}
	seen := map[int]bool{}
	for i := 0; i < ds.Len() && len(rows) < n; i++ {
		if l := ds.Label(i); !seen[l] {
			seen[l], used[i] = true, true
			rows = append(rows, i)
		}
	}
	for i := 0; i < ds.Len() && len(rows) < n; i++ {
		if !used[i] {
			rows = append(rows, i)
		}
	}
	return rows
}

// drawPixels paints an h×w image (values in [0,1] from at(c, y·w+x)) at
// (x0,y0) with each pixel zoom×zoom; 1-channel images are drawn gray.
func drawPixels(dst *image.RGBA, x0, y0, zoom, c, h, w int, at func(c, i int) float32) {
	for y := range h {
		for x := range w {
			var rgb [3]uint8
			for k := range 3 {
				v := at(min(k, c-1), y*w+x)
				rgb[k] = uint8(min(max(v, 0), 1)*255 + 0.5)
			}
			for dy := range zoom {
				for dx := range zoom {
					o := dst.PixOffset(x0+x*zoom+dx, y0+y*zoom+dy)
					dst.Pix[o], dst.Pix[o+1], dst.Pix[o+2], dst.Pix[o+3] = rgb[0], rgb[1], rgb[2], 255
				}
			}
		}
	}
}

// writePNG encodes im to path atomically (atomicfile: a reader never sees
// a torn file, and the file is 0644 as every result file).
func writePNG(path string, im image.Image) error {
	return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, im) })
}
