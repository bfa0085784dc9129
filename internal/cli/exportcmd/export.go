// Package exportcmd implements `bench export RUN_DIR`: a run's trained
// backbone as safetensors with PyTorch names, or its features of the
// evaluation dataset as .npy, for use outside bench (docs/export.md).
package exportcmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// Formats bench export writes weights in.
const FormatSafetensors = "safetensors"

// ExportOptions are the inputs of bench export.
type ExportOptions struct {
	IO     *iostreams.IO
	Logger *slog.Logger
	// NewBackbone builds backbones; nil means models.New.
	NewBackbone harness.BackboneFunc
	// OpenDataset opens datasets; nil means data.Open.
	OpenDataset harness.DatasetFunc
	Context     context.Context

	// RunDir is the run folder (RESULTS_DIR/runs/<run-id>).
	RunDir string
	// Format is the weights format; only "safetensors".
	Format string
	// Out is the weights file (default RUN_DIR/backbone.safetensors) or,
	// with Features, the folder for the .npy files (default RUN_DIR).
	Out string
	// Features exports features of the run's dataset instead of weights.
	Features bool
	// Split is the split whose features are exported: "test" or "train".
	Split string
}

// NewCmdExport returns the export command. When runF is non-nil it is called
// with the parsed options instead of runExport (for parse tests).
func NewCmdExport(f *factory.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IO, Logger: f.Logger}
	cmd := &cobra.Command{
		Use:   "export RUN_DIR",
		Short: "Export a run's backbone (safetensors) or its features (.npy)",
		Long: `Export what a run trained so that other tools can load it.

By default bench export writes the run's backbone (the online network of its
latest checkpoint: weights and BN running statistics) as a safetensors file
with PyTorch state_dict names (conv1.weight, bn1.running_mean,
layer1.0.downsample.0.weight, ...), float32, with the backbone name, input
channels, method and run ID as metadata. docs/export.md gives the name tables
and torch.nn definitions of every backbone.

With --features it instead writes the backbone's features of the run's
dataset (the limits of its sweep applied, BN in eval mode, as the probes see
them): features-SPLIT.npy, float32 of shape (N,D), and labels-SPLIT.npy,
int64 of shape (N), both readable with numpy.load.`,
		Example: `  bench export results/default/runs/simsiam-3f2a9c
  bench export results/default/runs/simsiam-3f2a9c --out simsiam.safetensors
  bench export results/default/runs/simsiam-3f2a9c --features --split train --out feats/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("bench export takes one argument, a run folder (RESULTS_DIR/runs/<run-id>), got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunDir = args[0]
			opts.Context = cmd.Context()
			if opts.Format != FormatSafetensors {
				return fmt.Errorf("unknown --format %q: the only weights format is %s", opts.Format, FormatSafetensors)
			}
			if opts.Split != "test" && opts.Split != "train" {
				return fmt.Errorf("unknown --split %q: choose test or train", opts.Split)
			}
			if cmd.Flags().Changed("split") && !opts.Features {
				return errors.New("--split goes with --features")
			}
			if runF != nil {
				return runF(opts)
			}
			return runExport(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", FormatSafetensors, "weights format (safetensors)")
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "weights file (default RUN_DIR/backbone.safetensors); with --features, the folder of the .npy files (default RUN_DIR)")
	cmd.Flags().BoolVar(&opts.Features, "features", false, "export features and labels of the run's dataset as .npy instead of weights")
	cmd.Flags().StringVar(&opts.Split, "split", "test", "with --features: the split, test or train")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{FormatSafetensors}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("split", cobra.FixedCompletions([]string{"test", "train"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runExport(opts *ExportOptions) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	m, cfg, info, err := harness.LoadRun(opts.RunDir, opts.NewBackbone)
	if err != nil {
		return err
	}
	if !opts.Features {
		out := opts.Out
		if out == "" {
			out = filepath.Join(opts.RunDir, "backbone.safetensors")
		}
		if err := harness.SaveSafetensors(out, m, info); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "Wrote %s: %s backbone (%d input channels, %d-d features) of run %s (%s, %d epochs), %d tensors\n",
			out, info.Backbone, info.InChannels, info.OutDim, info.RunID, info.Method, info.Epochs, len(m.Params())+len(m.Buffers()))
		return nil
	}
	open := opts.OpenDataset
	if open == nil {
		open = func(ctx context.Context, name string) (*data.Splits, error) {
			return data.Open(ctx, name, data.OpenOptions{Logger: opts.Logger})
		}
	}
	d, err := harness.OpenEvalData(ctx, open, harness.EvalDataConfig{Dataset: cmp.Or(cfg.EvalDataset, cfg.Dataset), TrainLimit: cfg.TrainLimit, TestLimit: cfg.TestLimit})
	if err != nil {
		return err
	}
	if d.Channels() != info.InChannels {
		return fmt.Errorf("dataset %s has %d channels, the backbone reads %d", cfg.Dataset, d.Channels(), info.InChannels)
	}
	ds, err := d.Split(opts.Split)
	if err != nil {
		return err
	}
	dir := opts.Out
	if dir == "" {
		dir = opts.RunDir
	}
	fp := filepath.Join(dir, "features-"+opts.Split+".npy")
	lp := filepath.Join(dir, "labels-"+opts.Split+".npy")
	n, dim, err := harness.SaveFeatures(ctx, m, ds, fp, lp)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Wrote %s (float32 %d×%d) and %s (int64 %d): %s split of %s, run %s\n",
		fp, n, dim, lp, n, opts.Split, cfg.Dataset, info.RunID)
	return nil
}
