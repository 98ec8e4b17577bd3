"""Reads a Hugging Face state dict key by key, checking that it is exactly what the config describes.

Each model family maps the checkpoint's keys to its own explicitly; this class makes the mapping strict:
every key it takes must exist with the shape the config implies, and every key must be taken (or
named as ignorable), so a checkpoint that does not match its config fails with the key at fault instead
of loading silently wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from .errors import ExportError


class CheckpointReader:
    def __init__(self, state_dict: dict[str, torch.Tensor], dtype: torch.dtype) -> None:
        self._state_dict = state_dict
        self._dtype = dtype
        self._taken: set[str] = set()

    def take(self, key: str, shape: Sequence[int], why: str = "", add: float = 0.0) -> torch.Tensor:
        """Returns `key` cast to the export dtype, after checking it exists and has `shape`.

        `why` names the config fields the shape comes from, for the error message. `add` is added in
        float32 before the cast (Gemma's norms scale by 1 + w).
        """
        if key not in self._state_dict:
            raise ExportError(f"checkpoint is missing tensor {key!r} that the config requires")
        tensor = self._state_dict[key]
        if tuple(tensor.shape) != tuple(shape):
            source = f" ({why})" if why else ""
            raise ExportError(
                f"checkpoint tensor {key!r} has shape {list(tensor.shape)}, but the config implies "
                f"{list(shape)}{source}"
            )
        if not tensor.is_floating_point():
            raise ExportError(f"checkpoint tensor {key!r} has dtype {tensor.dtype}, expected a float dtype")
        self._taken.add(key)
        if add != 0.0:
            tensor = tensor.to(torch.float32) + add
        return tensor.to(self._dtype)

    def finish(self, ignorable: Iterable[str] = ()) -> None:
        """Checks that every key was taken; `ignorable` keys (tied copies, buffers) may be left."""
        ignorable = set(ignorable)
        left = sorted(k for k in self._state_dict if k not in self._taken and k not in ignorable)
        if left:
            shown = ", ".join(repr(k) for k in left[:5])
            more = f" and {len(left) - 5} more" if len(left) > 5 else ""
            raise ExportError(
                f"checkpoint has {len(self._state_dict)} tensors, {len(left)} of which the config does not "
                f"describe: {shown}{more}"
            )
