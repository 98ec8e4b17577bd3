"""Which model file handles which transformers config, and building the module from a checkpoint."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Optional

import torch

from . import gemma, gpt2, llama, phi3
from .errors import ExportError
from .interfaces import INTERFACES, LogitsModel

# Each family file: ARCHITECTURES, FAMILY_NAMES, config_from_hf, convert_checkpoint, Transformer.
_FAMILY_FILES = (gpt2, llama, gemma, phi3)

_FAMILIES: dict[str, ModuleType] = {
    model_type: family for family in _FAMILY_FILES for model_type in family.ARCHITECTURES
}

SUPPORTED_ARCHITECTURES = sorted(name for family in _FAMILY_FILES for name in family.ARCHITECTURES.values())


def check_supported(model_type: Optional[str], architectures: Optional[list[str]]) -> None:
    """Refuses a config.json (or GGUF) that names an architecture no family implements.

    Runs on the raw config, before transformers parses it: an unknown model_type would otherwise fail
    inside transformers with a message about its registry rather than about this exporter.
    """
    supported = ", ".join(SUPPORTED_ARCHITECTURES)
    family = _FAMILIES.get(model_type or "")
    if family is None:
        named = architectures[0] if architectures else None
        what = f"architecture {named!r} (model_type {model_type!r})" if named else f"model_type {model_type!r}"
        raise ExportError(f"{what} is not supported; supported architectures: {supported}")
    expected = family.ARCHITECTURES[model_type]
    for name in architectures or []:
        if name != expected:
            raise ExportError(
                f"architecture {name!r} is not supported: only the causal LM head {expected!r} can be exported "
                f"for model_type {model_type!r}"
            )


def family_for(model_type: str) -> ModuleType:
    check_supported(model_type, None)
    return _FAMILIES[model_type]


def family_name(model_type: str) -> str:
    """The family as people name it ("Gemma 3" for model_type gemma3_text), for the manifest."""
    return family_for(model_type).FAMILY_NAMES[model_type]


def config_from_hf(hf_config: Any, max_context: Optional[int]) -> Any:
    if max_context is not None and max_context < 1:
        raise ExportError(f"--max-context must be a positive integer, received {max_context}")
    return family_for(hf_config.model_type).config_from_hf(hf_config, max_context)


def build_module(cfg: Any, state_dict: dict[str, torch.Tensor], dtype: torch.dtype,
                 interface: str = "kv-cache") -> torch.nn.Module:
    """The family's Transformer holding the checkpoint's weights, in eval mode, without gradients.

    interface "logits" wraps it in interfaces.LogitsModel (forward(tokens) -> all positions' logits).
    """
    if interface not in INTERFACES:
        raise ValueError(f"unknown interface {interface!r}; known: {', '.join(INTERFACES)}")
    family = family_for(cfg.architecture)
    weights = family.convert_checkpoint(state_dict, cfg, dtype)
    # Built on meta, then the converted tensors are assigned: no random init of weights thrown away.
    with torch.device("meta"):
        module = family.Transformer(cfg)
    module.load_state_dict(weights, strict=True, assign=True)
    module.requires_grad_(False)
    if interface == "logits":
        module = LogitsModel(module)
    return module.eval()
