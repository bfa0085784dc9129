package transportbench

import (
	"context"
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/siambench/siambench/internal/testplugins/toy/toy"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/models"
	"github.com/siambench/siambench/pluginhost"
	"github.com/siambench/siambench/plugins/simsiam/simsiam"
	"github.com/siambench/siambench/sdk"
)

const batch = 256 // a large batch: the transport cost per step grows with it

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binary builds ./plugins/... packages once per run.
func binary(b *testing.B, name string) string {
	b.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "transportbench-")
		if buildErr != nil {
			return
		}
		for n, p := range map[string]string{
			"bench-method-simsiam": "github.com/siambench/siambench/plugins/simsiam",
			"bench-method-toy":     "github.com/siambench/siambench/internal/testplugins/toy",
		} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, n), p).CombinedOutput()
			if err != nil {
				b.Fatalf("go build %s: %v\n%s", p, err, out)
			}
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

func input(d int) sdk.StepInput {
	rng := rand.New(rand.NewSource(1))
	in := sdk.StepInput{LR: 0.05, BaseLR: 0.05}
	for v := 0; v < 2; v++ {
		x := make([]float32, batch*d)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		in.Views = append(in.Views, nn.New(x, batch, d))
	}
	return in
}

// initialise sets m up for the benchmark's configuration.
func initialise(b *testing.B, m sdk.Method, d int) {
	b.Helper()
	if err := m.Init(sdk.InitConfig{FeatureDim: d, BatchSize: batch, StepsPerEpoch: 100, TotalSteps: 1000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMethodStep times the same method in-process and over gRPC in
// pairs (one step of each per iteration), so that load from other
// processes hits both alike; it reports the medians of the step times and
// of the paired differences (the transport's cost): SimSiam with its
// default heads and the toy, at D = 64 (refnet, the default backbone) and
// D = 512.
func BenchmarkMethodStep(b *testing.B) {
	methods := []struct {
		name, bin string
		new       func() sdk.Method
	}{
		{"simsiam", "bench-method-simsiam", func() sdk.Method { return simsiam.New() }},
		{"toy", "bench-method-toy", func() sdk.Method { return toy.New() }},
	}
	for _, m := range methods {
		for _, d := range []int{64, 512} {
			b.Run(fmt.Sprintf("%s/D=%d", m.name, d), func(b *testing.B) {
				local := sdk.InProcess(m.new())
				remote, err := pluginhost.Launch(context.Background(), binary(b, m.bin), pluginhost.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer remote.Kill()
				initialise(b, local, d)
				initialise(b, remote, d)
				in := input(d)
				step := func(c sdk.Method) time.Duration {
					start := time.Now()
					if _, err := c.Step(context.Background(), in); err != nil {
						b.Fatal(err)
					}
					return time.Since(start)
				}
				step(local) // warm-up
				step(remote)
				var tl, tr, diff []float64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					in.Step = i + 1
					var l, r time.Duration
					if i%2 == 0 { // alternate the order too
						l, r = step(local), step(remote)
					} else {
						r, l = step(remote), step(local)
					}
					tl = append(tl, ms(l))
					tr = append(tr, ms(r))
					diff = append(diff, ms(r-l))
				}
				b.ReportMetric(median(tl), "inproc-ms")
				b.ReportMetric(median(tr), "grpc-ms")
				b.ReportMetric(median(diff), "overhead-ms")
			})
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkBackboneStep is the host's share of a training step at the
// default configuration: refnet forward and backward on both views of a
// 256-image batch of 1×28×28 images.
func BenchmarkBackboneStep(b *testing.B) {
	bb, err := models.New("refnet", 1, randv2.New(randv2.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	x := make([]float32, batch*28*28)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	grad := make([]float32, batch*bb.OutDim())
	for i := range grad {
		grad[i] = float32(rng.NormFloat64()) / batch
	}
	step := func() {
		for v := 0; v < 2; v++ {
			out := bb.Forward(nn.New(x, batch, 1, 28, 28))
			out.BackwardWith(grad)
		}
	}
	step()
	var ts []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		step()
		ts = append(ts, ms(time.Since(start)))
	}
	b.ReportMetric(median(ts), "median-ms")
}
