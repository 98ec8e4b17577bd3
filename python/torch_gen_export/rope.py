"""Rotary position embeddings: the frequencies (computed at export time) and their use (scripted).

The inverse frequencies are stored in the module as int64 fixed point rather than as a float buffer. The
runtime casts the whole module to the dtype the user asks for (`module.to(torch::kHalf)`), which casts
every floating-point buffer too; in float16 a frequency near 1 has a relative error of 5e-4, i.e. half a
radian of rotation error at position 1000. Integer buffers are left alone by a dtype cast (but follow
`.to(device)`), and every float32 value >= 2**-39 is exact in this encoding, so the angles stay those of
a float32 model whatever the weights' dtype.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import torch
from torch import nn

from .errors import ExportError

SUPPORTED_ROPE_TYPES = ("default", "linear", "llama3", "longrope")

FIXED_POINT_BITS = 62


def inverse_frequencies(rope: dict[str, Any], head_dim: int) -> torch.Tensor:
    """[head_dim / 2] float32 inverse frequencies for a Hugging Face `rope_parameters` dict.

    The arithmetic follows transformers' own order of operations in float32, so the angles match its
    models bit for bit (a one-ulp difference in a frequency becomes 1e-3 rad at position 8000).
    """
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in SUPPORTED_ROPE_TYPES:
        raise ExportError(
            f"rope_scaling type {rope_type!r} is not supported (supported: {', '.join(SUPPORTED_ROPE_TYPES)})"
        )
    partial = rope.get("partial_rotary_factor", 1.0)
    if partial != 1.0:
        raise ExportError(f"rope partial_rotary_factor {partial} is not supported (only 1.0)")
    if head_dim % 2 != 0:
        raise ExportError(f"head_dim {head_dim} is odd; rotary embeddings need an even head_dim")
    theta = float(rope["rope_theta"])
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype=torch.float32) / head_dim
    inv_freq = 1.0 / (theta**exponents)  # [D/2] float32
    if rope_type == "linear":
        inv_freq = inv_freq / float(_field(rope, "factor", rope_type))
    elif rope_type == "llama3":
        inv_freq = _llama3_scaling(inv_freq, rope)
    elif rope_type == "longrope":
        inv_freq = _longrope_frequencies(rope, head_dim, "short_factor")
    return inv_freq


def long_context_frequencies(rope: dict[str, Any], head_dim: int,
                             max_position_embeddings: int) -> Optional[Tuple[torch.Tensor, int, float]]:
    """LongRoPE (Phi-3/3.5's "longrope", formerly "su"): (long inverse frequencies [D/2], the position from
    which they apply, the factor on cos and sin), or None for any other RoPE.

    transformers switches a whole forward to the long factors once its sequence outgrows
    original_max_position_embeddings (keys already cached keep their short-factor rotation); Rotary makes
    the same choice per row, so a row decodes as it would alone.
    """
    if rope.get("rope_type", rope.get("type")) != "longrope":
        return None
    original = int(_field(rope, "original_max_position_embeddings", "longrope"))
    factor = rope.get("factor") or max_position_embeddings / original
    attention_factor = rope.get("attention_factor")
    if attention_factor is None:
        attention_factor = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
    return _longrope_frequencies(rope, head_dim, "long_factor"), original, float(attention_factor)


def _longrope_frequencies(rope: dict[str, Any], head_dim: int, which: str) -> torch.Tensor:
    factors = torch.tensor(_field(rope, which, "longrope"), dtype=torch.float32)
    if factors.shape != (head_dim // 2,):
        raise ExportError(f"rope {which} has {factors.numel()} values; head_dim {head_dim} needs {head_dim // 2}")
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    return 1.0 / (factors * float(rope["rope_theta"]) ** exponents)  # transformers' order of operations


def _llama3_scaling(inv_freq: torch.Tensor, rope: dict[str, Any]) -> torch.Tensor:
    """Llama 3.1's frequency-dependent scaling: low frequencies divided by `factor`, high ones kept,
    a smooth blend between."""
    factor = float(_field(rope, "factor", "llama3"))
    low = float(_field(rope, "low_freq_factor", "llama3"))
    high = float(_field(rope, "high_freq_factor", "llama3"))
    original = int(_field(rope, "original_max_position_embeddings", "llama3"))
    low_freq_wavelen = original / low
    high_freq_wavelen = original / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (original / wavelen - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, blended, scaled)


def _field(rope: dict[str, Any], name: str, rope_type: str) -> Any:
    if rope.get(name) is None:
        raise ExportError(f"rope_scaling type {rope_type!r} needs the field {name!r}, which the config lacks")
    return rope[name]


def encode_fixed_point(inv_freq: torch.Tensor) -> torch.Tensor:
    """float32 frequencies in (0, 1] -> int64 fixed point, exactly (see the module docstring)."""
    if not bool(((inv_freq > 2.0**-39) & (inv_freq <= 1.0)).all()):
        raise ExportError(f"rope frequencies out of range (0, 1]: {inv_freq.tolist()}; check rope_theta")
    return torch.round(inv_freq.to(torch.float64) * 2.0**FIXED_POINT_BITS).to(torch.int64)


class Rotary(nn.Module):
    """cos and signed sin [B, T, 1, D] for positions [B, T] int64, computed once per forward for every layer
    that uses this RoPE (a model has one; Gemma 3 has a second, local one for its sliding-window layers)."""

    def __init__(self, rope: dict[str, Any], head_dim: int, max_position_embeddings: int) -> None:
        super().__init__()
        # Explicitly on the CPU: the model is built on the meta device and only the weights are loaded.
        with torch.device("cpu"):
            short = inverse_frequencies(rope, head_dim)  # [D/2]
            longrope = long_context_frequencies(rope, head_dim, max_position_embeddings)
            long, long_from, factor = longrope if longrope is not None else (short, 0, 1.0)
            fixed = encode_fixed_point(torch.stack([short, long]))  # [2, D/2] int64: short, long
        self.register_buffer("inv_freq_fixed", fixed, persistent=False)
        self.longrope = longrope is not None
        self.long_from = long_from  # a row whose last position reaches this rotates with the long factors
        self.attention_factor = factor  # LongRoPE scales cos and sin; 1 otherwise
        # FIXED_POINT_BITS, kept on the module because TorchScript cannot read module globals.
        self.fixed_point_bits = FIXED_POINT_BITS

    def forward(self, positions: torch.Tensor, like: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        inv_freq = (self.inv_freq_fixed.to(torch.float64) * 2.0 ** -self.fixed_point_bits).to(torch.float32)
        if self.longrope:
            use_long = positions.max(dim=1, keepdim=True).values >= self.long_from  # [B, 1]
            freqs = torch.where(use_long.unsqueeze(-1), inv_freq[1], inv_freq[0])  # [B, 1, D/2]
        else:
            freqs = inv_freq[0]  # [D/2]
        # float32 like transformers: positions are exact up to 2**24, far beyond any context.
        angles = positions.to(torch.float32).unsqueeze(-1) * freqs  # [B, T, D/2]
        sin = angles.sin()
        signed_sin = torch.cat((-sin, sin), dim=-1)  # [B, T, D] (see apply_rope)
        cos = torch.cat((angles, angles), dim=-1).cos()  # [B, T, D]
        if self.longrope:
            cos, signed_sin = cos * self.attention_factor, signed_sin * self.attention_factor
        return cos.to(like.dtype).unsqueeze(2), signed_sin.to(like.dtype).unsqueeze(2)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor, half: int) -> torch.Tensor:
    """Rotates x [B, T, H, D] by the angles in cos/signed_sin [B, T, 1, D] (HF Llama's half-split layout).

    transformers computes x * cos + cat(-x2, x1) * sin; with the sign folded into the sine once per
    forward, cat(-x2, x1) * sin is roll(x) * signed_sin, bit for bit (negation is exact), in 4 ops
    instead of 7: a decode step runs this for every layer. `half` is D / 2.
    """
    return x * cos + x.roll(half, -1) * signed_sin
