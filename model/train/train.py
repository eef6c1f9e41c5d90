#!/usr/bin/env python3
"""Trains TypeGuide's default model on the gathered corpus and writes its weights.

CPU (Debian python3-torch 1.13):  /usr/bin/python3 model/train/train.py --data .corpus --preset small --minutes 10
GPU (torch 2.x, bf16, compiled):  python3 model/train/train.py --data DIR --preset base --minutes 7 --device cuda

Input: DIR/tokenizer.json and either DIR/{train,val}.bin + val.docs.json (tokenized by
tokenizeCorpus.mjs) or DIR/{train,val}.jsonl[.xz] (tokenized here with the Python `tokenizers`).
Output (--out): weights.npz (int8 per-row weights + float32 scales and norms, the shipped numerics),
training.json (hyper-parameters, loss curve, validation loss in nats/token and bits/char).
Fill-in-the-middle: half of the training windows are rearranged as
<fim_prefix> A <fim_suffix> C <fim_middle> B <|endoftext|> (StarCoder's PSM order, token level).
"""
import argparse
import json
import lzma
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama import PRESETS, Llama, fake_quantize_, quantize_int8  # noqa: E402


def log(*a):
    print(*a, flush=True)


def open_text(path):
    return lzma.open(path, "rt", encoding="utf-8") if path.endswith(".xz") else open(path, encoding="utf-8")


def load_split(data, split, tokenizer_path):
    """Returns (tokens uint16 array, docs [[offset, ntokens, nchars, kind], ...])."""
    bin_path = os.path.join(data, f"{split}.bin")
    if os.path.exists(bin_path):
        toks = np.fromfile(bin_path, dtype=np.uint16)
        docs = json.load(open(os.path.join(data, f"{split}.docs.json")))
        return toks, docs
    from tokenizers import Tokenizer  # the GPU machine's path

    tok = Tokenizer.from_file(tokenizer_path)
    eos = tok.token_to_id("<|endoftext|>")
    src = next(p for p in (os.path.join(data, f"{split}.jsonl.xz"), os.path.join(data, f"{split}.jsonl")) if os.path.exists(p))
    texts, kinds = [], []
    with open_text(src) as f:
        for line in f:
            d = json.loads(line)
            texts.append(d["text"])
            kinds.append(d["kind"])
    t0 = time.time()
    parts, docs, off = [], [], 0
    for i in range(0, len(texts), 4096):
        for j, enc in enumerate(tok.encode_batch(texts[i:i + 4096], add_special_tokens=False)):
            ids = enc.ids + [eos]
            parts.append(np.asarray(ids, dtype=np.uint16))
            docs.append([off, len(ids), len(texts[i + j]), kinds[i + j]])
            off += len(ids)
    toks = np.concatenate(parts)
    log(f"tokenized {split}: {len(texts)} docs, {len(toks)} tokens in {time.time() - t0:.0f}s")
    return toks, docs


class Batcher:
    def __init__(self, toks, seq, batch, fim_rate, special, seed, device, fim_order="psm"):
        self.toks = toks
        self.fim_order = fim_order
        self.seq, self.batch, self.fim_rate = seq, batch, fim_rate
        self.pre, self.mid, self.suf, self.eos = special
        self.rng = np.random.default_rng(seed)
        self.device = device

    def next(self):
        T = self.seq + 1
        starts = self.rng.integers(0, len(self.toks) - T - 1, size=self.batch)
        out = np.empty((self.batch, T), dtype=np.int64)
        for r, s in enumerate(starts):
            if self.rng.random() < self.fim_rate:
                L = T - 4
                w = self.toks[s:s + L].astype(np.int64)
                # Middles as editors see them half of the time (short: a few tokens to a few lines),
                # else StarCoder's two uniform cut points (long middles teach the suffix's use).
                if self.rng.random() < 0.5:
                    a = int(self.rng.integers(0, L - 1))
                    b = a + int(self.rng.integers(1, min(64, L - a) + 1))
                else:
                    a, b = sorted(int(v) for v in self.rng.integers(0, L, size=2))
                    b = max(b, a + 1)
                if self.fim_order == "spm":  # the prefix sits right before the middle: continuing it stays left-to-right
                    out[r] = np.concatenate(([self.pre, self.suf], w[b:], [self.mid], w[:a], w[a:b], [self.eos]))
                else:
                    out[r] = np.concatenate(([self.pre], w[:a], [self.suf], w[b:], [self.mid], w[a:b], [self.eos]))
            else:
                out[r] = self.toks[s:s + T]
        x = torch.from_numpy(out)
        if self.device == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        return x[:, :-1], x[:, 1:]


@torch.no_grad()
def evaluate(model, toks, docs, seq, device, max_tokens, kinds=None, amp=None):
    """Negative log-likelihood over whole documents (windows of `seq`), in nats/token and bits/char."""
    model.eval()
    nll, ntok, nchar = 0.0, 0, 0
    buf = []
    for off, n, chars, kind in docs:
        if kinds and kind not in kinds:
            continue
        buf.append(toks[off:off + n])
        nchar += chars
        ntok += n
        if ntok >= max_tokens:
            break
    stream = np.concatenate(buf).astype(np.int64)
    windows = [stream[i:i + seq + 1] for i in range(0, len(stream) - 1, seq)]
    counted = 0
    for i in range(0, len(windows), 16):
        group = windows[i:i + 16]
        for w in group:
            x = torch.from_numpy(w).to(device).unsqueeze(0)
            with amp():
                logits, _ = model(x[:, :-1])
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum")
            nll += loss.item()
            counted += x.shape[1] - 1
    model.train()
    # The first token of each window has no prediction: charge chars for predicted tokens only.
    chars = nchar * counted / max(1, len(stream))
    return {"valLoss": nll / counted, "valBitsPerChar": nll / math.log(2) / chars, "tokens": counted}


@torch.no_grad()
def evaluate_fim(model, toks, device, amp, special, trials=64, seed=7, order="psm"):
    """Loss on a 1-3 line middle given prefix+suffix (FIM) vs given the prefix only: FIM should win."""
    pre, mid, suf, eos = special
    rng = np.random.default_rng(seed)
    model.eval()
    f = l = n = 0.0
    for _ in range(trials):
        s = int(rng.integers(0, len(toks) - 1100))
        w = toks[s:s + 1024].astype(np.int64)
        a = int(rng.integers(200, 700))
        b = a + int(rng.integers(4, 40))
        if order == "spm":
            x = torch.tensor(np.concatenate(([pre, suf], w[b:], [mid], w[:a], w[a:b]))[None], device=device)
        else:
            x = torch.tensor(np.concatenate(([pre], w[:a], [suf], w[b:], [mid], w[a:b]))[None], device=device)
        with amp():
            lg, _ = model(x)
        k = b - a
        f += F.cross_entropy(lg[0, -k - 1:-1].float(), x[0, -k:], reduction="sum").item()
        x2 = torch.tensor(w[None, :b], device=device)
        with amp():
            lg2, _ = model(x2)
        l += F.cross_entropy(lg2[0, a - 1:b - 1].float(), x2[0, a:b], reduction="sum").item()
        n += k
    model.train()
    return {"fimMiddleLoss": f / n, "l2rMiddleLoss": l / n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".corpus")
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--out", default=".corpus/run")
    ap.add_argument("--preset", default="small", choices=list(PRESETS))
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16, help="sequences per micro-batch")
    ap.add_argument("--accum", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget from start to the end of training")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fim-rate", type=float, default=0.5)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--eval-tokens", type=int, default=200_000)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fim-order", default="psm", choices=["psm", "spm"], help="psm: <fim_prefix>A<fim_suffix>C<fim_middle>B; spm: <fim_prefix><fim_suffix>C<fim_middle>AB")
    ap.add_argument("--init", default=None, help="weights.npz of an earlier run to continue from")
    args = ap.parse_args()
    t_start = time.time()
    torch.manual_seed(args.seed)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    tokenizer_path = args.tokenizer or os.path.join(args.data, "tokenizer.json")
    tj = json.load(open(tokenizer_path, encoding="utf-8"))
    added = {t["content"]: t["id"] for t in tj["added_tokens"]}
    vocab = max(max(tj["model"]["vocab"].values()), max(added.values())) + 1
    special = (added["<fim_prefix>"], added["<fim_middle>"], added["<fim_suffix>"], added["<|endoftext|>"])

    train_toks, _ = load_split(args.data, "train", tokenizer_path)
    val_toks, val_docs = load_split(args.data, "val", tokenizer_path)
    log(f"train tokens {len(train_toks):,}  val tokens {len(val_toks):,}  vocab {vocab}")

    p = PRESETS[args.preset]
    model = Llama(vocab, p["hidden"], p["layers"], p["heads"], p["kv_heads"], p["ffn"], args.rope_theta)
    if args.init:  # continue from an earlier run's weights (weights.npz, int8 rows + scales)
        z = np.load(args.init)
        sd = {k[:-2]: torch.from_numpy(z[k].astype(np.float32) * z[k[:-2] + ".scale"][:, None]) for k in z.files if k.endswith(".q")}
        sd.update({k: torch.from_numpy(z[k]) for k in z.files if not k.endswith(".q") and not k.endswith(".scale")})
        missing, unexpected = model.load_state_dict(sd, strict=False)
        log(f"initialized from {args.init} (missing {missing}, unexpected {unexpected})")
    model = model.to(args.device)
    log(f"params {model.num_params():,} ({args.preset})")
    cuda = args.device == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        amp = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    else:
        import contextlib
        amp = contextlib.nullcontext
    decay = [p_ for n, p_ in model.named_parameters() if p_.dim() >= 2]
    no_decay = [p_ for n, p_ in model.named_parameters() if p_.dim() < 2]
    opt_kw = dict(lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    if cuda:
        opt_kw["fused"] = True
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], **opt_kw)
    fwd = model
    if args.compile and hasattr(torch, "compile"):
        try:  # compile, and prove it works on one batch; eager otherwise
            fwd = torch.compile(model)
            x0, _ = Batcher(train_toks, args.seq, args.batch, 0.0, special, args.seed + 1, args.device).next()
            t0 = time.time()
            with amp():
                fwd(x0)[0].float().mean().backward()
            opt.zero_grad(set_to_none=True)
            log(f"compiled in {time.time() - t0:.0f}s")
        except Exception as e:  # noqa: BLE001
            log(f"torch.compile failed ({type(e).__name__}: {e}); training eager")
            fwd = model
            opt.zero_grad(set_to_none=True)

    batcher = Batcher(train_toks, args.seq, args.batch, args.fim_rate, special, args.seed, args.device, args.fim_order)
    budget = args.minutes * 60 - (time.time() - t_start)  # the budget counts from the script's start
    total_steps = None  # set from measured speed after the first steps
    curve, step, tokens_seen = [], 0, 0
    t_train = time.time()
    probe_at = 30
    while True:
        elapsed = time.time() - t_train
        if total_steps is None and step == probe_at:
            per_step = (time.time() - t_probe) / (probe_at - 10)
            total_steps = probe_at + int((budget - elapsed) / per_step)
            log(f"{per_step * 1000:.0f} ms/step -> {total_steps} steps in the budget")
        if step == 10:
            t_probe = time.time()
        if total_steps is not None and step >= total_steps:
            break
        if total_steps is None and elapsed > budget:
            break
        horizon = total_steps or 10**9
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        if step >= args.warmup and total_steps:
            prog = (step - args.warmup) / max(1, total_steps - args.warmup)
            lr = args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, prog))))
        for g in opt.param_groups:
            g["lr"] = lr
        loss_acc = 0.0
        for _ in range(args.accum):
            x, y = batcher.next()
            with amp():
                logits, _ = fwd(x)
                loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.reshape(-1))
            (loss / args.accum).backward()
            loss_acc += loss.item() / args.accum
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens_seen += args.batch * args.accum * args.seq
        if step % 25 == 0 or (total_steps and step == total_steps - 1):
            curve.append([step, tokens_seen, round(loss_acc, 4), round(time.time() - t_train, 1)])
            log(f"step {step}/{horizon if total_steps else '?'} loss {loss_acc:.4f} lr {lr:.2e} tok {tokens_seen:,} t {time.time() - t_train:.0f}s")
        step += 1
    train_seconds = time.time() - t_train

    os.makedirs(args.out, exist_ok=True)
    ev_seq = args.seq
    metrics_fp = evaluate(model, val_toks, val_docs, ev_seq, args.device, args.eval_tokens, amp=amp)
    log(f"val (float weights): {metrics_fp}")
    fake_quantize_(model)
    metrics = evaluate(model, val_toks, val_docs, ev_seq, args.device, args.eval_tokens, amp=amp)
    metrics_ts = evaluate(model, val_toks, val_docs, ev_seq, args.device, args.eval_tokens, kinds={"ts"}, amp=amp)
    log(f"val (int8 weights, shipped): {metrics}  ts-only: {metrics_ts}")

    fim = evaluate_fim(model, val_toks, args.device, amp, special, order=args.fim_order)
    log(f"val middle nll/token: FIM {fim['fimMiddleLoss']:.4f} vs left-to-right {fim['l2rMiddleLoss']:.4f}")

    arrays = {}
    for name, p_ in model.state_dict().items():
        t = p_.detach().float().cpu()
        if t.dim() == 2:
            q, s = quantize_int8(t)
            arrays[name + ".q"] = q.numpy()
            arrays[name + ".scale"] = s.numpy()
        else:
            arrays[name] = t.numpy()
    np.savez(os.path.join(args.out, "weights.npz"), **arrays)
    info = {
        "params": model.num_params(),
        "tokensSeen": tokens_seen,
        "valLoss": round(metrics["valLoss"], 4),
        "valBitsPerChar": round(metrics["valBitsPerChar"], 4),
        "valBitsPerCharTs": round(metrics_ts["valBitsPerChar"], 4),
        "valLossFloatWeights": round(metrics_fp["valLoss"], 4),
        "trainSeconds": round(train_seconds, 1),
        "totalSeconds": round(time.time() - t_start, 1),
        "device": "gpu" if cuda else "cpu",
        "deviceName": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
        "command": "python3 " + " ".join(sys.argv),
        "preset": args.preset, "arch": model.cfg, "seq": args.seq, "batch": args.batch * args.accum,
        "lr": args.lr, "warmup": args.warmup, "fimRate": args.fim_rate, "fimOrder": args.fim_order, "init": args.init, "steps": step,
        "trainTokensAvailable": int(len(train_toks)), "valTokensEvaluated": metrics["tokens"],
        **{k: round(v, 4) for k, v in fim.items()},
        "lossCurve": curve,
    }
    json.dump(info, open(os.path.join(args.out, "training.json"), "w"), indent=1)
    log(json.dumps({k: v for k, v in info.items() if k != "lossCurve"}))


if __name__ == "__main__":
    main()
