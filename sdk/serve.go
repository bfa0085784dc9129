package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/gemm"
	"github.com/siambench/siambench/proto/methodpb"
	"github.com/siambench/siambench/wire"
)

// Option configures Serve.
type Option func(*serveConfig)

type serveConfig struct {
	logger *slog.Logger
}

// WithLogger sets the logger for the plugin process (default: text on
// stderr, which the host forwards to its own log).
func WithLogger(l *slog.Logger) Option { return func(c *serveConfig) { c.logger = l } }

// DescribeJSON is what `bench-method-NAME describe` prints: the Spec plus
// the protocol version the plugin was built with.
type DescribeJSON struct {
	Protocol int `json:"protocol"`
	Spec
}

// Serve runs m as a bench plugin process and does not return: it exits 0
// when the host closes the plugin and non-zero on failure. A plugin's main
// is one line: func main() { sdk.Serve(mymethod.New()) }.
//
// Run by hand, the binary answers `describe` with its Spec as JSON (no
// handshake; bench list uses it) and otherwise explains that bench starts it.
func Serve(m Method, opts ...Option) {
	os.Exit(serve(m, os.Args, os.Getenv, os.Stdout, os.Stderr, opts...))
}

// serve is Serve with its process dependencies injected; it returns the
// exit code.
func serve(m Method, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...Option) int {
	cfg := serveConfig{logger: slog.New(slog.NewTextHandler(stderr, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	prog := "bench-method"
	if len(args) > 0 {
		prog = filepath.Base(args[0])
	}
	spec := m.Describe()
	if err := spec.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s: invalid method spec: %v\n", prog, err)
		return 1
	}
	if len(args) > 1 {
		if args[1] != "describe" || len(args) > 2 {
			fmt.Fprintf(stderr, "usage: %s describe\n\n%s is a siambench method plugin; bench starts it (bench list, bench run --methods %s).\n", prog, prog, spec.Name)
			return 2
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(DescribeJSON{Protocol: ProtocolVersion, Spec: spec}); err != nil {
			fmt.Fprintf(stderr, "%s: describe: %v\n", prog, err)
			return 1
		}
		return 0
	}
	if getenv(wire.MagicCookieKey) != wire.MagicCookieValue {
		fmt.Fprintf(stderr, "%s is a siambench method plugin (%s %s); bench starts it: bench list, bench run --methods %s.\nRun `%s describe` to print its spec as JSON.\n",
			prog, spec.Name, spec.Version, spec.Name, prog)
		return 1
	}
	// The host's $SIAMBENCH_GEMM reaches the plugin through its environment:
	// heads then multiply with the same backend as the backbone.
	backend, err := gemm.FromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	gemm.Use(backend)
	plugin.Serve(wire.ServeConfig(ProtocolVersion, NewServer(m, cfg.logger)))
	return 0
}

// NewServer returns the gRPC service for m, wrapped as InProcess wraps it.
// Serve uses it; it is exported for hosts that serve a method over a
// connection of their own (tests, other transports).
func NewServer(m Method, logger *slog.Logger) methodpb.MethodServer {
	if logger == nil {
		logger = slog.Default()
	}
	return &server{g: newGuard(m, logger)}
}

// ---  gRPC server adapter: protobuf ⇄ sdk types, errors → status codes.

type server struct {
	methodpb.UnimplementedMethodServer
	g *guard
}

// statusOf maps an SDK error to the gRPC status the host classifies by.
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, ErrBadInput):
		code = codes.InvalidArgument
	case errors.Is(err, ErrNotSupported):
		code = codes.Unimplemented
	case errors.Is(err, ErrPanicked):
		code = codes.Internal
	}
	return status.Error(code, err.Error())
}

func (s *server) Describe(context.Context, *methodpb.DescribeRequest) (*methodpb.DescribeResponse, error) {
	resp := &methodpb.DescribeResponse{Spec: specToProto(s.g.spec), ProtocolVersion: ProtocolVersion}
	if _, ok := s.g.m.(DetachedStepper); ok {
		resp.Capabilities = append(resp.Capabilities, wire.CapDetachedStep)
	}
	return resp, nil
}

func (s *server) Init(_ context.Context, req *methodpb.InitRequest) (*methodpb.InitResponse, error) {
	cfg := InitConfig{
		FeatureDim:    int(req.GetFeatureDim()),
		BatchSize:     int(req.GetBatchSize()),
		StepsPerEpoch: int(req.GetStepsPerEpoch()),
		TotalSteps:    int(req.GetTotalSteps()),
		Seed:          req.GetSeed(),
		Options:       req.GetOptions(),
	}
	if h := req.GetHyper(); h != nil {
		cfg.Hyper = Hyper{
			Optimizer: h.GetOptimizer(), BaseLR: h.GetBaseLr(), LRBatchDiv: int(h.GetLrBatchDiv()),
			WeightDecay: h.GetWeightDecay(), Momentum: h.GetMomentum(), WarmupEpochs: int(h.GetWarmupEpochs()),
		}
	}
	if cfg.Options == nil {
		cfg.Options = map[string]string{}
	}
	return &methodpb.InitResponse{}, statusOf(s.g.Init(cfg))
}

func (s *server) Step(ctx context.Context, req *methodpb.StepRequest) (*methodpb.StepResponse, error) {
	in := StepInput{
		Step: int(req.GetStep()), Epoch: int(req.GetEpoch()),
		LR: req.GetLr(), BaseLR: req.GetBaseLr(), Momentum: req.GetMomentum(),
	}
	var err error
	if in.Views, err = decodeAll("view", req.GetViews()); err != nil {
		return nil, statusOf(err)
	}
	if in.Targets, err = decodeAll("target", req.GetTargets()); err != nil {
		return nil, statusOf(err)
	}
	var out StepOutput
	if req.GetHasDetached() {
		detached, err := decodeAll("detached", req.GetDetached())
		if err != nil {
			return nil, statusOf(err)
		}
		out, err = s.g.StepDetached(ctx, in, detached)
		if err != nil {
			return nil, statusOf(err)
		}
	} else if out, err = s.g.Step(ctx, in); err != nil {
		return nil, statusOf(err)
	}
	resp := &methodpb.StepResponse{Loss: out.Loss, Metrics: out.Metrics, Grads: make([]*methodpb.Tensor, len(out.Grads))}
	for i, g := range out.Grads {
		if resp.Grads[i], err = wire.EncodeF32(g.Shape(), g.Data); err != nil {
			return nil, status.Errorf(codes.Internal, "method %s: gradient %d: %v", s.g.spec.Name, i, err)
		}
	}
	return resp, nil
}

func (s *server) GetState(context.Context, *methodpb.GetStateRequest) (*methodpb.StateBlob, error) {
	blob, err := s.g.State()
	if err != nil {
		return nil, statusOf(err)
	}
	return &methodpb.StateBlob{Blob: blob}, nil
}

func (s *server) SetState(_ context.Context, req *methodpb.StateBlob) (*methodpb.SetStateResponse, error) {
	return &methodpb.SetStateResponse{}, statusOf(s.g.SetState(req.GetBlob()))
}

func decodeAll(what string, ps []*methodpb.Tensor) ([]*nn.Tensor, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	ts := make([]*nn.Tensor, len(ps))
	for i, p := range ps {
		shape, data, err := wire.DecodeF32(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %d: %v", ErrBadInput, what, i, err)
		}
		ts[i] = nn.New(data, shape...)
	}
	return ts, nil
}

func specToProto(s Spec) *methodpb.Spec {
	p := &methodpb.Spec{
		Name: s.Name, Version: s.Version, Paper: s.Paper, Description: s.Description,
		Negatives: s.Negatives,
		Hyper: &methodpb.Hyper{
			Optimizer: s.Hyper.Optimizer, BaseLr: s.Hyper.BaseLR, LrBatchDiv: int32(s.Hyper.LRBatchDiv),
			WeightDecay: s.Hyper.WeightDecay, Momentum: s.Hyper.Momentum, WarmupEpochs: int32(s.Hyper.WarmupEpochs),
		},
	}
	for _, v := range s.Views {
		p.Views = append(p.Views, &methodpb.ViewSpec{Count: int32(v.Count), Size: int32(v.Size), Preset: v.Preset, ScaleMin: v.ScaleMin, ScaleMax: v.ScaleMax})
	}
	if s.Target != nil {
		p.Target = &methodpb.TargetSpec{BaseMomentum: s.Target.BaseMomentum, Schedule: s.Target.Schedule}
	}
	for _, o := range s.Options {
		p.Options = append(p.Options, &methodpb.OptionSpec{Name: o.Name, Type: o.Type, DefaultValue: o.Default, Choices: o.Choices, Help: o.Help,
			Min: o.Min, Max: o.Max, MinExclusive: o.MinExclusive})
	}
	return p
}
