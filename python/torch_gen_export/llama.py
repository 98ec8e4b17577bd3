"""The Llama family for the `kv-cache` and `logits` interfaces: Llama 2/3, SmolLM2, TinyLlama, Mistral, Qwen2.

RMSNorm, rotary positions (default, linear and llama3 scaling), SwiGLU, grouped-query attention, optional
q/k/v (Qwen2) or all-projection (Llama `attention_bias`) biases, optional tied embeddings. The numerics
follow transformers' Llama: norms in float32, rotation in the weights' dtype, attention scale 1/sqrt(D).
A decode step of a small model is bound by its op count as much as by its weights, so the code keeps ops
few where it costs no accuracy: fused q/k/v and gate/up projections, one RMSNorm call, one RoPE for
queries and keys together, the mask and rotation angles built once per forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import rope
from .checkpoint import CheckpointReader
from .errors import ExportError

# transformers model_type -> the causal-LM class a config.json names in `architectures`.
ARCHITECTURES = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
}


@dataclass(frozen=True)
class LlamaConfig:
    architecture: str  # transformers model_type: llama, mistral or qwen2
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    norm_eps: float
    rope: dict[str, Any]  # transformers' rope_parameters: rope_type, rope_theta and the scaling fields
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    tie_embeddings: bool
    max_context: int


def config_from_hf(hf: Any, max_context: Optional[int]) -> LlamaConfig:
    """Checks a transformers config for what this file implements and keeps what it needs."""
    model_type = hf.model_type
    act = getattr(hf, "hidden_act", "silu")
    if act != "silu":
        raise ExportError(f"hidden_act {act!r} is not supported for {model_type} (only 'silu')")
    num_heads = hf.num_attention_heads
    num_kv_heads = getattr(hf, "num_key_value_heads", None) or num_heads
    if num_heads % num_kv_heads != 0:
        raise ExportError(f"num_attention_heads {num_heads} is not a multiple of num_key_value_heads {num_kv_heads}")
    head_dim = getattr(hf, "head_dim", None) or hf.hidden_size // num_heads
    limit = hf.max_position_embeddings
    context = limit if max_context is None else max_context
    if context > limit:
        raise ExportError(f"max context {context} exceeds the model's max_position_embeddings {limit}")
    _check_sliding_window(hf, context)
    rope_parameters = dict(getattr(hf, "rope_parameters", None) or {})
    if any(isinstance(v, dict) for v in rope_parameters.values()):
        raise ExportError("per-layer rope_parameters are not supported (one RoPE for all layers only)")
    rope_parameters.setdefault("rope_theta", getattr(hf, "rope_theta", 10000.0))
    rope.inverse_frequencies(rope_parameters, head_dim)  # refuses unsupported scaling before weights load
    attention_bias = bool(getattr(hf, "attention_bias", False))
    return LlamaConfig(
        architecture=model_type,
        vocab_size=hf.vocab_size,
        hidden_size=hf.hidden_size,
        intermediate_size=hf.intermediate_size,
        num_layers=hf.num_hidden_layers,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        norm_eps=float(hf.rms_norm_eps),
        rope=rope_parameters,
        qkv_bias=model_type == "qwen2" or attention_bias,
        o_bias=attention_bias,
        mlp_bias=bool(getattr(hf, "mlp_bias", False)),
        tie_embeddings=bool(getattr(hf, "tie_word_embeddings", False)),
        max_context=context,
    )


def _check_sliding_window(hf: Any, context: int) -> None:
    """A window as long as the context never slides, so it is full attention; a shorter one is refused."""
    window = getattr(hf, "sliding_window", None)
    layer_types = getattr(hf, "layer_types", None)
    if window is None or (layer_types is not None and "sliding_attention" not in layer_types):
        return
    if window < context:
        raise ExportError(
            f"sliding_window {window} is smaller than the max context {context}: sliding-window attention "
            f"is not supported; export with --max-context {window} or less"
        )


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # libtorch's rms_norm keeps float32 statistics whatever the dtype (float16 squares overflow above
        # 256) and equals transformers' eight-op version bit for bit in float32, in one call.
        return torch.rms_norm(x, [self.weight.size(0)], self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.head_dim = cfg.head_dim
        self.half_dim = cfg.head_dim // 2
        q_size = cfg.num_heads * cfg.head_dim
        kv_size = cfg.num_kv_heads * cfg.head_dim
        self.qk_size = q_size + kv_size
        # One fused q/k/v projection: a decode step of a small model is bound by kernel launches.
        self.wqkv = nn.Linear(cfg.hidden_size, q_size + 2 * kv_size, bias=cfg.qkv_bias)
        self.wo = nn.Linear(q_size, cfg.hidden_size, bias=cfg.o_bias)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, C]
        cos: torch.Tensor,  # [B, T, 1, D]
        sin: torch.Tensor,  # [B, T, 1, D] signed (rope.rope_cos_sin)
        mask: torch.Tensor,  # [B, 1, R*T, S] bool, True = attend (already repeated for the R query groups)
        batch_idx: torch.Tensor,  # [B, T] int64
        positions: torch.Tensor,  # [B, T] int64
        k_cache: Optional[torch.Tensor],  # [B, H_kv, T_max, D], a view into the runtime's pool; None: no cache
        v_cache: Optional[torch.Tensor],  # [B, H_kv, T_max, D]
        kv_len: int,
    ) -> torch.Tensor:
        B, T = x.size(0), x.size(1)
        qkv = self.wqkv(x)  # [B, T, (H + 2 H_kv) D]
        # Queries and keys rotate together: one RoPE for both heads' groups (fewer ops per layer).
        qk = qkv[:, :, : self.qk_size].view(B, T, self.num_heads + self.num_kv_heads, self.head_dim)
        qk = rope.apply_rope(qk, cos, sin, self.half_dim)  # [B, T, H + H_kv, D]
        q = qk[:, :, : self.num_heads]  # [B, T, H, D]
        k = qk[:, :, self.num_heads :]  # [B, T, H_kv, D]
        v = qkv[:, :, self.qk_size :].view(B, T, self.num_kv_heads, self.head_dim)  # [B, T, H_kv, D]
        if k_cache is not None and v_cache is not None:
            # index_put_ through a transposed view writes into the caller's storage: [B, T_max, H_kv, D].
            k_cache.transpose(1, 2)[batch_idx, positions] = k
            v_cache.transpose(1, 2)[batch_idx, positions] = v
            keys = k_cache[:, :, :kv_len]  # [B, H_kv, S, D]
            values = v_cache[:, :, :kv_len]  # [B, H_kv, S, D]
        else:
            # No cache (the `logits` interface): the tokens attend to each other only, S = T.
            keys = k.transpose(1, 2)  # [B, H_kv, T, D]
            values = v.transpose(1, 2)  # [B, H_kv, T, D]
        # Grouped-query attention without copying the cache: the R = H / H_kv query heads that share a
        # key/value head are folded into the query-length axis (head h uses kv head h // R, as in HF).
        groups = self.num_heads // self.num_kv_heads
        q = q.transpose(1, 2).reshape(B, self.num_kv_heads, groups * T, self.head_dim)  # [B, H_kv, R*T, D]
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)  # [B, H_kv, R*T, D]
        out = out.view(B, self.num_heads, T, self.head_dim).transpose(1, 2)  # [B, T, H, D]
        return self.wo(out.reshape(B, T, self.num_heads * self.head_dim))


class FeedForward(nn.Module):
    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.w13 = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=cfg.mlp_bias)  # gate, up
        self.w2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=cfg.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).chunk(2, dim=-1)  # [B, T, I] each
        return self.w2(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)

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
        h = self.attention_norm(x)
        x = x + self.attention(h, cos, sin, mask, batch_idx, positions, k_cache, v_cache, kv_len)
        return x + self.feed_forward(self.ffn_norm(x))


class Transformer(nn.Module):
    """forward() is the `kv-cache` interface of docs/model-format.md; interfaces.LogitsModel wraps
    hidden_states() and logits() into the `logits` one."""

    # For quantize.py: the output projection's attribute (None when tied) and the embedding it ties to.
    TIED_HEAD = "output"
    EMBEDDING = "tok_embeddings"

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        # None when tied: the logits then use the embedding matrix itself, so model.pt and the device
        # hold one copy of it (49152 x 576 floats for SmolLM2, a fifth of the model).
        self.output: Optional[nn.Module] = (
            None if cfg.tie_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        )
        # Explicitly on the CPU: the model is built on the meta device and only the weights are loaded.
        with torch.device("cpu"):
            inv_freq_fixed = rope.encode_fixed_point(rope.inverse_frequencies(cfg.rope, cfg.head_dim))
        self.register_buffer("rope_inv_freq_fixed", inv_freq_fixed, persistent=False)  # [D/2] int64
        self.rope_fixed_point_bits = rope.FIXED_POINT_BITS

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
        batch_idx = torch.arange(B, device=tokens.device).unsqueeze(1).expand(B, T)  # [B, T]
        key_pos = torch.arange(kv_len, device=tokens.device).view(1, 1, 1, kv_len)
        # Causal by position, not by index: rows of one batch may be at different lengths.
        mask = key_pos <= positions.view(B, 1, T, 1)  # [B, 1, T, S] bool
        mask = mask.repeat(1, 1, self.num_heads // self.num_kv_heads, 1)  # [B, 1, R*T, S]
        # [B, T, 1, D] each
        cos, sin = rope.rope_cos_sin(positions, self.rope_inv_freq_fixed, self.rope_fixed_point_bits, x)
        for i, layer in enumerate(self.layers):
            if k_cache is not None and v_cache is not None:
                x = layer(x, cos, sin, mask, batch_idx, positions, k_cache[i], v_cache[i], kv_len)
            else:
                x = layer(x, cos, sin, mask, batch_idx, positions, None, None, kv_len)
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """[..., C] hidden states -> [..., V] logits (final norm, then the output projection)."""
        x = self.norm(x)
        output = self.output
        if output is None:
            return F.linear(x, self.tok_embeddings.weight)
        return output(x)


def convert_checkpoint(
    state_dict: dict[str, torch.Tensor], cfg: LlamaConfig, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Maps a transformers Llama/Mistral/Qwen2 state dict onto Transformer's, checking every shape."""
    ckpt = CheckpointReader(state_dict, dtype)
    C, inner, D = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim
    q_size, kv_size = cfg.num_heads * D, cfg.num_kv_heads * D
    heads = f"num_attention_heads={cfg.num_heads}, num_key_value_heads={cfg.num_kv_heads}, head_dim={D}"
    embedding = ckpt.take("model.embed_tokens.weight", (cfg.vocab_size, C), "vocab_size, hidden_size")
    out = {"tok_embeddings.weight": embedding}
    for i in range(cfg.num_layers):
        src, dst = f"model.layers.{i}.", f"layers.{i}."
        attn = src + "self_attn."
        out[dst + "attention_norm.weight"] = ckpt.take(src + "input_layernorm.weight", (C,))
        out[dst + "ffn_norm.weight"] = ckpt.take(src + "post_attention_layernorm.weight", (C,))
        out[dst + "attention.wqkv.weight"] = torch.cat([
            ckpt.take(attn + "q_proj.weight", (q_size, C), heads),
            ckpt.take(attn + "k_proj.weight", (kv_size, C), heads),
            ckpt.take(attn + "v_proj.weight", (kv_size, C), heads),
        ])
        if cfg.qkv_bias:
            out[dst + "attention.wqkv.bias"] = torch.cat([
                ckpt.take(attn + "q_proj.bias", (q_size,), heads),
                ckpt.take(attn + "k_proj.bias", (kv_size,), heads),
                ckpt.take(attn + "v_proj.bias", (kv_size,), heads),
            ])
        out[dst + "attention.wo.weight"] = ckpt.take(attn + "o_proj.weight", (C, q_size), heads)
        if cfg.o_bias:
            out[dst + "attention.wo.bias"] = ckpt.take(attn + "o_proj.bias", (C,))
        mlp = src + "mlp."
        out[dst + "feed_forward.w13.weight"] = torch.cat([
            ckpt.take(mlp + "gate_proj.weight", (inner, C), "intermediate_size"),
            ckpt.take(mlp + "up_proj.weight", (inner, C), "intermediate_size"),
        ])
        out[dst + "feed_forward.w2.weight"] = ckpt.take(mlp + "down_proj.weight", (C, inner), "intermediate_size")
        if cfg.mlp_bias:
            out[dst + "feed_forward.w13.bias"] = torch.cat([
                ckpt.take(mlp + "gate_proj.bias", (inner,)), ckpt.take(mlp + "up_proj.bias", (inner,))
            ])
            out[dst + "feed_forward.w2.bias"] = ckpt.take(mlp + "down_proj.bias", (C,))
    out["norm.weight"] = ckpt.take("model.norm.weight", (C,))
    # Checkpoints from transformers before 4.31 saved the RoPE frequencies, which are recomputed here.
    rotary = [f"model.layers.{i}.self_attn.rotary_emb.inv_freq" for i in range(cfg.num_layers)]
    if cfg.tie_embeddings:
        # transformers lists the tied head as a second name for the embedding; GGUF omits it.
        ckpt.finish(ignorable=["lm_head.weight", *rotary])
    else:
        out["output.weight"] = ckpt.take("lm_head.weight", (cfg.vocab_size, C), "vocab_size, hidden_size")
        ckpt.finish(ignorable=rotary)
    return out
