"""GPT-2 for the `kv-cache` and `logits` interfaces: learned positions, pre-LayerNorm blocks, GELU MLP, tied head.

The numerics follow transformers' GPT2LMHeadModel. Its Conv1D layers store weights as [in, out]; they are
transposed here into nn.Linear's [out, in] once, at export time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import CheckpointReader
from .errors import ExportError

ARCHITECTURES = {"gpt2": "GPT2LMHeadModel"}

FAMILY_NAMES = {"gpt2": "GPT-2"}

# transformers activation name -> F.gelu's `approximate`.
_GELU = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}


@dataclass(frozen=True)
class GPT2Config:
    architecture: str  # "gpt2"
    vocab_size: int
    max_positions: int  # rows of the learned position table (n_positions)
    hidden_size: int
    inner_size: int
    num_layers: int
    num_heads: int
    head_dim: int
    norm_eps: float
    gelu_approximate: str  # "tanh" or "none"
    attention_scales: List[float]  # per layer: 1/sqrt(D), optionally divided by (layer index + 1)
    tie_embeddings: bool
    max_context: int

    @property
    def num_kv_heads(self) -> int:
        return self.num_heads

    def features(self) -> List[str]:
        """What distinguishes this model, in words, for the manifest (as DecoderConfig.features)."""
        named = [f"learned positions ({self.max_positions})", "LayerNorm",
                 "GELU" if self.gelu_approximate == "none" else "GELU (tanh)"]
        return named + (["tied embeddings"] if self.tie_embeddings else [])


def config_from_hf(hf: Any, max_context: Optional[int]) -> GPT2Config:
    """Checks a transformers GPT2Config for what this file implements and keeps what it needs."""
    act = hf.activation_function
    if act not in _GELU:
        raise ExportError(f"activation_function {act!r} is not supported for gpt2 (supported: {', '.join(_GELU)})")
    if getattr(hf, "add_cross_attention", False):
        raise ExportError("add_cross_attention is not supported: only decoder-only GPT-2 models can be exported")
    if hf.n_embd % hf.n_head != 0:
        raise ExportError(f"n_embd {hf.n_embd} is not a multiple of n_head {hf.n_head}")
    limit = hf.n_positions
    context = limit if max_context is None else max_context
    if context > limit:
        raise ExportError(f"max context {context} exceeds the model's n_positions {limit} (learned positions)")
    head_dim = hf.n_embd // hf.n_head
    scales = []
    for i in range(hf.n_layer):
        scale = head_dim**-0.5 if hf.scale_attn_weights else 1.0
        if getattr(hf, "scale_attn_by_inverse_layer_idx", False):
            scale /= i + 1
        scales.append(scale)
    return GPT2Config(
        architecture="gpt2",
        vocab_size=hf.vocab_size,
        max_positions=limit,
        hidden_size=hf.n_embd,
        inner_size=hf.n_inner or 4 * hf.n_embd,
        num_layers=hf.n_layer,
        num_heads=hf.n_head,
        head_dim=head_dim,
        norm_eps=float(hf.layer_norm_epsilon),
        gelu_approximate=_GELU[act],
        attention_scales=scales,
        tie_embeddings=bool(getattr(hf, "tie_word_embeddings", True)),
        max_context=context,
    )


class Attention(nn.Module):
    def __init__(self, cfg: GPT2Config, scale: float) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.head_dim
        self.scale = scale
        self.c_attn = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.c_proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, C]
        mask: torch.Tensor,  # [B, 1, T, S] bool, True = attend
        batch_idx: torch.Tensor,  # [B, T] int64
        positions: torch.Tensor,  # [B, T] int64
        k_cache: Optional[torch.Tensor],  # [B, H, T_max, D], a view into the runtime's pool; None: no cache
        v_cache: Optional[torch.Tensor],  # [B, H, T_max, D]
        kv_len: int,
    ) -> torch.Tensor:
        B, T, C = x.size(0), x.size(1), x.size(2)
        q, k, v = self.c_attn(x).split(C, dim=-1)  # [B, T, C] each
        k = k.view(B, T, self.num_heads, self.head_dim)  # [B, T, H, D]
        v = v.view(B, T, self.num_heads, self.head_dim)  # [B, T, H, D]
        if k_cache is not None and v_cache is not None:
            # One index_put_ on the cache itself, k's [B, T, H, D] at [b, :, p] (see attention.py: in place under
            # AOTInductor too, where a write through a transposed view copied the whole cache).
            k_cache[batch_idx, :, positions] = k
            v_cache[batch_idx, :, positions] = v
            keys = k_cache[:, :, :kv_len]  # [B, H, S, D]
            values = v_cache[:, :, :kv_len]  # [B, H, S, D]
        else:
            # No cache (the `logits` interface): the tokens attend to each other only, S = T.
            keys = k.transpose(1, 2)  # [B, H, T, D]
            values = v.transpose(1, 2)  # [B, H, T, D]
        q = q.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # [B, H, T, D]
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=self.scale)  # [B, H, T, D]
        return self.c_proj(out.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.approximate = cfg.gelu_approximate
        self.c_fc = nn.Linear(cfg.hidden_size, cfg.inner_size)
        self.c_proj = nn.Linear(cfg.inner_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate=self.approximate))


class Block(nn.Module):
    def __init__(self, cfg: GPT2Config, scale: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)
        self.attn = Attention(cfg, scale)
        self.ln_2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        batch_idx: torch.Tensor,
        positions: torch.Tensor,
        k_cache: Optional[torch.Tensor],
        v_cache: Optional[torch.Tensor],
        kv_len: int,
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask, batch_idx, positions, k_cache, v_cache, kv_len)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """forward() is the `kv-cache` interface of docs/model-format.md; interfaces.LogitsModel wraps
    hidden_states() and logits() into the `logits` one."""

    # For quantize.py: the output projection's attribute (None when tied) and the embedding it ties to.
    TIED_HEAD = "lm_head"
    EMBEDDING = "wte"

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.wpe = nn.Embedding(cfg.max_positions, cfg.hidden_size)
        self.h = nn.ModuleList([Block(cfg, scale) for scale in cfg.attention_scales])
        self.ln_f = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)
        # None when tied: the logits then use wte itself, so model.pt holds one copy of it.
        self.lm_head: Optional[nn.Module] = (
            None if cfg.tie_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        )

    def forward(
        self,
        tokens: torch.Tensor,  # [B, T] int64
        positions: torch.Tensor,  # [B, T] int64, absolute, 0-based, < max_positions
        k_cache: torch.Tensor,  # [L, B, H, T_max, D] model dtype
        v_cache: torch.Tensor,  # [L, B, H, T_max, D]
        kv_len: int,  # attend to cache positions [0, kv_len)
    ) -> torch.Tensor:
        x = self.hidden_states(tokens, positions, k_cache, v_cache, kv_len)  # [B, T, C]
        return self.logits(x[:, -1])  # [B, V]: only the last position is sampled

    def hidden_states(
        self,
        tokens: torch.Tensor,  # [B, T] int64
        positions: torch.Tensor,  # [B, T] int64, absolute, 0-based, < max_positions
        k_cache: Optional[torch.Tensor],  # [L, B, H, T_max, D], or None: no cache, the tokens are the sequence
        v_cache: Optional[torch.Tensor],  # [L, B, H, T_max, D], or None
        kv_len: int,  # attend to cache positions [0, kv_len); T without a cache
    ) -> torch.Tensor:
        """The last block's output [B, T, C], before the final norm."""
        B, T = tokens.size(0), tokens.size(1)
        x = self.wte(tokens) + self.wpe(positions)  # [B, T, C]
        batch_idx = torch.arange(B, device=tokens.device).unsqueeze(1).expand(B, T)  # [B, T]
        key_pos = torch.arange(kv_len, device=tokens.device).view(1, 1, 1, kv_len)
        # Causal by position, not by index: rows of one batch may be at different lengths.
        mask = key_pos <= positions.view(B, 1, T, 1)  # [B, 1, T, S] bool
        for i, block in enumerate(self.h):
            if k_cache is not None and v_cache is not None:
                x = block(x, mask, batch_idx, positions, k_cache[i], v_cache[i], kv_len)
            else:
                x = block(x, mask, batch_idx, positions, None, None, kv_len)
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """[..., C] hidden states -> [..., V] logits (final LayerNorm, then the head)."""
        x = self.ln_f(x)
        lm_head = self.lm_head
        if lm_head is None:
            return F.linear(x, self.wte.weight)
        return lm_head(x)


def convert_checkpoint(
    state_dict: dict[str, torch.Tensor], cfg: GPT2Config, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Maps a transformers GPT2LMHeadModel state dict onto Transformer's, checking every shape."""
    ckpt = CheckpointReader(state_dict, dtype)
    C, inner = cfg.hidden_size, cfg.inner_size
    out = {
        "wte.weight": ckpt.take("transformer.wte.weight", (cfg.vocab_size, C), "vocab_size, n_embd"),
        "wpe.weight": ckpt.take("transformer.wpe.weight", (cfg.max_positions, C), "n_positions, n_embd"),
    }

    def conv1d(key: str, n_in: int, n_out: int) -> None:
        # Conv1D keeps [in, out]; nn.Linear wants [out, in].
        dst = key.replace("transformer.h.", "h.")
        out[dst + ".weight"] = ckpt.take(key + ".weight", (n_in, n_out), "n_embd, n_inner").t().contiguous()
        out[dst + ".bias"] = ckpt.take(key + ".bias", (n_out,))

    def layer_norm(key: str) -> None:
        dst = key.replace("transformer.", "")
        out[dst + ".weight"] = ckpt.take(key + ".weight", (C,))
        out[dst + ".bias"] = ckpt.take(key + ".bias", (C,))

    for i in range(cfg.num_layers):
        src = f"transformer.h.{i}."
        layer_norm(src + "ln_1")
        conv1d(src + "attn.c_attn", C, 3 * C)
        conv1d(src + "attn.c_proj", C, C)
        layer_norm(src + "ln_2")
        conv1d(src + "mlp.c_fc", C, inner)
        conv1d(src + "mlp.c_proj", inner, C)
    layer_norm("transformer.ln_f")
    # Older transformers kept the causal-mask buffers in the state dict; they carry no weights.
    buffers = [f"transformer.h.{i}.attn.{name}" for i in range(cfg.num_layers) for name in ("bias", "masked_bias")]
    if cfg.tie_embeddings:
        ckpt.finish(ignorable=["lm_head.weight", *buffers])
    else:
        out["lm_head.weight"] = ckpt.take("lm_head.weight", (cfg.vocab_size, C), "vocab_size, n_embd")
        ckpt.finish(ignorable=buffers)
    return out
