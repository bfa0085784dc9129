package sdk

import (
	"fmt"

	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/proto/methodpb"
	"github.com/siambench/siambench/wire"
)

// ---  proto ⇄ sdk: the one place the protocol's messages are converted to
// and from the SDK's types. The SDK's gRPC server (serve.go) and the host's
// client (package pluginhost) are thin adapters over these functions. They
// live here, with the types, because Go forbids the cycle a separate
// package would make: it would import sdk for the types, and sdk imports
// the protocol for Serve. The handshake and the tensor codec, which need no
// SDK type, are package wire.

// SpecToProto converts a spec to its protocol message.
func SpecToProto(s Spec) *methodpb.Spec {
	p := &methodpb.Spec{
		Name: s.Name, Version: s.Version, Paper: s.Paper, Description: s.Description,
		Negatives: s.Negatives,
		Hyper:     hyperToProto(s.Hyper),
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

// SpecFromProto converts a protocol spec back; a missing field is its zero value.
func SpecFromProto(p *methodpb.Spec) Spec {
	s := Spec{
		Name: p.GetName(), Version: p.GetVersion(), Paper: p.GetPaper(), Description: p.GetDescription(),
		Negatives: p.GetNegatives(),
		Hyper:     hyperFromProto(p.GetHyper()),
	}
	for _, v := range p.GetViews() {
		s.Views = append(s.Views, ViewSpec{Count: int(v.GetCount()), Size: int(v.GetSize()), Preset: v.GetPreset(), ScaleMin: v.GetScaleMin(), ScaleMax: v.GetScaleMax()})
	}
	if t := p.GetTarget(); t != nil {
		s.Target = &TargetSpec{BaseMomentum: t.GetBaseMomentum(), Schedule: t.GetSchedule()}
	}
	for _, o := range p.GetOptions() {
		s.Options = append(s.Options, OptionSpec{Name: o.GetName(), Type: o.GetType(), Default: o.GetDefaultValue(), Choices: o.GetChoices(), Help: o.GetHelp(),
			Min: o.Min, Max: o.Max, MinExclusive: o.GetMinExclusive()})
	}
	return s
}

func hyperToProto(h Hyper) *methodpb.Hyper {
	return &methodpb.Hyper{
		Optimizer: h.Optimizer, BaseLr: h.BaseLR, LrBatchDiv: int32(h.LRBatchDiv),
		WeightDecay: h.WeightDecay, Momentum: h.Momentum, WarmupEpochs: int32(h.WarmupEpochs),
	}
}

// hyperFromProto converts p; nil (a host before InitRequest.hyper) is the zero Hyper.
func hyperFromProto(p *methodpb.Hyper) Hyper {
	return Hyper{
		Optimizer: p.GetOptimizer(), BaseLR: p.GetBaseLr(), LRBatchDiv: int(p.GetLrBatchDiv()),
		WeightDecay: p.GetWeightDecay(), Momentum: p.GetMomentum(), WarmupEpochs: int(p.GetWarmupEpochs()),
	}
}

// InitToProto converts an InitConfig to the Init request.
func InitToProto(cfg InitConfig) *methodpb.InitRequest {
	return &methodpb.InitRequest{
		FeatureDim: int32(cfg.FeatureDim), BatchSize: int32(cfg.BatchSize),
		StepsPerEpoch: int64(cfg.StepsPerEpoch), TotalSteps: int64(cfg.TotalSteps),
		Seed: cfg.Seed, Options: cfg.Options,
		Hyper: hyperToProto(cfg.Hyper),
	}
}

// InitFromProto converts an Init request back; missing options are an empty map.
func InitFromProto(req *methodpb.InitRequest) InitConfig {
	cfg := InitConfig{
		FeatureDim:    int(req.GetFeatureDim()),
		BatchSize:     int(req.GetBatchSize()),
		StepsPerEpoch: int(req.GetStepsPerEpoch()),
		TotalSteps:    int(req.GetTotalSteps()),
		Seed:          req.GetSeed(),
		Options:       req.GetOptions(),
		Hyper:         hyperFromProto(req.GetHyper()),
	}
	if cfg.Options == nil {
		cfg.Options = map[string]string{}
	}
	return cfg
}

// StepToProto converts a step's input to the Step request. When
// isDetached is set the request asks for StepDetached with detached as its
// stop-gradient inputs. A nil or malformed tensor is an error wrapping
// ErrBadInput that names it ("view 1: ...").
func StepToProto(in StepInput, detached []*nn.Tensor, isDetached bool) (*methodpb.StepRequest, error) {
	req := &methodpb.StepRequest{
		Step: int64(in.Step), Epoch: int64(in.Epoch),
		Lr: in.LR, BaseLr: in.BaseLR, Momentum: in.Momentum,
		HasDetached: isDetached,
	}
	var err error
	if req.Views, err = EncodeTensors("view", in.Views); err != nil {
		return nil, err
	}
	if req.Targets, err = EncodeTensors("target", in.Targets); err != nil {
		return nil, err
	}
	if isDetached {
		if req.Detached, err = EncodeTensors("detached", detached); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// StepFromProto converts a Step request back: the input, and the detached
// tensors with isDetached when the request asks for StepDetached. A
// tensor that does not decode is an error wrapping ErrBadInput.
func StepFromProto(req *methodpb.StepRequest) (in StepInput, detached []*nn.Tensor, isDetached bool, err error) {
	in = StepInput{
		Step: int(req.GetStep()), Epoch: int(req.GetEpoch()),
		LR: req.GetLr(), BaseLR: req.GetBaseLr(), Momentum: req.GetMomentum(),
	}
	if in.Views, err = DecodeTensors("view", req.GetViews()); err != nil {
		return StepInput{}, nil, false, err
	}
	if in.Targets, err = DecodeTensors("target", req.GetTargets()); err != nil {
		return StepInput{}, nil, false, err
	}
	if req.GetHasDetached() {
		if detached, err = DecodeTensors("detached", req.GetDetached()); err != nil {
			return StepInput{}, nil, false, err
		}
	}
	return in, detached, req.GetHasDetached(), nil
}

// StepOutputToProto converts a step's result to the Step response. A
// gradient that does not encode is an error naming it ("gradient 0: ...").
func StepOutputToProto(out StepOutput) (*methodpb.StepResponse, error) {
	resp := &methodpb.StepResponse{Loss: out.Loss, Metrics: out.Metrics, Grads: make([]*methodpb.Tensor, len(out.Grads))}
	for i, g := range out.Grads {
		p, err := wire.EncodeF32(g.Shape(), g.Data)
		if err != nil {
			return nil, fmt.Errorf("gradient %d: %v", i, err)
		}
		resp.Grads[i] = p
	}
	return resp, nil
}

// StepOutputFromProto converts a Step response back; missing metrics are an
// empty map. A gradient that does not decode is an error naming it.
func StepOutputFromProto(resp *methodpb.StepResponse) (StepOutput, error) {
	out := StepOutput{Loss: resp.GetLoss(), Metrics: resp.GetMetrics(), Grads: make([]*nn.Tensor, len(resp.GetGrads()))}
	if out.Metrics == nil {
		out.Metrics = map[string]float64{}
	}
	for i, g := range resp.GetGrads() {
		shape, data, err := wire.DecodeF32(g)
		if err != nil {
			return StepOutput{}, fmt.Errorf("gradient %d: %w", i, err)
		}
		out.Grads[i] = nn.New(data, shape...)
	}
	return out, nil
}

// EncodeTensors encodes ts for a request; what names them in errors, which
// wrap ErrBadInput ("view 2 is nil").
func EncodeTensors(what string, ts []*nn.Tensor) ([]*methodpb.Tensor, error) {
	out := make([]*methodpb.Tensor, len(ts))
	for i, t := range ts {
		if t == nil {
			return nil, fmt.Errorf("%w: %s %d is nil", ErrBadInput, what, i)
		}
		p, err := wire.EncodeF32(t.Shape(), t.Data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %d: %v", ErrBadInput, what, i, err)
		}
		out[i] = p
	}
	return out, nil
}

// DecodeTensors decodes a request's tensors (nil when there are none); what
// names them in errors, which wrap ErrBadInput.
func DecodeTensors(what string, ps []*methodpb.Tensor) ([]*nn.Tensor, error) {
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
