"""Phi-3 and Phi-3.5 (mini, medium): the Llama block with fused checkpoint tensors and LongRoPE.

Their checkpoints hold q/k/v as one `qkv_proj` and gate/up as one `gate_up_proj`, in the order
decoder.Transformer fuses them itself; long-context variants scale RoPE with LongRoPE ("longrope", once
"su": separate short and long factors, rope.Rotary), and Phi-3-mini-4k windows every layer (2047).
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from . import decoder, llama
from .checkpoint import CheckpointReader
from .decoder_config import DecoderConfig, common_fields, rope_parameters
from .errors import ExportError

ARCHITECTURES = {"phi3": "Phi3ForCausalLM"}

FAMILY_NAMES = {"phi3": "Phi-3"}

Transformer = decoder.Transformer


def config_from_hf(hf: Any, max_context: Optional[int]) -> DecoderConfig:
    act = getattr(hf, "hidden_act", "silu")
    if act != "silu":
        raise ExportError(f"hidden_act {act!r} is not supported for phi3 (only 'silu')")
    fields = common_fields(hf, max_context)
    return DecoderConfig(**fields, rope=rope_parameters(hf, fields["head_dim"]))


def convert_checkpoint(
    state_dict: dict[str, torch.Tensor], cfg: DecoderConfig, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Maps a transformers Phi-3 state dict onto decoder.Transformer's, checking every shape."""
    ckpt = CheckpointReader(state_dict, dtype)
    C, inner = cfg.hidden_size, cfg.intermediate_size
    qkv_size = (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim
    heads = f"num_attention_heads={cfg.num_heads}, num_key_value_heads={cfg.num_kv_heads}, head_dim={cfg.head_dim}"
    out = {"tok_embeddings.weight": ckpt.take("model.embed_tokens.weight", (cfg.vocab_size, C), "vocab_size, hidden_size")}
    for i in range(cfg.num_layers):
        src, dst = f"model.layers.{i}.", f"layers.{i}."
        out[dst + "attention_norm.weight"] = ckpt.take(src + "input_layernorm.weight", (C,))
        out[dst + "ffn_norm.weight"] = ckpt.take(src + "post_attention_layernorm.weight", (C,))
        out[dst + "attention.wqkv.weight"] = ckpt.take(src + "self_attn.qkv_proj.weight", (qkv_size, C), heads)
        out[dst + "attention.wo.weight"] = ckpt.take(src + "self_attn.o_proj.weight", (C, cfg.num_heads * cfg.head_dim), heads)
        out[dst + "feed_forward.w13.weight"] = ckpt.take(src + "mlp.gate_up_proj.weight", (2 * inner, C), "intermediate_size")
        out[dst + "feed_forward.w2.weight"] = ckpt.take(src + "mlp.down_proj.weight", (C, inner), "intermediate_size")
    out["norm.weight"] = ckpt.take("model.norm.weight", (C,))
    llama.finish_head(ckpt, cfg, out)
    return out
