#!/usr/bin/env bash
# Builds alexc's onnxruntime binding for the CPU training step (src/train/native/ort-session.cc)
# into build/native/alexc_ort.node, with the C++ compiler and the Node-API headers of the Node.js
# that runs it (or of the node-api-headers package). `npm ci` runs this (package.json
# "postinstall"); without a compiler alexc still works, with onnxruntime-node's own binding for
# every run (src/train/native-session.ts). Where `mpicxx` exists (Open MPI: libopenmpi-dev) it also
# builds alexc's MPI binding (src/train/native/mpi.cc) into build/native/alexc_mpi.node for
# `alexc train --dist mpi`; without it everything else still builds and works.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node's own headers where its installation has them, else the node-api-headers package's.
include="$(node -p 'require("path").resolve(process.execPath, "../../include/node")')"
[ -f "$include/node_api.h" ] || include="$(node -p 'require("node-api-headers").include_dir' 2>/dev/null || true)"
[ -f "$include/node_api.h" ] || { echo "build-native: no Node-API headers (Node's include/node, or node_modules/node-api-headers)" >&2; exit 1; }
mkdir -p build/native
tmp="build/native/alexc_ort.node.$$"
"${CXX:-g++}" -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Werror -DNODE_GYP_MODULE_NAME=alexc_ort \
  -I"$include" src/train/native/ort-session.cc -o "$tmp" -ldl
mv "$tmp" build/native/alexc_ort.node

if command -v "${MPICXX:-mpicxx}" >/dev/null 2>&1; then
  tmp="build/native/alexc_mpi.node.$$"
  # OMPI_SKIP_MPICXX / MPICH_SKIP_MPICXX: the C API alone, without the deprecated C++ bindings.
  if "${MPICXX:-mpicxx}" -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Werror -DOMPI_SKIP_MPICXX -DMPICH_SKIP_MPICXX -DNODE_GYP_MODULE_NAME=alexc_mpi \
    -I"$include" src/train/native/mpi.cc -o "$tmp" -ldl; then
    mv "$tmp" build/native/alexc_mpi.node
  else
    rm -f "$tmp"
    echo "build-native: the MPI binding did not build: alexc train --dist mpi will say so" >&2
  fi
else
  echo "build-native: no mpicxx (libopenmpi-dev): alexc train --dist mpi will say so" >&2
fi
