"""A small Llama-architecture causal LM (RMSNorm, rotate-half RoPE, SwiGLU, GQA, tied embeddings).

Works with torch 1.13 (Debian, CPU: training and ONNX export) and torch 2.x (GPU training, where
scaled_dot_product_attention is used). The forward with a KV cache follows the Hugging Face layout:
keys are cached after rotation, shaped [batch, kv_heads, seq, head_dim].
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # name: hidden, layers, heads, kv heads, ffn
    "tiny": dict(hidden=128, layers=2, heads=4, kv_heads=2, ffn=352),
    "small": dict(hidden=256, layers=4, heads=4, kv_heads=2, ffn=704),
    "base": dict(hidden=512, layers=8, heads=8, kv_heads=4, ffn=1408),
    "large": dict(hidden=640, layers=10, heads=10, kv_heads=5, ffn=1728),
}


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Rotary(nn.Module):
    def __init__(self, head_dim, theta):
        super().__init__()
        inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, position_ids):
        # position_ids: [batch, seq] -> cos, sin: [batch, 1, seq, head_dim]
        freqs = position_ids.float().unsqueeze(-1) * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)


class Attention(nn.Module):
    def __init__(self, hidden, heads, kv_heads):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin, past=None, mask=None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        present = (k, v)
        rep = self.heads // self.kv_heads
        if rep > 1:
            kk = k.unsqueeze(2).expand(b, self.kv_heads, rep, k.shape[2], self.head_dim).reshape(b, self.heads, k.shape[2], self.head_dim)
            vv = v.unsqueeze(2).expand(b, self.kv_heads, rep, v.shape[2], self.head_dim).reshape(b, self.heads, v.shape[2], self.head_dim)
        else:
            kk, vv = k, v
        if mask is None and hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, kk, vv, is_causal=True)
        else:
            scores = torch.matmul(q, kk.transpose(-1, -2)) / math.sqrt(self.head_dim)
            if mask is None:
                n = scores.shape[-1]
                mask = torch.ones(t, n, dtype=torch.bool, device=x.device).tril(n - t)
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            y = torch.matmul(torch.softmax(scores.float(), dim=-1).to(vv.dtype), vv)
        y = y.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return self.o_proj(y), present


class Block(nn.Module):
    def __init__(self, hidden, heads, kv_heads, ffn):
        super().__init__()
        self.input_layernorm = RMSNorm(hidden)
        self.self_attn = Attention(hidden, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(hidden)
        self.gate_proj = nn.Linear(hidden, ffn, bias=False)
        self.up_proj = nn.Linear(hidden, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, hidden, bias=False)

    def forward(self, x, cos, sin, past=None, mask=None):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, past, mask)
        x = x + a
        h = self.post_attention_layernorm(x)
        x = x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))
        return x, present


class Llama(nn.Module):
    def __init__(self, vocab, hidden, layers, heads, kv_heads, ffn, rope_theta=10000.0):
        super().__init__()
        self.cfg = dict(vocab=vocab, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, ffn=ffn, rope_theta=rope_theta)
        self.embed_tokens = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList([Block(hidden, heads, kv_heads, ffn) for _ in range(layers)])
        self.norm = RMSNorm(hidden)
        self.rotary = Rotary(hidden // heads, rope_theta)
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, input_ids, position_ids=None, past=None, mask=None):
        b, t = input_ids.shape
        if position_ids is None:
            position_ids = torch.arange(t, device=input_ids.device).unsqueeze(0).expand(b, t)
        cos, sin = self.rotary(position_ids)
        x = self.embed_tokens(input_ids)
        presents = []
        for i, layer in enumerate(self.layers):
            x, p = layer(x, cos, sin, None if past is None else past[i], mask)
            presents.append(p)
        x = self.norm(x)
        logits = F.linear(x, self.embed_tokens.weight)
        return logits, presents

    def num_params(self):
        return sum(p.numel() for p in self.parameters())


class OnnxWrapper(nn.Module):
    """The transformers.js / optimum interface: input_ids, attention_mask, position_ids, past_key_values.*."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        n = len(self.model.layers)
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(n)]
        t = input_ids.shape[1]
        total = attention_mask.shape[1]
        past_len = total - t
        # Causal by cache index (not by position id, so that PIE may rotate keys to new positions).
        qi = torch.arange(t, device=input_ids.device).unsqueeze(1) + past_len
        kj = torch.arange(total, device=input_ids.device).unsqueeze(0)
        causal = kj <= qi
        mask = causal.unsqueeze(0).unsqueeze(0) & attention_mask.bool().unsqueeze(1).unsqueeze(2)
        logits, presents = self.model(input_ids, position_ids, past, mask)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def quantize_int8(w):
    """Symmetric per-output-row int8 weight quantization: w ≈ q * scale[:, None]."""
    w = w.float()
    scale = w.abs().amax(dim=1).clamp(min=1e-8) / 127.0
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale


def fake_quantize_(model):
    """Replaces every 2-D weight with its int8 round trip (what the shipped ONNX computes with)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                q, s = quantize_int8(p)
                p.copy_((q.float() * s[:, None]).to(p.dtype))
