"""The export, start to finish: source -> checked config -> module -> TorchScript -> model directory."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import torch

from . import families
from .errors import ExportError
from .interfaces import INTERFACES
from .manifest import build_manifest, special_token_ids
from .output import check_output_dir, staged_output
from .quantize import QUANTIZATIONS, default_activation_bits, quantize_int8
from .sources import open_source
from .verify import check_saved_module

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def export_model(
    src: Path | str,
    out_dir: Path | str,
    *,
    interface: str = "kv-cache",
    dtype: str = "float32",
    max_context: Optional[int] = None,
    force: bool = False,
    progress: Optional[Callable[[str], None]] = None,
    quantize: str = "none",
    int8_activation_bits: Optional[int] = None,
) -> Path:
    """Exports `src` (a Hugging Face model directory or a .gguf file) into the model directory `out_dir`.

    interface: "kv-cache" (default) or "logits", the forward() signature of docs/model-format.md. dtype: the
    weights' dtype in model.pt (the runtime can cast it later). max_context: the manifest's max_context, at
    most the model's own limit (default: that limit). force: replace an existing non-empty `out_dir`.
    progress: called with one line per step (the CLI prints them to stderr). quantize: "none" or "int8"
    (quantize.py; float32 only, CPU only); int8_activation_bits: 7 or 8 (default: 8 where this CPU has VNNI).
    Raises ExportError for anything the user can fix; `out_dir` is then left as it was.
    """
    from . import __version__

    say = progress or (lambda _line: None)
    started = time.monotonic()
    src, out_dir = Path(src), Path(out_dir)
    if interface not in INTERFACES:
        raise ExportError(f"--interface must be one of {', '.join(INTERFACES)}, received {interface!r}")
    if dtype not in DTYPES:
        raise ExportError(f"--dtype must be one of {', '.join(DTYPES)}, received {dtype!r}")
    if quantize not in QUANTIZATIONS:
        raise ExportError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}, received {quantize!r}")
    if quantize != "none" and dtype != "float32":
        raise ExportError(f"--quantize {quantize} keeps float32 activations; use --dtype float32 (received {dtype})")
    activation_bits = int8_activation_bits or default_activation_bits()
    check_output_dir(out_dir, force)
    say(f"reading {src}")
    source = open_source(src)
    cfg = families.config_from_hf(source.hf_config, max_context)
    ids = special_token_ids(source.hf_config, source.generation_config, cfg.vocab_size)
    say(_describe(cfg))
    with staged_output(out_dir, force) as stage:
        say("loading weights")
        state_dict = source.load_state_dict()
        say(f"converting {len(state_dict)} tensors to {dtype}")
        module = families.build_module(cfg, state_dict, DTYPES[dtype], interface)
        del state_dict
        quantization = None
        if quantize == "int8":
            say(f"quantizing the linear layers to int8 ({activation_bits}-bit activations)")
            quantize_int8(module.model if interface == "logits" else module, activation_bits)
            quantization = {"method": "int8-dynamic", "activation_bits": activation_bits}
        say(f"compiling the {interface} interface with torch.jit.script")
        scripted = torch.jit.script(module)
        model_path = stage / "model.pt"
        torch.jit.save(scripted, str(model_path))
        say(f"wrote model.pt ({model_path.stat().st_size / 1e6:.1f} MB); checking that it loads and runs")
        check_saved_module(module, model_path, cfg, DTYPES[dtype], interface, exact=quantization is None)
        say("writing the tokenizer and the manifest")
        source.write_tokenizer(stage)
        if source.generation_config is not None:
            _write_json(stage / "generation_config.json", source.generation_config)
        _write_json(stage / "torch-gen.json", build_manifest(cfg, interface, dtype, ids, source.name, __version__,
                                                                  quantization))
    say(f"exported {out_dir} in {time.monotonic() - started:.1f} s")
    return out_dir


def _describe(cfg: Any) -> str:
    features = cfg.features()
    return (f"{families.family_name(cfg.architecture)} ({cfg.architecture}): {cfg.num_layers} layers, "
            f"{cfg.num_heads} heads ({cfg.num_kv_heads} kv), head_dim {cfg.head_dim}, vocab {cfg.vocab_size}, "
            f"max context {cfg.max_context}" + (f"; {', '.join(features)}" if features else ""))


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
