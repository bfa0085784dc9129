"""PyTorch side of the export interop tests (harness/export_interop_test.go).

  features WEIGHTS X.npy OUT.npy   load WEIGHTS (safetensors, read with json +
                                   struct + torch.frombuffer), build the
                                   backbone its metadata names in plain torch.nn,
                                   load_state_dict(strict=True), eval mode,
                                   write its features of X to OUT.npy
  save NAME C X.npy WEIGHTS OUT.npy  build backbone NAME in torch (random init,
                                   random BN statistics), write its state_dict
                                   as safetensors (every tensor as float32, no
                                   metadata, num_batches_tracked included) and
                                   its eval-mode features of X to OUT.npy
  npy FEATURES.npy LABELS.npy      numpy.load both, print JSON facts about them

The module definitions are those of docs/export.md.
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = bytearray(buf[8 + n :])
    sd = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, end = e["data_offsets"]
        t = torch.frombuffer(data, dtype=torch.float32, count=(end - b) // 4, offset=b)
        sd[name] = t.reshape(e["shape"]).clone()
    return sd, meta


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


def write_safetensors(path, sd):
    header, chunks, off = {}, [], 0
    for k, v in sd.items():
        b = v.detach().float().contiguous().numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def backbone(name, c):
    if name == "refnet":
        return RefNet(c)
    cfg = {
        "resnet18-cifar": ([64, 128, 256, 512], [2, 2, 2, 2]),
        "resnet-small": ([32, 64, 128, 256], [1, 1, 1, 1]),
        "resnet-tiny": ([16, 32, 64], [1, 1, 1]),
    }[name]
    return ResNet(c, *cfg)


def main():
    mode = sys.argv[1]
    if mode == "features":
        sd, meta = read_safetensors(sys.argv[2])
        m = backbone(meta["backbone"], int(meta["in_channels"]))
        m.load_state_dict(sd, strict=True)
        m.eval()
        x = torch.from_numpy(np.load(sys.argv[3]))
        with torch.no_grad():
            y = m(x)
        np.save(sys.argv[4], y.numpy().astype(np.float32))
    elif mode == "save":
        torch.manual_seed(0)
        m = backbone(sys.argv[2], int(sys.argv[3]))
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.data.uniform_(0.5, 1.5)
                mod.bias.data.uniform_(-0.5, 0.5)
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(7)
        m.eval()
        x = torch.from_numpy(np.load(sys.argv[4]))
        with torch.no_grad():
            y = m(x)
        write_safetensors(sys.argv[5], m.state_dict())
        np.save(sys.argv[6], y.numpy().astype(np.float32))
    elif mode == "npy":
        f = np.load(sys.argv[2])
        l = np.load(sys.argv[3])
        print(json.dumps({
            "dtype": str(f.dtype), "shape": list(f.shape), "sum": float(f.astype(np.float64).sum()),
            "row0": [float(v) for v in f[0]],
            "labels_dtype": str(l.dtype), "labels_shape": list(l.shape), "labels": [int(v) for v in l],
        }))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
