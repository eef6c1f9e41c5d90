#!/usr/bin/env python3
"""Small random-weight stand-ins of the Hub's ONNX exports of real code models, as test fixtures.

Each family is built with transformers' own model class from a tiny config shaped like the real one
(same attention layout, biases, norms, RoPE settings), given a small byte-level BPE tokenizer trained
on this repository's own TypeScript in the family's tokenizer.json format with its FIM tokens, and
exported with the TorchScript exporter in the transformers.js/optimum I/O layout (input_ids,
attention_mask, position_ids, past_key_values.N.key|value -> logits, present.N.key|value; KV
[batch, kv_heads, seq, head_dim]), in the file layouts the Hub has:

  qwen2            onnx/model.onnx + model.onnx_data (external data), model_quantized.onnx (int8,
                   MatMulInteger), model_q4.onnx (4-bit MatMulNBits), model_fp16.onnx (float16 weights,
                   KV cache and logits; rotary angles in float32); config.json in the transformers 4.x
                   form (top-level rope_theta, rope_scaling)
  deepseek-coder   onnx/decoder_model_merged.onnx + .onnx_data (merged decoder: bool use_cache_branch
                   chooses the with-past or the no-past graph) and decoder_model_merged_quantized.onnx;
                   config.json in the transformers 5 form (rope_parameters: linear x4, theta 1e5)
  starcoder2       onnx/model.onnx (inline fp32), model_quantized.onnx; transformers 5 form
  starcoder2-nopos the same weights exported without a position_ids input (positions follow from
                   the attention mask, as fused-attention exports do)
  kv-layout-bshd[-dynamic]  a one-layer export with KV as [batch, seq, kv_heads, head_dim] (declared
                   shapes fixed, or all symbolic): layouts the loader must refuse
  rope-reference.json  transformers' own inv_freq for RoPE settings in 4.x and 5 configs (--rope-reference)

Beside each family: expected.json with the transformers (PyTorch) logits for a fixed input, the logits
Python's onnxruntime gives for each file, a tokenizer sample with the Rust tokenizers' ids and
transformers' inv_freq, so that the Node tests check the loader against all of them.

Run with a venv holding torch, transformers, onnx, onnx-ir, onnxruntime and tokenizers (this image's
local wheel store: `pip install --no-index --find-links /opt/wheels --find-links /opt/pypi/files ...`):
  python3 -m venv /work/venv && /work/venv/bin/pip install torch transformers onnx onnx-ir onnxruntime tokenizers
  /work/venv/bin/python scripts/standins/make_standins.py            # every fixture (a few seconds)
  /work/venv/bin/python scripts/standins/make_standins.py qwen2      # one
  /work/venv/bin/python scripts/standins/make_standins.py --rope-reference
  /work/venv/bin/python scripts/standins/make_standins.py --real-shape DIR   # 0.5B-shaped, ~4 GB, not a fixture
It rewrites test/fixtures/models/<name>/ and is deterministic for a given set of library versions
(the tokenizers train on this repository's .ts files at CORPUS_COMMIT, read from git).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import DynamicCache, GPTJConfig, GPTJForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Starcoder2Config, Starcoder2ForCausalLM

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / 'test' / 'fixtures' / 'models'
OPSET = 17

# ---------------------------------------------------------------------------------------------
# Tokenizers

QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# DeepSeek-Coder's sequence of Splits (its letter class shortened to Latin ranges) then digits, then ByteLevel.
DEEPSEEK_SPLITS = [r'[\r\n]', r'\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯ]+', r'\s?[!-/:-~！-／：-～‘-‟　-。]+', r'\s+$', r'[一-龥ࠀ-一가-퟿]+']

SPECIALS = {
    'qwen2': ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>',
              '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>',
              '<tool_call>', '</tool_call>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>'],
    'deepseek-coder': ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜fim▁hole｜>', '<｜fim▁begin｜>', '<｜fim▁end｜>', '<|EOT|>'],
    'starcoder2': ['<|endoftext|>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>', '<fim_pad>', '<repo_name>', '<file_sep>', '<issue_start>',
                   '<issue_comment>', '<issue_closed>', '<jupyter_start>', '<jupyter_text>', '<jupyter_code>', '<jupyter_output>',
                   '<jupyter_script>', '<empty_output>', '<code_to_intermediate>', '<intermediate_to_code>', '<pr>'],
    'gptj': ['<|endoftext|>'],
}


# The tokenizers are trained on this repository's own TypeScript as of this commit, read from git so
# that later edits to the sources do not change the fixtures.
CORPUS_COMMIT = '7eef022'


def training_texts() -> list[str]:
    """This repository's own TypeScript (sorted, so training is deterministic), special-token literals cut."""
    import subprocess
    specials = sorted({s for group in SPECIALS.values() for s in group}, key=len, reverse=True)
    listing = subprocess.run(['git', 'ls-tree', '-r', '--name-only', CORPUS_COMMIT], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    texts = []
    for path in sorted(listing.splitlines()):
        if not path.endswith('.ts') or path.split('/')[0] not in ('model', 'engine', 'extension', 'language-monitor', 'cli', 'bench') or '/fixtures/' in path:
            continue
        text = subprocess.run(['git', 'show', f'{CORPUS_COMMIT}:{path}'], cwd=ROOT, check=True, capture_output=True).stdout.decode('utf-8')
        for s in specials:
            text = text.replace(s, '')
        texts.append(text)
    if not texts:
        raise SystemExit(f'no .ts files found at {CORPUS_COMMIT} to train the tokenizers on')
    return texts


def make_tokenizer(family: str, texts: list[str], vocab: int) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    specials = SPECIALS[family]
    if family == 'qwen2':
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(pattern=_regex(QWEN2_SPLIT), behavior='isolated', invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    elif family == 'deepseek-coder':
        tok.normalizer = normalizers.Sequence([])
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            *[pre_tokenizers.Split(pattern=_regex(p), behavior='isolated', invert=False) for p in DEEPSEEK_SPLITS],
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    elif family == 'gptj':
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)  # GPT-2's
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
    tok.decoder = decoders.ByteLevel()
    # StarCoder2 numbers its special tokens first; Qwen2 and DeepSeek-Coder append them after the BPE vocabulary.
    first = specials if family == 'starcoder2' else []
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False, special_tokens=first,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    if family != 'starcoder2':
        tok.add_special_tokens(specials)
    else:
        tok.add_special_tokens(specials)  # marks the trained-in ones as special added tokens
    if family == 'deepseek-coder':
        bos = '<｜begin▁of▁sentence｜>'
        tok.post_processor = processors.TemplateProcessing(single=f'{bos} $A', pair=f'{bos} $A {bos} $B', special_tokens=[(bos, tok.token_to_id(bos))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def _regex(pattern: str):
    from tokenizers import Regex
    return Regex(pattern)


# ---------------------------------------------------------------------------------------------
# Models

def family_config(family: str, vocab_size: int, tok: Tokenizer):
    common = dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2, initializer_range=0.15)
    if family == 'qwen2':
        eos = tok.token_to_id('<|endoftext|>')
        # Qwen2.5-Coder-0.5B: 14 heads / 2 kv heads, theta 1e6, q/k/v biases (built into Qwen2), tied embeddings.
        return Qwen2Config(**common, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                           rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0}, tie_word_embeddings=True,
                           rms_norm_eps=1e-6, bos_token_id=eos, eos_token_id=eos, sliding_window=None, use_sliding_window=False,
                           attn_implementation='eager')
    if family == 'deepseek-coder':
        # DeepSeek-Coder-1.3B base: Llama, 16 heads without GQA, linear RoPE scaling x4, theta 1e5.
        return LlamaConfig(**common, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=16384,
                           rope_parameters={'rope_type': 'linear', 'factor': 4.0, 'rope_theta': 100000.0}, tie_word_embeddings=False,
                           rms_norm_eps=1e-6, bos_token_id=tok.token_to_id('<｜begin▁of▁sentence｜>'),
                           eos_token_id=tok.token_to_id('<｜end▁of▁sentence｜>'), attn_implementation='eager')
    if family == 'gptj':
        # GPT-J / CodeGen-style: interleaved rotary pairs on the first rotary_dim dims of each head only.
        eos = tok.token_to_id('<|endoftext|>')
        return GPTJConfig(vocab_size=vocab_size, n_embd=64, n_layer=2, n_head=4, rotary_dim=8, n_positions=2048, n_inner=128,
                          initializer_range=0.15, bos_token_id=eos, eos_token_id=eos, tie_word_embeddings=False, attn_implementation='eager')
    # StarCoder2-3B: GQA (24/2), LayerNorm with bias, biases on every projection, gelu MLP, sliding window 4096.
    eos = tok.token_to_id('<|endoftext|>')
    return Starcoder2Config(**common, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16384,
                            rope_parameters={'rope_type': 'default', 'rope_theta': 999999.4420358813}, sliding_window=4096,
                            use_bias=True, norm_epsilon=1e-5, bos_token_id=eos, eos_token_id=eos, tie_word_embeddings=True,
                            attn_implementation='eager')


MODEL_CLASSES = {'qwen2': Qwen2ForCausalLM, 'deepseek-coder': LlamaForCausalLM, 'starcoder2': Starcoder2ForCausalLM, 'gptj': GPTJForCausalLM}


def head_dim(config) -> int:
    return getattr(config, 'head_dim', None) or config.hidden_size // config.num_attention_heads


def kv_heads(config) -> int:
    return getattr(config, 'num_key_value_heads', None) or config.num_attention_heads


def rotary_reference(model, config) -> dict:
    """The inverse frequencies the model rotates keys by, from the model's own rotary module."""
    rot = getattr(getattr(model, 'model', None), 'rotary_emb', None)
    if rot is not None:
        return {'inv_freq': [float(x) for x in rot.inv_freq.tolist()], 'attention_scaling': float(rot.attention_scaling)}
    # GPT-J: a sinusoid table from create_sinusoidal_positions; the same θ_i as its code computes them.
    dim = config.rotary_dim
    inv = 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.int64) / dim))
    return {'inv_freq': [float(x) for x in inv.float().tolist()], 'attention_scaling': 1.0}


class FlatDecoder(torch.nn.Module):
    """The HF model with the flat KV inputs/outputs of the optimum/transformers.js exports."""

    def __init__(self, model, layers: int, with_past: bool, with_positions: bool, seq_major: bool = False):
        super().__init__()
        self.model, self.layers, self.with_past, self.with_positions = model, layers, with_past, with_positions
        self.seq_major = seq_major  # KV as [batch, seq, kv_heads, head_dim]: a layout the loader must refuse

    def forward(self, input_ids, attention_mask, *rest):
        rest = list(rest)
        if self.with_positions:
            position_ids = rest.pop(0)
        else:
            # What fused-attention exports without position_ids do: positions follow from the mask.
            position_ids = (attention_mask.cumsum(-1) - 1)[:, -input_ids.shape[1]:]
        if self.seq_major:
            rest = [x.transpose(1, 2) for x in rest]
        if self.with_past:
            cache = DynamicCache(ddp_cache_data=[(rest[2 * i], rest[2 * i + 1]) for i in range(self.layers)])
        else:
            cache = DynamicCache()
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, past_key_values=cache, use_cache=True)
        flat = []
        for layer in out.past_key_values.layers:
            flat += [layer.keys, layer.values]
        if self.seq_major:
            flat = [x.transpose(1, 2) for x in flat]
        return (out.logits, *flat)


def export(model, config, path: Path, with_past: bool, with_positions: bool = True, kv_dtype=torch.float32, seq_major: bool = False) -> None:
    L, H, D = config.num_hidden_layers, kv_heads(config), head_dim(config)
    seq, past = 3, 5
    names = ['input_ids', 'attention_mask'] + (['position_ids'] if with_positions else [])
    p = past if with_past else 0
    args = [torch.randint(0, 100, (1, seq)), torch.ones(1, p + seq, dtype=torch.int64)]
    if with_positions:
        args.append(torch.arange(p, p + seq).unsqueeze(0))
    axes = {'input_ids': {0: 'batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'batch_size', 1: 'total_sequence_length'},
            'position_ids': {0: 'batch_size', 1: 'sequence_length'}, 'logits': {0: 'batch_size', 1: 'sequence_length'}}
    if with_past:
        for i in range(L):
            for t in ('key', 'value'):
                names.append(f'past_key_values.{i}.{t}')
                args.append(torch.randn(*((1, past, H, D) if seq_major else (1, H, past, D))).to(kv_dtype))
                axes[f'past_key_values.{i}.{t}'] = {0: 'batch_size', 1 if seq_major else 2: 'past_sequence_length'}
    outputs = ['logits'] + [f'present.{i}.{t}' for i in range(L) for t in ('key', 'value')]
    for name in outputs[1:]:
        axes[name] = {0: 'batch_size', 1 if seq_major else 2: 'total_sequence_length'}
    wrapper = FlatDecoder(model, L, with_past, with_positions, seq_major).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(wrapper, tuple(args), str(path), input_names=names, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)


def torch_logits(model, ids: list[int], positions: list[int] | None = None) -> np.ndarray:
    with torch.no_grad():
        x = torch.tensor([ids])
        pos = torch.tensor([positions]) if positions else None
        return model(input_ids=x, attention_mask=torch.ones_like(x), position_ids=pos).logits[0].numpy()


# ---------------------------------------------------------------------------------------------
# ONNX layouts

def dedupe_shared_weights(m: onnx.ModelProto) -> onnx.ModelProto:
    """Constant folding stores tied embeddings twice (Gather table and lm_head's transposed copy stay
    distinct, but identical initializers are merged here)."""
    seen: dict[str, str] = {}
    rename: dict[str, str] = {}
    keep = []
    for init in m.graph.initializer:
        h = _digest(init)
        if h in seen:
            rename[init.name] = seen[h]
        else:
            seen[h] = init.name
            keep.append(init)
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    for node in m.graph.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    return m


def _digest(init: onnx.TensorProto) -> str:
    arr = numpy_helper.to_array(init)
    return hashlib.sha256(f'{init.data_type}:{arr.shape}'.encode() + arr.tobytes()).hexdigest()


def merge_decoders(with_past: onnx.ModelProto, no_past: onnx.ModelProto) -> onnx.ModelProto:
    """optimum's merged decoder: one graph whose If on `use_cache_branch` runs the with-past graph or the
    no-past graph (which ignores past_key_values). Weights are stored once, in the outer graph."""
    outer_inputs = list(with_past.graph.input)
    outer_names = {i.name for i in outer_inputs}
    weights: dict[str, onnx.TensorProto] = {}
    by_digest: dict[str, str] = {}

    def branch(graph: onnx.GraphProto, prefix: str) -> onnx.GraphProto:
        rename: dict[str, str] = {}
        for init in graph.initializer:
            h = _digest(init)
            if h not in by_digest:
                name = f'shared_{len(by_digest)}'
                by_digest[h] = name
                t = copy.deepcopy(init)
                t.name = name
                weights[name] = t
            rename[init.name] = by_digest[h]

        def ref(name: str) -> str:
            if name == '' or name in outer_names:
                return name
            return rename.get(name, prefix + name)

        nodes = []
        for node in graph.node:
            if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
                raise SystemExit(f'{node.op_type} with a subgraph: merge_decoders does not handle nested graphs')
            n = copy.deepcopy(node)
            n.name = prefix + node.name
            n.input[:] = [ref(x) for x in node.input]
            n.output[:] = [prefix + x for x in node.output]
            nodes.append(n)
        outs = [helper.make_tensor_value_info(prefix + o.name, o.type.tensor_type.elem_type, None) for o in graph.output]
        return helper.make_graph(nodes, prefix.rstrip('_'), [], outs)

    then_g = branch(with_past.graph, 'with_past_')
    else_g = branch(no_past.graph, 'no_past_')
    use_cache = helper.make_tensor_value_info('use_cache_branch', onnx.TensorProto.BOOL, [1])
    out_names = [o.name for o in with_past.graph.output]
    cond = helper.make_node('Squeeze', ['use_cache_branch'], ['use_cache_branch_scalar'], name='squeeze_use_cache_branch')
    node = helper.make_node('If', ['use_cache_branch_scalar'], out_names, name='optimum::if', then_branch=then_g, else_branch=else_g)
    graph = helper.make_graph([cond, node], 'merged_decoder', outer_inputs + [use_cache], list(with_past.graph.output), list(weights.values()))
    merged = helper.make_model(graph, opset_imports=list(with_past.opset_import), producer_name='typeguide-standins')
    merged.ir_version = with_past.ir_version
    onnx.checker.check_model(merged)
    return merged


def save(m: onnx.ModelProto, path: Path, external: bool) -> None:
    m = copy.deepcopy(m)  # saving with external data rewrites the proto's tensors in place
    if external:
        onnx.save_model(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=path.name + '_data', size_threshold=0)
    else:
        onnx.save_model(m, str(path))


def quantize_q4(src: onnx.ModelProto, dst: Path) -> None:
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    # transformers.js's q4: MatMul weights to 4 bits in blocks (MatMulNBits), embeddings left in float32.
    q = MatMulNBitsQuantizer(copy.deepcopy(src), bits=4, block_size=32, is_symmetric=True)
    q.process()
    onnx.save_model(q.model.model, str(dst))


def quantize_int8(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # As transformers.js's quantize script does for "quantized"/int8 (MatMulInteger), subgraphs included.
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False, reduce_range=False,
                     extra_options={'EnableSubgraph': True})


def export_fp16(model, config, path: Path) -> None:
    """model_fp16.onnx: float16 weights, KV inputs/outputs and logits, exported from the model in half
    precision, where transformers computes the rotary angles p·θ_i in float32 (a float16 angle near
    p = 1000 would be off by up to 0.25 rad; onnxruntime's float16 converter rounds them even when the
    rotary nodes are on its block list)."""
    half = copy.deepcopy(model).half().eval()
    # .half() also rounds the rotary buffer θ_i to float16 (at p = 900 that moves angles by ~0.4 rad);
    # a model loaded in float16 computes it in float32 at init: put the float32 one back.
    half.model.rotary_emb.inv_freq = model.model.rotary_emb.inv_freq.clone()
    half.model.rotary_emb.original_inv_freq = model.model.rotary_emb.inv_freq.clone()
    export(half, config, path, with_past=True, kv_dtype=torch.float16)


# ---------------------------------------------------------------------------------------------
# onnxruntime (Python) checks and expected values

def ort_run(path: Path, config, ids: list[int], past_len: int, positions: bool = True, merged: bool = False):
    """Runs ids[:past_len] then ids[past_len:] with the cache, returns all logits rows of the second call."""
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    inputs = {i.name: i for i in sess.get_inputs()}
    kv_type = np.float16 if inputs['past_key_values.0.key'].type == 'tensor(float16)' else np.float32
    L, H, D = config.num_hidden_layers, kv_heads(config), head_dim(config)
    past = [np.zeros((1, H, 0, D), kv_type) for _ in range(2 * L)]

    def step(chunk: list[int], start: int, past):
        feeds = {'input_ids': np.array([chunk], np.int64), 'attention_mask': np.ones((1, start + len(chunk)), np.int64)}
        if positions:
            feeds['position_ids'] = np.arange(start, start + len(chunk), dtype=np.int64)[None]
        if merged:
            feeds['use_cache_branch'] = np.array([start > 0])
        for i in range(L):
            feeds[f'past_key_values.{i}.key'] = past[2 * i]
            feeds[f'past_key_values.{i}.value'] = past[2 * i + 1]
        out = sess.run(None, feeds)
        return out[0][0].astype(np.float32), out[1:]

    if past_len > 0:
        _, past = step(ids[:past_len], 0, past)
    logits, _ = step(ids[past_len:], past_len, past)
    return logits


def rounded(a: np.ndarray) -> list:
    return [float(f'{x:.6g}') for x in np.asarray(a, np.float64).ravel()]


# ---------------------------------------------------------------------------------------------

# What tokenizers get wrong: unicode (NFC-sensitive é), CRLF, tabs, digits, a literal FIM marker.
TOKENIZER_TEXT = 'import { readFile } from "node:fs";\r\n\tconst cafe\u0301 = "Grüße, 世界 😀";\r\n  let n = 12345 + 0x1f; // x.length?.map(a => a)\n'
FIXED_TEXT = 'export function area(width: number, height: number): number {\n  return width * height;\n}\n'

FAMILIES = {
    # name: family, tokenizer vocab, config.json form, layouts
    'qwen2': dict(family='qwen2', vocab=640, form='v4', layouts=['model.onnx+data', 'model_quantized.onnx', 'model_q4.onnx', 'model_fp16.onnx']),
    'deepseek-coder': dict(family='deepseek-coder', vocab=640, form='v5', layouts=['decoder_model_merged.onnx+data', 'decoder_model_merged_quantized.onnx']),
    'starcoder2': dict(family='starcoder2', vocab=640, form='v5', layouts=['model.onnx', 'model_quantized.onnx']),
    'gptj': dict(family='gptj', vocab=640, form='v5', layouts=['model.onnx']),
}


def v4_form(cfg: dict) -> dict:
    """config.json as transformers 4.x wrote it (what the Hub's exports carry)."""
    cfg = dict(cfg)
    rp = cfg.pop('rope_parameters', None) or {}
    cfg['rope_theta'] = rp.get('rope_theta', 10000.0)
    kind = rp.get('rope_type', 'default')
    cfg['rope_scaling'] = None if kind == 'default' else {'type': kind, **{k: v for k, v in rp.items() if k not in ('rope_type', 'rope_theta')}}
    cfg.pop('layer_types', None)
    if 'dtype' in cfg:
        cfg['torch_dtype'] = cfg.pop('dtype')
    cfg['transformers_version'] = '4.43.1'
    return cfg


def write_folder(name: str, spec: dict, texts: list[str]) -> None:
    family = spec['family']
    folder = OUT / name
    if folder.exists():
        shutil.rmtree(folder)
    (folder / 'onnx').mkdir(parents=True)
    tok = make_tokenizer(family, texts, spec['vocab'])
    n_tok = tok.get_vocab_size(with_added_tokens=True)
    vocab_size = (n_tok + 63) // 64 * 64 if family == 'qwen2' else n_tok  # Qwen pads its embedding rows
    tok.save(str(folder / 'tokenizer.json'))
    torch.manual_seed(1234)
    config = family_config(family, vocab_size, tok)
    model = MODEL_CLASSES[family](config).eval()
    cfg = json.loads(config.to_json_string())
    cfg['architectures'] = [MODEL_CLASSES[family].__name__]
    cfg.pop('attn_implementation', None)
    cfg['transformers.js_config'] = {'kv_cache_dtype': {'fp16': 'float16'}, 'use_external_data_format': {'model.onnx': True}} if family == 'qwen2' else {}
    if spec['form'] == 'v4':
        cfg = v4_form(cfg)
    (folder / 'config.json').write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + '\n')
    (folder / 'generation_config.json').write_text(json.dumps({'bos_token_id': config.bos_token_id, 'eos_token_id': config.eos_token_id}, indent=2) + '\n')
    tk_cfg = {'model_max_length': config.max_position_embeddings, 'clean_up_tokenization_spaces': False, 'add_bos_token': family == 'deepseek-coder'}
    if family == 'deepseek-coder':
        tk_cfg.update(bos_token='<｜begin▁of▁sentence｜>', eos_token='<｜end▁of▁sentence｜>', pad_token='<｜end▁of▁sentence｜>')
    else:
        tk_cfg.update(eos_token='<|endoftext|>', pad_token='<|fim_pad|>' if family == 'qwen2' else '<|endoftext|>')
    (folder / 'tokenizer_config.json').write_text(json.dumps(tk_cfg, indent=2, ensure_ascii=False) + '\n')

    ids = tok.encode(FIXED_TEXT, add_special_tokens=False).ids[:20]
    reference = torch_logits(model, ids)
    probe = sorted({int(i) for i in np.random.default_rng(7).choice(vocab_size, 24, replace=False)} | set(ids[:8]))
    shift = 1000
    shifted = torch_logits(model, ids, list(range(shift, shift + len(ids))))
    expected = {
        'source': 'scripts/standins/make_standins.py',
        'text': FIXED_TEXT, 'input_ids': ids, 'probe_ids': probe,
        'tokenizer': {'text': TOKENIZER_TEXT, 'ids': tok.encode(TOKENIZER_TEXT, add_special_tokens=False).ids},
        'torch': {'last': rounded(reference[-1]), 'rows_at_probe': [rounded(r[probe]) for r in reference],
                  'shifted_by': shift, 'shifted_last': rounded(shifted[-1])},
        'onnx': {},
        # transformers' own rotation for this config: what PIE must rotate cached keys by.
        'rotary': rotary_reference(model, config),
    }

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        export(model, config, t / 'with_past.onnx', with_past=True)
        with_past = dedupe_shared_weights(onnx.load(str(t / 'with_past.onnx')))
        plain = folder / 'onnx' / 'model.onnx'
        files: list[tuple[str, bool]] = []
        for layout in spec['layouts']:
            if layout in ('model.onnx', 'model.onnx+data'):
                save(with_past, plain, external=layout.endswith('+data'))
                files.append(('model.onnx', False))
            elif layout == 'model_quantized.onnx':
                save(with_past, t / 'fp32.onnx', external=False)
                quantize_int8(t / 'fp32.onnx', folder / 'onnx' / layout)
                files.append((layout, False))
            elif layout == 'model_q4.onnx':
                quantize_q4(with_past, folder / 'onnx' / layout)
                files.append((layout, False))
            elif layout == 'model_fp16.onnx':
                export_fp16(model, config, t / 'fp16.onnx')
                save(dedupe_shared_weights(onnx.load(str(t / 'fp16.onnx'))), folder / 'onnx' / layout, external=False)
                files.append((layout, False))
            elif layout == 'decoder_model_merged.onnx+data':
                export(model, config, t / 'no_past.onnx', with_past=False)
                no_past = onnx.load(str(t / 'no_past.onnx'))
                merged = merge_decoders(with_past, no_past)
                save(merged, folder / 'onnx' / 'decoder_model_merged.onnx', external=True)
                files.append(('decoder_model_merged.onnx', True))
            elif layout == 'decoder_model_merged_quantized.onnx':
                quantize_int8(folder / 'onnx' / 'decoder_model_merged.onnx', folder / 'onnx' / layout)
                files.append((layout, True))
            else:
                raise SystemExit(f'unknown layout {layout}')

        if name == 'starcoder2':
            # The same weights without position_ids, in a folder of its own.
            nopos = OUT / 'starcoder2-nopos'
            if nopos.exists():
                shutil.rmtree(nopos)
            (nopos / 'onnx').mkdir(parents=True)
            for f in ('config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'):
                shutil.copy(folder / f, nopos / f)
            export(model, config, t / 'nopos.onnx', with_past=True, with_positions=False)
            save(dedupe_shared_weights(onnx.load(str(t / 'nopos.onnx'))), nopos / 'onnx' / 'model.onnx', external=False)
            nopos_expected = {**expected, 'onnx': {}}
            check(nopos / 'onnx' / 'model.onnx', config, ids, reference, nopos_expected, positions=False, merged=False)
            (nopos / 'expected.json').write_text(json.dumps(nopos_expected, indent=1) + '\n')

    for file, merged in files:
        check(folder / 'onnx' / file, config, ids, reference, expected, positions=True, merged=merged)
    (folder / 'expected.json').write_text(json.dumps(expected, indent=1) + '\n')
    size = sum(f.stat().st_size for f in folder.rglob('*') if f.is_file())
    print(f'{name}: {n_tok} tokens (vocab_size {vocab_size}), {sum(p.numel() for p in model.parameters())} parameters, {size / 1e6:.2f} MB')


def check(path: Path, config, ids, reference, expected, positions: bool, merged: bool) -> None:
    """Python onnxruntime against transformers, without and with a cache; records its logits."""
    exact = not any(k in path.name for k in ('quantized', 'fp16', 'q4'))
    no_cache = ort_run(path, config, ids, 0, positions, merged)
    cached = ort_run(path, config, ids, len(ids) - 4, positions, merged)
    d_ref = float(np.abs(no_cache - reference).max())
    d_cache = float(np.abs(cached - no_cache[-4:]).max())
    scale = float(np.abs(reference).max())
    print(f'  {path.parent.parent.name}/{path.name}: |onnx - torch| {d_ref:.2e} (logit scale {scale:.1f}), |cached - uncached| {d_cache:.2e}')
    if exact and d_ref > 1e-3:
        raise SystemExit(f'{path}: onnxruntime differs from transformers by {d_ref}')
    # 4-bit blocks of these random (not trained, so not quantization-friendly) weights move logits most.
    if not exact and d_ref > (0.6 if 'q4' in path.name else 0.25) * scale:
        raise SystemExit(f'{path}: onnxruntime differs from transformers by {d_ref} (logit scale {scale})')
    # Dynamic int8 quantization scales activations per call, so chunking a sequence changes its logits.
    if d_cache > (1e-3 if exact else 0.15 * scale):
        raise SystemExit(f'{path}: cached and uncached logits differ by {d_cache}')
    expected['onnx'][path.name] = {'last': rounded(no_cache[-1]), 'max_abs_vs_torch': float(f'{d_ref:.3g}')}


def write_seq_major(texts: list[str], symbolic: bool = False) -> None:
    """kv-layout-bshd: a one-layer StarCoder2 whose KV tensors are [batch, seq, kv_heads, head_dim];
    kv-layout-bshd-dynamic: the same with every KV dim symbolic, so only the first present output
    shows the layout."""
    folder = OUT / ('kv-layout-bshd-dynamic' if symbolic else 'kv-layout-bshd')
    if folder.exists():
        shutil.rmtree(folder)
    (folder / 'onnx').mkdir(parents=True)
    tok = make_tokenizer('starcoder2', texts, 640)
    tok.save(str(folder / 'tokenizer.json'))
    torch.manual_seed(99)
    config = Starcoder2Config(vocab_size=tok.get_vocab_size(with_added_tokens=True), hidden_size=32, intermediate_size=32, num_hidden_layers=1,
                              num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096, use_bias=True,
                              bos_token_id=0, eos_token_id=0, tie_word_embeddings=True, attn_implementation='eager')
    model = Starcoder2ForCausalLM(config).eval()
    cfg = json.loads(config.to_json_string())
    cfg.pop('attn_implementation', None)
    (folder / 'config.json').write_text(json.dumps(cfg, indent=2) + '\n')
    with tempfile.TemporaryDirectory() as tmp:
        export(model, config, Path(tmp) / 'm.onnx', with_past=True, seq_major=True)
        m = dedupe_shared_weights(onnx.load(str(Path(tmp) / 'm.onnx')))
        if symbolic:
            for v in [*m.graph.input, *m.graph.output]:
                if v.name.startswith(('past_key_values.', 'present.')):
                    for k, dim in enumerate(v.type.tensor_type.shape.dim):
                        dim.Clear()
                        dim.dim_param = f'{v.name.split(".")[0]}_dim_{k}'
        save(m, folder / 'onnx' / 'model.onnx', external=False)
    print(f'{folder.name}: {sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6:.2f} MB')


def write_real_shape(out: Path, texts: list[str], layouts: list[str]) -> None:
    """A random-weight model with Qwen2.5-Coder-0.5B's exact shape (24 layers, hidden 896, 14/2 heads,
    head_dim 64, intermediate 4864, vocab 151,936, tied embeddings) for benchmarks at real size. Never
    committed: ~2.5 GB in fp32 (weights in model.onnx_data, as on the Hub). Its tokenizer is the small
    Qwen2 stand-in's (ids below 704), so texts tokenize into more tokens than with the real one."""
    if out.exists():
        shutil.rmtree(out)
    (out / 'onnx').mkdir(parents=True)
    tok = make_tokenizer('qwen2', texts, 640)
    tok.save(str(out / 'tokenizer.json'))
    eos = tok.token_to_id('<|endoftext|>')
    torch.manual_seed(5)
    config = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, max_position_embeddings=32768, rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0},
                         tie_word_embeddings=True, rms_norm_eps=1e-6, bos_token_id=eos, eos_token_id=eos, use_sliding_window=False,
                         sliding_window=None, attn_implementation='eager')
    model = Qwen2ForCausalLM(config).eval()
    cfg = v4_form(json.loads(config.to_json_string()))
    cfg['architectures'] = ['Qwen2ForCausalLM']
    cfg.pop('attn_implementation', None)
    (out / 'config.json').write_text(json.dumps(cfg, indent=2) + '\n')
    (out / 'tokenizer_config.json').write_text(json.dumps({'eos_token': '<|endoftext|>', 'pad_token': '<|fim_pad|>'}, indent=2) + '\n')
    plain = out / 'onnx' / 'model.onnx'
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        export(model, config, Path(tmp) / 'model.onnx', with_past=True)  # > 2 GB: one file per tensor
        m = onnx.load(str(Path(tmp) / 'model.onnx'))
        onnx.save_model(m, str(plain), save_as_external_data=True, all_tensors_to_one_file=True, location='model.onnx_data', size_threshold=1024)
        del m
    ids = tok.encode(FIXED_TEXT, add_special_tokens=False).ids[:16]
    d = float(np.abs(ort_run(plain, config, ids, 0) - torch_logits(model, ids)).max())
    print(f'  {out.name}/model.onnx: |onnx - torch| {d:.2e}')
    if d > 1e-3:
        raise SystemExit(f'{plain}: onnxruntime differs from transformers by {d}')
    del model
    if 'model_quantized.onnx' in layouts:
        quantize_int8(plain, out / 'onnx' / 'model_quantized.onnx')
    if 'model_q4.onnx' in layouts:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        q = MatMulNBitsQuantizer(str(plain), bits=4, block_size=32, is_symmetric=True)
        q.process()
        onnx.save_model(q.model.model, str(out / 'onnx' / 'model_q4.onnx'))  # ~0.85 GB: one file, as on the Hub
    for f in sorted((out / 'onnx').iterdir()):
        print(f'  {f.name}: {f.stat().st_size / 1e6:.0f} MB')


def write_rope_reference() -> None:
    """rope-reference.json: transformers' own inverse frequencies for the RoPE settings the families use,
    from config.json files in the transformers 5 form (rope_parameters) and in the 4.x form (rope_theta,
    rope_scaling), so that the engine's reading of them is checked against the library itself."""
    from transformers import GPTNeoXConfig, PhiConfig
    from transformers.models.gpt_neox.modeling_gpt_neox import GPTNeoXRotaryEmbedding
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    from transformers.models.phi.modeling_phi import PhiRotaryEmbedding
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding
    from transformers.models.starcoder2.modeling_starcoder2 import Starcoder2RotaryEmbedding

    shape = dict(vocab_size=1000, hidden_size=256, num_hidden_layers=2, num_attention_heads=4)
    legacy_base = {**shape, 'model_type': 'llama', 'num_key_value_heads': 4, 'max_position_embeddings': 16384, 'transformers_version': '4.43.1'}
    cases = [
        ('qwen2 (5.x, theta 1e6)', Qwen2Config, Qwen2RotaryEmbedding, {**shape, 'num_key_value_heads': 2, 'rope_parameters': {'rope_type': 'default', 'rope_theta': 1e6}}, None),
        ('deepseek-coder (5.x, linear x4, theta 1e5)', LlamaConfig, LlamaRotaryEmbedding, {**shape, 'rope_parameters': {'rope_type': 'linear', 'factor': 4.0, 'rope_theta': 1e5}}, None),
        ('deepseek-coder (4.x form)', LlamaConfig, LlamaRotaryEmbedding, None, {**legacy_base, 'rope_theta': 100000, 'rope_scaling': {'type': 'linear', 'factor': 4.0}}),
        ('llama3.1 (5.x)', LlamaConfig, LlamaRotaryEmbedding, {**shape, 'max_position_embeddings': 131072, 'rope_parameters': {
            'rope_type': 'llama3', 'rope_theta': 500000.0, 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0, 'original_max_position_embeddings': 8192}}, None),
        ('qwen2.5 yarn x4 (5.x)', Qwen2Config, Qwen2RotaryEmbedding, {**shape, 'num_key_value_heads': 2, 'max_position_embeddings': 131072, 'rope_parameters': {
            'rope_type': 'yarn', 'rope_theta': 1e6, 'factor': 4.0, 'original_max_position_embeddings': 32768}}, None),
        ('qwen2.5 yarn x4 (4.x form, as its model card suggests)', Qwen2Config, Qwen2RotaryEmbedding, None, {
            **legacy_base, 'model_type': 'qwen2', 'num_key_value_heads': 2, 'max_position_embeddings': 32768, 'rope_theta': 1000000.0,
            'rope_scaling': {'type': 'yarn', 'factor': 4.0, 'original_max_position_embeddings': 32768}}),
        ('starcoder2 (5.x)', Starcoder2Config, Starcoder2RotaryEmbedding, {**shape, 'num_key_value_heads': 2, 'rope_parameters': {'rope_type': 'default', 'rope_theta': 999999.4420358813}}, None),
        ('phi partial rotary 0.5 (5.x)', PhiConfig, PhiRotaryEmbedding, {**shape, 'partial_rotary_factor': 0.5}, None),
        ('gpt-neox rotary_pct 0.25 (4.x form)', GPTNeoXConfig, GPTNeoXRotaryEmbedding, None, {
            **shape, 'model_type': 'gpt_neox', 'rotary_pct': 0.25, 'rotary_emb_base': 10000, 'max_position_embeddings': 2048, 'intermediate_size': 1024}),
        ('dynamic NTK (not shiftable)', LlamaConfig, LlamaRotaryEmbedding, {**shape, 'rope_parameters': {'rope_type': 'dynamic', 'factor': 2.0, 'rope_theta': 10000.0}}, None),
    ]
    out = []
    for name, cls, rotary_cls, kwargs, legacy in cases:
        config = cls(**copy.deepcopy(kwargs if kwargs is not None else {k: v for k, v in legacy.items() if k not in ('model_type', 'transformers_version')}))
        rot = rotary_cls(config=config)
        as_json = legacy if legacy is not None else json.loads(config.to_json_string())
        as_json.pop('attn_implementation', None)
        out.append({'name': name, 'shiftable': 'dynamic' not in name, 'config': as_json,
                    'inv_freq': [float(x) for x in rot.inv_freq.tolist()], 'attention_scaling': float(rot.attention_scaling)})
    path = OUT / 'rope-reference.json'
    path.write_text(json.dumps({'source': 'scripts/standins/make_standins.py --rope-reference (transformers ' + __import__('transformers').__version__ + ')', 'cases': out}, indent=1) + '\n')
    print(f'{path.name}: {len(out)} RoPE settings')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('names', nargs='*', default=[*FAMILIES, 'kv-layout-bshd', 'kv-layout-bshd-dynamic'], help='which stand-ins to (re)make')
    ap.add_argument('--real-shape', metavar='DIR', help='instead: write a random Qwen2.5-Coder-0.5B-shaped model to DIR (not a fixture)')
    ap.add_argument('--layouts', default='model.onnx,model_quantized.onnx,model_q4.onnx', help='with --real-shape: which files besides model.onnx')
    ap.add_argument('--rope-reference', action='store_true', help="instead: write rope-reference.json (transformers' inv_freq per RoPE setting)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.rope_reference:
        write_rope_reference()
        return
    texts = training_texts()
    if args.real_shape:
        write_real_shape(Path(args.real_shape).resolve(), texts, args.layouts.split(','))
        return
    for name in args.names:
        if name.startswith('kv-layout-bshd'):
            write_seq_major(texts, symbolic=name.endswith('-dynamic'))
        else:
            write_folder(name, FAMILIES[name], texts)
    print(f'python {sys.version.split()[0]}, torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}')


if __name__ == '__main__':
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    main()
