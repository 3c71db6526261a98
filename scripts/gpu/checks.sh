#!/bin/bash
# The GPU checks behind docs/execution-providers.md, on a machine prepared by bundle.sh's files
# (carry .gpu and .gl): profile of the WebGPU step, agreement with the CPU provider and speed next
# to PyTorch on the same GPU, and a short AlexNet training run. Output goes to $OUT (or ./gpu-out).
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
T0=$(date +%s); stamp() { echo "=== $1 at +$(( $(date +%s) - T0 )) s"; }
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
mkdir -p /tmp/nodebin && xz -dc .gpu/node.xz > /tmp/nodebin/node && chmod +x /tmp/nodebin/node
export PATH=/tmp/nodebin:$PATH
[ -d node_modules/onnxruntime-node ] || tar -xJf .gpu/nm.tar.xz
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
quiet() { grep -v VerifyEachNode; }
stamp profile
timeout 60 node --require tsx/cjs scripts/profile-step.ts --ep webgpu --batch 32 --runs 3 --top 20 2>&1 | quiet | tee "$OUT/profile-webgpu.txt"
stamp bench
timeout 120 node --require tsx/cjs scripts/bench-gpu.ts --ep webgpu --batches 32,128 --reps 10 2>&1 | quiet | tee "$OUT/bench-webgpu.txt"
stamp train
timeout 110 node bin/alexc.js train models/alexnet.ts --ep webgpu --epochs 2 --batch-size 128 --train-limit 4096 --test-limit 2000 \
  --data .gpu/data --out /tmp/alexc-webgpu 2>&1 | quiet | tee "$OUT/train-webgpu.txt"
stamp done
