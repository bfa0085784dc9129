package datacmd

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// InfoOptions are the inputs of bench data info.
type InfoOptions struct {
	IO      *iostreams.IO
	Logger  *slog.Logger
	Context context.Context

	Name string
	// Dir is the dataset directory; "" finds it like Open does.
	Dir string
	// ImageSize is the side folder images are resized to (0: 32).
	ImageSize int
	// Unlabeled includes STL-10's unlabeled split.
	Unlabeled bool
	// NoHash skips the SHA-256 of the files (slow on large datasets).
	NoHash bool
	// JSON prints one JSON object instead of tables.
	JSON bool
}

// NewCmdInfo returns `bench data info NAME`.
func NewCmdInfo(f *factory.Factory, runF func(*InfoOptions) error) *cobra.Command {
	opts := &InfoOptions{IO: f.IO, Logger: f.Logger}
	cmd := &cobra.Command{
		Use:   "info [NAME]",
		Short: "Show a dataset's source, licence, counts per split and class, and checksums",
		Long: `Open a dataset (default: the embedded "default") and print where it was read from,
its licence, image shape, normalisation, the number of images per split and class,
and the size and SHA-256 of every file read.`,
		Example: `  bench data info
  bench data info mnist --json
  bench data info folder:./my-images --image-size 64`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = "default"
			if len(args) == 1 {
				opts.Name = args[0]
			}
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return runInfo(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "dataset directory (default: where bench finds it)")
	cmd.Flags().IntVar(&opts.ImageSize, "image-size", 0, "side that folder images are resized to (default 32)")
	cmd.Flags().BoolVar(&opts.Unlabeled, "unlabeled", false, "also load STL-10's unlabeled split")
	cmd.Flags().BoolVar(&opts.NoHash, "no-hash", false, "skip the SHA-256 of the files")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

// infoJSON is the --json output.
type infoJSON struct {
	Name     string              `json:"name"`
	Title    string              `json:"title"`
	Source   string              `json:"source"`
	License  string              `json:"license"`
	Channels int                 `json:"channels"`
	Height   int                 `json:"height"`
	Width    int                 `json:"width"`
	Classes  []string            `json:"classes"`
	Splits   map[string]splitCnt `json:"splits"`
	Mean     []float32           `json:"mean"`
	Std      []float32           `json:"std"`
	Files    []data.FileInfo     `json:"files"`
}

type splitCnt struct {
	Images    int   `json:"images"`
	PerClass  []int `json:"per_class"`
	Unlabeled int   `json:"unlabeled,omitempty"`
}

func runInfo(opts *InfoOptions) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := data.Open(ctx, opts.Name, data.OpenOptions{Dir: opts.Dir, ImageSize: opts.ImageSize, Unlabeled: opts.Unlabeled, Logger: opts.Logger})
	if err != nil {
		return err
	}
	if !opts.NoHash {
		if err := s.Info.HashFiles(ctx); err != nil {
			return err
		}
	}
	im := s.Train.Image(0)
	out := infoJSON{Name: s.Info.Name, Title: s.Info.Title, Source: s.Info.Source, License: s.Info.License,
		Channels: im.C, Height: im.H, Width: im.W, Classes: s.Train.Classes(), Splits: map[string]splitCnt{},
		Mean: s.Info.Norm.Mean, Std: s.Info.Norm.Std, Files: s.Info.Files}
	order := []string{"train", "test"}
	splits := []data.Dataset{s.Train, s.Test}
	if !s.Labeled() { // one unlabelled split
		order, splits = []string{"unlabeled"}, []data.Dataset{s.Train}
	}
	if s.Unlabeled != nil {
		order = append(order, "unlabeled")
		splits = append(splits, s.Unlabeled)
	}
	for i, name := range order {
		cnt := data.ClassCounts(splits[i])
		k := len(cnt) - 1
		out.Splits[name] = splitCnt{Images: splits[i].Len(), PerClass: cnt[:k], Unlabeled: cnt[k]}
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "dataset:  %s — %s\n", out.Name, out.Title)
	fmt.Fprintf(w, "source:   %s\n", out.Source)
	fmt.Fprintf(w, "license:  %s\n", out.License)
	fmt.Fprintf(w, "images:   %d×%d×%d (C×H×W)\n", im.C, im.H, im.W)
	fmt.Fprintf(w, "norm:     mean %.4f  std %.4f\n", out.Mean, out.Std)
	if !s.Labeled() {
		fmt.Fprintln(w, "labels:   none: pre-train on it and evaluate on a labelled dataset (bench run --eval-dataset NAME)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "class")
	for _, name := range order {
		fmt.Fprintf(tw, "\t%s", name)
	}
	fmt.Fprintln(tw)
	for c, cl := range out.Classes {
		fmt.Fprintf(tw, "%d %s", c, cl)
		for _, name := range order {
			fmt.Fprintf(tw, "\t%d", out.Splits[name].PerClass[c])
		}
		fmt.Fprintln(tw)
	}
	if s.Unlabeled != nil || !s.Labeled() {
		fmt.Fprint(tw, "(unlabeled)")
		for _, name := range order {
			fmt.Fprintf(tw, "\t%d", out.Splits[name].Unlabeled)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "total")
	for _, name := range order {
		fmt.Fprintf(tw, "\t%d", out.Splits[name].Images)
	}
	fmt.Fprintln(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(out.Files) > 0 {
		fmt.Fprintln(w, "\nfiles:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range out.Files {
			sum := f.SHA256
			if sum == "" {
				sum = "(not hashed)"
			}
			fmt.Fprintf(tw, "  %s\t%d bytes\tsha256 %s\n", f.Path, f.Size, sum)
		}
		return tw.Flush()
	}
	return nil
}
