"""The Llama family's configs and checkpoints: Llama 2/3, SmolLM2, TinyLlama, Mistral, Qwen2, Qwen3.

The module itself is decoder.py's Transformer. Variations: optional q/k/v (Qwen2) or all-projection (Llama
`attention_bias`) biases, per-head q/k RMSNorm (Qwen3), tied embeddings, sliding-window layers (Mistral,
Qwen2/3 with use_sliding_window). convert_checkpoint also serves Gemma 2/3, whose checkpoints use the same
key names plus their own norms.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from . import decoder
from .checkpoint import CheckpointReader
from .decoder_config import DecoderConfig, common_fields, rope_parameters
from .errors import ExportError

# transformers model_type -> the causal-LM class a config.json names in `architectures`.
ARCHITECTURES = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
}

FAMILY_NAMES = {"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2", "qwen3": "Qwen3"}

Transformer = decoder.Transformer


def config_from_hf(hf: Any, max_context: Optional[int]) -> DecoderConfig:
    """Checks a transformers config for what this file implements and keeps what it needs."""
    model_type = hf.model_type
    act = getattr(hf, "hidden_act", "silu")
    if act != "silu":
        raise ExportError(f"hidden_act {act!r} is not supported for {model_type} (only 'silu')")
    fields = common_fields(hf, max_context)
    attention_bias = bool(getattr(hf, "attention_bias", False))
    return DecoderConfig(
        **fields,
        rope=rope_parameters(hf, fields["head_dim"]),
        qkv_bias=model_type == "qwen2" or attention_bias,
        o_bias=attention_bias,
        mlp_bias=bool(getattr(hf, "mlp_bias", False)),
        qk_norm=model_type == "qwen3",
    )


def convert_checkpoint(
    state_dict: dict[str, torch.Tensor], cfg: DecoderConfig, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Maps a transformers Llama/Mistral/Qwen2/Qwen3/Gemma 2/Gemma 3 state dict onto decoder.Transformer's,
    checking every shape."""
    ckpt = CheckpointReader(state_dict, dtype)
    C, inner, D = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim
    q_size, kv_size = cfg.num_heads * D, cfg.num_kv_heads * D
    heads = f"num_attention_heads={cfg.num_heads}, num_key_value_heads={cfg.num_kv_heads}, head_dim={D}"
    offset = cfg.norm_offset

    def norm(key: str, size: int = C) -> torch.Tensor:
        return ckpt.take(key, (size,), add=offset)

    out = {"tok_embeddings.weight": ckpt.take("model.embed_tokens.weight", (cfg.vocab_size, C), "vocab_size, hidden_size")}
    for i in range(cfg.num_layers):
        src, dst = f"model.layers.{i}.", f"layers.{i}."
        attn = src + "self_attn."
        out[dst + "attention_norm.weight"] = norm(src + "input_layernorm.weight")
        if cfg.sandwich_norms:  # Gemma: post_attention_layernorm is the attention output's norm
            out[dst + "post_attention_norm.weight"] = norm(src + "post_attention_layernorm.weight")
            out[dst + "ffn_norm.weight"] = norm(src + "pre_feedforward_layernorm.weight")
            out[dst + "post_ffn_norm.weight"] = norm(src + "post_feedforward_layernorm.weight")
        else:
            out[dst + "ffn_norm.weight"] = norm(src + "post_attention_layernorm.weight")
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
        if cfg.qk_norm:
            out[dst + "attention.qk_norm"] = qk_norm_weight(norm(attn + "q_norm.weight", D),
                                                            norm(attn + "k_norm.weight", D), cfg)
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
    out["norm.weight"] = norm("model.norm.weight")
    finish_head(ckpt, cfg, out)
    return out


def qk_norm_weight(q_weight: torch.Tensor, k_weight: torch.Tensor, cfg: DecoderConfig) -> torch.Tensor:
    """The q and k norms' [D] weights as Attention.qk_norm's [H + H_kv, D]: one row per head."""
    return torch.cat([q_weight.expand(cfg.num_heads, -1), k_weight.expand(cfg.num_kv_heads, -1)])


def finish_head(ckpt: CheckpointReader, cfg: DecoderConfig, out: dict[str, torch.Tensor]) -> None:
    """The output projection (unless tied), then the check that every checkpoint tensor was used."""
    # Checkpoints from transformers before 4.31 saved the RoPE frequencies, which are recomputed here.
    rotary = [f"model.layers.{i}.self_attn.rotary_emb.inv_freq" for i in range(cfg.num_layers)]
    if cfg.tie_embeddings:
        # transformers lists the tied head as a second name for the embedding; GGUF omits it.
        ckpt.finish(ignorable=["lm_head.weight", *rotary])
    else:
        out["output.weight"] = ckpt.take("lm_head.weight", (cfg.vocab_size, cfg.hidden_size), "vocab_size, hidden_size")
        ckpt.finish(ignorable=rotary)
