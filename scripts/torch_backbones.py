"""The backbones of nn/models in plain torch.nn (docs/export.md, "The
architectures in torch.nn"): parameter names and shapes match bench's
safetensors export, so load_state_dict(strict=True) takes it. Used by the
export interop test (harness/testdata/export_interop.py) and by the PyTorch
side of make bench-engine (scripts/bench_engine.py).
"""
import torch.nn as nn
import torch.nn.functional as F


class RefNet(nn.Module):
    def __init__(self, c):
        super().__init__()

        def unit(i, o, s):
            return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o))

        self.layer1 = unit(c, 32, 1)
        self.layer2 = unit(32, 32, 1)
        self.layer3 = unit(32, 64, 2)
        self.layer4 = unit(64, 64, 1)

    def forward(self, x):
        h = F.relu(self.layer1(x))
        h = F.relu(self.layer2(h) + h)
        h = F.relu(self.layer3(h))
        h = F.relu(self.layer4(h) + h)
        return h.mean((2, 3))


class BasicBlock(nn.Module):
    def __init__(self, i, o, s):
        super().__init__()
        self.conv1 = nn.Conv2d(i, o, 3, s, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(o)
        self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(o)
        self.downsample = None
        if s != 1 or i != o:
            self.downsample = nn.Sequential(nn.Conv2d(i, o, 1, s, 0, bias=False), nn.BatchNorm2d(o))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self, c, widths, depths):
        super().__init__()
        self.conv1 = nn.Conv2d(c, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        i = widths[0]
        self.stages = []
        for s, (w, d) in enumerate(zip(widths, depths)):
            blocks = []
            for b in range(d):
                blocks.append(BasicBlock(i, w, 2 if s > 0 and b == 0 else 1))
                i = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
            self.stages.append(f"layer{s + 1}")

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        for name in self.stages:
            h = getattr(self, name)(h)
        return h.mean((2, 3))


def backbone(name, c):
    if name == "refnet":
        return RefNet(c)
    cfg = {
        "resnet18-cifar": ([64, 128, 256, 512], [2, 2, 2, 2]),
        "resnet-small": ([32, 64, 128, 256], [1, 1, 1, 1]),
        "resnet-tiny": ([16, 32, 64], [1, 1, 1]),
    }[name]
    return ResNet(c, *cfg)
