#!/usr/bin/python3
"""The d2l.ai (PyTorch edition) ResNet-18, VGG-11 (ratio 4) and NiN for FashionMNIST, as the
book writes them: the independent reference for alexc's models/resnet18.ts, vgg11.ts and nin.ts.

  step   WEIGHTS.safetensors BATCH.npz OUT.npz [--model resnet18] [--optimizer sgd|adam]
         [--lr 0.05] [--momentum 0.9] [--resize 96] [--gates DIR]
  logits WEIGHTS.safetensors BATCH.npz OUT.npy --model vgg11|nin|resnet18 --resize 224
  init   WEIGHTS.safetensors --model vgg11|nin|resnet18

`init` prints JSON: for each Conv2d and Linear weight, the bound of nn.init.xavier_uniform_ for
its module (PyTorch's fan_in and fan_out) beside the weight's largest |value| and standard
deviation, and for each of their biases the default bound 1/sqrt(fan_in) beside its largest |value|.

Both load WEIGHTS (as `alexc export-weights` writes them) with load_state_dict(strict=True) and
compute in float64 (PyTorch's float32 CPU max-pool breaks ties differently on real images).
`logits` saves the eval-mode logits of BATCH's images; `step` trains one step, and OUT.npz holds
logits_before (eval mode, before the step), loss, grad/NAME, param/NAME (after the step, every
state_dict entry: parameters and buffers) and logits_after (eval mode, after the step), by the
PyTorch state_dict names. It does not use onnxruntime or ONNX.

`--gates DIR` takes the system under test's inputs to every ReLU and max-pool of its training
forward, one .npy per call in call order (000-relu.npy, 001-maxpool.npy, ...), and makes each
of PyTorch's training forward take the same decisions: a ReLU passes where that input is positive,
a max-pool takes the element that is largest in that input, and both apply the decision to
PyTorch's own float64 values. An input closer to 0 (or to its window's runner-up) than the float32
forward's error then routes that element's gradient the same way in both computations, where
otherwise it can go the other way and carry the difference back through every earlier layer.
OUT.npz then also holds, per call K, gate_error/K (largest |ours - float64| / largest |float64|
over that input) and gate_flips/K (how many elements, or windows, the decision differs in from
float64's own).
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Residual(nn.Module):
    """d2l's Residual block (chapter "Residual Networks (ResNet) and ResNeXt")."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def resnet18():
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5,
                         nn.AdaptiveAvgPool2d((1, 1)),
                         nn.Flatten(), nn.Linear(512, 10))


def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg11(ratio=4):
    """d2l's vgg(conv_arch) with the book's small_conv_arch (channels // ratio)."""
    conv_arch = [(pair[0], pair[1] // ratio) for pair in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))]
    conv_blks = []
    in_channels = 1
    for (num_convs, out_channels) in conv_arch:
        conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *conv_blks, nn.Flatten(),
        nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10))


def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin():
    return nn.Sequential(
        nin_block(1, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(384, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten())


MODELS = {"resnet18": resnet18, "vgg11": vgg11, "nin": nin}

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """The format's reference layout, read with numpy (Debian has no python3-safetensors)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        arr = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def preprocess(images, size):
    """uint8 [B,1,28,28] -> float64 [B,1,S,S]: ToTensor, then bilinear with half-pixel centres."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float64) / 255
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def loaded(args):
    """The model with WEIGHTS loaded by load_state_dict(strict=True), in float64."""
    net = MODELS[args.model]().double()
    state = {k: (v.double() if v.is_floating_point() else v) for k, v in read_safetensors(args.weights).items()}
    net.load_state_dict(state, strict=True)
    return net


def cmd_logits(args):
    net = loaded(args)
    batch = np.load(args.batch)
    net.eval()
    with torch.no_grad():
        np.save(args.out, net(preprocess(batch["images"], args.resize)).numpy())
    return 0


def cmd_init(args):
    net = loaded(args)
    rows = []
    for name, m in net.named_modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
        # xavier_uniform_: std = gain * sqrt(2 / (fan_in + fan_out)), bound = sqrt(3) * std.
        xavier = nn.init.calculate_gain("linear") * (6.0 / (fan_in + fan_out)) ** 0.5
        w = m.weight.detach()
        rows.append({"name": name + ".weight", "count": w.numel(), "xavier_bound": xavier,
                     "max_abs": w.abs().max().item(), "std": w.std().item()})
        if m.bias is not None:
            b = m.bias.detach()
            rows.append({"name": name + ".bias", "count": b.numel(), "default_bound": fan_in ** -0.5,
                         "max_abs": b.abs().max().item(), "std": b.std().item()})
    print(json.dumps(rows))
    return 0


class Gates:
    """ReLU and max-pool with another computation's decisions (see --gates)."""

    def __init__(self, directory):
        names = sorted(f for f in os.listdir(directory) if f.endswith(".npy"))
        self.calls = [(f[:-4].split("-", 1)[1], np.load(os.path.join(directory, f))) for f in names]
        self.used = 0
        self.report = {}

    def take(self, kind, x):
        """The next call's input from DIR, checked for kind and shape, and its error against x."""
        k = self.used
        if k == len(self.calls):
            raise SystemExit(f"--gates: the forward makes more than {len(self.calls)} ReLU/max-pool calls")
        self.used += 1
        want, ours = self.calls[k]
        if want != kind or tuple(ours.shape) != tuple(x.shape):
            raise SystemExit(f"--gates: call {k} is {kind} {tuple(x.shape)}, the gate file {want} {ours.shape}")
        ref = x.detach().numpy()
        self.report[f"gate_error/{k:03d}"] = np.array(np.abs(ours - ref).max() / np.abs(ref).max())
        return k, ours, ref

    def relu(self, x, inplace=False):
        k, ours, ref = self.take("relu", x)
        self.report[f"gate_flips/{k:03d}"] = np.array(int(((ours > 0) != (ref > 0)).sum()))
        return x * torch.from_numpy(ours > 0).to(x.dtype)

    def max_pool2d(self, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        assert not return_indices, "--gates: a max-pool that returns its indices"
        k, ours, ref = self.take("maxpool", x)
        pool = lambda t: self.plain_max_pool2d(t, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
        _, idx = pool(torch.from_numpy(ours).to(x.dtype))
        best, _ = pool(x.detach())
        flat = x.flatten(2)
        taken = flat.gather(2, idx.flatten(2)).view_as(best)
        self.report[f"gate_flips/{k:03d}"] = np.array(int((taken.detach() != best).sum()))
        return taken

    def forward(self, net, x):
        """net(x) with every F.relu and F.max_pool2d (nn.ReLU and nn.MaxPool2d call them) gated."""
        self.plain_relu, self.plain_max_pool2d = F.relu, F.max_pool2d
        F.relu, F.max_pool2d = self.relu, self.max_pool2d
        try:
            y = net(x)
        finally:
            F.relu, F.max_pool2d = self.plain_relu, self.plain_max_pool2d
        if self.used != len(self.calls):
            raise SystemExit(f"--gates: {len(self.calls)} gate files, the forward makes {self.used} ReLU/max-pool calls")
        return y


def cmd_step(args):
    net = loaded(args)
    batch = np.load(args.batch)
    x = preprocess(batch["images"], args.resize)
    labels = torch.from_numpy(np.asarray(batch["labels"]).astype(np.int64))
    out = {}
    net.eval()
    with torch.no_grad():
        out["logits_before"] = net(x).numpy()
    net.train()
    if args.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    opt.zero_grad()
    gates = Gates(args.gates) if args.gates else None
    loss = nn.CrossEntropyLoss()(gates.forward(net, x) if gates else net(x), labels)
    if gates:
        out.update(gates.report)
    loss.backward()
    out["loss"] = np.array(loss.item())
    for name, p in net.named_parameters():
        out["grad/" + name] = p.grad.numpy().copy()
    opt.step()
    for name, v in net.state_dict().items():
        out["param/" + name] = v.numpy().copy()
    net.eval()
    with torch.no_grad():
        out["logits_after"] = net(x).numpy()
    np.savez(args.out, **out)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="d2l_models.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("step")
    s.add_argument("weights")
    s.add_argument("batch")
    s.add_argument("out")
    s.add_argument("--model", choices=sorted(MODELS), default="resnet18")
    s.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    s.add_argument("--lr", type=float, default=0.05)
    s.add_argument("--momentum", type=float, default=0.9)
    s.add_argument("--resize", type=int, default=96)
    s.add_argument("--gates", help="directory of the tested forward's ReLU inputs (.npy, call order)")
    lg = sub.add_parser("logits")
    lg.add_argument("weights")
    lg.add_argument("batch")
    lg.add_argument("out")
    lg.add_argument("--model", choices=sorted(MODELS), required=True)
    lg.add_argument("--resize", type=int, required=True)
    ini = sub.add_parser("init")
    ini.add_argument("weights")
    ini.add_argument("--model", choices=sorted(MODELS), required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    return {"step": cmd_step, "logits": cmd_logits, "init": cmd_init}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
