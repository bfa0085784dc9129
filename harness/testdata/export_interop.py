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
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from torch_backbones import backbone  # noqa: E402  (the definitions of docs/export.md)


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
