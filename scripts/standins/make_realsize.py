#!/usr/bin/env python3
"""A random-weight model with Qwen2.5-Coder-0.5B's exact shape, for benchmarks at real size (never committed).

Shape (Qwen/Qwen2.5-Coder-0.5B config.json): 24 layers, hidden 896, intermediate 4864, 14 heads / 2 kv
heads, head_dim 64, vocab_size 151,936, rope_theta 1e6, q/k/v biases, tied embeddings,
max_position_embeddings 32768, rms_norm_eps 1e-6. Built with transformers' own Qwen2ForCausalLM, random
weights (initializer_range 0.02), exported with the TorchScript exporter in the transformers.js/optimum
layout (input_ids, attention_mask, position_ids, past_key_values.N.key|value -> logits (every row, as
optimum exports), present.N.key|value; KV [batch, kv_heads, seq, head_dim]) into:

  .cache/realsize/qwen05b-shape/
    config.json (transformers 4.x form, as the Hub's exports carry), generation_config.json,
    tokenizer.json, tokenizer_config.json
    onnx/model.onnx + model.onnx_data   fp32, external data (2.5 GB: constant folding stores the tied
                                        embedding twice, as the Hub's export does: 0.57 + 1.96 GB)
    onnx/model_quantized.onnx           int8: quantize_dynamic (MatMulInteger; MatMul with constant B
                                        and Gather), QInt8, per tensor
    onnx/model_q4.onnx                  4-bit: MatMulNBits (block 32, symmetric, accuracy_level unset),
                                        as transformers.js's quantize script makes q4

The tokenizer: Qwen2's tokenizer.json format (NFC, Split with Qwen2's regex (isolated), ByteLevel; the
22 special tokens after the BPE vocabulary, <|endoftext|> first), a byte-level BPE trained here with the
`tokenizers` library on JavaScript/TypeScript from node_modules to 151,643 BPE tokens (Qwen2's own
count) when the corpus allows; the model's embedding rows past the tokenizer are padding, as in Qwen.

Steps (run one at a time on a shared machine; each skips what exists unless --force):
  /work/venv/bin/python scripts/standins/make_realsize.py [tokenizer] [export] [int8] [q4] [check]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / '.cache' / 'realsize' / 'qwen05b-shape'
OPSET = 17
VOCAB = 151936
BPE_TOKENS = 151643  # Qwen2's BPE vocabulary before its special tokens

QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>',
            '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>',
            '<tool_call>', '</tool_call>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>']


def log(msg: str) -> None:
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)


# ---------------------------------------------------------------------------------------------
# Tokenizer

def corpus_files(limit_mb: float, per_package_mb: float) -> list[Path]:
    """Non-minified .ts/.js under node_modules, sorted, at most per_package_mb from each package."""
    nm = ROOT / 'node_modules'
    per: dict[str, int] = {}
    files: list[Path] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(nm):
        dirnames.sort()
        rel = Path(dirpath).relative_to(nm).parts
        if not rel:
            continue
        pkg = '/'.join(rel[:2]) if rel[0].startswith('@') else rel[0]
        for f in sorted(filenames):
            if not (f.endswith('.ts') or f.endswith('.js') or f.endswith('.mjs')) or '.min.' in f:
                continue
            p = Path(dirpath) / f
            try:
                size = p.stat().st_size
            except OSError:
                continue
            if size < 200 or size > 2_000_000 or per.get(pkg, 0) + size > per_package_mb * 1e6:
                continue
            per[pkg] = per.get(pkg, 0) + size
            files.append(p)
            total += size
            if total > limit_mb * 1e6:
                return files
    return files


def make_tokenizer(limit_mb: float) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    files = corpus_files(limit_mb, per_package_mb=4)
    size = sum(f.stat().st_size for f in files)
    log(f'tokenizer: training on {len(files)} files, {size / 1e6:.1f} MB of .ts/.js from node_modules')
    texts = []
    for f in files:
        t = f.read_bytes().decode('utf-8', errors='replace')
        for s in SPECIALS:
            t = t.replace(s, '')
        texts.append(t)
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=Regex(QWEN2_SPLIT), behavior='isolated', invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_TOKENS, min_frequency=2, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    t0 = time.time()
    tok.train_from_iterator(texts, trainer=trainer)
    bpe = tok.get_vocab_size(with_added_tokens=True)
    tok.add_special_tokens(SPECIALS)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    OUT.mkdir(parents=True, exist_ok=True)
    tok.save(str(OUT / 'tokenizer.json'))
    n = tok.get_vocab_size(with_added_tokens=True)
    sample = (ROOT / 'model' / 'pie' / 'repositioner.ts').read_text()
    ids = tok.encode(sample, add_special_tokens=False).ids
    info = {'bpe_tokens': bpe, 'with_specials': n, 'target_bpe_tokens': BPE_TOKENS, 'corpus_files': len(files), 'corpus_mb': round(size / 1e6, 1),
            'train_s': round(time.time() - t0, 1), 'chars_per_token_on_repositioner_ts': round(len(sample) / len(ids), 2)}
    (OUT / 'tokenizer_info.json').write_text(json.dumps(info, indent=2) + '\n')
    log(f'tokenizer: {info}')
    if n > VOCAB:
        raise SystemExit(f'{n} tokens exceed vocab_size {VOCAB}')


# ---------------------------------------------------------------------------------------------
# Model

def build_model():
    import torch
    from tokenizers import Tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM
    tok = Tokenizer.from_file(str(OUT / 'tokenizer.json'))
    eos = tok.token_to_id('<|endoftext|>')
    config = Qwen2Config(vocab_size=VOCAB, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, head_dim=64, max_position_embeddings=32768, max_window_layers=24,
                         rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0}, tie_word_embeddings=True,
                         rms_norm_eps=1e-6, hidden_act='silu', initializer_range=0.02, bos_token_id=eos, eos_token_id=eos,
                         sliding_window=None, use_sliding_window=False, attn_implementation='eager')
    torch.manual_seed(20261201)
    model = Qwen2ForCausalLM(config).eval()
    return model, config, tok


def write_configs(config, tok) -> None:
    cfg = json.loads(config.to_json_string())
    cfg['architectures'] = ['Qwen2ForCausalLM']
    cfg.pop('attn_implementation', None)
    # transformers 4.x form (what the Hub's exports carry): top-level rope_theta / rope_scaling, torch_dtype.
    rp = cfg.pop('rope_parameters', None) or {}
    cfg['rope_theta'] = rp.get('rope_theta', 10000.0)
    cfg['rope_scaling'] = None
    cfg.pop('layer_types', None)
    cfg['torch_dtype'] = cfg.pop('dtype', 'float32') or 'float32'
    cfg['sliding_window'] = 32768
    cfg['transformers_version'] = '4.43.1'
    cfg['transformers.js_config'] = {'kv_cache_dtype': {'q4f16': 'float16', 'fp16': 'float16'}, 'use_external_data_format': {'model.onnx': True}}
    cfg['_typeguide_note'] = 'random weights, Qwen2.5-Coder-0.5B shape (scripts/standins/make_realsize.py); not a real model'
    (OUT / 'config.json').write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + '\n')
    eos = config.eos_token_id
    (OUT / 'generation_config.json').write_text(json.dumps({'bos_token_id': eos, 'eos_token_id': eos}, indent=2) + '\n')
    (OUT / 'tokenizer_config.json').write_text(json.dumps({'model_max_length': 32768, 'clean_up_tokenization_spaces': False, 'add_bos_token': False,
                                                           'eos_token': '<|endoftext|>', 'pad_token': '<|fim_pad|>'}, indent=2) + '\n')


def export() -> None:
    import onnx
    import torch
    from transformers import DynamicCache
    torch.set_num_threads(2)
    model, config, tok = build_model()
    write_configs(config, tok)
    L, H, D = config.num_hidden_layers, config.num_key_value_heads, 64
    log(f'model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters')

    class FlatDecoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, position_ids, *past):
            cache = DynamicCache(ddp_cache_data=[(past[2 * i], past[2 * i + 1]) for i in range(L)])
            out = self.m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, past_key_values=cache, use_cache=True)
            flat = []
            for layer in out.past_key_values.layers:
                flat += [layer.keys, layer.values]
            return (out.logits, *flat)

    seq, p = 3, 5
    names = ['input_ids', 'attention_mask', 'position_ids']
    args = [torch.randint(0, 1000, (1, seq)), torch.ones(1, p + seq, dtype=torch.int64), torch.arange(p, p + seq).unsqueeze(0)]
    axes = {'input_ids': {0: 'batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'batch_size', 1: 'total_sequence_length'},
            'position_ids': {0: 'batch_size', 1: 'sequence_length'}, 'logits': {0: 'batch_size', 1: 'sequence_length'}}
    for i in range(L):
        for t in ('key', 'value'):
            names.append(f'past_key_values.{i}.{t}')
            args.append(torch.randn(1, H, p, D))
            axes[f'past_key_values.{i}.{t}'] = {0: 'batch_size', 2: 'past_sequence_length'}
    outputs = ['logits'] + [f'present.{i}.{t}' for i in range(L) for t in ('key', 'value')]
    for name in outputs[1:]:
        axes[name] = {0: 'batch_size', 2: 'total_sequence_length'}
    tmp = OUT / 'tmp-export'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log('export: torch.onnx.export (TorchScript, opset 17)')
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(FlatDecoder(model).eval(), tuple(args), str(tmp / 'model.onnx'), input_names=names, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
    # Reference logits for the check step (torch, fixed ids), then free the torch model.
    ids = tok.encode('export function area(width: number, height: number): number {\n  return width * height;\n}\n', add_special_tokens=False).ids[:16]
    with torch.no_grad():
        ref = model(input_ids=torch.tensor([ids])).logits[0].numpy()
    import numpy as np
    np.save(OUT / 'reference_logits.npy', ref)
    (OUT / 'reference_ids.json').write_text(json.dumps(ids))
    del model
    log('export: re-saving with one external data file')
    m = onnx.load(str(tmp / 'model.onnx'), load_external_data=True)
    (OUT / 'onnx').mkdir(exist_ok=True)
    for f in ('model.onnx', 'model.onnx_data'):
        (OUT / 'onnx' / f).unlink(missing_ok=True)
    onnx.save_model(m, str(OUT / 'onnx' / 'model.onnx'), save_as_external_data=True, all_tensors_to_one_file=True,
                    location='model.onnx_data', size_threshold=1024)
    del m
    shutil.rmtree(tmp, ignore_errors=True)
    sizes = {f.name: f.stat().st_size for f in (OUT / 'onnx').iterdir()}
    log(f'export: {sizes}')


def quantize_int8() -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    src, dst = OUT / 'onnx' / 'model.onnx', OUT / 'onnx' / 'model_quantized.onnx'
    log('int8: quantize_dynamic (MatMul with constant B, Gather; QInt8 per tensor)')
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False, reduce_range=False,
                     op_types_to_quantize=['MatMul', 'Gather'], extra_options={'MatMulConstBOnly': True})
    log(f'int8: {dst.stat().st_size / 1e6:.0f} MB')


def quantize_q4() -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    src, dst = OUT / 'onnx' / 'model.onnx', OUT / 'onnx' / 'model_q4.onnx'
    log('q4: MatMulNBitsQuantizer (block 32, symmetric)')
    m = onnx.load(str(src), load_external_data=True)
    q = MatMulNBitsQuantizer(m, block_size=32, is_symmetric=True, accuracy_level=None)
    q.process()
    dst.unlink(missing_ok=True)
    q.model.save_model_to_file(str(dst), use_external_data_format=False)
    log(f'q4: {dst.stat().st_size / 1e6:.0f} MB')


def check(files: list[str]) -> None:
    """Python onnxruntime against transformers' logits (fp32 close; quantized: correlation), cached vs not."""
    import numpy as np
    import onnxruntime as ort
    ref = np.load(OUT / 'reference_logits.npy')
    ids = json.loads((OUT / 'reference_ids.json').read_text())
    L, H, D = 24, 2, 64
    report = {}
    for name in files:
        path = OUT / 'onnx' / name
        if not path.exists():
            continue
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        sess = ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])

        def step(chunk, start, past):
            feeds = {'input_ids': np.array([chunk], np.int64), 'attention_mask': np.ones((1, start + len(chunk)), np.int64),
                     'position_ids': np.arange(start, start + len(chunk), dtype=np.int64)[None]}
            for i in range(L):
                feeds[f'past_key_values.{i}.key'] = past[2 * i]
                feeds[f'past_key_values.{i}.value'] = past[2 * i + 1]
            out = sess.run(None, feeds)
            return out[0][0], out[1:]

        empty = [np.zeros((1, H, 0, D), np.float32) for _ in range(2 * L)]
        full, _ = step(ids, 0, empty)
        _, past = step(ids[:-4], 0, empty)
        tail, _ = step(ids[-4:], len(ids) - 4, past)
        d = float(np.abs(full - ref).max())
        corr = float(np.corrcoef(full[-1], ref[-1])[0, 1])
        dc = float(np.abs(tail - full[-4:]).max())
        report[name] = {'max_abs_vs_torch': d, 'corr_last_row_vs_torch': corr, 'max_abs_cached_vs_uncached': dc, 'logit_scale': float(np.abs(ref).max())}
        log(f'check {name}: {report[name]}')
        del sess
    (OUT / 'check.json').write_text(json.dumps(report, indent=2) + '\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('steps', nargs='*', default=['tokenizer', 'export', 'int8', 'q4', 'check'])
    ap.add_argument('--force', action='store_true', help='redo steps whose output exists')
    ap.add_argument('--corpus-mb', type=float, default=70, help='tokenizer training text (MB)')
    args = ap.parse_args()
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'true')
    OUT.mkdir(parents=True, exist_ok=True)
    done = {'tokenizer': OUT / 'tokenizer.json', 'export': OUT / 'onnx' / 'model.onnx_data', 'int8': OUT / 'onnx' / 'model_quantized.onnx',
            'q4': OUT / 'onnx' / 'model_q4.onnx'}
    for step in args.steps:
        if step in done and done[step].exists() and not args.force:
            log(f'{step}: {done[step].relative_to(ROOT)} exists (--force to redo)')
            continue
        if step == 'tokenizer':
            make_tokenizer(args.corpus_mb)
        elif step == 'export':
            export()
        elif step == 'int8':
            quantize_int8()
        elif step == 'q4':
            quantize_q4()
        elif step == 'check':
            check(['model.onnx', 'model_quantized.onnx', 'model_q4.onnx'])
        else:
            raise SystemExit(f'unknown step {step}')
    import onnxruntime, torch, transformers
    log(f'python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}, onnxruntime {onnxruntime.__version__}')


if __name__ == '__main__':
    main()
