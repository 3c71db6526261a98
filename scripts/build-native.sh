#!/usr/bin/env bash
# Builds alexc's onnxruntime binding for the CPU training step (src/train/native/ort-session.cc)
# into build/native/alexc_ort.node, with the C++ compiler and the Node-API headers of the Node.js
# that runs it. `npm ci` runs this (package.json "postinstall"); without a compiler alexc still
# works, with onnxruntime-node's own binding for every run (src/train/native-session.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
include="$(node -p 'require("path").resolve(process.execPath, "../../include/node")')"
[ -f "$include/node_api.h" ] || { echo "build-native: no Node-API headers at $include" >&2; exit 1; }
mkdir -p build/native
tmp="build/native/alexc_ort.node.$$"
"${CXX:-g++}" -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Werror -DNODE_GYP_MODULE_NAME=alexc_ort \
  -I"$include" src/train/native/ort-session.cc -o "$tmp" -ldl
mv "$tmp" build/native/alexc_ort.node
