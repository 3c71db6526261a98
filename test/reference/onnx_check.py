#!/usr/bin/python3
"""Independent validation of an ONNX file with Debian's python3-onnx.

Usage: onnx_check.py MODEL.onnx [--json]
Runs onnx.checker.check_model(full_check=True) and strict shape inference, then prints a
JSON summary (value_info shapes, parameter count, training_info facts) for the tests.
Exit 1 with the checker's message on failure.
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


def dims(t):
    return [d.dim_param if d.dim_param else d.dim_value for d in t.tensor_type.shape.dim]


def main():
    path = sys.argv[1]
    m = onnx.load(path)
    try:
        onnx.checker.check_model(m, full_check=True)
        inferred = shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    except Exception as e:  # noqa: BLE001 - report whatever the checker says
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    g = m.graph
    params = sum(int(np.prod(t.dims)) for t in g.initializer if t.data_type in (1, 11) and int(np.prod(t.dims)) > 1)
    out = {
        "ir_version": m.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "params": params,
        "inputs": {v.name: dims(v.type) for v in g.input},
        "outputs": {v.name: dims(v.type) for v in g.output},
        "value_info": {v.name: dims(v.type) for v in g.value_info},
        "inferred_value_info": {v.name: dims(v.type) for v in inferred.graph.value_info},
        "metadata": {p.key: p.value for p in m.metadata_props},
        "training_info": [
            {
                "algorithm_nodes": len(t.algorithm.node),
                "algorithm_inputs": [v.name for v in t.algorithm.input],
                "algorithm_outputs": [v.name for v in t.algorithm.output],
                "algorithm_initializers": [i.name for i in t.algorithm.initializer],
                "update_binding": {b.key: b.value for b in t.update_binding},
                "initialization_binding": {b.key: b.value for b in t.initialization_binding},
            }
            for t in m.training_info
        ],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
