#!/usr/bin/python3
"""PyTorch side of scripts/bench-step.ts and scripts/bench-gpu.ts: the seed's AlexNet
(1×224×224, 10 classes), on 2 CPU threads or on a CUDA device.

Usage: torch_worker.py forward|step BATCH REPS [--device cpu|cuda] [--warmup W]
  → one JSON line {"ms": [...], "maxRssMB": n}; W untimed runs first (default 1)
"""
import json
import resource
import sys
import time

import torch
from torch import nn


def alexnet():
    return nn.Sequential(
        nn.Conv2d(1, 96, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10),
    )


def main():
    mode, batch, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    device = sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "cpu"
    warmup = int(sys.argv[sys.argv.index("--warmup") + 1]) if "--warmup" in sys.argv else 1
    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = alexnet().to(device)
    x = torch.rand(batch, 1, 224, 224, device=device)
    y = torch.arange(batch, device=device) % 10

    def sync():
        if device != "cpu":
            torch.cuda.synchronize()

    times = []
    if mode == "forward":
        net.eval()
        with torch.no_grad():
            for _ in range(warmup):
                net(x)
            sync()
            for _ in range(reps):
                t0 = time.perf_counter()
                net(x)
                sync()
                times.append((time.perf_counter() - t0) * 1000)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        loss_fn = nn.CrossEntropyLoss()
        for r in range(reps + warmup):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            sync()
            if r >= warmup:
                times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"ms": times, "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
