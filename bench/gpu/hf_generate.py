"""Hugging Face generate() on one benchmark model: `python bench/gpu/hf_generate.py --index I --model NAME --out F`.

The model is the save_pretrained directory written by python/gpu_bench_models.py (the same weights
torch-gen loads from its export), fed the same prompts (prompts.json), greedy, no end-of-sequence token,
so every row generates exactly --new-tokens tokens. Modes:
  eager           generate() as a user calls it (DynamicCache, no compilation)
  static-compile  cache_implementation="static", which makes generate() torch.compile the decode step
                  (mode "reduce-overhead": CUDA graphs). A failure is caught and reported, not fatal.
Per (mode, batch): one warm-up generation of the same length (compilation and graph capture happen there),
then --reps timed ones. A streamer timestamps every step on the host (generate() already waits for each
step's tokens, so this adds no synchronisation); from those stamps come time to first token, decode
tokens/s (tokens after the first / time after the first) and ms per token p50/p99. Peak memory is
torch.cuda.max_memory_allocated() since the model was loaded (weights included). Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

DTYPES = ["float32", "float16", "bfloat16"]


class StepClock:
    """A generate() streamer that records when each step's tokens reach the host."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate() streams the prompt first
            self._prompt_seen = True
            return
        self.stamps.append(time.perf_counter())

    def end(self) -> None:
        pass


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def load(hf_dir: str, dtype_name: str, device: str) -> Any:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, dtype_name)
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    # transformers 4.56 renamed torch_dtype to dtype.
    keyword = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(hf_dir, local_files_only=True, **{keyword: dtype})
    return model.to(device).eval()


def generation_config(new_tokens: int, mode: str, device: str) -> Any:
    from transformers import GenerationConfig

    settings = GenerationConfig(do_sample=False, max_new_tokens=new_tokens, eos_token_id=None, pad_token_id=None,
                                bos_token_id=None)
    if mode == "static-compile":
        settings.cache_implementation = "static"
        try:
            from transformers import CompileConfig
        except ImportError as error:  # before transformers 4.47 generate() does not compile by itself
            raise RuntimeError(f"this transformers has no CompileConfig ({error}); upgrade to >= 4.47") from error
        compile_config = CompileConfig()
        if not device.startswith("cuda"):
            # generate() compiles only on accelerators unless told otherwise (for the CPU-mode plumbing run).
            compile_config._compile_all_devices = True
        settings.compile_config = compile_config
    return settings


def time_generation(model: Any, input_ids: Any, settings: Any, device: str) -> dict[str, Any]:
    import torch

    clock = StepClock()
    attention_mask = torch.ones_like(input_ids)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    began = time.perf_counter()
    with torch.inference_mode():
        output = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=settings,
                                streamer=clock)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    ended = time.perf_counter()
    generated = output.shape[1] - input_ids.shape[1]
    stamps = clock.stamps
    batch = input_ids.shape[0]
    decode_seconds = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    return {
        "generated_per_row": generated,
        "ttft_ms": (stamps[0] - began) * 1000 if stamps else None,
        "total_ms": (ended - began) * 1000,
        "decode_tokens_per_s": batch * (len(stamps) - 1) / decode_seconds if decode_seconds > 0 else None,
        "e2e_tokens_per_s": batch * generated / (ended - began),
        "step_ms": [(b - a) * 1000 for a, b in zip(stamps, stamps[1:])],
        "first_ids": output[0, input_ids.shape[1]:input_ids.shape[1] + 16].tolist(),
    }


def kv_cache_bytes(config: Any, batch: int, length: int, itemsize: int) -> int:
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * batch * heads * length * head_dim * itemsize


def run_case(model: Any, prompts: list[list[int]], mode: str, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    case: dict[str, Any] = {"engine": "transformers", "mode": mode, "batch": batch}
    input_ids = torch.tensor(prompts[:batch], dtype=torch.int64, device=args.device)  # [B, T]
    cuda = args.device.startswith("cuda")
    if cuda:
        free, _total = torch.cuda.mem_get_info(torch.device(args.device))
        cache = kv_cache_bytes(model.config, batch, input_ids.shape[1] + args.new_tokens, model.dtype.itemsize)
        # The cache, and as much again for activations and the vocabulary-sized logits.
        needed = 2 * cache + 2 * batch * model.config.vocab_size * 4 * input_ids.shape[1]
        if needed > free:
            case["skipped"] = f"needs about {needed / 2**30:.1f} GiB more GPU memory, {free / 2**30:.1f} GiB free"
            return case
    settings = generation_config(args.new_tokens, mode, args.device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(torch.device(args.device))
    try:
        started = time.perf_counter()
        # Warm-up at the full length: static-cache shapes, compilation and CUDA-graph capture happen here.
        for _ in range(2 if mode == "static-compile" else 1):
            time_generation(model, input_ids, settings, args.device)
        case["warmup_seconds"] = round(time.perf_counter() - started, 2)
        reps = [time_generation(model, input_ids, settings, args.device) for _ in range(args.reps)]
    except Exception as error:  # compilation fails in many ways; report it and go on with the next case
        case["error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        case["traceback_tail"] = traceback.format_exc().splitlines()[-6:]
        if mode == "static-compile":
            torch._dynamo.reset()
        if cuda:
            torch.cuda.empty_cache()
        return case
    steps = [ms for rep in reps for ms in rep["step_ms"]]
    generated = {rep["generated_per_row"] for rep in reps}
    case.update(
        reps=args.reps,
        new_tokens=args.new_tokens,
        prompt_tokens=input_ids.shape[1],
        generated_per_row=sorted(generated),
        ttft_ms=statistics.median(rep["ttft_ms"] for rep in reps),
        decode_tokens_per_s=statistics.median(rep["decode_tokens_per_s"] for rep in reps),
        e2e_tokens_per_s=statistics.median(rep["e2e_tokens_per_s"] for rep in reps),
        # The time between a row's successive tokens (one decode step: every row gets a token).
        ms_per_token_p50=percentile(steps, 50),
        ms_per_token_p99=percentile(steps, 99),
        first_ids_row0=reps[0]["first_ids"],
    )
    if generated != {args.new_tokens}:
        case["error"] = f"rows generated {sorted(generated)} tokens, expected {args.new_tokens}"
    if cuda:
        case["memory"] = {"peak_bytes": torch.cuda.max_memory_allocated(torch.device(args.device)),
                          "reserved_peak_bytes": torch.cuda.max_memory_reserved(torch.device(args.device)),
                          "method": "torch.cuda.max_memory_allocated during the case (weights + cache + "
                                    "activations; no CUDA context)"}
    return case


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="index.json of python/gpu_bench_models.py")
    parser.add_argument("--model", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help="default: the index's dtype")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--modes", default="eager,static-compile")
    parser.add_argument("--compile-batches", default="1", help="batches the static-compile mode runs at")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch
    import transformers

    index = json.loads(args.index.read_text())
    entry = index["models"].get(args.model)
    if entry is None:
        print(f"hf_generate: {args.model} is not in {args.index}", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"engine": "transformers", "model": args.model, "size": index["size"],
                              "device": args.device, "dtype": args.dtype or index["dtype"],
                              "transformers": transformers.__version__, "torch": torch.__version__, "cases": []}
    if "skipped" in entry:
        result["skipped"] = entry["skipped"]
    else:
        prompts = json.loads((args.index.parent / "prompts.json").read_text())["by_vocab"][str(entry["vocab_size"])]
        torch.manual_seed(0)
        began = time.perf_counter()
        model = load(entry["hf_dir"], result["dtype"], args.device)
        result["load_seconds"] = round(time.perf_counter() - began, 2)
        compile_batches = {int(b) for b in args.compile_batches.split(",") if b}
        for mode in [m for m in args.modes.split(",") if m]:
            for batch in [int(b) for b in args.batches.split(",") if b]:
                if mode == "static-compile" and batch not in compile_batches:
                    continue
                print(f"hf_generate: {args.model} {mode} batch {batch}", file=sys.stderr, flush=True)
                case = run_case(model, prompts, mode, batch, args)
                result["cases"].append(case)
                print(f"hf_generate:   {json.dumps({k: v for k, v in case.items() if k != 'first_ids_row0'})}",
                      file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
