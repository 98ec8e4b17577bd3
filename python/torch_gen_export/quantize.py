"""int8 weights for the CPU: every linear layer (the tied output projection too) becomes a dynamically
quantized one that libtorch runs with fbgemm (VNNI where the CPU has it).

Why this scheme: of the int8 paths libtorch 2.9 ships for the CPU, fbgemm's dynamic int8 linear is the one
that beats bfloat16 at batch 1 (on SmolLM2's [49152 x 576] output projection, one thread: 1.0 ms against
2.8 ms for oneDNN bfloat16 and 3.9 ms for the weight-only `_weight_int8pack_mm`). Weights are int8 per
output channel (symmetric). fbgemm quantizes its input with one scale per call; each row is first scaled
to a maximum magnitude of 1 (and the output scaled back) and given two extra elements +1 and -1 (against
two zero weight columns), so the input's range is exactly [-1, 1] in every call: every token gets its own
scale, and a row's result does not depend on the rows beside it (a prompt's tokens, other requests). The
perplexity of a 2,048-token text scored in one pass: 61 with fbgemm's one scale, 14.3 with a scale per
token, 13.6 in float32 (tests/test_precision_perplexity.py).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .errors import ExportError

QUANTIZATIONS = ("none", "int8")


class Int8DynamicLinear(nn.Module):
    """y = x W^T + b with W int8 per output channel; x quantized per row at run time (module docstring)."""

    def __init__(self, linear: nn.Linear, activation_bits: int) -> None:
        super().__init__()
        from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear
        from torch.ao.quantization import per_channel_dynamic_qconfig

        # Two zero columns meet the two range pins of forward(): the product is unchanged.
        float_linear = nn.Linear(linear.in_features + 2, linear.out_features, bias=False)
        weight = linear.weight.detach().to(torch.float32)  # [out, in]
        padded = torch.cat([weight, torch.zeros(weight.size(0), 2)], dim=1)  # [out, in + 2]
        float_linear.weight = nn.Parameter(padded, requires_grad=False)
        float_linear.qconfig = per_channel_dynamic_qconfig
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's notice that eager quantization moves to torchao
            self.linear = DynamicQuantizedLinear.from_float(float_linear)
        # fbgemm's 7-bit activations avoid the int16 saturation of CPUs without VNNI; with VNNI, 8 bits
        # are exact and cost less than half the perplexity (SmolLM2: +5.3% against +13.6% over float32).
        self.reduce_range = activation_bits == 7
        self.has_bias = linear.bias is not None
        bias = linear.bias.detach().to(torch.float32) if linear.bias is not None else torch.zeros(0)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [..., in] float32
        # Per-row scale (see the module docstring); the clamp keeps an all-zero row (padding) finite.
        scale = torch.linalg.vector_norm(x, float("inf"), -1, True).clamp_min_(1e-12)  # [..., 1] max |x|
        # Every row also holds +1 and -1 (its scale and minus it, divided with the row), so the input's
        # range is [-1, 1] whatever the other rows hold: a row is quantized the same alone or in any batch
        # (the sampler's batch invariance holds). Few ops on purpose: this runs for every linear layer.
        rows = torch.cat([x, scale, scale.neg()], dim=-1).div_(scale)  # [..., in + 2]
        packed = self.linear._packed_params._packed_params
        y = torch.ops.quantized.linear_dynamic(rows, packed, self.reduce_range) * scale  # [..., out]
        if self.has_bias:
            y = y + self.bias
        return y


def default_activation_bits() -> int:
    """8 where this CPU has VNNI (exact there), else 7: the model runs best on a CPU like the exporter's."""
    return 8 if _has_vnni() else 7


def _has_vnni() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return any(flag in cpuinfo.read() for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))
    except OSError:
        return False


def quantize_int8(module: nn.Module, activation_bits: int) -> nn.Module:
    """Replaces every nn.Linear of a family's Transformer (in float32) by Int8DynamicLinear, in place.

    A tied output projection gets its own int8 copy of the embedding (the embedding lookup itself stays
    float32: it reads one row per token).
    """
    head, embedding = getattr(module, "TIED_HEAD", None), getattr(module, "EMBEDDING", None)
    if head is None or embedding is None:
        raise ExportError(f"{type(module).__name__} does not support --quantize int8")
    if getattr(module, head) is None:
        weight = getattr(module, embedding).weight
        tied = nn.Linear(weight.size(1), weight.size(0), bias=False)
        tied.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        setattr(module, head, tied)
    if activation_bits not in (7, 8):
        raise ExportError(f"--int8-activation-bits must be 7 or 8, received {activation_bits}")
    _replace_linears(module, activation_bits)
    return module


def _replace_linears(parent: nn.Module, activation_bits: int) -> None:
    for name, child in list(parent.named_children()):
        if isinstance(child, nn.Linear):
            setattr(parent, name, Int8DynamicLinear(child, activation_bits))
        else:
            _replace_linears(child, activation_bits)
