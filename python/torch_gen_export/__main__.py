"""python -m torch_gen_export SRC -o OUT_DIR [--interface ...] [--dtype ...] [--quantize int8] [--max-context N]
[--force] [--format torchscript|aoti] [--device cpu|cuda] [--threads N]

Progress goes to stderr. A user error prints one line and exits with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Optional

PROG = "torch-gen-export"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Export a Hugging Face causal LM (a model directory or a .gguf file) to a torch-gen "
        "model directory (model.pt, torch-gen.json, tokenizer files; see docs/model-format.md).",
    )
    parser.add_argument("src", type=Path,
                        help="Hugging Face model directory (config.json, *.safetensors) or .gguf file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="model directory to create")
    parser.add_argument("--interface", default="kv-cache", choices=["kv-cache", "logits"],
                        help="what model.pt computes: kv-cache (default) runs on the runtime's KV cache and "
                        "returns the last position's logits; logits has no cache and recomputes the whole "
                        "sequence at every step (much slower; for comparisons)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                        help="dtype of the weights in model.pt (default: float32; the runtime can cast)")
    parser.add_argument("--quantize", default="none", choices=["none", "int8"],
                        help="int8: int8 linear layers for the CPU (fbgemm dynamic quantization, per-channel "
                        "weights, per-token activations; a quarter of the weight bytes, "
                        "perplexity +5.3%% on SmolLM2); needs --dtype float32; the model then runs on the CPU only")
    parser.add_argument("--int8-activation-bits", type=int, default=None, choices=[7, 8],
                        help="activation bits of --quantize int8 (default: 8 if this CPU has VNNI, else 7; "
                        "8 bits on a CPU without VNNI can saturate)")
    parser.add_argument("--max-context", type=int, default=None,
                        help="max_context of the manifest (default: the model's max_position_embeddings)")
    parser.add_argument("--format", dest="module_format", default="torchscript", choices=["torchscript", "aoti"],
                        help="torchscript (default): model.pt, runs on any device in any dtype; aoti: model.pt2, "
                        "compiled by AOTInductor for one device, dtype and CPU instruction set (kv-cache "
                        "interface only; minutes to compile; see docs/model-format.md)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="--format aoti: the device the package runs on (cuda needs a GPU on this machine)")
    parser.add_argument("--threads", type=int, default=None,
                        help="--format aoti on the CPU: the threads its kernels run with, fixed at compile time "
                        "(default: this machine's CPUs, at least 2; 1 compiles serial code without OpenMP); "
                        "load it with the same `threads`")
    parser.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists and is not empty")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    # SIGTERM as an exception, so the staging directory is cleaned up as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    from . import ExportError, export_model

    try:
        export_model(args.src, args.output, interface=args.interface, dtype=args.dtype,
                     max_context=args.max_context, force=args.force, quantize=args.quantize,
                     int8_activation_bits=args.int8_activation_bits, module_format=args.module_format,
                     device=args.device, threads=args.threads,
                     progress=lambda line: print(f"{PROG}: {line}", file=sys.stderr, flush=True))
    except ExportError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; {args.output} was not written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
