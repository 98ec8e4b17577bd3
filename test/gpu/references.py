"""transformers' outputs on the test device for the kv fixtures, for the GPU tests (test/gpu/*.test.ts).

    python test/gpu/references.py --fixtures DIR --device cuda --out DIR/references.json

The fixtures are the ones python/make_fixtures.py builds (gpt2-kv, llama-kv, qwen2-kv): random-weight
transformers models exported to model.pt, with expected.json holding transformers' greedy ids computed on
the CPU. Their builder is deterministic, so this script rebuilds the same transformers model with the
builder's own functions and runs it in float32 on --device: greedy ids (up to 64 tokens, stopping at the
eos id as generate() does) and, for the first STEPS steps, the full log-softmax of the logits and the
largest |logit| (the scale the tests' FP16 tolerance is relative to).

Same weights: when the device's greedy ids equal expected.json (computed from the exported weights' source
on the CPU) the weights are the builder's; when they differ, the model is run on the CPU too, to tell a
rebuilt model that differs (an error) from a device whose float32 rounding flips a near tie (recorded).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

STEPS = 16  # steps whose full distribution is recorded (the FP16 checks compare these)
DEFAULT_FIXTURES = "gpt2-kv,llama-kv,qwen2-kv"


def rebuild(arch: str) -> tuple[Any, int]:
    """The fixture's transformers model (float32, CPU) and its eos id, as python/fixtures/kv_models.py built it."""
    from fixtures.kv_models import FIXTURES, VOCAB_SIZE, hf_config, random_hf_model
    from fixtures.tokenizer import END_OF_TEXT, train_bpe_tokenizer

    kind, seed, std = FIXTURES[arch]
    eos_id = train_bpe_tokenizer(VOCAB_SIZE).token_to_id(END_OF_TEXT)
    return random_hf_model(hf_config(kind, eos_id), seed, std), eos_id


def greedy(model: Any, prompt_ids: list[int], eos_id: int, new_tokens: int, device: str) -> tuple[list[int], list[Any]]:
    """Greedy ids (eos included when produced) and the logits of every step, [V] float32 each."""
    import torch
    from transformers import GenerationConfig

    settings = GenerationConfig(do_sample=False, max_new_tokens=new_tokens, eos_token_id=eos_id, pad_token_id=eos_id,
                                output_logits=True, return_dict_in_generate=True)
    input_ids = torch.tensor([prompt_ids], device=device)
    with torch.inference_mode():
        output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), generation_config=settings)
    ids = output.sequences[0, len(prompt_ids):].tolist()
    return ids, [step[0].float().cpu() for step in output.logits]


def step_record(logits: Any) -> dict[str, Any]:
    import torch

    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return {"max_abs_logit": round(float(logits.abs().max()), 6), "logprobs": [round(float(x), 6) for x in logprobs]}


def references_for(name: str, fixtures: Path, device: str) -> dict[str, Any]:
    import torch

    expected = json.loads((fixtures / name / "expected.json").read_text(encoding="utf-8"))
    model, eos_id = rebuild(name.removesuffix("-kv"))
    model.to(device)  # in place
    prompts = []
    for prompt in expected["prompts"]:
        ids, logits = greedy(model, prompt["prompt_ids"], eos_id, expected["max_new_tokens"], device)
        entry = {"text": prompt["text"], "prompt_ids": prompt["prompt_ids"], "generated_ids": ids,
                 "steps": [step_record(step) for step in logits[:STEPS]],
                 "matches_cpu_expected": ids == prompt["generated_ids"]}
        if not entry["matches_cpu_expected"]:
            cpu_ids, _ = greedy(model.to("cpu"), prompt["prompt_ids"], eos_id, expected["max_new_tokens"], "cpu")
            model.to(device)
            if cpu_ids != prompt["generated_ids"]:
                raise RuntimeError(f"{name}: the rebuilt transformers model does not reproduce expected.json on the "
                                   f"CPU for {prompt['text']!r}; python/fixtures/kv_models.py changed how it builds "
                                   f"the fixture, update test/gpu/references.py")
        prompts.append(entry)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"eos_token_id": eos_id, "max_new_tokens": expected["max_new_tokens"], "prompts": prompts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, required=True, help="the directory make_fixtures.py built into")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--names", default=DEFAULT_FIXTURES)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch
    import transformers

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"references: device {args.device} requested but torch sees no CUDA GPU", file=sys.stderr)
        return 1
    # float32 means float32: no TF32 in matmuls or convolutions (torch's matmul default already, cuDNN's not).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    result = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else "cpu",
        "dtype": "float32",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "steps_recorded": STEPS,
        "fixtures": {name: references_for(name, args.fixtures, args.device) for name in args.names.split(",")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result) + "\n", encoding="utf-8")
    flips = [(n, p["text"]) for n, f in result["fixtures"].items() for p in f["prompts"] if not p["matches_cpu_expected"]]
    for name, text in flips:
        print(f"references: {name} {text!r}: {args.device} float32 greedy differs from the CPU's (a near tie)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
