// Package evalcmd implements `bench eval`: the sweep's evaluation protocol
// (kNN monitor, linear probe, transfer linear probes) on any saved backbone,
// a run folder or a safetensors file.
package evalcmd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/results"
)

// EvalOptions are the inputs of bench eval.
type EvalOptions struct {
	IO     *iostreams.IO
	Logger *slog.Logger
	// NewBackbone builds backbones; nil means models.New.
	NewBackbone harness.BackboneFunc
	// OpenDataset opens datasets; nil means data.Open.
	OpenDataset harness.DatasetFunc
	Context     context.Context

	// RunDir is a run folder to evaluate; empty when Weights is set.
	RunDir string
	// Weights is a safetensors file with PyTorch names; Backbone names its
	// architecture (empty: the file's metadata).
	Weights  string
	Backbone string
	// Dataset, Transfer and the limits select the data; unset ones come from
	// the run's config (RunDir) or the file's metadata, else dataset
	// "default", no transfer, no limits.
	Dataset               string
	Transfer              []string
	TrainLimit, TestLimit int
	// Set records which of the four above were given.
	Set map[string]bool
	// Out is the JSON result file; empty: RUN_DIR/backbone-eval.json or
	// WEIGHTS without .safetensors + .eval.json.
	Out string
	// JSON prints the result as JSON instead of a table.
	JSON bool
}

// Result is what bench eval writes as JSON.
type Result struct {
	Source     string   `json:"source"` // the run folder or weights file
	Backbone   string   `json:"backbone"`
	InChannels int      `json:"in_channels"`
	FeatureDim int      `json:"feature_dim,omitempty"`
	Method     string   `json:"method,omitempty"`
	RunID      string   `json:"run_id,omitempty"`
	Epochs     int      `json:"epochs,omitempty"` // epochs trained at the checkpoint
	Dataset    string   `json:"dataset"`
	Transfer   []string `json:"transfer,omitempty"`
	TrainLimit int      `json:"train_limit,omitempty"`
	TestLimit  int      `json:"test_limit,omitempty"`
	// Accuracies in [0,1], computed with the sweep's protocol.
	KNNTop1      float64            `json:"knn_top1"`
	LinearTop1   float64            `json:"linear_top1"`
	TransferTop1 map[string]float64 `json:"transfer_top1,omitempty"`
	// Stored is the run's own eval.json, when evaluating a finished run.
	Stored *results.Eval `json:"stored,omitempty"`
}

// NewCmdEval returns the eval command. When runF is non-nil it is called with
// the parsed options instead of runEval (for parse tests).
func NewCmdEval(f *factory.Factory, runF func(*EvalOptions) error) *cobra.Command {
	opts := &EvalOptions{IO: f.IO, Logger: f.Logger}
	cmd := &cobra.Command{
		Use:   "eval [RUN_DIR] [--weights FILE --backbone NAME]",
		Short: "Evaluate a saved backbone with the sweep's kNN and linear probes",
		Long: `Evaluate a backbone with exactly the protocol code a sweep uses: the kNN
monitor (k=200, T=0.1, cosine) and the linear probe on the dataset's
train/test splits, and a linear probe on every transfer dataset; features
are computed with BN in eval mode.

The backbone is a run folder (its latest checkpoint; dataset, transfer
datasets and split limits default to the run's) or, with --weights, a
safetensors file with PyTorch names, as bench export writes or as
docs/export.md describes (--backbone names its architecture when the file's
metadata does not).

The result is printed as a table (or as JSON with --json) and written as JSON
to --out.`,
		Example: `  bench eval results/default/runs/simsiam-3f2a9c
  bench eval --weights simsiam.safetensors --dataset cifar10 --transfer none
  bench eval --weights torch_resnet.safetensors --backbone resnet18-cifar --dataset cifar10 --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return fmt.Errorf("bench eval takes at most one argument, a run folder, got %d", len(args))
			case len(args) == 1 && opts.Weights != "":
				return errors.New("give a run folder or --weights FILE, not both")
			case len(args) == 0 && opts.Weights == "":
				return errors.New("nothing to evaluate: give a run folder (RESULTS_DIR/runs/<run-id>) or --weights FILE")
			case len(args) == 1 && opts.Backbone != "":
				return errors.New("--backbone goes with --weights (a run folder records its backbone)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.RunDir = args[0]
			}
			opts.Context = cmd.Context()
			opts.Set = map[string]bool{}
			for _, n := range []string{"dataset", "transfer", "train-limit", "test-limit"} {
				opts.Set[n] = cmd.Flags().Changed(n)
			}
			if opts.TrainLimit < 0 || opts.TestLimit < 0 {
				return errors.New("--train-limit and --test-limit must be ≥ 0 (0: the whole split)")
			}
			if runF != nil {
				return runF(opts)
			}
			return runEval(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Weights, "weights", "", "safetensors file with PyTorch-named backbone weights")
	fl.StringVar(&opts.Backbone, "backbone", "", "architecture of --weights: "+strings.Join(models.Names(), ", ")+" (default: the file's metadata)")
	fl.StringVar(&opts.Dataset, "dataset", "", "evaluation dataset (default: the run's, the file's metadata, else default)")
	fl.StringSliceVar(&opts.Transfer, "transfer", nil, "datasets for transfer linear probes, or none (default: the run's)")
	fl.IntVar(&opts.TrainLimit, "train-limit", 0, "use only N train images (default: the run's limit; 0 all)")
	fl.IntVar(&opts.TestLimit, "test-limit", 0, "use only N test images (default: the run's limit; 0 all)")
	fl.StringVarP(&opts.Out, "out", "o", "", "JSON result file (default RUN_DIR/backbone-eval.json or WEIGHTS.eval.json)")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as JSON instead of a table")
	_ = cmd.RegisterFlagCompletionFunc("backbone", cobra.FixedCompletions(models.Names(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("dataset", cobra.FixedCompletions(data.Names(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runEval(opts *EvalOptions) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	var (
		m    nn.Module
		info harness.WeightsInfo
		res  Result
		dc   harness.EvalDataConfig
		err  error
	)
	out := opts.Out
	if opts.RunDir != "" {
		var cfg results.RunConfig
		if m, cfg, info, err = harness.LoadRun(opts.RunDir, opts.NewBackbone); err != nil {
			return err
		}
		res.Source = opts.RunDir
		dc = harness.EvalDataConfig{Dataset: cmp.Or(cfg.EvalDataset, cfg.Dataset), Transfer: cfg.Transfer, TrainLimit: cfg.TrainLimit, TestLimit: cfg.TestLimit}
		var ev results.Eval
		if err := results.ReadJSON(filepath.Join(opts.RunDir, results.EvalFile), &ev); err == nil {
			res.Stored = &ev
		}
		if out == "" {
			out = filepath.Join(opts.RunDir, "backbone-eval.json")
		}
	} else {
		if m, info, err = harness.LoadSafetensors(opts.Weights, opts.Backbone, opts.NewBackbone); err != nil {
			return err
		}
		res.Source = opts.Weights
		dc = harness.EvalDataConfig{Dataset: info.Dataset, Transfer: info.Transfer}
		if dc.Dataset == "" {
			dc.Dataset = "default"
		}
		if out == "" {
			out = strings.TrimSuffix(opts.Weights, ".safetensors") + ".eval.json"
		}
	}
	if opts.Set["dataset"] {
		dc.Dataset = opts.Dataset
		if !opts.Set["transfer"] {
			dc.Transfer = nil // the run's transfer sets were chosen for its dataset
		}
	}
	if opts.Set["transfer"] {
		dc.Transfer = opts.Transfer
	}
	if opts.Set["train-limit"] {
		dc.TrainLimit = opts.TrainLimit
	}
	if opts.Set["test-limit"] {
		dc.TestLimit = opts.TestLimit
	}
	open := opts.OpenDataset
	if open == nil {
		open = func(ctx context.Context, name string) (*data.Splits, error) {
			return data.Open(ctx, name, data.OpenOptions{Logger: opts.Logger})
		}
	}
	d, err := harness.OpenEvalData(ctx, open, dc)
	if err != nil {
		return err
	}
	if d.Channels() != info.InChannels {
		return fmt.Errorf("dataset %s has %d-channel images, the %s backbone reads %d", dc.Dataset, d.Channels(), info.Backbone, info.InChannels)
	}
	b, err := harness.EvaluateBackbone(ctx, m, d)
	if err != nil {
		return err
	}
	res.Backbone, res.InChannels, res.FeatureDim = info.Backbone, info.InChannels, info.OutDim
	res.Method, res.RunID, res.Epochs = info.Method, info.RunID, info.Epochs
	res.Dataset, res.Transfer, res.TrainLimit, res.TestLimit = dc.Dataset, d.Transfer(), dc.TrainLimit, dc.TestLimit
	res.KNNTop1, res.LinearTop1, res.TransferTop1 = b.KNNTop1, b.LinearTop1, b.Transfer
	if err := results.WriteJSON(out, res); err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printTable(opts.IO, res)
	fmt.Fprintf(opts.IO.Out, "\nResult: %s\n", out)
	return nil
}

func printTable(io *iostreams.IO, r Result) {
	src := r.Backbone
	if r.RunID != "" {
		src += fmt.Sprintf(", run %s (%s, %d epochs)", r.RunID, r.Method, r.Epochs)
	}
	fmt.Fprintf(io.Out, "%s — %s\n\n", r.Source, src)
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	stored := r.Stored != nil
	if stored {
		fmt.Fprintln(tw, "metric\tdataset\ttop-1\trun's eval.json")
	} else {
		fmt.Fprintln(tw, "metric\tdataset\ttop-1")
	}
	row := func(metric, ds string, v float64, s *float64) {
		line := fmt.Sprintf("%s\t%s\t%.2f%%", metric, ds, 100*v)
		if stored {
			if s != nil {
				line += fmt.Sprintf("\t%.2f%%", 100**s)
			} else {
				line += "\t–"
			}
		}
		fmt.Fprintln(tw, line)
	}
	var sk, sl *float64
	if stored {
		sk, sl = &r.Stored.KNNTop1, &r.Stored.LinearTop1
	}
	row("kNN (k=200)", r.Dataset, r.KNNTop1, sk)
	row("linear probe", r.Dataset, r.LinearTop1, sl)
	for _, n := range r.Transfer {
		var st *float64
		if stored {
			if v, ok := r.Stored.Transfer[n]; ok {
				st = &v
			}
		}
		row("transfer linear", n, r.TransferTop1[n], st)
	}
	tw.Flush()
}
