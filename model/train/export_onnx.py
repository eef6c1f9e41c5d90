#!/usr/bin/env python3
"""Exports trained weights (weights.npz from train.py) to a Hugging Face / transformers.js model folder.

  /usr/bin/python3 model/train/export_onnx.py --run .corpus/run --tokenizer .corpus/tokenizer.json --out model/default-model

Uses the classic TorchScript exporter (torch 1.13 here; pass dynamo=False on torch >= 2.9). The graph
has the optimum/transformers.js interface: inputs input_ids, attention_mask, position_ids,
past_key_values.{i}.key|value; outputs logits, present.{i}.key|value; KV [batch, kv_heads, seq, head_dim].
Then the file is shrunk without changing a single computed value: every weight matrix is stored as
int8 with a float32 scale per output channel (the training run's fake quantization makes these the
trained weights), and the tied embedding is stored once (the lm_head matrix, gathered along its vocab
axis): onnx/model.onnx, which onnxruntime folds into float32 at load (exact float32 numerics). Then
onnx/model_quantized.onnx, the one that loads by default (config.json's transformers.js_config.dtype
"q8"): matmul_nbits.py turns each DequantizeLinear + MatMul into onnxruntime's MatMulNBits (8 bits,
the same int8 values), so the weights stay int8 in memory and multiply with int8 kernels. Both files
then get the input num_logits_to_keep (logits_to_keep.py): a prefill computes only the rows it needs.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama import Llama, OnnxWrapper  # noqa: E402
from matmul_nbits import convert as to_matmul_nbits  # noqa: E402
from logits_to_keep import convert as add_logits_to_keep  # noqa: E402


def load_model(run):
    info = json.load(open(os.path.join(run, "training.json")))
    a = info["arch"]
    model = Llama(a["vocab"], a["hidden"], a["layers"], a["heads"], a["kv_heads"], a["ffn"], a["rope_theta"])
    z = np.load(os.path.join(run, "weights.npz"))
    sd = {}
    for key in z.files:
        if key.endswith(".q"):
            name = key[:-2]
            sd[name] = torch.from_numpy(z[key].astype(np.float32) * z[name + ".scale"][:, None])
        elif not key.endswith(".scale"):
            sd[key] = torch.from_numpy(z[key])
    model.load_state_dict(sd, strict=False)
    model.eval()
    return model, info


def export(model, path):
    n = len(model.layers)
    kvh, hd = model.cfg["kv_heads"], model.cfg["hidden"] // model.cfg["heads"]
    past_len, t = 3, 2
    ids = torch.tensor([[5, 7]], dtype=torch.int64)
    mask = torch.ones(1, past_len + t, dtype=torch.int64)
    pos = torch.tensor([[past_len, past_len + 1]], dtype=torch.int64)
    past = []
    for _ in range(n):
        past += [torch.randn(1, kvh, past_len, hd), torch.randn(1, kvh, past_len, hd)]
    in_names = ["input_ids", "attention_mask", "position_ids"]
    out_names = ["logits"]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(n):
        for kind in ("key", "value"):
            in_names.append(f"past_key_values.{i}.{kind}")
            out_names.append(f"present.{i}.{kind}")
            axes[f"past_key_values.{i}.{kind}"] = {0: "batch_size", 2: "past_sequence_length"}
            axes[f"present.{i}.{kind}"] = {0: "batch_size", 2: "total_sequence_length"}
    kwargs = dict(input_names=in_names, output_names=out_names, dynamic_axes=axes, opset_version=17, do_constant_folding=True)
    if tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 9):
        kwargs["dynamo"] = False
    with torch.no_grad():
        torch.onnx.export(OnnxWrapper(model), (ids, mask, pos, *past), path, **kwargs)


def shrink(path, vocab):
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for node in g.node:
        for idx, inp in enumerate(node.input):
            consumers.setdefault(inp, []).append((node, idx))
    new_inits, new_nodes = [], []
    embed_gather = None
    lm_head = None
    for name, init in list(inits.items()):
        arr = numpy_helper.to_array(init)
        if arr.ndim != 2 or arr.dtype != np.float32:
            continue
        uses = consumers.get(name, [])
        if any(n.op_type == "Gather" for n, _ in uses):
            embed_gather = (name, arr, uses)
            continue
        if arr.shape[1] == vocab:
            lm_head = name
        # MatMul weights are [in, out]: one scale per output column.
        scale = np.maximum(np.abs(arr).max(axis=0), 1e-8) / 127.0
        q = np.clip(np.round(arr / scale), -127, 127).astype(np.int8)
        g.initializer.remove(init)
        new_inits += [numpy_helper.from_array(q, name + "_q"), numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
                      numpy_helper.from_array(np.zeros(arr.shape[1], dtype=np.int8), name + "_zero")]
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zero"], [name], axis=1, name=name + "_dq"))
    if embed_gather and lm_head:
        name, arr, uses = embed_gather
        head = [i for i in new_inits if i.name == lm_head + "_q"][0]
        head_scale = [i for i in new_inits if i.name == lm_head + "_scale"][0]
        deq = numpy_helper.to_array(head).astype(np.float32) * numpy_helper.to_array(head_scale)
        if np.abs(deq.T - arr).max() > 1e-5:
            raise SystemExit("embedding and lm_head differ: refusing to tie them")
        g.initializer.remove(inits[name])
        for node, idx in uses:
            gathered = node.output[0] + "_dv"
            out = node.output[0]
            node.input[0] = lm_head
            node.output[0] = gathered
            del node.attribute[:]
            node.attribute.append(helper.make_attribute("axis", 1))
            new_nodes.append(helper.make_node("Transpose", [gathered], [out], perm=[1, 2, 0], name=node.name + "_t"))
    g.initializer.extend(new_inits)
    # Dequantize nodes first, then the rest in order, then the transposes after their Gathers (topological).
    nodes = list(g.node)
    del g.node[:]
    dq = [n for n in new_nodes if n.op_type == "DequantizeLinear"]
    tr = {n.input[0]: n for n in new_nodes if n.op_type == "Transpose"}
    g.node.extend(dq)
    for n in nodes:
        g.node.append(n)
        if n.output[0] in tr:
            g.node.append(tr[n.output[0]])
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=".corpus/run")
    ap.add_argument("--tokenizer", default=".corpus/tokenizer.json")
    ap.add_argument("--out", default="model/default-model")
    ap.add_argument("--max-positions", type=int, default=None)
    args = ap.parse_args()
    model, info = load_model(args.run)
    a = info["arch"]
    os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
    onnx_path = os.path.join(args.out, "onnx", "model.onnx")
    export(model, onnx_path)
    shrink(onnx_path, a["vocab"])
    quantized_path = os.path.join(args.out, "onnx", "model_quantized.onnx")
    shutil.copy(onnx_path, quantized_path)
    to_matmul_nbits(quantized_path)
    for path in (onnx_path, quantized_path):
        add_logits_to_keep(path)
    tj = json.load(open(args.tokenizer, encoding="utf-8"))
    added = {t["content"]: t["id"] for t in tj["added_tokens"]}
    eos = added["<|endoftext|>"]
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": a["vocab"],
        "hidden_size": a["hidden"], "intermediate_size": a["ffn"], "num_hidden_layers": a["layers"],
        "num_attention_heads": a["heads"], "num_key_value_heads": a["kv_heads"], "head_dim": a["hidden"] // a["heads"],
        "hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": a["rope_theta"], "rope_scaling": None,
        "max_position_embeddings": args.max_positions or max(info["seq"], 2048), "tie_word_embeddings": True,
        "attention_bias": False, "bos_token_id": None, "eos_token_id": eos, "pad_token_id": added["<fim_pad>"],
        "torch_dtype": "float32", "transformers.js_config": {"kv_cache_dtype": "float32", "dtype": "q8"},
    }
    # TypeGuide's own key: FIM only when training made it help (the middle's loss given prefix and
    # suffix beats the loss given the prefix alone on held-apart code), in the order it was trained.
    fim_loss, l2r_loss = info.get("fimMiddleLoss"), info.get("l2rMiddleLoss")
    config["fim_order"] = info.get("fimOrder", "psm") if fim_loss is None or fim_loss < l2r_loss else "none"
    json.dump(config, open(os.path.join(args.out, "config.json"), "w"), indent=2)
    json.dump({"eos_token_id": eos, "pad_token_id": added["<fim_pad>"], "max_new_tokens": 64, "do_sample": False},
              open(os.path.join(args.out, "generation_config.json"), "w"), indent=2)
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": config["max_position_embeddings"],
               "bos_token": None, "eos_token": "<|endoftext|>", "unk_token": None, "pad_token": "<fim_pad>",
               "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False,
               "additional_special_tokens": ["<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<file_sep>"]},
              open(os.path.join(args.out, "tokenizer_config.json"), "w"), indent=2)
    shutil.copy(args.tokenizer, os.path.join(args.out, "tokenizer.json"))
    info = dict(info)
    info["onnxBytes"] = os.path.getsize(onnx_path)
    info["exportCommand"] = "python3 " + " ".join(sys.argv)
    json.dump(info, open(os.path.join(args.out, "training.json"), "w"), indent=1)
    print(json.dumps({"out": args.out, "onnxBytes": info["onnxBytes"], "params": info["params"]}))


if __name__ == "__main__":
    main()
