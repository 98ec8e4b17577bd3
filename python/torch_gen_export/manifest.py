"""The torch-gen.json manifest, format version 1 (docs/model-format.md)."""

from __future__ import annotations

from typing import Any, Optional

import torch

from .errors import ExportError
from .families import family_name

FORMAT_VERSION = 1


def special_token_ids(hf_config: Any, generation: Optional[dict[str, Any]], vocab_size: int) -> dict[str, Any]:
    """bos/eos/pad ids; generation_config.json wins over config.json, as in transformers' generate().

    eos is a list because chat models stop on several tokens (Llama 3: end_of_text, eom, eot).
    """
    generation = generation or {}

    def pick(name: str) -> Any:
        value = generation.get(name)
        return value if value is not None else getattr(hf_config, name, None)

    bos, eos, pad = pick("bos_token_id"), pick("eos_token_id"), pick("pad_token_id")
    eos_list = [] if eos is None else list(eos) if isinstance(eos, (list, tuple)) else [eos]
    for name, value in [("bos_token_id", bos), ("pad_token_id", pad)] + [("eos_token_id", e) for e in eos_list]:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < vocab_size:
            raise ExportError(f"{name} {value!r} is not a token id below vocab_size {vocab_size}; fix it in "
                              f"config.json or generation_config.json")
    return {"bos_token_id": bos, "eos_token_ids": list(dict.fromkeys(eos_list)), "pad_token_id": pad}


def build_manifest(cfg: Any, interface: str, dtype: str, ids: dict[str, Any], source: str,
                   exporter_version: str, quantization: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The manifest; num_layers, num_kv_heads and head_dim are written for either interface.

    quantization (absent for float weights): {"method": "int8-dynamic", "activation_bits": 7 or 8}; such a
    model runs on the CPU in float32 only.
    """
    import transformers

    return {
        "format": "torch-gen",
        "format_version": FORMAT_VERSION,
        "interface": interface,
        "architecture": cfg.architecture,
        "family": family_name(cfg.architecture),
        "features": cfg.features(),
        **_positional(cfg),
        "vocab_size": cfg.vocab_size,
        "max_context": cfg.max_context,
        "num_layers": cfg.num_layers,
        "num_heads": cfg.num_heads,
        "num_kv_heads": cfg.num_kv_heads,
        "head_dim": cfg.head_dim,
        "dtype": dtype,
        **({"quantization": quantization} if quantization else {}),
        **ids,
        "exported_with": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "torch_gen_export": exporter_version,
        },
        "source": source,
    }


def _positional(cfg: Any) -> dict[str, Any]:
    """attention_windows: each layer's sliding window (null: full attention), written only when a layer has
    one; longrope_original_context for LongRoPE models. Informative: the module applies both itself, so the
    runtime's cache and context rules are the same as for any model (every position stays in the cache)."""
    windows = list(getattr(cfg, "windows", ()) or ())
    out: dict[str, Any] = {"attention_windows": windows} if any(w is not None for w in windows) else {}
    rope = getattr(cfg, "rope", None) or {}
    if rope.get("rope_type") == "longrope":
        # Where LongRoPE switches to its long factors (docs/model-format.md: what a runtime may do there).
        out["longrope_original_context"] = int(rope["original_max_position_embeddings"])
    return out
