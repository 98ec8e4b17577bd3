"""Gemma 2 and Gemma 3 (text) configs; their checkpoints map as Llama's (llama.convert_checkpoint).

What sets them apart, all switches of decoder.Transformer: norms that scale by (1 + w) (the 1 is added
to the weights at export), embeddings scaled by sqrt(hidden_size), GeGLU with gelu's tanh approximation,
a norm after attention and around the feed-forward, queries scaled by query_pre_attn_scalar ** -0.5,
final logit soft-capping, sliding-window layers among global ones (Gemma 2 alternates; Gemma 3 repeats
five local layers and one global, the local ones with their own RoPE base); Gemma 2 soft-caps attention
scores, Gemma 3 normalises query and key heads instead.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from . import llama
from .decoder_config import DecoderConfig, common_fields, rope_parameters
from .errors import ExportError

ARCHITECTURES = {
    "gemma2": "Gemma2ForCausalLM",
    "gemma3_text": "Gemma3ForCausalLM",
    # Gemma 3 4B, 12B and 27B are published as image-and-text models: their language model is exported
    # (sources.py renames its tensors to the text model's and leaves the vision tower out).
    "gemma3": "Gemma3ForConditionalGeneration",
}

FAMILY_NAMES = {"gemma2": "Gemma 2", "gemma3_text": "Gemma 3", "gemma3": "Gemma 3"}

Transformer = llama.Transformer
convert_checkpoint = llama.convert_checkpoint


def config_from_hf(hf: Any, max_context: Optional[int]) -> DecoderConfig:
    # transformers' image-and-text class never soft-caps its logits, whatever its text config says.
    final_softcap_applies = hf.model_type != "gemma3"
    if hf.model_type == "gemma3":
        hf = hf.text_config  # the language model of an image-and-text checkpoint
    model_type = hf.model_type
    act = getattr(hf, "hidden_activation", None) or getattr(hf, "hidden_act", None)
    if act not in ("gelu_pytorch_tanh", "gelu_tanh"):
        raise ExportError(f"hidden_activation {act!r} is not supported for {model_type} (only 'gelu_pytorch_tanh')")
    if getattr(hf, "use_bidirectional_attention", False):
        raise ExportError(f"{model_type} with use_bidirectional_attention (an embedding model) is not a causal LM")
    fields = common_fields(hf, max_context)
    gemma3 = model_type == "gemma3_text"
    if gemma3:
        # One RoPE per layer type: the global layers' (possibly scaled), the local layers' own base.
        rope = rope_parameters(hf, fields["head_dim"], "full_attention")
        local_rope: Optional[dict[str, Any]] = rope_parameters(hf, fields["head_dim"], "sliding_attention")
    else:
        rope, local_rope = rope_parameters(hf, fields["head_dim"]), None
    return DecoderConfig(
        **fields,
        rope=rope,
        local_rope=local_rope,
        qkv_bias=bool(getattr(hf, "attention_bias", False)),
        o_bias=bool(getattr(hf, "attention_bias", False)),
        activation="gelu_tanh",
        qk_norm=gemma3,
        norm_offset=1.0,
        sandwich_norms=True,
        embed_scale=math.sqrt(hf.hidden_size),
        query_pre_attn_scalar=float(hf.query_pre_attn_scalar),
        # transformers' Gemma 3 keeps attn_logit_softcapping in its config but never applies it.
        attn_softcap=None if gemma3 else getattr(hf, "attn_logit_softcapping", None),
        final_softcap=getattr(hf, "final_logit_softcapping", None) if final_softcap_applies else None,
    )
