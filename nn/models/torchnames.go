package models

import (
	"fmt"
	"strings"
)

// PyTorch parameter names. An exported backbone's tensors are named as the
// state_dict of the equivalent torch.nn module (docs/export.md has the
// tables and the module definitions):
//
//	ResNets (resnet18-cifar, resnet-small, resnet-tiny), torchvision style:
//	  stem.conv.weight                 → conv1.weight
//	  stem.bn.{gamma,beta}             → bn1.{weight,bias}
//	  stem.bn.running_{mean,var}       → bn1.running_{mean,var}
//	  stageS.blockB.a.{conv,bn}.X      → layerS.B.{conv1,bn1}.X
//	  stageS.blockB.b.{conv,bn}.X      → layerS.B.{conv2,bn2}.X
//	  stageS.blockB.shortcut.conv.X    → layerS.B.downsample.0.X
//	  stageS.blockB.shortcut.bn.X      → layerS.B.downsample.1.X
//	RefNet: layerK = nn.Sequential(Conv2d, BatchNorm2d):
//	  layerK.conv.weight               → layerK.0.weight
//	  layerK.bn.X                      → layerK.1.X
//
// with BN's gamma → weight and beta → bias.

// TorchName maps the name of a backbone parameter or buffer (as Params and
// Buffers report it) to its PyTorch state_dict name.
func TorchName(name string) (string, error) {
	parts := strings.Split(name, ".")
	bad := func() (string, error) {
		return "", fmt.Errorf("parameter %q has no PyTorch name (not a refnet or ResNet backbone tensor)", name)
	}
	n := len(parts)
	if n < 3 {
		return bad()
	}
	leaf := parts[n-1]
	kind := parts[n-2] // conv or bn
	switch kind {
	case "conv":
		if leaf != "weight" && leaf != "bias" {
			return bad()
		}
	case "bn":
		switch leaf {
		case "gamma":
			leaf = "weight"
		case "beta":
			leaf = "bias"
		case "running_mean", "running_var":
		default:
			return bad()
		}
	default:
		return bad()
	}
	unit := parts[:n-2]
	switch {
	case len(unit) == 1 && unit[0] == "stem":
		if kind == "conv" {
			return "conv1." + leaf, nil
		}
		return "bn1." + leaf, nil
	case len(unit) == 1 && strings.HasPrefix(unit[0], "layer"):
		if kind == "conv" {
			return unit[0] + ".0." + leaf, nil
		}
		return unit[0] + ".1." + leaf, nil
	case len(unit) == 3 && strings.HasPrefix(unit[0], "stage") && strings.HasPrefix(unit[1], "block"):
		layer := "layer" + strings.TrimPrefix(unit[0], "stage") + "." + strings.TrimPrefix(unit[1], "block") + "."
		idx := map[string]string{"conv": "0", "bn": "1"}[kind]
		switch unit[2] {
		case "a":
			return layer + kind + "1." + leaf, nil
		case "b":
			return layer + kind + "2." + leaf, nil
		case "shortcut":
			return layer + "downsample." + idx + "." + leaf, nil
		}
	}
	return bad()
}
