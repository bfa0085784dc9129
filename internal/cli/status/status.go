// Package status implements `bench status`: the state of every run of a
// sweep's results directory, joined with the Slurm queue where there is one.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/harness"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
	"github.com/siambench/siambench/internal/slurm"
	"github.com/siambench/siambench/results"
)

// StatusOptions are the inputs of bench status.
type StatusOptions struct {
	IO *iostreams.IO
	// Queue returns the Slurm queue's state per job ID ("12_3" → RUNNING);
	// nil means squeue (empty where it is missing).
	Queue func(ctx context.Context) map[string]string
	Ctx   context.Context

	Dir  string
	JSON bool
}

// Run is one run's state, as printed and as --json writes it.
type Run struct {
	ID         string `json:"id"`
	Method     string `json:"method"`
	Status     string `json:"status"` // pending, running, completed, collapsed, diverged, failed
	EpochsDone int    `json:"epochs_done"`
	Epochs     int    `json:"epochs"`
	Error      string `json:"error,omitempty"`
	Host       string `json:"host,omitempty"` // the live claim's holder, when running
	SlurmJob   string `json:"slurm_job,omitempty"`
	SlurmState string `json:"slurm_state,omitempty"`
	Log        string `json:"log"`                 // the run's own log
	SlurmLog   string `json:"slurm_log,omitempty"` // its last array task's output
}

// NewCmdStatus returns the status command; runF replaces runStatus in tests.
func NewCmdStatus(f *factory.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "status DIR",
		Short: "Show the state of every run of a results directory",
		Long: `Show each planned run of the sweep in DIR: pending, running (and where),
completed, collapsed, diverged or failed (and why), with its epochs done and
its log. Runs submitted with --executor slurm are joined with the Slurm queue
(squeue) and show their array task and its output file.`,
		Example: "  bench status results/sweep\n  bench status results/sweep --json | jq '.[] | select(.status==\"failed\")'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if opts.Ctx = cmd.Context(); opts.Ctx == nil {
				opts.Ctx = context.Background()
			}
			if runF != nil {
				return runF(opts)
			}
			return runStatus(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array of runs instead of a table")
	return cmd
}

func runStatus(opts *StatusOptions) error {
	runs, err := Collect(opts.Ctx, opts.Dir, opts.Queue)
	if err != nil {
		return err
	}
	if opts.JSON {
		b, _ := json.MarshalIndent(runs, "", "  ")
		_, err := fmt.Fprintf(opts.IO.Out, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tEPOCHS\tSLURM\tLOG")
	counts := map[string]int{}
	for _, r := range runs {
		counts[r.Status]++
		job := "-"
		if r.SlurmJob != "" {
			job = r.SlurmJob
			if r.SlurmState != "" {
				job += " " + r.SlurmState
			}
		}
		log := r.Log
		if r.SlurmLog != "" && (r.Status == results.StatusFailed || r.Status == results.StatusRunning) {
			log = r.SlurmLog
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", r.ID, r.Status, r.EpochsDone, r.Epochs, job, log)
		if r.Error != "" {
			fmt.Fprintf(tw, "\t  error: %s\t\t\t\n", r.Error)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "\n%d runs:", len(runs))
	for _, s := range []string{results.StatusPending, results.StatusRunning, results.StatusCompleted, results.StatusCollapsed, results.StatusDiverged, results.StatusFailed} {
		if counts[s] > 0 {
			fmt.Fprintf(opts.IO.Out, " %d %s", counts[s], s)
		}
	}
	fmt.Fprintln(opts.IO.Out)
	return nil
}

// Collect returns the state of every run planned in dir's sweep.json.
func Collect(ctx context.Context, dir string, queue func(context.Context) map[string]string) ([]Run, error) {
	var sw results.Sweep
	if err := results.ReadJSON(filepath.Join(dir, results.SweepFile), &sw); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s holds no sweep (no %s): give the --out of a bench run", dir, results.SweepFile)
		}
		return nil, err
	}
	store := harness.ReadStore(dir)
	subs, err := slurm.Submissions(dir)
	if err != nil {
		return nil, err
	}
	var states map[string]string
	if len(subs) > 0 {
		if queue == nil {
			queue = slurm.TaskStates
		}
		states = queue(ctx)
	}
	now := time.Now()
	var out []Run
	for _, id := range sw.Runs {
		r := Run{ID: id, Status: results.StatusPending, Log: store.LogPath(id)}
		var cfg results.RunConfig
		if err := results.ReadJSON(filepath.Join(store.RunDir(id), results.ConfigFile), &cfg); err == nil {
			r.Method, r.Epochs = cfg.Method, cfg.Epochs
		}
		st, ok, err := store.Status(id)
		if err != nil {
			return nil, err
		}
		if ok {
			r.Status, r.EpochsDone, r.Error = st.Status, st.EpochsDone, st.Error
		}
		if r.Status == results.StatusRunning || r.Status == results.StatusPending {
			// "running" in status.json is only true while someone holds the run.
			r.Status = results.StatusPending
			if ci, ok := store.ReadClaim(id); ok && ci.Live(now) {
				r.Status, r.Host = results.StatusRunning, ci.Host
			}
		}
		if t, ok := slurm.LastTask(dir, subs, id); ok {
			r.SlurmJob, r.SlurmLog, r.SlurmState = t.Job, t.Log, states[t.Job]
		}
		out = append(out, r)
	}
	return out, nil
}
