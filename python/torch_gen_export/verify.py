"""Checks a saved model.pt before the export is declared done: it loads, runs and matches the eager module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .errors import ExportError


def empty_cache(cfg: Any, batch: int, max_len: int, dtype: torch.dtype) -> torch.Tensor:
    """A zeroed cache [L, B, H_kv, T_max, D] as the runtime allocates it."""
    return torch.zeros(cfg.num_layers, batch, cfg.num_kv_heads, max_len, cfg.head_dim, dtype=dtype)


def check_saved_module(eager: torch.nn.Module, path: Path, cfg: Any, dtype: torch.dtype,
                       interface: str = "kv-cache", exact: bool = True) -> None:
    """The saved module loads and computes what the eager one does. exact=False (int8 layers): the same
    quantized kernels run either way, but the scripted graph may order float ops differently."""
    loaded = torch.jit.load(str(path), map_location="cpu")
    n = min(4, cfg.max_context)
    tokens = (torch.arange(n, dtype=torch.int64) * 7 % cfg.vocab_size).view(1, n)  # [1, n]
    (eager_logits, eager_cache), (loaded_logits, loaded_cache) = [
        _run(module, interface, tokens, cfg, dtype) for module in (eager, loaded)
    ]
    shape = [1, n, cfg.vocab_size] if interface == "logits" else [1, cfg.vocab_size]
    if list(loaded_logits.shape) != shape:
        raise RuntimeError(f"internal error: the saved module returned logits of shape "
                           f"{list(loaded_logits.shape)}, expected {shape}")
    if not bool(torch.isfinite(loaded_logits).all()):
        raise ExportError(f"the exported model computes non-finite logits in {dtype}; "
                          f"export with --dtype float32 or bfloat16")
    tolerance = 1e-5 if dtype == torch.float32 and exact else 1e-2
    same_cache = torch.equal(eager_cache, loaded_cache) if exact else torch.allclose(
        eager_cache, loaded_cache, rtol=tolerance, atol=tolerance)
    if not torch.allclose(eager_logits, loaded_logits, rtol=tolerance, atol=tolerance) or not same_cache:
        # Not the user's doing: a traceback helps more than a one-line message.
        raise RuntimeError("internal error: the saved module's outputs differ from the eager module's")


def _run(module: Any, interface: str, tokens: torch.Tensor, cfg: Any,
         dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, the k cache it wrote) for a prefill of `tokens` [1, n]; the logits interface has no cache."""
    n = tokens.size(1)
    with torch.inference_mode():
        if interface == "logits":
            return module(tokens), torch.zeros(0)  # [1, n, V]
        positions = torch.arange(n, dtype=torch.int64).view(1, n)  # [1, n]
        k_cache, v_cache = empty_cache(cfg, 1, n, dtype), empty_cache(cfg, 1, n, dtype)
        return module(tokens, positions, k_cache, v_cache, n), k_cache  # [1, V]
