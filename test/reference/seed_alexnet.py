#!/usr/bin/python3
"""The seed tutorial's own PyTorch AlexNet, for weights interop (alexc export-weights / --init-from).

The class below is the seed's `class AlexNet(nn.Module)` layer for layer (two nn.Sequential,
`conv` and `fc`, flattened with view). safetensors is read and written with numpy alone
(Debian has no safetensors package): 8-byte little-endian header length, JSON header, raw bytes.

Subcommands:

  load   WEIGHTS.safetensors INPUT.npy OUT.npy
         AlexNet().load_state_dict(weights) (strict), eval(), logits of INPUT -> OUT.npy
  save   SEED WEIGHTS.safetensors INPUT.npy OUT.npy
         torch.manual_seed(SEED); AlexNet(); save its state_dict; its logits of INPUT -> OUT.npy
  tamper WEIGHTS.safetensors OUT.safetensors
         a copy with fc.6.bias renamed to fc.7.bias, conv.3.weight reshaped [256,96,25,1]
         and conv.10.bias dropped (three mismatches for the error listing)

Exit codes: 0 ok, 1 error (load_state_dict's message on stderr).
"""

import json
import struct
import sys

import numpy as np
import torch
from torch import nn


class AlexNet(nn.Module):
    def __init__(self):
        super(AlexNet, self).__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, stride=1, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.fc = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(4096, 10),
        )

    def forward(self, img):
        feature = self.conv(img)
        output = self.fc(feature.view(img.shape[0], -1))
        return output


DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf8"))
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(e["shape"]).astype(np.float32)
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    h = json.dumps(header).encode("utf8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def logits(net, input_path, out_path):
    net.eval()
    x = torch.from_numpy(np.load(input_path))
    with torch.no_grad():
        y = net(x)
    np.save(out_path, y.numpy().astype(np.float32))


def main(argv):
    cmd = argv[0] if argv else ""
    if cmd == "load" and len(argv) == 4:
        net = AlexNet()
        state = {k: torch.from_numpy(v) for k, v in read_safetensors(argv[1]).items()}
        net.load_state_dict(state, strict=True)
        logits(net, argv[2], argv[3])
    elif cmd == "save" and len(argv) == 5:
        torch.manual_seed(int(argv[1]))
        net = AlexNet()
        write_safetensors(argv[2], {k: v.numpy() for k, v in net.state_dict().items()})
        logits(net, argv[3], argv[4])
    elif cmd == "tamper" and len(argv) == 3:
        t = read_safetensors(argv[1])
        t["fc.7.bias"] = t.pop("fc.6.bias")
        t["conv.3.weight"] = t["conv.3.weight"].reshape(256, 96, 25, 1)
        del t["conv.10.bias"]
        write_safetensors(argv[2], t)
    else:
        sys.stderr.write(__doc__)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
