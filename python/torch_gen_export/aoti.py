"""`--format aoti`: the kv-cache module through torch.export and AOTInductor into `model.pt2`.

The package holds compiled kernels (C++ with OpenMP on the CPU, Triton on the GPU) and the weights, and
libtorch loads it with torch::inductor::AOTIModelPackageLoader (native/core/aoti_forward.cpp). Its entry
point takes tensors only, so the kv-cache interface is flattened:

    forward(tokens [B, T] int64, positions [B, T] int64, key_positions [S] int64,
            k_caches: L x [B, H_kv, T_max, D], v_caches: L x [B, H_kv, T_max, D]) -> logits [B, V]

`key_positions` is arange(kv_len): its length carries kv_len as a dynamic size (AOTInductor has no integer
inputs). Each layer's cache is its own input because one layer's slots [first, first + B) of the runtime's
pool [L, S, H_kv, T_max, D] are contiguous, while all layers' are not (the compiled code assumes the
strides it was traced with). The caches are written in place, as by the TorchScript module.

What is baked into a package: the device, the CPU's instruction set (AVX-512 code does not run on an AVX2
CPU), the dtype, and whether OpenMP is used (only if more than one thread was set when compiling). The
manifest records them under "aoti" so that the runtime refuses a package it cannot run (lib/aoti.ts).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import torch
import torch._inductor.config as inductor_config
from torch import nn

from .errors import ExportError

PACKAGE_FILE = "model.pt2"
DEVICES = ("cpu", "cuda")
# Seconds between the "still compiling" lines of a long compile.
HEARTBEAT_SECONDS = 30.0


class FlatCacheEntry(nn.Module):
    """The exported entry point: the kv-cache interface with the cache as one tensor per layer."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor, key_positions: torch.Tensor,
                k_caches: list[torch.Tensor], v_caches: list[torch.Tensor]) -> torch.Tensor:
        # The Transformer only indexes its caches by layer, so the lists stand in for [L, ...] tensors.
        return self.model(tokens, positions, k_caches, v_caches, key_positions.size(0))  # [B, V]


class PackageModule:
    """A loaded model.pt2 called as the kv-cache interface is: (tokens, positions, k_cache, v_cache, kv_len),
    the caches [L, B, H_kv, T_max, D] (slots of a pool: each layer's part must be contiguous)."""

    def __init__(self, path: Path | str) -> None:
        self.runner = torch._inductor.aoti_load_package(str(path))

    def __call__(self, tokens: torch.Tensor, positions: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
                 kv_len: int) -> torch.Tensor:
        key_positions = torch.arange(kv_len, device=tokens.device)
        # The compiled code reads every input with the strides of a contiguous tensor (an expanded
        # positions tensor would be read out of bounds).
        k_caches, v_caches = list(k_cache.unbind(0)), list(v_cache.unbind(0))
        if not all(cache.is_contiguous() for cache in k_caches + v_caches):
            # A copy would take the package's writes: the cache would silently stay empty.
            raise ValueError("each layer's part of k_cache and v_cache must be contiguous ([L, B, H_kv, T_max, D] "
                             "slots of a contiguous pool)")
        return self.runner(tokens.contiguous(), positions.contiguous(), key_positions, k_caches, v_caches)


def check_options(interface: str, quantize: str, device: str, threads: Optional[int]) -> None:
    """Refuses, before any work, what --format aoti cannot build."""
    if threads is not None and threads < 1:
        raise ExportError(f"--threads must be a positive integer, received {threads}")
    if interface != "kv-cache":
        raise ExportError(f"--format aoti builds the kv-cache interface only, received --interface {interface}; "
                          "use --format torchscript for the logits interface")
    if quantize != "none":
        raise ExportError(f"--format aoti does not support --quantize {quantize} (fbgemm's packed int8 layers do not "
                          "go through torch.export); use --format torchscript")
    check_device(device)


def check_device(device: str) -> None:
    """Refuses, before any work, a device this machine cannot compile for."""
    if device not in DEVICES:
        raise ExportError(f"--device must be one of {', '.join(DEVICES)}, received {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ExportError("--device cuda compiles Triton kernels for the GPU and needs a CUDA GPU on this machine "
                          "(none found, or this torch was built without CUDA); export on a GPU host, or use "
                          "--device cpu")


def cpu_isa() -> str:
    """The instruction set Inductor vectorises for on this machine ("avx512", "avx2", "neon", "none")."""
    from torch._inductor import cpu_vec_isa

    isa = cpu_vec_isa.pick_vec_isa()
    return str(isa) if isa else "none"


def compile_package(module: nn.Module, cfg: Any, dtype: torch.dtype, device: str, stage: Path,
                    threads: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Exports and compiles `module` (the family's kv-cache Transformer) into stage/model.pt2.

    Returns the manifest's "aoti" entry: file, device, cpu_isa, threads, torch, compile_seconds, bytes.
    """
    check_device(device)
    target = torch.device(device)
    entry = FlatCacheEntry(module.to(target)).eval()
    inputs = example_inputs(cfg, dtype, target)
    started = time.monotonic()
    say("tracing the kv-cache interface with torch.export (dynamic batch, query and cache lengths)")
    with torch.no_grad():
        program = torch.export.export(entry, inputs, dynamic_shapes=dynamic_shapes(cfg), strict=False)
    traced = time.monotonic() - started
    say(f"traced in {traced:.1f} s; compiling with AOTInductor for {device}"
        + (f" ({cpu_isa()}, {threads} thread(s))" if device == "cpu" else "") + " (minutes for a large model)")
    path = stage / PACKAGE_FILE
    # freezing: the weights become constants that Inductor folds and, on the CPU, prepacks for oneDNN's
    # linear kernels (SmolLM2 at batch 1 on 2 threads: 44 ms per token against 60 without, TorchScript 52).
    with _threads(threads), _heartbeat(say, started), torch.no_grad(), inductor_config.patch(freezing=True):
        torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    seconds = time.monotonic() - started
    size = path.stat().st_size
    say(f"wrote {PACKAGE_FILE} ({size / 1e6:.1f} MB) in {seconds:.1f} s")
    return {
        "file": PACKAGE_FILE,
        "device": device,
        "cpu_isa": cpu_isa() if device == "cpu" else None,
        "threads": threads,
        "torch": torch.__version__,
        "compile_seconds": round(seconds, 1),
        "bytes": size,
    }


def check_saved_package(eager: nn.Module, path: Path, cfg: Any, dtype: torch.dtype, device: str) -> None:
    """The package loads and computes what the eager module does, on a prefill then a decode step in two
    slots of a pool of three (so the cache views have the runtime's offsets)."""
    target = torch.device(device)
    compiled = PackageModule(path)
    n = min(4, cfg.max_context - 1)
    tokens = (torch.arange(2 * n, dtype=torch.int64, device=target) * 7 % cfg.vocab_size).view(2, n)  # [2, n]
    pools = [torch.zeros(cfg.num_layers, 3, cfg.num_kv_heads, n + 1, cfg.head_dim, dtype=dtype, device=target)
             for _ in range(4)]  # eager k, v; compiled k, v
    steps = [(tokens, torch.arange(n, device=target).expand(2, n), n),
             (tokens[:, :1], torch.full((2, 1), n, device=target), n + 1)]
    # Relative to the logits' scale: Inductor fuses and reorders float sums, so 30 layers of float32 differ
    # from the eager module by ~1e-5 of the largest logit (SmolLM2), and half precision by its own rounding.
    tolerance = 1e-3 if dtype == torch.float32 else 5e-2
    with torch.inference_mode():
        for step_tokens, positions, kv_len in steps:
            expected = eager(step_tokens, positions, pools[0][:, 1:], pools[1][:, 1:], kv_len)  # [2, V]
            got = compiled(step_tokens, positions, pools[2][:, 1:], pools[3][:, 1:], kv_len)
            if not bool(torch.isfinite(got).all()):
                raise ExportError(f"the compiled model computes non-finite logits in {dtype}; "
                                  "export with --dtype float32 or bfloat16")
            pairs = {"logits": (expected, got), "keys": (pools[0], pools[2]), "values": (pools[1], pools[3])}
            for name, (a, b) in pairs.items():
                difference = float((a.float() - b.float()).abs().max())
                scale = max(1.0, float(a.float().abs().max()))
                if difference > tolerance * scale:
                    # Not the user's doing: a traceback helps more than a one-line message.
                    raise RuntimeError(f"internal error: the compiled package's {name} differ from the eager "
                                       f"module's by {difference:.2e} (largest {scale:.2e}) at kv_len {kv_len}")


def example_inputs(cfg: Any, dtype: torch.dtype, device: torch.device) -> tuple[Any, ...]:
    """Inputs to trace with: sizes of 2 or more and all different, so that no dynamic size is specialised
    (0 and 1 are) and none is mistaken for another."""
    batch, query, kv_len, t_max = 2, 3, 5, min(7, max(cfg.max_context, 6))
    shape = (batch, cfg.num_kv_heads, t_max, cfg.head_dim)
    tokens = torch.zeros(batch, query, dtype=torch.int64, device=device)
    positions = (torch.arange(query, device=device) + kv_len - query).expand(batch, query).contiguous()
    key_positions = torch.arange(kv_len, device=device)
    caches = [[torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.num_layers)] for _ in range(2)]
    return tokens, positions, key_positions, caches[0], caches[1]


def dynamic_shapes(cfg: Any) -> tuple[Any, ...]:
    """Batch, query length, kv_len and the cache's length, dynamic. Hints rather than named dimensions: the
    tracer works out which inputs share a size, and keeps the guards it cannot simplify as checks (torch
    2.11 cannot prove T * min(D, 2 D T) == D T for T >= 1, and refuses a named dimension over it)."""
    from torch.export import Dim

    batch = Dim.DYNAMIC(min=1, max=4096)
    query = Dim.DYNAMIC(min=1, max=cfg.max_context)
    kv_len = Dim.DYNAMIC(min=1, max=cfg.max_context)
    cache = {0: batch, 2: Dim.DYNAMIC(min=2, max=cfg.max_context)}
    return ({0: batch, 1: query}, {0: batch, 1: query}, {0: kv_len},
            [cache] * cfg.num_layers, [cache] * cfg.num_layers)


@contextlib.contextmanager
def _threads(threads: int) -> Iterator[None]:
    """Inductor emits OpenMP loops only when compiling with more than one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _heartbeat(say: Callable[[str], None], started: float) -> Iterator[None]:
    """A line every HEARTBEAT_SECONDS while the C++ compiler runs, so a long compile does not look hung."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            say(f"still compiling ({time.monotonic() - started:.0f} s)")

    thread = threading.Thread(target=beat, name="aoti-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def default_threads() -> int:
    """Threads to compile for: this machine's CPUs (at least 2, so that the kernels are parallel)."""
    return max(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2))
