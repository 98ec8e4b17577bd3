"""What transformers' GGUF reader leaves out of a config, taken from the GGUF's own metadata.

transformers maps only the keys all families share (sizes, heads, RoPE base); for the families below it
falls back to its config defaults for the rest, which are not those of the file: Gemma 2's soft-caps
(defaults 50 and 30), Qwen3's head_dim (default 128), Gemma 3's scaled RoPE, Phi-3's LongRoPE factors
(stored as tensors) and window. Each is read here under the key llama.cpp's converter writes, and what
llama.cpp itself derives rather than stores (Gemma's query scale, Gemma 3's five-local-one-global pattern
and local RoPE base) is derived the way llama.cpp derives it.
"""

from __future__ import annotations

from typing import Any

from .errors import ExportError

# llama.cpp's built-ins for Gemma 3 when the file does not say: a global layer after every five local
# ones, the local layers' RoPE base.
_GEMMA3_PATTERN = 6
_GEMMA3_LOCAL_THETA = 10_000.0
# llama.cpp scales Gemma's queries by 1/sqrt(hidden_size / heads) for its 27B models (46 layers in Gemma 2,
# 62 in Gemma 3) and by 1/sqrt(head_dim) otherwise: query_pre_attn_scalar is not in the file.
_GEMMA_27B_LAYERS = {"gemma2": 46, "gemma3": 62}


def complete(hf_config: Any, reader: Any, arch: str) -> None:
    """Sets on `hf_config` (transformers' config of the GGUF `reader`) the fields its reader left out."""
    meta = _Metadata(reader, arch)
    # Special tokens the file does not name are not transformers' config defaults (Phi-3's pad 32000).
    for name, key in [("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"),
                      ("pad_token_id", "padding_token_id")]:
        if f"tokenizer.ggml.{key}" not in reader.fields:
            setattr(hf_config, name, None)
    head_dim = meta.get("attention.key_length")
    if head_dim is not None:
        hf_config.head_dim = int(head_dim)
    if arch in _GEMMA_27B_LAYERS:
        _complete_gemma(hf_config, meta, arch)
    elif arch == "phi3":
        _complete_phi3(hf_config, meta, reader)


def _complete_gemma(hf_config: Any, meta: "_Metadata", arch: str) -> None:
    head_dim = getattr(hf_config, "head_dim", None) or hf_config.hidden_size // hf_config.num_attention_heads
    big = hf_config.num_hidden_layers == _GEMMA_27B_LAYERS[arch]
    hf_config.query_pre_attn_scalar = hf_config.hidden_size // hf_config.num_attention_heads if big else head_dim
    hf_config.attn_logit_softcapping = meta.get("attn_logit_softcapping") if arch == "gemma2" else None
    hf_config.final_logit_softcapping = meta.get("final_logit_softcapping")
    if arch == "gemma3":
        pattern = meta.get("attention.sliding_window_pattern", _GEMMA3_PATTERN)
        layers = hf_config.num_hidden_layers
        sliding = ([bool(p) for p in pattern] if isinstance(pattern, list)
                   else [(i + 1) % int(pattern) != 0 for i in range(layers)])
        if len(sliding) != layers:
            raise ExportError(f"{arch}.attention.sliding_window_pattern lists {len(sliding)} layers, not {layers}")
        hf_config.layer_types = ["sliding_attention" if s else "full_attention" for s in sliding]
        full = {"rope_type": "default", "rope_theta": float(meta.require("rope.freq_base"))}
        if meta.get("rope.scaling.type") == "linear":
            full = {**full, "rope_type": "linear", "factor": float(meta.require("rope.scaling.factor"))}
        local = {"rope_type": "default", "rope_theta": float(meta.get("rope.freq_base_swa", _GEMMA3_LOCAL_THETA))}
        hf_config.rope_parameters = {"full_attention": full, "sliding_attention": local}


def _complete_phi3(hf_config: Any, meta: "_Metadata", reader: Any) -> None:
    hf_config.sliding_window = meta.get("attention.sliding_window")
    factors = {t.name: [float(v) for v in t.data] for t in reader.tensors if t.name.startswith("rope_factors_")}
    if not factors:
        return
    if set(factors) != {"rope_factors_long.weight", "rope_factors_short.weight"}:
        raise ExportError(f"phi3 GGUF has rope factor tensors {sorted(factors)}; expected the long and short ones")
    original = int(meta.require("rope.scaling.original_context_length"))
    rope = {"rope_type": "longrope", "rope_theta": float(meta.require("rope.freq_base")),
            "long_factor": factors["rope_factors_long.weight"], "short_factor": factors["rope_factors_short.weight"],
            "original_max_position_embeddings": original}
    attention_factor = meta.get("rope.scaling.attn_factor")
    if attention_factor is not None:
        rope["attention_factor"] = float(attention_factor)
    hf_config.rope_parameters = rope
    hf_config.original_max_position_embeddings = original


class _Metadata:
    """`{arch}.KEY` values of a GGUFReader, as Python values."""

    def __init__(self, reader: Any, arch: str) -> None:
        self._reader = reader
        self._arch = arch

    def get(self, key: str, default: Any = None) -> Any:
        field = self._reader.fields.get(f"{self._arch}.{key}")
        if field is None:
            return default
        return field.contents()

    def require(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise ExportError(f"the GGUF lacks {self._arch}.{key}, which its {self._arch} layers need")
        return value
