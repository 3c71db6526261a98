#!/usr/bin/python3
"""Independent PyTorch reference for models emitted by alexc.

Interprets the ONNX inference graph of a model node by node with torch ops
(opset 17 semantics, NCHW), so it works for any model alexc emits without
knowing its layer names. It deliberately does not use onnxruntime.

Subcommands (see README.md next to this file):

  forward MODEL.onnx INPUT.npy OUT.npy
  step    MODEL.onnx BATCH.npz OUT.npz [--optimizer adam|adamw|sgd] [--lr 1e-3]
          [--momentum 0.9] [--weight-decay 0] [--steps 1] [--resize 224]
  resize  IMAGES.npy OUT.npy --size 224 [--pil]

Global flag: --float64 (compute in float64 instead of float32).

Exit codes: 0 ok, 1 other error, 2 unsupported ONNX op (or usage error),
3 --pil requested but torchvision/PIL not importable.
"""

import argparse
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

try:
    import onnx
    from onnx import helper, numpy_helper
except ImportError as exc:  # pragma: no cover
    sys.stderr.write("torch_ref.py: cannot import onnx: %s\n" % exc)
    sys.exit(1)


EXIT_UNSUPPORTED_OP = 2
EXIT_NO_PIL = 3


class UnsupportedOp(Exception):
    pass


# ---------------------------------------------------------------------------
# Graph interpreter
# ---------------------------------------------------------------------------


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _s(v):
    return v.decode() if isinstance(v, bytes) else v


def _pads_for(x, attrs, kernel, strides, dilations):
    """Return (begin, end) pad lists over the spatial dims, resolving auto_pad."""
    n = len(kernel)
    auto_pad = _s(attrs.get("auto_pad", "NOTSET"))
    if auto_pad in ("NOTSET", ""):
        pads = list(attrs.get("pads", [0] * (2 * n)))
        return pads[:n], pads[n:]
    if auto_pad == "VALID":
        return [0] * n, [0] * n
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(n):
            size = x.shape[2 + i]
            out = -(-size // strides[i])
            eff_k = (kernel[i] - 1) * dilations[i] + 1
            total = max(0, (out - 1) * strides[i] + eff_k - size)
            small, big = total // 2, total - total // 2
            if auto_pad == "SAME_UPPER":
                begin.append(small)
                end.append(big)
            else:
                begin.append(big)
                end.append(small)
        return begin, end
    raise ValueError("unsupported auto_pad %r" % auto_pad)


def _torch_pad_arg(begin, end):
    """F.pad wants (last_begin, last_end, second_last_begin, ...)."""
    out = []
    for b, e in zip(reversed(begin), reversed(end)):
        out += [b, e]
    return out


def _op_conv(ins, a, ctx):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    n = w.dim() - 2
    kernel = list(a.get("kernel_shape", list(w.shape[2:])))
    strides = list(a.get("strides", [1] * n))
    dilations = list(a.get("dilations", [1] * n))
    group = int(a.get("group", 1))
    begin, end = _pads_for(x, a, kernel, strides, dilations)
    if begin == end:
        padding = begin
    else:
        x = F.pad(x, _torch_pad_arg(begin, end))
        padding = [0] * n
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
    return [fn(x, w, b, stride=strides, padding=padding, dilation=dilations, groups=group)]


def _op_maxpool(ins, a, ctx):
    x = ins[0]
    kernel = list(a["kernel_shape"])
    n = len(kernel)
    strides = list(a.get("strides", [1] * n))
    dilations = list(a.get("dilations", [1] * n))
    ceil_mode = bool(a.get("ceil_mode", 0))
    begin, end = _pads_for(x, a, kernel, strides, dilations)
    if begin == end and all(p <= k // 2 for p, k in zip(begin, kernel)):
        padding = begin
    else:
        x = F.pad(x, _torch_pad_arg(begin, end), value=-math.inf)
        padding = [0] * n
    fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[n]
    return [fn(x, kernel, stride=strides, padding=padding, dilation=dilations, ceil_mode=ceil_mode)]


def _op_avgpool(ins, a, ctx):
    x = ins[0]
    kernel = list(a["kernel_shape"])
    n = len(kernel)
    strides = list(a.get("strides", [1] * n))
    ceil_mode = bool(a.get("ceil_mode", 0))
    count_include_pad = bool(a.get("count_include_pad", 0))
    begin, end = _pads_for(x, a, kernel, strides, [1] * n)
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[n]
    if begin == end and all(p <= k // 2 for p, k in zip(begin, kernel)):
        return [fn(x, kernel, stride=strides, padding=begin, ceil_mode=ceil_mode,
                   count_include_pad=count_include_pad)]
    # Asymmetric / large padding: pad explicitly, and for count_include_pad=0
    # divide the window sums by the number of real (unpadded) elements.
    pad_arg = _torch_pad_arg(begin, end)
    xp = F.pad(x, pad_arg)
    avg = fn(xp, kernel, stride=strides, padding=0, ceil_mode=ceil_mode, count_include_pad=True)
    if count_include_pad:
        return [avg]
    mask = F.pad(torch.ones_like(x[:1, :1]), pad_arg)
    frac = fn(mask, kernel, stride=strides, padding=0, ceil_mode=ceil_mode, count_include_pad=True)
    return [avg / frac]


def _op_flatten(ins, a, ctx):
    x = ins[0]
    axis = int(a.get("axis", 1))
    if axis < 0:
        axis += x.dim()
    outer = math.prod(x.shape[:axis])
    return [x.reshape(outer, math.prod(x.shape[axis:]))]


def _op_gemm(ins, a, ctx):
    A, B = ins[0], ins[1]
    C = ins[2] if len(ins) > 2 else None
    alpha = float(a.get("alpha", 1.0))
    beta = float(a.get("beta", 1.0))
    if int(a.get("transA", 0)):
        A = A.t()
    if int(a.get("transB", 0)):
        B = B.t()
    y = A @ B
    if alpha != 1.0:
        y = alpha * y
    if C is not None:
        y = y + (C if beta == 1.0 else beta * C)
    return [y]


def _binary(fn):
    def op(ins, a, ctx):
        return [fn(ins[0], ins[1])]
    return op


def _div(x, y):
    if not x.is_floating_point() and not y.is_floating_point():
        return torch.div(x, y, rounding_mode="trunc")
    return x / y


def _op_dropout(ins, a, ctx):
    # Inference semantics: identity; optional `ratio`/`training_mode` ignored.
    x = ins[0]
    return [x, torch.ones(x.shape, dtype=torch.bool)]


def _op_reshape(ins, a, ctx):
    x, shape = ins[0], ins[1]
    allowzero = int(a.get("allowzero", 0))
    target = [int(v) for v in shape.detach().reshape(-1).tolist()]
    if not allowzero:
        target = [x.shape[i] if v == 0 else v for i, v in enumerate(target)]
    return [x.reshape(target)]


def _softmax_like(fn):
    def op(ins, a, ctx):
        x = ins[0]
        if ctx["opset"] >= 13:
            return [fn(x, dim=int(a.get("axis", -1)))]
        # opset < 13: coerce to 2-D at `axis` (default 1), softmax over dim 1.
        axis = int(a.get("axis", 1))
        if axis < 0:
            axis += x.dim()
        shape = x.shape
        outer = math.prod(shape[:axis])
        return [fn(x.reshape(outer, math.prod(shape[axis:])), dim=1).reshape(shape)]
    return op


def _op_constant(ins, a, ctx):
    if "value" in a:
        return [ctx["to_tensor"](numpy_helper.to_array(a["value"]), trainable=False)]
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                    ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return [ctx["to_tensor"](np.array(a[key], dtype=dt), trainable=False)]
    raise ValueError("Constant node with unsupported attribute(s): %s" % sorted(a))


def _op_batchnorm(ins, a, ctx):
    # PyTorch's BatchNorm2d/1d: the running statistics in eval (`forward`); in `step`, the
    # batch's, updating the running ones in place (momentum 0.1, unbiased variance).
    x, scale, bias, mean, var = ins
    eps = float(a.get("epsilon", 1e-5))
    return [F.batch_norm(x, mean, var, scale, bias, training=ctx.get("training", False), momentum=0.1, eps=eps)]


def _op_global_avgpool(ins, a, ctx):
    return [ins[0].mean(dim=tuple(range(2, ins[0].dim())), keepdim=True)]


OPS = {
    "Conv": _op_conv,
    "Relu": lambda ins, a, ctx: [torch.relu(ins[0])],
    "Sigmoid": lambda ins, a, ctx: [torch.sigmoid(ins[0])],
    "Tanh": lambda ins, a, ctx: [torch.tanh(ins[0])],
    "MaxPool": _op_maxpool,
    "AveragePool": _op_avgpool,
    "Flatten": _op_flatten,
    "Gemm": _op_gemm,
    "MatMul": _binary(torch.matmul),
    "Add": _binary(lambda x, y: x + y),
    "Sub": _binary(lambda x, y: x - y),
    "Mul": _binary(lambda x, y: x * y),
    "Div": _binary(_div),
    "Dropout": _op_dropout,
    "Identity": lambda ins, a, ctx: [ins[0]],
    "Reshape": _op_reshape,
    "Softmax": _softmax_like(torch.softmax),
    "LogSoftmax": _softmax_like(torch.log_softmax),
    "Constant": _op_constant,
    "BatchNormalization": _op_batchnorm,
    "GlobalAveragePool": _op_global_avgpool,
}

# Initializers that are module buffers, not parameters: no gradient, no optimizer.
BUFFER_SUFFIXES = (".running_mean", ".running_var")


class Graph:
    """An ONNX model turned into torch tensors plus a node interpreter."""

    def __init__(self, path, dtype):
        self.model = onnx.load(path)
        self.dtype = dtype
        g = self.model.graph
        self.opset = 17
        for imp in self.model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = int(imp.version)

        unsupported = sorted({n.op_type for n in g.node
                              if n.domain not in ("", "ai.onnx") or n.op_type not in OPS})
        if unsupported:
            raise UnsupportedOp("unsupported ONNX op(s): %s" % ", ".join(unsupported))

        # Initializers: floating ones are trainable parameters, the rest
        # (e.g. int64 Reshape shapes) are constants.
        self.init_names = []
        self.params = {}  # name -> leaf tensor with requires_grad (float only)
        self.consts = {}
        for init in g.initializer:
            arr = numpy_helper.to_array(init)
            t = self.to_tensor(arr, trainable=not init.name.endswith(BUFFER_SUFFIXES))
            self.init_names.append(init.name)
            if t.requires_grad:
                self.params[init.name] = t
            else:
                self.consts[init.name] = t

        init_set = set(self.init_names)
        real_inputs = [i.name for i in g.input if i.name not in init_set]
        if not real_inputs:
            raise ValueError("model has no non-initializer graph input")
        self.input_name = real_inputs[0]
        if not g.output:
            raise ValueError("model has no graph output")
        self.output_name = g.output[0].name

    def to_tensor(self, arr, trainable):
        arr = np.asarray(arr)
        if np.issubdtype(arr.dtype, np.floating):
            t = torch.tensor(arr, dtype=self.dtype)
            if trainable:
                t.requires_grad_(True)
            return t
        return torch.tensor(arr)

    def param_list(self):
        return [self.params[n] for n in self.init_names if n in self.params]

    def run(self, x, training=False):
        env = {}
        env.update(self.consts)
        env.update(self.params)
        env[self.input_name] = x
        ctx = {"opset": self.opset, "to_tensor": self.to_tensor, "training": training}
        for node in self.model.graph.node:
            ins = []
            for name in node.input:
                if name == "":
                    ins.append(None)
                    continue
                if name not in env:
                    raise ValueError("node %r (%s) reads undefined value %r"
                                     % (node.name, node.op_type, name))
                ins.append(env[name])
            # Trailing absent optional inputs are dropped; Gemm/Conv treat
            # an absent middle-of-list value via None as well.
            while ins and ins[-1] is None:
                ins.pop()
            outs = OPS[node.op_type](ins, _attrs(node), ctx)
            for name, val in zip(node.output, outs):
                if name:
                    env[name] = val
        if self.output_name not in env:
            raise ValueError("graph output %r was never produced" % self.output_name)
        return env[self.output_name]


# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------


def _dtype(args):
    return torch.float64 if args.float64 else torch.float32


def _np_dtype(args):
    return np.float64 if args.float64 else np.float32


def cmd_forward(args):
    dtype = _dtype(args)
    g = Graph(args.model, dtype)
    x = torch.tensor(np.load(args.input), dtype=dtype)
    with torch.no_grad():
        y = g.run(x)
    np.save(args.out, y.detach().numpy())
    return 0


def preprocess(images, size, dtype):
    """uint8 [B,1,28,28] -> float [B,1,S,S] in [0,1] via torch bilinear."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(dtype) / 255
    if size != x.shape[-1] or size != x.shape[-2]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def cmd_step(args):
    dtype = _dtype(args)
    g = Graph(args.model, dtype)
    batch = np.load(args.batch)
    images = batch["images"]
    labels = torch.from_numpy(np.asarray(batch["labels"]).astype(np.int64))
    x = preprocess(images, args.resize, dtype)

    params = g.param_list()
    if args.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                               weight_decay=args.weight_decay)
    elif args.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                                weight_decay=args.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum,
                              weight_decay=args.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    losses = []
    correct = None
    first_grads = None
    for step in range(args.steps):
        opt.zero_grad(set_to_none=True)
        logits = g.run(x, training=True)
        loss = loss_fn(logits, labels)
        loss.backward()
        if step == 0:
            correct = int((logits.detach().argmax(dim=1) == labels).sum().item())
            first_grads = {}
            for name, p in g.params.items():
                gr = p.grad
                first_grads[name] = (np.zeros(tuple(p.shape), dtype=_np_dtype(args)) if gr is None
                                     else gr.detach().clone().numpy())
        losses.append(float(loss.item()))
        opt.step()

    npd = _np_dtype(args)
    out = {
        "loss": np.array(losses[0], dtype=npd),
        "losses": np.array(losses, dtype=npd),
        "correct": np.array(correct, dtype=np.int64),
    }
    for name in g.init_names:
        if name in g.params:
            out["grad/" + name] = first_grads[name]
            out["param/" + name] = g.params[name].detach().numpy().copy()
        elif name.endswith(BUFFER_SUFFIXES):
            out["buffer/" + name] = g.consts[name].numpy().copy()
    np.savez(args.out, **out)
    return 0


def cmd_resize(args):
    images = np.load(args.images)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError("expected uint8 images of shape [B,1,H,W], got %s" % (images.shape,))
    if args.pil:
        try:
            from PIL import Image
            from torchvision import transforms
        except ImportError as exc:
            sys.stderr.write("torch_ref.py resize --pil: torchvision/PIL not importable (%s); "
                             "install python3-torchvision and python3-pil\n" % exc)
            return EXIT_NO_PIL
        tf = transforms.Compose([transforms.Resize(args.size), transforms.ToTensor()])
        outs = [tf(Image.fromarray(np.ascontiguousarray(img[0]).astype(np.uint8), mode="L"))
                for img in images]
        y = torch.stack(outs).to(_dtype(args))
    else:
        y = preprocess(images.astype(np.uint8), args.size, _dtype(args))
    np.save(args.out, y.numpy())
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="torch_ref.py",
                                description="PyTorch reference interpreter for alexc ONNX models")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--float64", action="store_true",
                        help="compute in float64 instead of float32")
    sub = p.add_subparsers(dest="cmd", required=True)

    f = sub.add_parser("forward", parents=[common], help="run the graph on an input")
    f.add_argument("model")
    f.add_argument("input")
    f.add_argument("out")

    s = sub.add_parser("step", parents=[common], help="loss, grads and optimizer step(s)")
    s.add_argument("model")
    s.add_argument("batch")
    s.add_argument("out")
    s.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--momentum", type=float, default=0.9)
    s.add_argument("--weight-decay", type=float, default=0.0)
    s.add_argument("--label-smoothing", type=float, default=0.0)
    s.add_argument("--steps", type=int, default=1)
    s.add_argument("--resize", type=int, default=224)

    r = sub.add_parser("resize", parents=[common], help="bilinear resize of uint8 images")
    r.add_argument("images")
    r.add_argument("out")
    r.add_argument("--size", type=int, default=224)
    r.add_argument("--pil", action="store_true",
                   help="torchvision transforms.Resize on PIL images + ToTensor")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if getattr(args, "steps", 1) < 1:
        sys.stderr.write("torch_ref.py: --steps must be >= 1\n")
        return 1
    try:
        return {"forward": cmd_forward, "step": cmd_step, "resize": cmd_resize}[args.cmd](args)
    except UnsupportedOp as exc:
        sys.stderr.write("torch_ref.py: %s\n" % exc)
        return EXIT_UNSUPPORTED_OP
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero
        sys.stderr.write("torch_ref.py: error: %s: %s\n" % (type(exc).__name__, exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
