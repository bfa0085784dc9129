#!/usr/bin/python3
"""PyTorch side of `make bench-engine`: DESIGN.md's reference network.

conv3x3(C->32, pad 1)-BN-ReLU -> conv3x3(32->32)-BN-(+skip)-ReLU
-> conv3x3 stride 2 (32->64)-BN-ReLU -> conv3x3(64->64)-BN-(+skip)-ReLU
-> global average pool -> Linear(64->10) -> softmax cross-entropy.
Convs have no bias; SGD momentum 0.9. One training step = forward, backward,
SGD step, on random N(0,1) input of shape (batch, C, 28, 28).

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
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBN(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class RefNet(nn.Module):
    def __init__(self, in_channels=1, classes=10):
        super().__init__()
        self.l1 = ConvBN(in_channels, 32, 1)
        self.l2 = ConvBN(32, 32, 1)
        self.l3 = ConvBN(32, 64, 2)
        self.l4 = ConvBN(64, 64, 1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        h = F.relu(self.l1(x))
        h = F.relu(self.l2(h) + h)
        h = F.relu(self.l3(h))
        h = F.relu(self.l4(h) + h)
        h = h.mean(dim=(2, 3))
        return self.fc(h)


def conv_train_flops(batch, in_channels, size=28):
    """Conv FLOPs of one training step: forward of every conv, weight
    gradient of every conv, input gradient of convs 2-4 (2 FLOPs per MAC)."""
    s2 = size // 2
    layers = [  # (cin, cout, output pixels, needs input grad)
        (in_channels, 32, size * size, False),
        (32, 32, size * size, True),
        (32, 64, s2 * s2, True),
        (64, 64, s2 * s2, True),
    ]
    total = 0
    for cin, cout, pix, dx in layers:
        fwd = 2 * cin * 9 * cout * pix
        total += fwd * (3 if dx else 2)
    return total * batch


class Bench:
    def __init__(self, batch, in_channels, threads, seed):
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        self.model = RefNet(in_channels)
        self.model.train()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.x = torch.randn(batch, in_channels, 28, 28)
        self.y = torch.randint(0, 10, (batch,))
        self.batch = batch

    def params(self):
        return sum(p.numel() for p in self.model.parameters())

    def step(self):
        self.opt.zero_grad(set_to_none=True)
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
    ap.add_argument("--in-channels", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    if args.batch < 1 or args.in_channels < 1 or args.threads < 1:
        ap.error("--batch, --in-channels and --threads must be at least 1")

    b = Bench(args.batch, args.in_channels, args.threads, args.seed)
    info = {
        "engine": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "params": b.params(),
        "batch": args.batch,
        "conv_flops": conv_train_flops(args.batch, args.in_channels),
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
