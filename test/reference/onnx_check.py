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


def check_training(m):
    """The rules of the ONNX IR spec for training_info (docs/IR.md, "Training Related Information"),
    which onnx.checker leaves unchecked: binding keys are unique and name initialisers (dense or
    sparse) of the inference graph or the algorithm; update values are algorithm outputs;
    initialization values are outputs of the initialization graph, which is itself a valid model
    whose outputs have the bound initialisers' types; and the inference graph followed by the
    algorithm (the spec's combined graph), with each state tensor as it is held while training,
    passes the checker and strict shape inference."""
    declared = {t.name: (t.data_type, list(t.dims)) for t in m.graph.initializer}
    for t in m.training_info:
        alg = t.algorithm
        inits = dict(declared)
        inits.update({i.name: (i.data_type, list(i.dims)) for i in alg.initializer})
        for s in alg.sparse_initializer:
            onnx.checker.check_sparse_tensor(s)
            inits[s.values.name] = (s.values.data_type, list(s.dims))
        keys = [b.key for b in t.update_binding] + [b.key for b in t.initialization_binding]
        for bindings in (t.update_binding, t.initialization_binding):
            names = [b.key for b in bindings]
            if len(set(names)) != len(names):
                raise ValueError("binding keys are not unique")
        for k in keys:
            if k not in inits:
                raise ValueError(f"binding key '{k}' names no initializer")
        alg_outputs = {o.name for o in alg.output}
        for b in t.update_binding:
            if b.value not in alg_outputs:
                raise ValueError(f"update_binding value '{b.value}' is no algorithm output")
        if t.initialization_binding:
            init = onnx.helper.make_model(t.initialization, opset_imports=m.opset_import)
            init.ir_version = m.ir_version
            onnx.checker.check_model(init, full_check=True)
            outs = {o.name: o.type.tensor_type for o in shape_inference.infer_shapes(init, check_type=True, strict_mode=True).graph.output}
            for b in t.initialization_binding:
                if b.value not in outs:
                    raise ValueError(f"initialization_binding value '{b.value}' is no output of the initialization graph")
                got = (outs[b.value].elem_type, dims(type_of(outs[b.value])))
                if got != inits[b.key]:
                    raise ValueError(f"initialization creates '{b.key}' as {got}, its initializer declares {inits[b.key]}")
        # The combined graph's types, without copying the weights (the main check read them): every
        # initializer of the inference graph becomes a typed input. A sparse state tensor is held
        # dense while training (onnx types a sparse initializer as a sparse tensor, which dense ops
        # do not take), so it is declared as the dense tensor the initialization creates.
        combined = onnx.GraphProto(name=f"{m.graph.name}+{alg.name}")
        for field in ("node", "input", "output", "value_info"):
            getattr(combined, field).extend(getattr(m.graph, field))
            getattr(combined, field).extend(getattr(alg, field))
        combined.initializer.extend(alg.initializer)
        held = [(t.name, t.data_type, list(t.dims)) for t in m.graph.initializer]
        held += [(s.values.name, s.values.data_type, list(s.dims)) for s in alg.sparse_initializer]
        graph_inputs = {v.name for v in combined.input}
        combined.input.extend(onnx.helper.make_tensor_value_info(n, dt, d) for n, dt, d in held if n not in graph_inputs)
        cm = onnx.helper.make_model(combined, opset_imports=m.opset_import)
        cm.ir_version = m.ir_version
        onnx.checker.check_model(cm, full_check=True)


def type_of(tensor_type):
    t = onnx.TypeProto()
    t.tensor_type.CopyFrom(tensor_type)
    return t


def main():
    path = sys.argv[1]
    m = onnx.load(path)
    try:
        onnx.checker.check_model(m, full_check=True)
        inferred = shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        check_training(m)
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
                "algorithm_sparse_initializers": [s.values.name for s in t.algorithm.sparse_initializer],
                "initialization_outputs": [v.name for v in t.initialization.output],
                "update_binding": {b.key: b.value for b in t.update_binding},
                "initialization_binding": {b.key: b.value for b in t.initialization_binding},
            }
            for t in m.training_info
        ],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
