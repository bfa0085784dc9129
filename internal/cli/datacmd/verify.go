package datacmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/siambench/siambench/data"
	"github.com/siambench/siambench/internal/cli/factory"
	"github.com/siambench/siambench/internal/iostreams"
)

// VerifyOptions are the inputs of bench data verify.
type VerifyOptions struct {
	IO      *iostreams.IO
	Context context.Context

	Name string
	// Dir is the dataset directory; "" finds it like Open does.
	Dir  string
	JSON bool
}

// VerifyResult is what bench data verify --json prints.
type VerifyResult struct {
	Dataset string      `json:"dataset"`
	Dir     string      `json:"dir"`
	OK      bool        `json:"ok"` // every file verified
	Files   []FileCheck `json:"files"`
}

// FileCheck is one file's result in VerifyResult.
type FileCheck struct {
	Path    string `json:"path"`
	OK      bool   `json:"ok"`
	How     string `json:"how"`               // what it was checked against
	Problem string `json:"problem,omitempty"` // why it failed
}

// NewCmdVerify returns `bench data verify NAME`.
func NewCmdVerify(f *factory.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "verify NAME",
		Short: "Check a dataset's files against the published checksums",
		Long: `Check every file of a fetched or local dataset: IDX files against the published
MD5 (or, for repackaged copies such as Debian's, the SHA-256 of their decompressed
content); extracted archives against the SHA-256 manifest written when the verified
archive was unpacked. Exits non-zero if any file fails.`,
		Example: `  bench data verify fashion-mnist
  bench data verify cifar10 --dir /data/cifar10`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return runVerify(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "dataset directory (default: where bench finds it)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result of every file as JSON (the exit code still says whether all passed)")
	return cmd
}

func runVerify(opts *VerifyOptions) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if strings.HasPrefix(opts.Name, "default") || strings.HasPrefix(opts.Name, "folder:") {
		return fmt.Errorf("%s has no published checksums to verify against; `bench data info %s` shows its files and SHA-256", opts.Name, opts.Name)
	}
	src, err := data.LookupSource(opts.Name)
	if err != nil {
		return err
	}
	dir, err := data.Locate(opts.Name, opts.Dir)
	if err != nil {
		return err
	}
	checks, err := data.Verify(ctx, src, dir)
	if err != nil {
		return err
	}
	failed := 0
	if opts.JSON {
		res := VerifyResult{Dataset: opts.Name, Dir: dir, OK: true, Files: []FileCheck{}}
		for _, c := range checks {
			res.Files = append(res.Files, FileCheck{Path: c.Path, OK: c.OK, How: c.How, Problem: c.Problem})
			if !c.OK {
				res.OK = false
				failed++
			}
		}
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintf(opts.IO.Out, "%s\n", b)
		if failed > 0 {
			return fmt.Errorf("%d of %d files of %s in %s failed verification; delete them and run `bench data fetch %s`", failed, len(checks), opts.Name, dir, opts.Name)
		}
		return nil
	}
	for _, c := range checks {
		if c.OK {
			fmt.Fprintf(opts.IO.Out, "ok    %s (%s)\n", c.Path, c.How)
		} else {
			failed++
			fmt.Fprintf(opts.IO.Out, "FAIL  %s: %s\n", c.Path, c.Problem)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files of %s in %s failed verification; delete them and run `bench data fetch %s`", failed, len(checks), opts.Name, dir, opts.Name)
	}
	fmt.Fprintf(opts.IO.Out, "%s: all %d files verified in %s\n", opts.Name, len(checks), dir)
	return nil
}
