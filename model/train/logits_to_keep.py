#!/usr/bin/env python3
"""Adds the int64 scalar input `num_logits_to_keep` to an exported decoder, in place.

  python3 model/train/logits_to_keep.py model/default-model/onnx/model.onnx [more.onnx ...]

The hidden states are sliced to their last `num_logits_to_keep` positions before the lm_head, the
argument transformers' causal LMs take as `logits_to_keep`. A prefill chunk of n tokens then computes
one row of logits instead of n: for the built-in model (hidden 512, vocabulary 16,384) the lm_head is
about a fifth of a chunk's work and its [n, vocab] output 16 MiB per 256 tokens. Every other value is
unchanged, and feeding n gives the graph it was before. The engine feeds it when a graph has it
(model/onnxSession.ts).
"""
import sys

import onnx
from onnx import TensorProto, helper

NAME = "num_logits_to_keep"


def convert(path):
    m = onnx.load(path)
    g = m.graph
    if any(i.name == NAME for i in g.input):
        return False
    producer = {o: n for n in g.node for o in n.output}
    head = producer["logits"]
    hidden = head.input[0]
    p = "/logits_to_keep/"
    g.input.append(helper.make_tensor_value_info(NAME, TensorProto.INT64, []))
    nodes = [
        helper.make_node("Constant", [], [p + "one"], name=p + "one", value=helper.make_tensor("one", TensorProto.INT64, [1], [1])),
        helper.make_node("Neg", [NAME], [p + "neg"], name=p + "Neg"),
        helper.make_node("Reshape", [p + "neg", p + "one"], [p + "starts"], name=p + "Reshape"),
        helper.make_node("Constant", [], [p + "ends"], name=p + "ends", value=helper.make_tensor("ends", TensorProto.INT64, [1], [2**62])),
        helper.make_node("Slice", [hidden, p + "starts", p + "ends", p + "one"], [p + "hidden"], name=p + "Slice"),
    ]
    head.input[0] = p + "hidden"
    at = list(g.node).index(head)
    for i, n in enumerate(nodes):
        g.node.insert(at + i, n)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return True


if __name__ == "__main__":
    for f in sys.argv[1:]:
        print(f, "converted" if convert(f) else "already has " + NAME)
