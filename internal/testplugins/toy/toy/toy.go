// Package toy is a tiny method for testing the plugin machinery without the
// real methods: a linear projector z = xW and the negative cosine similarity
// between the views' projections, averaged over view pairs. Its gradients
// are written out by hand (no autodiff), so tests of the transport and of
// the conformance suite do not depend on nn's autograd.
//
// W takes an SGD step with the weight decay of the host's recipe for the
// run (kit.RunHyper: InitConfig.Hyper, which carries --set weight_decay), so
// the transport tests can see that recipe arrive.
//
// Options: dim (projector width), stopgrad (SimSiam-style stop-gradient on
// the other view, which makes it a DetachedStepper), and fault, fault_step,
// fault_in and fault_once, which inject a fault for the host's reliability
// tests (see Faults). FaultsFromEnv injects faults into describe mode.
package toy

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/sdk"
	"github.com/siambench/siambench/sdk/kit"
)

// N=batch, D=feature dim, K=projector width, V=views.

// Method is the toy method. The zero value is not usable; call New.
type Method struct {
	target bool // features of the other view come from the host's target backbone

	opts sdk.Options
	d, k int
	wd   float64   // weight decay of W
	w    []float64 // (D,K) projector, row-major
	step int64     // steps taken, part of the state
}

var (
	_ sdk.Method          = (*Method)(nil)
	_ sdk.DetachedStepper = (*Method)(nil)
)

// New returns the toy method (two views, no target backbone).
func New() *Method { return &Method{} }

// NewTarget returns a variant that asks for a momentum target backbone and
// uses the target features as the (constant) other branch, BYOL-style.
func NewTarget() *Method { return &Method{target: true} }

// Describe returns the toy's spec.
func (m *Method) Describe() sdk.Spec {
	s := sdk.Spec{
		Name: "toy", Version: "0.1.0",
		Paper:       "none: a test fixture (negative cosine, cf. Chen & He, arXiv:2011.10566)",
		Description: "linear projector + negative cosine; for tests of the plugin machinery",
		Views:       []sdk.ViewSpec{{Count: 2, Preset: "simsiam"}},
		Hyper:       sdk.Hyper{Optimizer: "sgd", BaseLR: 0.05, LRBatchDiv: 256, WeightDecay: 1e-4, Momentum: 0.9},
		Options: []sdk.OptionSpec{
			{Name: "dim", Type: "int", Default: "16", Help: "projector output width K"},
			{Name: "stopgrad", Type: "bool", Default: "false", Help: "stop the gradient through the other view (SimSiam-style)"},
			{Name: "fault", Type: "enum", Default: "none", Choices: Faults, Help: "inject a fault at fault_step (tests only)"},
			{Name: "fault_step", Type: "int", Default: "0", Help: "the step at which fault happens (in state/setstate: the steps the state holds)"},
			{Name: "fault_in", Type: "enum", Default: "step", Choices: []string{"step", "state", "setstate"}, Help: "the call in which fault happens"},
			{Name: "fault_once", Type: "string", Default: "", Help: "a file: the fault happens only if it does not exist, and creates it (once across restarts)"},
		},
	}
	if m.target {
		s.Name = "toy-target"
		s.Target = &sdk.TargetSpec{BaseMomentum: 0.99, Schedule: "cosine"}
	}
	return s
}

// Init builds the projector from cfg.Seed.
func (m *Method) Init(cfg sdk.InitConfig) error {
	opts, err := sdk.ParseOptions(m.Describe().Options, cfg.Options)
	if err != nil {
		return err
	}
	if opts.Int("dim") < 1 {
		return fmt.Errorf("%w: option dim = %d, want ≥ 1", sdk.ErrBadInput, opts.Int("dim"))
	}
	m.opts, m.d, m.k, m.step = opts, cfg.FeatureDim, opts.Int("dim"), 0
	m.wd = kit.RunHyper(cfg, m.Describe().Hyper).WeightDecay
	rng := rand.New(rand.NewSource(cfg.Seed))
	m.w = make([]float64, m.d*m.k)
	for i := range m.w {
		m.w[i] = rng.NormFloat64() / math.Sqrt(float64(m.d))
	}
	return nil
}

// Step computes the loss and gradients and takes an SGD step on W.
func (m *Method) Step(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	switch {
	case m.target:
		return m.run(ctx, in, in.Targets)
	case m.opts.Bool("stopgrad"):
		return m.run(ctx, in, in.Views)
	}
	return m.run(ctx, in, nil)
}

// StepDetached computes the stop-gradient branches from detached.
func (m *Method) StepDetached(ctx context.Context, in sdk.StepInput, detached []*nn.Tensor) (sdk.StepOutput, error) {
	if m.target || !m.opts.Bool("stopgrad") {
		return m.Step(ctx, in) // no branch is detached from the views
	}
	return m.run(ctx, in, detached)
}

// run does the step. With sg == nil the loss is
// L = −(1/P) Σ_{i<j} mean_n cos(z_i[n], z_j[n]) with gradients through both
// arguments; otherwise each pair contributes ½[cos(z_i, c_j) + cos(z_j, c_i)]
// where c = sg·W is a constant.
func (m *Method) run(ctx context.Context, in sdk.StepInput, sg []*nn.Tensor) (sdk.StepOutput, error) {
	if err := m.inject(ctx, "step", in.Step); err != nil {
		return sdk.StepOutput{}, err
	}
	v, n := len(in.Views), in.Views[0].Dim(0)
	z := make([][]float64, v)  // (N,K) per view
	dz := make([][]float64, v) // ∂L/∂z
	c := make([][]float64, v)  // constant branch (N,K), if any
	for i := range in.Views {
		z[i] = m.project(in.Views[i].Data, n)
		dz[i] = make([]float64, n*m.k)
		if sg != nil {
			c[i] = m.project(sg[i].Data, n)
		}
	}
	pairs := float64(v * (v - 1) / 2)
	loss := 0.0
	for i := 0; i < v; i++ {
		for j := i + 1; j < v; j++ {
			for r := 0; r < n; r++ {
				zi, zj := z[i][r*m.k:(r+1)*m.k], z[j][r*m.k:(r+1)*m.k]
				gi, gj := dz[i][r*m.k:(r+1)*m.k], dz[j][r*m.k:(r+1)*m.k]
				if sg == nil {
					scale := -1 / (pairs * float64(n))
					loss += scale * cosGrad(zi, zj, gi, gj, scale)
					continue
				}
				scale := -0.5 / (pairs * float64(n))
				loss += scale * cosGrad(zi, c[j][r*m.k:(r+1)*m.k], gi, nil, scale)
				loss += scale * cosGrad(zj, c[i][r*m.k:(r+1)*m.k], gj, nil, scale)
			}
		}
	}
	// ∂L/∂x_i = ∂L/∂z_i · Wᵀ; ∂L/∂W = Σ_i x_iᵀ ∂L/∂z_i.
	out := sdk.StepOutput{Loss: loss, Grads: make([]*nn.Tensor, v), Metrics: map[string]float64{}}
	dw := make([]float64, len(m.w))
	for i := range in.Views {
		x := in.Views[i].Data
		dx := make([]float32, n*m.d)
		for r := 0; r < n; r++ {
			for a := 0; a < m.d; a++ {
				s := 0.0
				for b := 0; b < m.k; b++ {
					s += dz[i][r*m.k+b] * m.w[a*m.k+b]
					dw[a*m.k+b] += float64(x[r*m.d+a]) * dz[i][r*m.k+b]
				}
				dx[r*m.d+a] = float32(s)
			}
		}
		out.Grads[i] = nn.New(dx, n, m.d)
	}
	for i := range m.w {
		m.w[i] -= in.LR * (dw[i] + m.wd*m.w[i])
	}
	m.step++
	out.Metrics["output_std"] = outputStd(z[0], n, m.k)
	return out, nil
}

// project returns x·W for x (N,D).
func (m *Method) project(x []float32, n int) []float64 {
	z := make([]float64, n*m.k)
	for r := 0; r < n; r++ {
		for a := 0; a < m.d; a++ {
			xa := float64(x[r*m.d+a])
			for b := 0; b < m.k; b++ {
				z[r*m.k+b] += xa * m.w[a*m.k+b]
			}
		}
	}
	return z
}

// cosGrad returns cos(a, b) and adds scale·∂cos/∂a to ga and, when gb is
// not nil, scale·∂cos/∂b to gb: ∂cos/∂a = b/(|a||b|) − cos·a/|a|².
func cosGrad(a, b, ga, gb []float64, scale float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	na, nb := math.Sqrt(aa)+1e-12, math.Sqrt(bb)+1e-12
	cos := ab / (na * nb)
	for i := range a {
		ga[i] += scale * (b[i]/(na*nb) - cos*a[i]/(na*na))
		if gb != nil {
			gb[i] += scale * (a[i]/(na*nb) - cos*b[i]/(nb*nb))
		}
	}
	return cos
}

// outputStd is the mean over channels of the std over the batch of the
// l2-normalised rows of z (N,K): ≈ 1/√K when healthy, → 0 on collapse.
func outputStd(z []float64, n, k int) float64 {
	u := make([]float64, len(z))
	for r := 0; r < n; r++ {
		s := 0.0
		for b := 0; b < k; b++ {
			s += z[r*k+b] * z[r*k+b]
		}
		s = math.Sqrt(s) + 1e-12
		for b := 0; b < k; b++ {
			u[r*k+b] = z[r*k+b] / s
		}
	}
	total := 0.0
	for b := 0; b < k; b++ {
		mean, sq := 0.0, 0.0
		for r := 0; r < n; r++ {
			mean += u[r*k+b]
		}
		mean /= float64(n)
		for r := 0; r < n; r++ {
			sq += (u[r*k+b] - mean) * (u[r*k+b] - mean)
		}
		total += math.Sqrt(sq / float64(n))
	}
	return total / float64(k)
}

// Faults are the values of the fault option:
//   - panic: panic (the SDK turns it into sdk.ErrPanicked; the plugin lives);
//   - slow: wait 30 s or until ctx ends (a slow step that honours ctx);
//   - exit: exit the process with status 3 (a crash);
//   - hang: block forever, ignoring ctx;
//   - stop: SIGSTOP itself (frozen: answers nothing, not even shutdown);
//   - child: start a child process that inherits stdout and stderr and
//     sleeps an hour, then exit with status 3 (the child keeps the pipes
//     to the host open);
//   - orphan: the same, but the child starts a session of its own (it
//     leaves the plugin's process group).
var Faults = []string{"none", "panic", "slow", "exit", "hang", "stop", "child", "orphan"}

// inject performs the configured fault if the call is fault_in and step
// is fault_step.
func (m *Method) inject(ctx context.Context, call string, step int) error {
	if m.w == nil || call != m.opts.String("fault_in") || step != m.opts.Int("fault_step") || m.opts.String("fault") == "none" {
		return nil
	}
	if once := m.opts.String("fault_once"); once != "" {
		f, err := os.OpenFile(once, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil // done before (or cannot mark it: no fault)
		}
		f.Close()
	}
	return fault(ctx, m.opts.String("fault"), fmt.Sprintf("%s %d", call, step))
}

func fault(ctx context.Context, kind, where string) error {
	switch kind {
	case "panic":
		panic(fmt.Sprintf("toy: injected panic at %s", where))
	case "exit":
		os.Exit(3)
	case "slow":
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
		}
	case "hang":
		select {}
	case "stop":
		_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		select {} // if continued, stay useless
	case "child":
		startSleeper(false)
		os.Exit(3)
	case "orphan":
		startSleeper(true)
		os.Exit(3)
	}
	return nil
}

// startSleeper starts `sleep 3600` holding this process's file descriptors
// 1 and 2: the pipes to the host. (In serve mode go-plugin has replaced
// os.Stdout and os.Stderr by pipes of its own; the descriptors are still
// the host's.)
// With setsid the child leaves this process's group and session.
func startSleeper(setsid bool) {
	cmd := exec.Command("sleep", "3600")
	cmd.Stdout, cmd.Stderr = os.NewFile(1, "stdout"), os.NewFile(2, "stderr")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "toy: start the child:", err)
	}
}

// EnvDescribeFault names the environment variable that injects a fault
// into describe mode: "sleep" (never answer), "child" (start a child
// holding stdout and stderr, then fail with status 1), "child-ok" (start
// that child, then answer normally).
const EnvDescribeFault = "TOY_DESCRIBE_FAULT"

// FaultsFromEnv performs the describe-mode fault of $TOY_DESCRIBE_FAULT
// when the process was started as `PROG describe`; the plugin's main calls
// it before sdk.Serve.
func FaultsFromEnv() {
	if len(os.Args) != 2 || os.Args[1] != "describe" {
		return
	}
	switch os.Getenv(EnvDescribeFault) {
	case "sleep":
		time.Sleep(time.Hour)
	case "child":
		startSleeper(false)
		fmt.Fprintln(os.Stderr, "toy: injected describe failure")
		os.Exit(1)
	case "child-ok":
		startSleeper(false)
	}
}

// ---  state: "toy1", D, K, step, W as float64 little-endian.

var stateMagic = [4]byte{'t', 'o', 'y', '1'}

// State serialises W and the step count.
func (m *Method) State() ([]byte, error) {
	if err := m.inject(context.Background(), "state", int(m.step)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	hdr := struct {
		Magic      [4]byte
		D, K, Step int64
	}{stateMagic, int64(m.d), int64(m.k), m.step}
	if err := binary.Write(&buf, binary.LittleEndian, hdr); err != nil {
		return nil, err
	}
	if err := binary.Write(&buf, binary.LittleEndian, m.w); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SetState restores a State blob taken from a method with the same D and K.
func (m *Method) SetState(b []byte) error {
	var hdr struct {
		Magic      [4]byte
		D, K, Step int64
	}
	r := bytes.NewReader(b)
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil || hdr.Magic != stateMagic {
		return fmt.Errorf("%w: not a toy state blob (%d bytes)", sdk.ErrBadInput, len(b))
	}
	if err := m.inject(context.Background(), "setstate", int(hdr.Step)); err != nil {
		return err
	}
	if hdr.D != int64(m.d) || hdr.K != int64(m.k) {
		return fmt.Errorf("%w: state is for D=%d K=%d, this method was initialised with D=%d K=%d", sdk.ErrBadInput, hdr.D, hdr.K, m.d, m.k)
	}
	w := make([]float64, m.d*m.k)
	if err := binary.Read(r, binary.LittleEndian, w); err != nil || r.Len() != 0 {
		return fmt.Errorf("%w: toy state blob truncated or too long (%d bytes)", sdk.ErrBadInput, len(b))
	}
	m.w, m.step = w, hdr.Step
	return nil
}
