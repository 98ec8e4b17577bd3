"""The export, start to finish: source -> checked config -> module -> TorchScript or AOTInductor -> model directory."""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import torch

from . import aoti, families
from .errors import ExportError
from .interfaces import INTERFACES
from .manifest import build_manifest, special_token_ids
from .output import check_output_dir, staged_output
from .quantize import QUANTIZATIONS, default_activation_bits, quantize_int8
from .sources import open_source
from .verify import check_saved_module

MODULE_FORMATS = ("torchscript", "aoti")
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
    module_format: str = "torchscript",
    device: str = "cpu",
    threads: Optional[int] = None,
) -> Path:
    """Exports `src` (a Hugging Face model directory or a .gguf file) into the model directory `out_dir`.

    interface: "kv-cache" (default) or "logits", the forward() signature of docs/model-format.md. dtype: the
    weights' dtype in model.pt (the runtime can cast it later). max_context: the manifest's max_context, at
    most the model's own limit (default: that limit). force: replace an existing non-empty `out_dir`.
    progress: called with one line per step (the CLI prints them to stderr). quantize: "none" or "int8"
    (quantize.py; float32 only, CPU only); int8_activation_bits: 7 or 8 (default: 8 where this CPU has VNNI).
    module_format: "torchscript" (model.pt) or "aoti" (model.pt2, compiled by AOTInductor for `device`, "cpu"
    or "cuda", with `threads` OpenMP threads on the CPU; aoti.py). Raises ExportError for anything the user
    can fix; `out_dir` is then left as it was.
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
    if module_format not in MODULE_FORMATS:
        raise ExportError(f"--format must be one of {', '.join(MODULE_FORMATS)}, received {module_format!r}")
    if module_format == "aoti":
        aoti.check_options(interface, quantize, device, threads)
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
        with _torch_warnings(say):
            package = _write_module(module, module_format, stage, cfg, dtype, interface, device, threads,
                                    quantization is None, say)
        say("writing the tokenizer and the manifest")
        source.write_tokenizer(stage)
        if source.generation_config is not None:
            _write_json(stage / "generation_config.json", source.generation_config)
        manifest = build_manifest(cfg, interface, dtype, ids, source.name, __version__, quantization)
        _write_json(stage / "torch-gen.json", {**manifest, **({"aoti": package} if package else {})})
    say(f"exported {out_dir} in {time.monotonic() - started:.1f} s")
    return out_dir


def _write_module(module: torch.nn.Module, module_format: str, stage: Path, cfg: Any, dtype: str, interface: str,
                  device: str, threads: Optional[int], exact: bool,
                  say: Callable[[str], None]) -> Optional[dict[str, Any]]:
    """Writes model.pt, or model.pt2 for --format aoti (then returns the manifest's "aoti" entry)."""
    if module_format != "aoti":
        _write_torchscript(module, stage, cfg, dtype, interface, exact, say)
        return None
    package = aoti.compile_package(module, cfg, DTYPES[dtype], device, stage, threads or aoti.default_threads(), say)
    say("checking that model.pt2 loads and runs")
    aoti.check_saved_package(module, stage / aoti.PACKAGE_FILE, cfg, DTYPES[dtype], device)
    return package


def _write_torchscript(module: torch.nn.Module, stage: Path, cfg: Any, dtype: str, interface: str, exact: bool,
                       say: Callable[[str], None]) -> None:
    say(f"compiling the {interface} interface with torch.jit.script")
    scripted = torch.jit.script(module)
    model_path = stage / "model.pt"
    torch.jit.save(scripted, str(model_path))
    say(f"wrote model.pt ({model_path.stat().st_size / 1e6:.1f} MB); checking that it loads and runs")
    check_saved_module(module, model_path, cfg, DTYPES[dtype], interface, exact=exact)


@contextlib.contextmanager
def _torch_warnings(say: Callable[[str], None]) -> Iterator[None]:
    """torch 2.10 and later warn that TorchScript is deprecated once per scripted function and on every
    load, and torch's own internals warn about their deprecations while exporting: one progress line for
    each kind instead of a flood. Warnings from anywhere else pass through."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    torchscript = [w for w in caught if _is_torchscript_deprecation(w.message)]
    internal = [w for w in caught if w not in torchscript and _is_torch_internal(w)]
    for other in (w for w in caught if w not in torchscript and w not in internal):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if torchscript:
        say(f"note: torch {torch.__version__} marks TorchScript deprecated ({len(torchscript)} warning(s)); "
            "model.pt still loads in libtorch; --format aoti writes the successor format")
    if internal:
        say(f"note: {len(internal)} deprecation warning(s) from inside torch {torch.__version__} left out "
            f"(the first: {str(internal[0].message)[:120]})")


def _is_torchscript_deprecation(message: Warning | str) -> bool:
    text = str(message)
    return "deprecated" in text and ("TorchScript" in text or "torch.jit" in text)


def _is_torch_internal(warning: warnings.WarningMessage) -> bool:
    torch_dir = str(Path(torch.__file__).parent)
    return issubclass(warning.category, (DeprecationWarning, FutureWarning)) and warning.filename.startswith(torch_dir)


def _describe(cfg: Any) -> str:
    features = cfg.features()
    return (f"{families.family_name(cfg.architecture)} ({cfg.architecture}): {cfg.num_layers} layers, "
            f"{cfg.num_heads} heads ({cfg.num_kv_heads} kv), head_dim {cfg.head_dim}, vocab {cfg.vocab_size}, "
            f"max context {cfg.max_context}" + (f"; {', '.join(features)}" if features else ""))


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
