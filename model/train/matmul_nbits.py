#!/usr/bin/env python3
"""Rewrites the exported model's int8 weights as onnxruntime MatMulNBits (8 bits), in place.

  python3 model/train/matmul_nbits.py model/default-model/onnx/model.onnx

export_onnx.py stores every weight matrix as int8 with one float32 scale per output column behind a
DequantizeLinear. onnxruntime folds those into float32 at session creation: ~200 MB resident for a
32 MB file (the folded copies plus the prepacked ones), and every forward pass reads float32 weights.
MatMulNBits (com.microsoft, bits=8) keeps the same int8 values in memory and multiplies with int8
kernels (accuracy_level 4: activations quantized per block of `BLOCK` along K, per token). The weights
are represented exactly (each column's scale repeated for each of its blocks, q + 128 with the default
zero point 128); only the activations' rounding is new. Measured on the built-in model: bits per
character on the evaluation packages 0.9175 -> 0.9178, resident memory after load -116 MB, decode
-35 % ms/token, prefill unchanged (bench/memoryBreakdown.ts and bench:bpc).

The tied embedding reads the lm_head's packed bytes: Gather rows of B ([vocab, blocks, BLOCK] uint8),
then (q - 128) * scale[id], so the matrix is stored once.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BLOCK = 128
ACCURACY_LEVEL = 4


def convert(path, block=BLOCK, accuracy_level=ACCURACY_LEVEL):
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for idx, name in enumerate(n.input):
            consumers.setdefault(name, []).append((n, idx))
    replace = {}  # id(node) -> nodes to put in its place ([] drops it)
    added = []
    for dq in [n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]:
        q = numpy_helper.to_array(inits[dq.input[0]])
        scale = numpy_helper.to_array(inits[dq.input[1]]).astype(np.float32)
        zero = numpy_helper.to_array(inits[dq.input[2]]) if len(dq.input) > 2 and dq.input[2] else None
        if q.dtype != np.int8 or q.ndim != 2 or scale.ndim != 1 or (zero is not None and np.any(zero != 0)):
            raise SystemExit(f"{dq.input[0]}: expected symmetric per-column int8 weights")
        k, n_out = q.shape
        blocks = (k + block - 1) // block
        padded = np.zeros((blocks * block, n_out), dtype=np.int16)
        padded[:k] = q
        b_name, s_name = dq.output[0] + "_nbits_B", dq.output[0] + "_nbits_scales"
        added.append(numpy_helper.from_array((padded + 128).astype(np.uint8).T.reshape(n_out, blocks, block).copy(), b_name))
        added.append(numpy_helper.from_array(np.repeat(scale, blocks).astype(np.float32), s_name))
        col_scale = None
        for node, idx in consumers.get(dq.output[0], []):
            if node.op_type == "MatMul" and idx == 1:
                replace[id(node)] = [helper.make_node(
                    "MatMulNBits", [node.input[0], b_name, s_name], list(node.output), domain="com.microsoft",
                    name=node.name + "_nbits", K=k, N=n_out, bits=8, block_size=block, accuracy_level=accuracy_level)]
            elif node.op_type == "Gather" and idx == 0 and [a.i for a in node.attribute if a.name == "axis"] == [1]:
                # export_onnx.py's tied embedding: Gather(lm_head [hidden, vocab], ids, axis=1) -> Transpose(1, 2, 0).
                transpose = [t for t, _ in consumers.get(node.output[0], [])]
                if len(transpose) != 1 or transpose[0].op_type != "Transpose":
                    raise SystemExit(f"{node.name}: expected the embedding's Gather to feed one Transpose")
                if col_scale is None:
                    col_scale = dq.output[0] + "_nbits_col_scale"
                    added.append(numpy_helper.from_array(scale, col_scale))
                    added.append(numpy_helper.from_array(np.array([0, 0, k], dtype=np.int64), col_scale + "_shape"))
                    added.append(numpy_helper.from_array(np.array(128.0, dtype=np.float32), col_scale + "_zero"))
                    added.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), col_scale + "_axes"))
                base = node.output[0]
                ids = node.input[1]
                replace[id(node)] = [
                    helper.make_node("Gather", [b_name, ids], [base + "_rows"], axis=0, name=node.name + "_rows"),
                    helper.make_node("Reshape", [base + "_rows", col_scale + "_shape"], [base + "_u8"]),
                    helper.make_node("Cast", [base + "_u8"], [base + "_f"], to=TensorProto.FLOAT),
                    helper.make_node("Sub", [base + "_f", col_scale + "_zero"], [base + "_q"]),
                    helper.make_node("Gather", [col_scale, ids], [base + "_s"], axis=0, name=node.name + "_scale"),
                    helper.make_node("Unsqueeze", [base + "_s", col_scale + "_axes"], [base + "_s1"]),
                    helper.make_node("Mul", [base + "_q", base + "_s1"], list(transpose[0].output)),
                ]
                replace[id(transpose[0])] = []
            else:
                raise SystemExit(f"{dq.output[0]} feeds {node.op_type} input {idx}: not a weight this script knows")
        replace[id(dq)] = []
    nodes = list(g.node)
    del g.node[:]
    for n in nodes:
        g.node.extend(replace.get(id(n), [n]))
    used = {name for n in g.node for name in n.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(kept + added)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.checker.check_model(m)
    onnx.save(m, path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        convert(p)
        print(p)
