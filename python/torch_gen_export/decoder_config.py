"""The configuration every decoder family shares (Llama, Mistral, Qwen2/3, Gemma 2/3, Phi-3), and the
transformers config fields common to them.

One module (decoder.py) runs all of them: a family is a DecoderConfig whose switches say which of the
variations it has, plus a checkpoint mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from . import rope
from .errors import ExportError


@dataclass(frozen=True)
class DecoderConfig:
    architecture: str  # transformers model_type
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    norm_eps: float
    rope: dict[str, Any]  # transformers' rope_parameters: rope_type, rope_theta and the scaling fields
    max_position_embeddings: int  # the model's own limit (LongRoPE's factor depends on it)
    max_context: int
    tie_embeddings: bool
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    activation: str = "silu"  # or "gelu_tanh" (Gemma's GeGLU)
    qk_norm: bool = False  # RMSNorm of each query and key head before RoPE (Qwen3, Gemma 3)
    norm_offset: float = 0.0  # Gemma's norms scale by (1 + w): the offset is added to the weights once
    sandwich_norms: bool = False  # Gemma 2/3: norms after attention and around the feed-forward too
    embed_scale: Optional[float] = None  # Gemma multiplies the embeddings by sqrt(hidden_size)
    query_pre_attn_scalar: Optional[float] = None  # Gemma: scores scale by its -1/2 power, not head_dim's
    attn_softcap: Optional[float] = None  # Gemma 2: cap * tanh(scores / cap) before the softmax
    final_softcap: Optional[float] = None  # Gemma 2/3: the same on the logits
    # Per layer: None attends to every earlier position, a window w to the last w positions only.
    windows: tuple[Optional[int], ...] = field(default_factory=tuple)
    local_rope: Optional[dict[str, Any]] = None  # Gemma 3: the sliding-window layers' own RoPE

    def features(self) -> list[str]:
        """What distinguishes this model, in words, for the manifest (`torch-gen info`, model.info)."""
        named: list[str] = []
        if self.num_kv_heads < self.num_heads:
            named.append(f"grouped-query attention ({self.num_heads} query, {self.num_kv_heads} kv heads)")
        if self.qkv_bias:
            named.append("q/k/v biases")
        if self.qk_norm:
            named.append("q/k RMSNorm")
        named.append("GeGLU (gelu tanh)" if self.activation == "gelu_tanh" else "SwiGLU")
        if self.norm_offset != 0.0:
            named.append("(1 + w) RMSNorm")
        if self.sandwich_norms:
            named.append("post-attention and pre/post feed-forward norms")
        if self.embed_scale is not None:
            named.append("scaled embeddings")
        if self.query_pre_attn_scalar is not None:
            named.append(f"query_pre_attn_scalar {self.query_pre_attn_scalar:g}")
        if self.attn_softcap is not None:
            named.append(f"attention logit soft-capping {self.attn_softcap:g}")
        if self.final_softcap is not None:
            named.append(f"final logit soft-capping {self.final_softcap:g}")
        if self.tie_embeddings:
            named.append("tied embeddings")
        named.append(f"RoPE {self.rope.get('rope_type', 'default')} (theta {self.rope['rope_theta']:g})")
        if self.local_rope is not None:
            named.append(f"local RoPE {self.local_rope.get('rope_type', 'default')} "
                         f"(theta {self.local_rope['rope_theta']:g}) on the sliding-window layers")
        sliding = [w for w in self.windows if w is not None]
        if sliding:
            named.append(f"sliding-window attention ({sliding[0]} tokens) on {len(sliding)} of {self.num_layers} layers")
        return named


def common_fields(hf: Any, max_context: Optional[int]) -> dict[str, Any]:
    """The DecoderConfig fields every family reads the same way from a transformers config."""
    num_heads = hf.num_attention_heads
    num_kv_heads = getattr(hf, "num_key_value_heads", None) or num_heads
    if num_heads % num_kv_heads != 0:
        raise ExportError(f"num_attention_heads {num_heads} is not a multiple of num_key_value_heads {num_kv_heads}")
    head_dim = getattr(hf, "head_dim", None) or hf.hidden_size // num_heads
    limit = hf.max_position_embeddings
    context = limit if max_context is None else max_context
    if context > limit:
        raise ExportError(f"max context {context} exceeds the model's max_position_embeddings {limit}")
    return dict(
        architecture=hf.model_type,
        vocab_size=hf.vocab_size,
        hidden_size=hf.hidden_size,
        intermediate_size=hf.intermediate_size,
        num_layers=hf.num_hidden_layers,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        norm_eps=float(hf.rms_norm_eps),
        max_position_embeddings=limit,
        max_context=context,
        tie_embeddings=bool(getattr(hf, "tie_word_embeddings", False)),
        windows=attention_windows(hf),
    )


def rope_parameters(hf: Any, head_dim: int, layer_type: Optional[str] = None) -> dict[str, Any]:
    """transformers' rope_parameters (those of `layer_type` where a config has one per layer type),
    checked before any weights load."""
    parameters = dict(getattr(hf, "rope_parameters", None) or {})
    if layer_type is not None:
        parameters = dict(parameters.get(layer_type) or {})
    elif any(isinstance(v, dict) for v in parameters.values()):
        raise ExportError("per-layer rope_parameters are not supported (one RoPE for all layers only)")
    parameters.setdefault("rope_theta", getattr(hf, "rope_theta", 10000.0))
    if parameters.get("rope_type") == "longrope":  # older configs keep it at the top level
        parameters.setdefault("original_max_position_embeddings", getattr(hf, "original_max_position_embeddings", None))
    rope.Rotary(parameters, head_dim, hf.max_position_embeddings)  # refuses unsupported scaling
    return parameters


def attention_windows(hf: Any) -> tuple[Optional[int], ...]:
    """Each layer's sliding window as transformers applies it, None for full attention.

    Configs with `layer_types` (Gemma, Qwen2/3) window the "sliding_attention" layers; those without
    (Mistral, Phi-3) window every layer when `sliding_window` is set. A window as long as the context
    never slides, but it is kept: Gemma 3's sliding layers also have their own RoPE.
    """
    layers = hf.num_hidden_layers
    window = getattr(hf, "sliding_window", None)
    layer_types = getattr(hf, "layer_types", None)
    if layer_types is not None:
        unknown = sorted(set(layer_types) - {"full_attention", "sliding_attention"})
        if unknown:
            raise ExportError(f"layer_types {unknown} are not supported (only full_attention, sliding_attention)")
        if len(layer_types) != layers:
            raise ExportError(f"layer_types lists {len(layer_types)} layers, num_hidden_layers is {layers}")
    if window is None:
        if layer_types is not None and "sliding_attention" in layer_types:
            raise ExportError("layer_types has sliding_attention layers but sliding_window is not set")
        return (None,) * layers
    if not isinstance(window, int) or window < 1:
        raise ExportError(f"sliding_window must be a positive integer, found {window!r}")
    sliding = [t == "sliding_attention" for t in layer_types] if layer_types is not None else [True] * layers
    return tuple(window if is_sliding else None for is_sliding in sliding)
