#!/bin/bash
# Prepares what a GPU machine without network needs to run alexc (docs/execution-providers.md):
# this machine's Node binary, the runtime node_modules (onnxruntime-node for linux-x64 only),
# Debian's Vulkan loader and a FashionMNIST subset, in .gpu/ and .gl/ (both git-ignored through
# .git/info/exclude). About 50 MB. Then run scripts/gpu/checks.sh there, carrying .gpu and .gl.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude || printf '/.gpu/\n/.gl/\n' >> .git/info/exclude
mkdir -p .gpu/data .gl
xz -T0 -6 -c "$(command -v node)" > .gpu/node.xz
node -e '
const p = require("./package-lock.json");
const keep = Object.entries(p.packages).filter(([k, v]) => k && ((!v.dev && !v.optional) || k.endsWith("@esbuild/linux-x64")));
console.log(keep.map(([k]) => k).filter((k) => !k.endsWith("/typescript")).join("\n"));' > .gpu/packages.txt
tar -cJf .gpu/nm.tar.xz --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  -T .gpu/packages.txt
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/alexc-apt-amd64'
mkdir -p /tmp/alexc-apt-amd64/partial
apt-get $o update -qq
(cd .gl && apt-get $o download libvulkan1 >/dev/null)
/usr/bin/python3 - <<'PY'
import gzip, shutil, struct
src = "/usr/share/datasets/fashion-mnist/"
n = 8192
images = gzip.open(src + "train-images-idx3-ubyte.gz").read()
labels = gzip.open(src + "train-labels-idx1-ubyte.gz").read()
magic, _, rows, cols = struct.unpack(">IIII", images[:16])
gzip.open(".gpu/data/train-images-idx3-ubyte.gz", "wb").write(struct.pack(">IIII", magic, n, rows, cols) + images[16:16 + n * rows * cols])
magic, _ = struct.unpack(">II", labels[:8])
gzip.open(".gpu/data/train-labels-idx1-ubyte.gz", "wb").write(struct.pack(">II", magic, n) + labels[8:8 + n])
for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
    shutil.copy(src + f, ".gpu/data/" + f)
PY
du -sh .gpu .gl
