package models

import (
	"math/rand/v2"
	"testing"
)

func TestTorchNames(t *testing.T) {
	want := map[string][]string{
		"resnet18-cifar": {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
			"layer1.0.conv1.weight", "layer1.1.bn2.bias", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var",
			"layer4.1.conv2.weight"},
		"resnet-tiny": {"conv1.weight", "layer1.0.conv1.weight", "layer3.0.downsample.1.weight"},
		"refnet":      {"layer1.0.weight", "layer1.1.weight", "layer1.1.bias", "layer4.1.running_mean"},
	}
	for _, name := range Names() {
		b, err := New(name, 3, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, p := range append(b.Params(), b.Buffers()...) {
			tn, err := TorchName(p.Name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got[tn] {
				t.Fatalf("%s: two tensors map to %s", name, tn)
			}
			got[tn] = true
		}
		for _, w := range want[name] {
			if !got[w] {
				t.Errorf("%s: no tensor named %s", name, w)
			}
		}
	}
	for _, bad := range []string{"fc.weight", "stem.bn.foo", "x", "stage1.block0.c.conv.weight"} {
		if _, err := TorchName(bad); err == nil {
			t.Errorf("TorchName(%q): no error", bad)
		}
	}
}
