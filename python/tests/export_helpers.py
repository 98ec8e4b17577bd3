"""Helpers for the exporter's tests: export a random model, run the kv-cache module, compare with HF."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fixtures.kv_models import hf_config, random_hf_model, save_hf_dir
from torch_gen_export import export_model

WEIGHT_SEED = 3
WEIGHT_STD = 0.15


@dataclass
class Exported:
    hf_model: Any  # the transformers model the export was made from, float32
    hf_dir: Path
    out_dir: Path
    module: Any  # model.pt loaded back with torch.jit.load
    manifest: dict[str, Any]


def export_random_model(kind: str, dtype: str, root: Path, tokenizer: Any, eos_id: int, interface: str = "kv-cache",
                        **overrides: Any) -> Exported:
    hf_model = random_hf_model(hf_config(kind, eos_id, **overrides), WEIGHT_SEED, WEIGHT_STD)
    hf_dir = save_hf_dir(hf_model, tokenizer, root / "hf")
    out_dir = export_model(hf_dir, root / "out", interface=interface, dtype=dtype)
    return Exported(hf_model, hf_dir, out_dir, load_module(out_dir), read_manifest(out_dir))


def load_module(out_dir: Path) -> Any:
    return torch.jit.load(str(out_dir / "model.pt"))


def read_manifest(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "torch-gen.json").read_text())


def zeros_cache(manifest: dict[str, Any], batch: int, t_max: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[L, B, H_kv, T_max, D], as the runtime allocates it."""
    shape = (manifest["num_layers"], batch, manifest["num_kv_heads"], t_max, manifest["head_dim"])
    return torch.zeros(shape, dtype=dtype)


def run(module: Any, tokens: list[list[int]], positions: list[list[int]], k_cache: torch.Tensor,
        v_cache: torch.Tensor, kv_len: int) -> torch.Tensor:
    with torch.inference_mode():
        return module(torch.tensor(tokens), torch.tensor(positions), k_cache, v_cache, kv_len)


def hf_last_logits(hf_model: Any, ids: list[int]) -> torch.Tensor:
    """[V] float32: transformers' logits for the last position, recomputing the whole sequence."""
    with torch.no_grad():
        return hf_model(torch.tensor([ids])).logits[0, -1].float()


class HfCachedDecoder:
    """transformers' logits as generate() computes them: a prefill, then one token at a time on its own
    KV cache. For LongRoPE (Phi-3) this differs from recomputing the whole sequence: the keys cached before
    the sequence outgrew the original context keep their short-factor rotation."""

    def __init__(self, hf_model: Any) -> None:
        self.hf_model = hf_model
        self.past: Any = None
        self.seen = 0

    def __call__(self, ids: list[int]) -> torch.Tensor:
        with torch.no_grad():
            out = self.hf_model(torch.tensor([ids[self.seen:]]), past_key_values=self.past, use_cache=True)
        self.past, self.seen = out.past_key_values, len(ids)
        return out.logits[0, -1].float()


def prefill_then_decode(module: Any, manifest: dict[str, Any], hf_model: Any, prompt: list[int], steps: int,
                        dtype: torch.dtype = torch.float32,
                        cached_reference: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(module logits [V], transformers logits [V]) for the prompt, then `steps` greedy tokens one by one.

    The reference recomputes the whole sequence at each step, or (cached_reference) runs transformers on its
    own KV cache as generate() does.
    """
    k_cache = zeros_cache(manifest, 1, manifest["max_context"], dtype)
    v_cache = zeros_cache(manifest, 1, manifest["max_context"], dtype)
    ids = list(prompt)
    logits = run(module, [ids], [list(range(len(ids)))], k_cache, v_cache, len(ids))[0]
    pairs = []
    reference_of = HfCachedDecoder(hf_model) if cached_reference else lambda seq: hf_last_logits(hf_model, seq)
    for _ in range(steps + 1):
        reference = reference_of(ids)
        pairs.append((logits.float(), reference))
        token = int(reference.argmax())  # follow transformers' choice, so both see the same sequence
        ids.append(token)
        position = len(ids) - 1
        logits = run(module, [[token]], [[position]], k_cache, v_cache, position + 1)[0]
    return pairs


def max_abs_diff(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    return max(float((a - b).abs().max()) for a, b in pairs)
