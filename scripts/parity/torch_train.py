#!/usr/bin/python3
"""PyTorch side of scripts/parity-runs.ts: one whole training run of LeNet or the seed's AlexNet
on FashionMNIST, with the protocol `alexc train` follows, so that runs can be compared over seeds.

Usage: torch_train.py lenet|alexnet --seed S --epochs E --batch-size B --lr LR --out FILE.json
                      [--data DIR] [--train-limit N] [--test-limit N] [--threads T]

The protocol, as alexc's trainer (src/train/trainer.ts) runs it:
- the first N training / test images (alexc's --train-limit / --test-limit);
- x/255 (ToTensor); AlexNet then a bilinear resize to 224 with half-pixel centres, on float
  tensors (torchvision's Resize on a tensor: F.interpolate, align_corners=False). The seed resizes
  the PIL image, which also rounds to uint8: at most 0.5/255 apart;
- a fresh shuffle each epoch, every image once, the last partial batch kept (DataLoader's
  shuffle=True, drop_last=False; alexc's BatchSampler);
- Adam (betas 0.9/0.999, eps 1e-8), cross-entropy averaged over the batch;
- train_loss and train_acc averaged over images (the partial batch weighs by its size);
  test_acc = correct / number of test images, in eval mode (no dropout).
PyTorch's default initialisation: torch.manual_seed(S) before the model is built; the shuffle
draws from its own generator seeded with S, dropout from the global one.

Writes FILE.json once the run is done (atomically): {"side": "torch", "model", "seed",
"config", "epochs": [{"epoch", "train_loss", "train_acc", "test_acc", "test_correct", "time_s",
"step_losses"}]};
one line per epoch on stdout as it goes.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "reference"))
from seed_alexnet import AlexNet  # noqa: E402  (the seed's own class)


def lenet():
    """d2l's sigmoid LeNet, layer for layer as models/lenet.ts."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


MODELS = {"lenet": (lenet, None), "alexnet": (AlexNet, 224)}


def read_idx(path, limit):
    """IDX (gzipped): magic 0x0000 08 nd, nd big-endian dims, then uint8 data; the first `limit` items."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)
    return data[: limit or dims[0]]


def load_split(data_dir, prefix, limit):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), limit)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), limit)
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def preprocess(images_u8, resize):
    x = images_u8.float() / 255
    if resize:
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False)
    return x


def loaded_blas():
    """The libblas this process mapped: Debian's libblas3 alone is netlib's reference BLAS, ~30x
    slower than OpenBLAS on AlexNet's fully connected layers (the results agree either way)."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libblas" in line or "openblas" in line}
    return sorted(paths)


def evaluate(net, images, labels, batch, resize):
    net.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(labels), batch):
            out = net(preprocess(images[s : s + batch], resize))
            correct += int((out.argmax(1) == labels[s : s + batch]).sum())
    net.train()
    return correct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--train-limit", type=int)
    ap.add_argument("--test-limit", type=int)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    build, resize = MODELS[args.model]
    train_x, train_y = load_split(args.data, "train", args.train_limit)
    test_x, test_y = load_split(args.data, "t10k", args.test_limit)

    torch.manual_seed(args.seed)
    net = build()
    shuffle = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    n, b = len(train_y), args.batch_size
    epochs = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        net.train()
        order = torch.randperm(n, generator=shuffle)
        loss_sum, correct, step_losses = 0.0, 0, []
        for s in range(0, n, b):
            idx = order[s : s + b]
            y = train_y[idx]
            out = net(preprocess(train_x[idx], resize))
            loss = loss_fn(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step_losses.append(float(f"{loss.item():.5g}"))
            loss_sum += loss.item() * len(idx)
            correct += int((out.argmax(1) == y).sum())
            done = s + len(idx)
            if (s // b) % 10 == 9 or done == n:
                rate = done / (time.time() - t0)
                print(f"epoch {epoch} {done}/{n} loss {loss_sum / done:.4f} {rate:.1f} img/s", file=sys.stderr, flush=True)
        test_correct = evaluate(net, test_x, test_y, 256, resize)
        e = {
            "epoch": epoch,
            "train_loss": loss_sum / n,
            "train_acc": correct / n,
            "test_acc": test_correct / len(test_y),
            "test_correct": test_correct,
            "time_s": time.time() - t0,
            "step_losses": step_losses,
        }
        epochs.append(e)
        print(json.dumps({"model": args.model, "seed": args.seed, **{k: v for k, v in e.items() if k != "step_losses"}}), flush=True)
        if not np.isfinite(e["train_loss"]):
            break

    config = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "train_limit", "test_limit", "threads")}
    config.update(torch=torch.__version__, blas=loaded_blas(), train_count=n, test_count=len(test_y))
    result = {"side": "torch", "model": args.model, "seed": args.seed, "config": config, "epochs": epochs}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
