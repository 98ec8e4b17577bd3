"""The decoder module of the Llama-like families for the `kv-cache` and `logits` interfaces: Llama 2/3,
SmolLM2, TinyLlama, Mistral, Qwen2, Qwen3, Gemma 2, Gemma 3 (text), Phi-3/3.5.

RMSNorm, rotary positions, a gated feed-forward (SwiGLU or GeGLU), grouped-query attention (attention.py)
and the switches of DecoderConfig. The numerics follow transformers: norms in float32, rotation in the
weights' dtype. A decode step of a small model is bound by its op count as much as by its weights, so the
code keeps ops few where it costs no accuracy: fused q/k/v and gate/up projections, one RMSNorm call, one
RoPE for queries and keys together, the masks and rotation angles built once per forward; a switch that
is off adds no op.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import rope
from .attention import Attention
from .decoder_config import DecoderConfig


def _additive(attend: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A bool mask (True = attend) as the additive one attention takes: 0 where True, -inf where False.
    Built once per forward: given a bool mask, SDPA would build this itself in every layer."""
    return torch.zeros(attend.shape, dtype=dtype, device=attend.device).masked_fill_(attend.logical_not(), float("-inf"))


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # libtorch's rms_norm keeps float32 statistics whatever the dtype (float16 squares overflow above
        # 256) and equals transformers' eight-op version bit for bit in float32, in one call.
        return torch.rms_norm(x, [self.weight.size(0)], self.weight, self.eps)


class FeedForward(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.w13 = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=cfg.mlp_bias)  # gate, up
        self.w2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=cfg.mlp_bias)
        self.gelu = cfg.activation == "gelu_tanh"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).chunk(2, dim=-1)  # [B, T, I] each
        if self.gelu:
            return self.w2(F.gelu(gate, approximate="tanh") * up)
        return self.w2(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: DecoderConfig, window: Optional[int]) -> None:
        super().__init__()
        self.sliding = window is not None  # attends through the model's sliding-window mask
        self.attention_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)
        # Gemma 2/3 normalise each sub-layer's output too, before it joins the residual stream.
        self.post_attention_norm: Optional[RMSNorm] = (
            RMSNorm(cfg.hidden_size, cfg.norm_eps) if cfg.sandwich_norms else None)
        self.post_ffn_norm: Optional[RMSNorm] = RMSNorm(cfg.hidden_size, cfg.norm_eps) if cfg.sandwich_norms else None

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor,
        batch_idx: torch.Tensor,
        positions: torch.Tensor,
        k_cache: Optional[torch.Tensor],
        v_cache: Optional[torch.Tensor],
        kv_len: int,
    ) -> torch.Tensor:
        h = self.attention(self.attention_norm(x), cos, sin, mask, batch_idx, positions, k_cache, v_cache, kv_len)
        post_attention_norm = self.post_attention_norm
        if post_attention_norm is not None:
            h = post_attention_norm(h)
        x = x + h
        h = self.feed_forward(self.ffn_norm(x))
        post_ffn_norm = self.post_ffn_norm
        if post_ffn_norm is not None:
            h = post_ffn_norm(h)
        return x + h


class Transformer(nn.Module):
    """forward() is the `kv-cache` interface of docs/model-format.md; interfaces.LogitsModel wraps
    hidden_states() and logits() into the `logits` one."""

    # For quantize.py: the output projection's attribute (None when tied) and the embedding it ties to.
    TIED_HEAD = "output"
    EMBEDDING = "tok_embeddings"
    # Read by TorchScript (hence no `from __future__ import annotations` in this file).
    final_softcap: Optional[float]
    embed_scale: Optional[torch.Tensor]

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        windows = cfg.windows or (None,) * cfg.num_layers
        self.layers = nn.ModuleList([Block(cfg, window) for window in windows])
        # One window per model (every family so far has one size); the layers say whether they use it.
        self.window = next((w for w in windows if w is not None), 0)
        self.norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        # None when tied: the logits then use the embedding matrix itself, so model.pt and the device
        # hold one copy of it (49152 x 576 floats for SmolLM2, a fifth of the model).
        self.output: Optional[nn.Module] = (
            None if cfg.tie_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        )
        self.rotary = rope.Rotary(cfg.rope, cfg.head_dim, cfg.max_position_embeddings)
        self.local_rotary: Optional[rope.Rotary] = (
            None if cfg.local_rope is None else rope.Rotary(cfg.local_rope, cfg.head_dim, cfg.max_position_embeddings))
        # A float buffer on purpose: the runtime's dtype cast rounds it as transformers rounds its own
        # (sqrt(hidden_size) in the weights' dtype).
        with torch.device("cpu"):
            scale = None if cfg.embed_scale is None else torch.tensor(cfg.embed_scale)  # [] float32
        self.register_buffer("embed_scale", scale, persistent=False)
        self.final_softcap = cfg.final_softcap

    def forward(
        self,
        tokens: torch.Tensor,  # [B, T] int64
        positions: torch.Tensor,  # [B, T] int64, absolute, 0-based
        k_cache: torch.Tensor,  # [L, B, H_kv, T_max, D] model dtype
        v_cache: torch.Tensor,  # [L, B, H_kv, T_max, D]
        kv_len: int,  # attend to cache positions [0, kv_len)
    ) -> torch.Tensor:
        x = self.hidden_states(tokens, positions, k_cache, v_cache, kv_len)  # [B, T, C]
        return self.logits(x[:, -1])  # [B, V]: only the last position is sampled

    def hidden_states(
        self,
        tokens: torch.Tensor,  # [B, T] int64
        positions: torch.Tensor,  # [B, T] int64, absolute, 0-based
        k_cache: Optional[torch.Tensor],  # [L, B, H_kv, T_max, D], or None: no cache, the tokens are the sequence
        v_cache: Optional[torch.Tensor],  # [L, B, H_kv, T_max, D], or None
        kv_len: int,  # attend to cache positions [0, kv_len); T without a cache
    ) -> torch.Tensor:
        """The last block's output [B, T, C], before the final norm."""
        B, T = tokens.size(0), tokens.size(1)
        x = self.tok_embeddings(tokens)  # [B, T, C]
        embed_scale = self.embed_scale
        if embed_scale is not None:
            x = x * embed_scale.to(x.dtype)
        batch_idx = torch.arange(B, device=tokens.device).unsqueeze(1).expand(B, T)  # [B, T]
        key_pos = torch.arange(kv_len, device=tokens.device).view(1, 1, 1, kv_len)
        query_pos = positions.view(B, 1, T, 1)
        # Causal by position, not by index: rows of one batch may be at different lengths.
        mask = key_pos <= query_pos  # [B, 1, T, S] bool
        # A sliding window by position too: each row keeps its own last `window` positions.
        local_mask = mask & (key_pos > query_pos - self.window) if self.window > 0 else mask
        groups = self.num_heads // self.num_kv_heads
        mask = _additive(mask.repeat(1, 1, groups, 1), x.dtype)  # [B, 1, R*T, S]
        local_mask = _additive(local_mask.repeat(1, 1, groups, 1), x.dtype) if self.window > 0 else mask
        cos, sin = self.rotary(positions, x)  # [B, T, 1, D] each
        local_cos, local_sin = cos, sin
        local_rotary = self.local_rotary
        if local_rotary is not None:
            local_cos, local_sin = local_rotary(positions, x)
        for i, layer in enumerate(self.layers):
            # Per layer: the sliding layers' mask and RoPE, or the global ones (a constant once frozen).
            layer_cos, layer_sin, layer_mask = (local_cos, local_sin, local_mask) if layer.sliding else (cos, sin, mask)
            # Branching here rather than passing an Optional keeps the cache's type a Tensor inside the
            # layer, so a frozen graph has no per-layer branch on it.
            if k_cache is not None and v_cache is not None:
                x = layer(x, layer_cos, layer_sin, layer_mask, batch_idx, positions, k_cache[i], v_cache[i], kv_len)
            else:
                x = layer(x, layer_cos, layer_sin, layer_mask, batch_idx, positions, None, None, kv_len)
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """[..., C] hidden states -> [..., V] logits (final norm, the output projection, soft-capping)."""
        x = self.norm(x)
        output = self.output
        logits = F.linear(x, self.tok_embeddings.weight) if output is None else output(x)
        softcap = self.final_softcap
        if softcap is not None:
            logits = torch.tanh(logits / softcap) * softcap
        return logits
