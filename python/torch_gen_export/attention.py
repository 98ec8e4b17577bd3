"""Grouped-query attention over the runtime's KV cache, with the variations of the decoder families:
q/k/v/o biases, per-head q/k RMSNorm (Qwen3, Gemma 3), a query scale other than 1/sqrt(D) and attention
logit soft-capping (Gemma 2). Masks (causal, sliding window) are built by the caller, once per forward, as
additive float masks (0 where a query attends, -inf where it does not): SDPA converts a bool mask to that
form itself, in every call, so building it once saves two ops per layer and changes no result.

A decode step of a small model costs as much in op dispatch as in arithmetic (SmolLM2: ~2,000 ops a step),
so the tensors are cut with split/narrow (one op each) rather than indexing with `[:, :, :n]`, which
TorchScript turns into one slice per axis.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import rope
from .decoder_config import DecoderConfig


class Attention(nn.Module):
    # Class-level annotations (no `from __future__ import annotations` here): TorchScript reads them.
    scale: Optional[float]
    softcap: Optional[float]

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.head_dim = cfg.head_dim
        self.half_dim = cfg.head_dim // 2
        self.norm_eps = cfg.norm_eps
        q_size = cfg.num_heads * cfg.head_dim
        kv_size = cfg.num_kv_heads * cfg.head_dim
        self.qk_size = q_size + kv_size
        self.kv_size = kv_size
        # One fused q/k/v projection: a decode step of a small model is bound by kernel launches.
        self.wqkv = nn.Linear(cfg.hidden_size, q_size + 2 * kv_size, bias=cfg.qkv_bias)
        self.wo = nn.Linear(q_size, cfg.hidden_size, bias=cfg.o_bias)
        # The q and k norms' weights, repeated per head ([H + H_kv, D]), so that all heads of both are
        # normalised by one rms_norm and one product.
        self.qk_norm: Optional[nn.Parameter] = (
            nn.Parameter(torch.ones(cfg.num_heads + cfg.num_kv_heads, cfg.head_dim)) if cfg.qk_norm else None
        )
        self.scale = None if cfg.query_pre_attn_scalar is None else cfg.query_pre_attn_scalar ** -0.5
        self.softcap = cfg.attn_softcap

    def forward(
        self,
        x: torch.Tensor,  # [B, T, C]
        cos: torch.Tensor,  # [B, T, 1, D]
        sin: torch.Tensor,  # [B, T, 1, D] signed (rope.Rotary)
        mask: torch.Tensor,  # [B, 1, R*T, S] x's dtype, 0 = attend, -inf = not (repeated for the R query groups)
        batch_idx: torch.Tensor,  # [B, T] int64
        positions: torch.Tensor,  # [B, T] int64
        k_cache: Optional[torch.Tensor],  # [B, H_kv, T_max, D], a view into the runtime's pool; None: no cache
        v_cache: Optional[torch.Tensor],  # [B, H_kv, T_max, D]
        kv_len: int,
    ) -> torch.Tensor:
        B, T = x.size(0), x.size(1)
        qk, v = self.wqkv(x).split([self.qk_size, self.kv_size], dim=-1)  # [B, T, (H + H_kv) D], [B, T, H_kv D]
        qk = qk.view(B, T, self.num_heads + self.num_kv_heads, self.head_dim)
        qk_norm = self.qk_norm
        if qk_norm is not None:
            # float32 statistics whatever the dtype, as transformers' RMSNorm; the weight after the cast.
            qk = torch.rms_norm(qk, [self.head_dim], None, self.norm_eps) * qk_norm  # [B, T, H + H_kv, D]
        # Queries and keys rotate together: one RoPE for both heads' groups (fewer ops per layer).
        qk = rope.apply_rope(qk, cos, sin, self.half_dim)  # [B, T, H + H_kv, D]
        q, k = qk.split([self.num_heads, self.num_kv_heads], dim=2)  # [B, T, H, D], [B, T, H_kv, D]
        v = v.view(B, T, self.num_kv_heads, self.head_dim)  # [B, T, H_kv, D]
        if k_cache is not None and v_cache is not None:
            # One index_put_ on the cache itself: with the slice between the two index tensors, the indexed
            # dims [B, T] come first, so the target's shape is k's [B, T, H_kv, D]. (Through a transposed view,
            # torch.export's functional graph could not write in place: AOTInductor copied the whole cache.)
            k_cache[batch_idx, :, positions] = k
            v_cache[batch_idx, :, positions] = v
            keys = k_cache.narrow(2, 0, kv_len)  # [B, H_kv, S, D]
            values = v_cache.narrow(2, 0, kv_len)  # [B, H_kv, S, D]
        else:
            # No cache (the `logits` interface): the tokens attend to each other only, S = T.
            keys = k.transpose(1, 2)  # [B, H_kv, T, D]
            values = v.transpose(1, 2)  # [B, H_kv, T, D]
        # Grouped-query attention without copying the cache: the R = H / H_kv query heads that share a
        # key/value head are folded into the query-length axis (head h uses kv head h // R, as in HF).
        groups = self.num_heads // self.num_kv_heads
        q = q.transpose(1, 2).reshape(B, self.num_kv_heads, groups * T, self.head_dim)  # [B, H_kv, R*T, D]
        softcap = self.softcap
        if softcap is None:
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=self.scale)
        else:
            out = _softcapped_attention(q, keys, values, mask, self.scale, softcap)  # [B, H_kv, R*T, D]
        out = out.view(B, self.num_heads, T, self.head_dim).transpose(1, 2)  # [B, T, H, D]
        return self.wo(out.reshape(B, T, self.num_heads * self.head_dim))


def _softcapped_attention(
    q: torch.Tensor,  # [B, H_kv, R*T, D]
    keys: torch.Tensor,  # [B, H_kv, S, D]
    values: torch.Tensor,  # [B, H_kv, S, D]
    mask: torch.Tensor,  # [B, 1, R*T, S] additive: 0 or -inf
    scale: Optional[float],
    softcap: float,
) -> torch.Tensor:
    """Attention with cap * tanh(scores / cap) between the scaled scores and the softmax, which SDPA
    cannot do; the softmax in float32 as transformers' eager attention (the one Gemma 2 runs)."""
    factor = scale if scale is not None else q.size(-1) ** -0.5
    scores = torch.matmul(q, keys.transpose(-1, -2)) * factor  # [B, H_kv, R*T, S]
    scores = torch.tanh(scores / softcap) * softcap
    scores = scores + mask  # -inf where masked, as masked_fill would set
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(probs, values)  # [B, H_kv, R*T, D]
