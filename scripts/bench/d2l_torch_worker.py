#!/usr/bin/python3
"""PyTorch side of scripts/bench-models.ts: one model's training step (Adam, float32, 2 CPU
threads) on a random batch at the model's input size.

Usage: d2l_torch_worker.py alexnet|vgg11|nin|resnet18 BATCH REPS [--warmup W]
  → one JSON line {"ms": [...], "maxRssMB": n}; W untimed steps first (default 1)
"""
import json
import os
import resource
import sys
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "reference"))
import d2l_models  # noqa: E402
import torch_worker  # noqa: E402

MODELS = {"alexnet": (torch_worker.alexnet, 224), "vgg11": (d2l_models.vgg11, 224),
          "nin": (d2l_models.nin, 224), "resnet18": (d2l_models.resnet18, 96)}


def main():
    name, batch, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    warmup = int(sys.argv[sys.argv.index("--warmup") + 1]) if "--warmup" in sys.argv else 1
    torch.set_num_threads(2)
    torch.manual_seed(0)
    make, size = MODELS[name]
    net = make()
    x = torch.rand(batch, 1, size, size)
    y = torch.arange(batch) % 10
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for r in range(reps + warmup):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
        if r >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"ms": times, "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
