package models

// Oracle tests: our gradients against gorgonia's symbolic gradients
// (gorgonia.org/gorgonia v0.9.18, float64) on identical weights and inputs.
// gorgonia is a test-only dependency. Only ops it differentiates correctly
// are used: Conv2d, its BatchNorm op in training mode (with our own γ/β of
// shape (1,C,1,1), since its default ones have the input's shape), Rectify,
// Add, Mul and Mean (its GlobalAveragePool2D has no gradient, so the pool
// is a Mean over H·W).

import (
	"fmt"
	"math"
	"testing"

	"github.com/siambench/siambench/nn"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gnode makes a float64 gorgonia tensor node holding t's values in shape.
func gnode(g *G.ExprGraph, name string, t *nn.Tensor, shape ...int) *G.Node {
	if len(shape) == 0 {
		shape = t.Shape()
	}
	back := make([]float64, t.Len())
	for i, v := range t.Data {
		back[i] = float64(v)
	}
	val := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back))
	return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(val))
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

// gradOf returns node n's gradient as float64s after the machine ran.
func gradValues(t *testing.T, n *G.Node) []float64 {
	t.Helper()
	gv, err := n.Grad()
	if err != nil {
		t.Fatalf("gorgonia gradient of %s: %v", n.Name(), err)
	}
	return gv.Data().([]float64)
}

// compare checks ours (float32) against gorgonia's (float64) with a
// tolerance relative to the tensor's scale, and logs the max difference.
func compare(t *testing.T, what string, ours []float32, ref []float64, tol float64) {
	t.Helper()
	if len(ours) != len(ref) {
		t.Fatalf("%s: %d values vs gorgonia's %d", what, len(ours), len(ref))
	}
	var maxDiff, scale float64 = 0, 1e-6
	at := 0
	for i := range ref {
		scale = math.Max(scale, math.Abs(ref[i]))
		if d := math.Abs(float64(ours[i]) - ref[i]); d > maxDiff {
			maxDiff, at = d, i
		}
	}
	if maxDiff > tol*scale {
		t.Errorf("%s: max |ours − gorgonia| = %.3g at [%d] (ours %.6g, gorgonia %.6g), scale %.3g, tolerance %.1g·scale",
			what, maxDiff, at, ours[at], ref[at], scale, tol)
	} else {
		t.Logf("%s: max diff %.2g (scale %.3g)", what, maxDiff, scale)
	}
}

// runGraph computes gradients of Σ(out ⊙ proj) w.r.t. wrt and runs the graph.
func runGraph(t *testing.T, g *G.ExprGraph, out *G.Node, proj *nn.Tensor, wrt ...*G.Node) {
	t.Helper()
	p := gnode(g, "proj", proj, out.Shape()...)
	cost := must(G.Sum(must(G.HadamardProd(out, p))))
	if _, err := G.Grad(cost, wrt...); err != nil {
		t.Fatalf("gorgonia Grad: %v", err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatalf("gorgonia run: %v", err)
	}
}

func TestOracleMatMul(t *testing.T) {
	r := rng(11)
	a := nn.Randn(r, 1, 7, 5).SetRequiresGrad(true)
	b := nn.Randn(r, 1, 5, 3).SetRequiresGrad(true)
	out := nn.MatMul(a, b, false, false)
	proj := nn.Randn(r, 1, 7, 3)
	out.BackwardWith(proj.Data)

	g := G.NewGraph()
	ga, gb := gnode(g, "a", a), gnode(g, "b", b)
	gout := must(G.Mul(ga, gb))
	runGraph(t, g, gout, proj, ga, gb)
	compare(t, "out", out.Data, gout.Value().Data().([]float64), 1e-5)
	compare(t, "da", a.Grad, gradValues(t, ga), 1e-5)
	compare(t, "db", b.Grad, gradValues(t, gb), 1e-5)
}

func TestOracleConv2d(t *testing.T) {
	cases := []struct{ n, c, h, w, o, k, s, p int }{
		{2, 3, 7, 6, 4, 3, 1, 1},
		{3, 2, 9, 9, 5, 3, 2, 1},
		{1, 4, 5, 5, 2, 1, 1, 0},
		{2, 1, 8, 7, 3, 5, 2, 2},
	}
	r := rng(12)
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			x := nn.Randn(r, 1, tc.n, tc.c, tc.h, tc.w).SetRequiresGrad(true)
			w := nn.Randn(r, 0.3, tc.o, tc.c, tc.k, tc.k).SetRequiresGrad(true)
			out := nn.Conv2d(x, w, nil, tc.s, tc.p)
			proj := nn.Randn(r, 1, out.Shape()...)
			out.BackwardWith(proj.Data)

			g := G.NewGraph()
			gx, gw := gnode(g, "x", x), gnode(g, "w", w)
			gout := must(G.Conv2d(gx, gw, tensor.Shape{tc.k, tc.k}, []int{tc.p, tc.p}, []int{tc.s, tc.s}, []int{1, 1}))
			runGraph(t, g, gout, proj, gx, gw)
			compare(t, "out", out.Data, gout.Value().Data().([]float64), 1e-5)
			compare(t, "dx", x.Grad, gradValues(t, gx), 1e-5)
			compare(t, "dw", w.Grad, gradValues(t, gw), 1e-5)
		})
	}
}

// gBatchNorm is gorgonia's training-mode BN with γ, β given as (C) tensors.
func gBatchNorm(g *G.ExprGraph, x *G.Node, name string, gamma, beta *nn.Tensor) (out, gg, gb *G.Node) {
	c := gamma.Len()
	shape := []int{1, c}
	if x.Dims() == 4 {
		shape = []int{1, c, 1, 1}
	}
	gg, gb = gnode(g, name+".gamma", gamma, shape...), gnode(g, name+".beta", beta, shape...)
	out, _, _, _, err := G.BatchNorm(x, gg, gb, 0.1, 1e-5)
	if err != nil {
		panic(err)
	}
	return out, gg, gb
}

func TestOracleBatchNorm(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
	}{
		{"1d", []int{6, 4}},
		{"1d-wide", []int{3, 130}}, // several channel blocks in the 1-d kernels
		{"2d", []int{3, 4, 5, 3}},
	}
	r := rng(13)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.shape[1]
			x := nn.Randn(r, 2, tc.shape...).SetRequiresGrad(true)
			gamma := nn.Uniform(r, 0.5, 1.5, c).SetRequiresGrad(true)
			beta := nn.Randn(r, 1, c).SetRequiresGrad(true)
			out := nn.BatchNorm(x, gamma, beta, nil, nil, true, 0.1, 1e-5)
			proj := nn.Randn(r, 1, tc.shape...)
			out.BackwardWith(proj.Data)

			g := G.NewGraph()
			gx := gnode(g, "x", x)
			gout, gg, gb := gBatchNorm(g, gx, "bn", gamma, beta)
			runGraph(t, g, gout, proj, gx, gg, gb)
			compare(t, "out", out.Data, gout.Value().Data().([]float64), 1e-5)
			compare(t, "dx", x.Grad, gradValues(t, gx), 1e-4)
			compare(t, "dgamma", gamma.Grad, gradValues(t, gg), 1e-4)
			compare(t, "dbeta", beta.Grad, gradValues(t, gb), 1e-4)
		})
	}
}

// TestOracleRefNet compares every gradient of the reference network
// (training mode) with gorgonia's, for a batch of 4 8×8 images.
func TestOracleRefNet(t *testing.T) {
	r := rng(14)
	net := NewRefNetClassifier(1, 10, r)
	x := nn.Randn(r, 1, 4, 1, 8, 8).SetRequiresGrad(true)
	out := net.Forward(x)
	proj := nn.Randn(r, 1, out.Shape()...)
	out.BackwardWith(proj.Data)

	g := G.NewGraph()
	gx := gnode(g, "x", x)
	wrt := []*G.Node{gx}
	ours := [][]float32{x.Grad}
	names := []string{"x"}
	add := func(name string, n *G.Node, p *nn.Param) {
		wrt = append(wrt, n)
		ours = append(ours, p.T.Grad)
		names = append(names, name)
	}
	layer := func(h *G.Node, cb *convBN, name string) *G.Node {
		gw := gnode(g, name+".w", cb.conv.Weight.T)
		add(cb.conv.Weight.Name, gw, cb.conv.Weight)
		k := cb.conv.K
		y := must(G.Conv2d(h, gw, tensor.Shape{k, k}, []int{cb.conv.Pad, cb.conv.Pad}, []int{cb.conv.Stride, cb.conv.Stride}, []int{1, 1}))
		y, gg, gb := gBatchNorm(g, y, name, cb.bn.Gamma.T, cb.bn.Beta.T)
		add(cb.bn.Gamma.Name, gg, cb.bn.Gamma)
		add(cb.bn.Beta.Name, gb, cb.bn.Beta)
		return y
	}
	rn := net.Backbone.(*RefNet)
	h := must(G.Rectify(layer(gx, rn.l1, "l1")))
	h = must(G.Rectify(must(G.Add(layer(h, rn.l2, "l2"), h))))
	h = must(G.Rectify(layer(h, rn.l3, "l3")))
	h = must(G.Rectify(must(G.Add(layer(h, rn.l4, "l4"), h))))
	s := h.Shape()
	pooled := must(G.Mean(must(G.Reshape(h, tensor.Shape{s[0], s[1], s[2] * s[3]})), 2))
	fw := gnode(g, "fc.w", net.Head.Weight.T)
	fb := gnode(g, "fc.b", net.Head.Bias.T, 1, 10)
	add(net.Head.Weight.Name, fw, net.Head.Weight)
	add(net.Head.Bias.Name, fb, net.Head.Bias)
	logits := must(G.BroadcastAdd(must(G.Mul(pooled, must(G.Transpose(fw)))), fb, nil, []byte{0}))
	runGraph(t, g, logits, proj, wrt...)

	compare(t, "logits", out.Data, logits.Value().Data().([]float64), 1e-4)
	for i, n := range wrt {
		compare(t, "d"+names[i], ours[i], gradValues(t, n), 2e-4)
	}
}
