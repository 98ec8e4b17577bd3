"""The two interfaces of docs/model-format.md that an exported model.pt can implement.

`kv-cache` is each family's Transformer itself. `logits` is the same Transformer without a cache:
LogitsModel runs its blocks over the whole sequence at every call, as a traced Hugging Face model would,
so every generated token costs a pass over the whole sequence. It exists to measure what the cache buys
on the same weights.
"""

from __future__ import annotations

import torch
from torch import nn

INTERFACES = ("kv-cache", "logits")


class LogitsModel(nn.Module):
    """forward() is the `logits` interface. `model` is a family's Transformer (hidden_states, logits).

    The Transformer's own forward (kv-cache) is compiled too and stays callable as `model.model.forward`.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # tokens [B, T] int64
        B, T = tokens.size(0), tokens.size(1)
        positions = torch.arange(T, device=tokens.device).unsqueeze(0).expand(B, T)  # [B, T]
        x = self.model.hidden_states(tokens, positions, None, None, T)  # [B, T, C]
        return self.model.logits(x)  # [B, T, V]
