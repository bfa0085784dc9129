#!/usr/bin/python3
"""PyTorch side of `make bench-engine`: one SGD training step of a backbone
of nn/models (scripts/torch_backbones.py, the definitions of
docs/export.md) with Linear(D -> 10) on top, softmax cross-entropy, SGD
momentum 0.9, on random N(0,1) input of shape (batch, C, H, W).

Two modes:
  --serve   (used by cmd/bench-engine): print one JSON line describing the
            model, then for every line "steps K" on stdin run K steps and
            print {"times": [seconds, ...]}; "quit" or EOF ends. This lets
            the Go driver alternate rounds of ours and PyTorch's in one
            invocation on the same machine state.
  default   run --rounds x --steps steps after --warmup steps and print the
            median step time.

Run it with Debian's python3-torch: /usr/bin/python3 scripts/bench_engine.py
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_backbones import backbone  # noqa: E402


class Classifier(nn.Module):
    """A backbone of torch_backbones and Linear(D -> classes), as
    nn/models.NewClassifier."""

    def __init__(self, name, in_channels, classes=10):
        super().__init__()
        self.backbone = backbone(name, in_channels)
        with torch.no_grad():
            d = self.backbone(torch.zeros(2, in_channels, 32, 32)).shape[1]
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        return self.fc(self.backbone(x))


def conv_train_flops(model, shape):
    """Conv FLOPs of one training step of model on input shape (N, C, H, W),
    2 per multiply-add: every conv's forward and weight gradient, and its
    input gradient unless it reads the image itself (the first conv)."""
    flops = []

    def hook(mod, inp, out):
        macs = out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        flops.append((2 * macs, inp[0].requires_grad))

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(shape))
    for h in hs:
        h.remove()
    # Under no_grad nothing requires grad: the first conv reads the image,
    # every later conv reads an activation that needs its input gradient.
    return sum(f * (2 if i == 0 else 3) for i, (f, _) in enumerate(flops))


class Bench:
    def __init__(self, model, batch, shape, threads, seed, precision="fp32"):
        torch.manual_seed(seed)
        self.precision = precision
        torch.set_num_threads(threads)
        self.model = Classifier(model, shape[0])
        self.flops = conv_train_flops(self.model, (batch,) + shape)
        self.model.train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.x = torch.randn((batch,) + shape)
        self.y = torch.randint(0, 10, (batch,))
        self.batch = batch

    def params(self):
        return sum(p.numel() for p in self.model.parameters())

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        if self.precision == "bf16":
            # CPU autocast: convolutions and linear layers on bf16 operands,
            # batch norm, loss and the fp32 master weights as they are
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = F.cross_entropy(self.model(self.x), self.y)
        else:
            loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()

    def timed(self, k):
        """Runs k steps; returns their wall times and process CPU times (all
        threads) in seconds. CPU time stays comparable when other processes
        share the cores; wall time does not."""
        times, cpu = [], []
        for _ in range(k):
            t0, c0 = time.perf_counter(), time.process_time()
            self.step()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return times, cpu


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--model", default="refnet", help="refnet, resnet18-cifar, resnet-small, resnet-tiny")
    ap.add_argument("--input", default="1x28x28", help="C x H x W of one image")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: CPU autocast to bfloat16")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    try:
        shape = tuple(int(v) for v in args.input.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        ap.error("--input %r: want CxHxW, e.g. 3x32x32" % args.input)
    if args.batch < 1 or args.threads < 1:
        ap.error("--batch and --threads must be at least 1")

    b = Bench(args.model, args.batch, shape, args.threads, args.seed, args.precision)
    info = {
        "engine": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "params": b.params(),
        "batch": args.batch,
        "conv_flops": b.flops,
    }
    if args.serve:
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                break
            if cmd[0] != "steps" or len(cmd) != 2 or not cmd[1].isdigit():
                print(json.dumps({"error": "want 'steps K' or 'quit', got %r" % line.strip()}), flush=True)
                continue
            times, cpu = b.timed(int(cmd[1]))
            print(json.dumps({"times": times, "cpu_times": cpu, "peak_rss": peak_rss_bytes()}), flush=True)
        return

    b.timed(args.warmup)
    times = []
    for _ in range(args.rounds):
        times += b.timed(args.steps)[0]
    med = statistics.median(times)
    print(json.dumps(info))
    print("pytorch median step: %.1f ms (%d steps), %.1f GFLOP/s effective, peak RSS %.0f MiB"
          % (med * 1e3, len(times), info["conv_flops"] / med / 1e9, peak_rss_bytes() / 2**20))


if __name__ == "__main__":
    main()
