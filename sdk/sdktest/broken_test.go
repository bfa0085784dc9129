package sdktest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/sdktest"
)

// The suite must fail on broken methods. Each broken method runs in a child
// test process (a failing sdktest.Run would fail this test too); the child's
// verdict and output are checked here.
func TestSuiteCatchesBrokenMethods(t *testing.T) {
	cases := []struct {
		kind string
		want string // in the child's output
	}{
		{"hidden_stopgrad", "(finite differences), got"},
		{"setstate_ignored", "differs"},
		{"unseeded", "two instances with seed"},
		{"no_output_std", "lack output_std"},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "SDKTEST_BROKEN="+tc.kind)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a %s method:\n%s", tc.kind, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("the suite failed, but without %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestBrokenHelper runs the suite on the broken method named by
// $SDKTEST_BROKEN; without it, it does nothing (it is the child of
// TestSuiteCatchesBrokenMethods).
func TestBrokenHelper(t *testing.T) {
	kind := os.Getenv("SDKTEST_BROKEN")
	if kind == "" {
		return
	}
	opts := map[string]string{}
	if kind == "hidden_stopgrad" {
		opts["stopgrad"] = "true"
	}
	sdktest.Run(t, func() sdk.Method { return &broken{Method: toy.New(), kind: kind} }, sdktest.Config{Init: sdk.InitConfig{Seed: 1, Options: opts}})
}

// broken is toy with one defect. Embedding the sdk.Method interface (not
// *toy.Method) hides toy's StepDetached.
type broken struct {
	sdk.Method
	kind string
}

func (b *broken) Init(cfg sdk.InitConfig) error {
	if b.kind == "unseeded" {
		cfg.Seed = time.Now().UnixNano()
	}
	return b.Method.Init(cfg)
}

func (b *broken) SetState(blob []byte) error {
	if b.kind == "setstate_ignored" {
		return nil
	}
	return b.Method.SetState(blob)
}

func (b *broken) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	out, err := b.Method.Step(ctx, in)
	if b.kind == "no_output_std" {
		delete(out.Metrics, "output_std")
	}
	return out, err
}
