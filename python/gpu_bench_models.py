"""Builds the GPU benchmark's models: `python python/gpu_bench_models.py OUT_ROOT [--sizes full|tiny] [--only a,b]`.

Each model is a transformers model of a real model's shape with seeded random weights. It is saved with
save_pretrained (OUT_ROOT/SIZE/NAME/hf: what bench/gpu/hf_generate.py loads) and exported with
torch_gen_export (OUT_ROOT/SIZE/NAME/torch-gen: what bench/gpu/torch-gen.mjs loads), so both engines read
the same weights. OUT_ROOT/SIZE/index.json lists the models with what the report needs (parameters, the
weight bytes a decode step reads) and OUT_ROOT/SIZE/prompts.json holds the prompts both engines feed.

`full` are the real shapes (GPT-2 124M, Qwen2-0.5B, TinyLlama-1.1B, Llama-2-7B); `tiny` are the same
architectures at toy sizes, for proving the plumbing on a CPU. The configs have no bos/eos/pad ids, so
neither engine stops before the requested number of tokens. A model is rebuilt only when its config,
dtype or the exporter changed (a hash in .stamp); one that cannot fit on the disk is listed as skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SEED = 20240611
PROMPT_ROWS = 32  # the largest batch the benchmark runs
PROMPT_TOKENS = {"full": 128, "tiny": 32}
# The manifest's max_context: enough for the prompt and the generated tokens, small enough that
# torch-gen's default cache stays small if a caller forgets maxContext.
MAX_CONTEXT = {"full": 2048, "tiny": 256}


@dataclass(frozen=True)
class BenchModel:
    name: str  # the key every script and the report use
    shape_of: str  # the real model whose shape `full` copies
    model_type: str  # transformers model_type: gpt2, qwen2 or llama
    full: dict[str, Any]
    tiny: dict[str, Any]
    common: dict[str, Any] = field(default_factory=dict)


_TINY_LLAMA = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, vocab_size=512, max_position_embeddings=256)

MODELS = [
    BenchModel("gpt2-124m", "GPT-2 (124M)", "gpt2",
               full=dict(n_embd=768, n_layer=12, n_head=12, vocab_size=50257, n_positions=1024),
               tiny=dict(n_embd=64, n_layer=2, n_head=4, vocab_size=512, n_positions=256)),
    BenchModel("qwen2-0.5b", "Qwen2-0.5B", "qwen2",
               full=dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768),
               tiny=_TINY_LLAMA,
               common=dict(tie_word_embeddings=True, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
                           use_sliding_window=False, sliding_window=None)),
    BenchModel("tinyllama-1.1b", "TinyLlama-1.1B", "llama",
               full=dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                         num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048),
               tiny=_TINY_LLAMA,
               common=dict(tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-5)),
    BenchModel("llama2-7b", "Llama-2-7B", "llama",
               full=dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                         num_key_value_heads=32, vocab_size=32000, max_position_embeddings=4096),
               tiny={**_TINY_LLAMA, "num_key_value_heads": 4},
               common=dict(tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-5)),
]
BY_NAME = {m.name: m for m in MODELS}


def hf_config(spec: BenchModel, size: str) -> Any:
    import transformers as tf

    classes = {"gpt2": tf.GPT2Config, "qwen2": tf.Qwen2Config, "llama": tf.LlamaConfig}
    no_special_tokens = dict(bos_token_id=None, eos_token_id=None, pad_token_id=None)
    fields = {**spec.common, **(spec.full if size == "full" else spec.tiny), **no_special_tokens}
    return classes[spec.model_type](**fields)


def random_model(config: Any, dtype: Any, device: str) -> Any:
    """transformers' own init (normal, std = initializer_range; norms 1), seeded, built on `device`.

    Building a 7B model on the GPU takes seconds where the CPU takes minutes.
    """
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(SEED)
    previous = torch.get_default_dtype()
    # Set the default dtype rather than pass dtype=/torch_dtype=: the keyword changed name across
    # transformers versions, the default dtype works in all of them.
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def weight_bytes_per_token(model: Any) -> int:
    """Bytes of weights one decode step reads: every parameter, except embedding tables that are only
    looked up (a step reads one row of them). A table tied to the output layer is read whole."""
    import torch

    output = model.get_output_embeddings().weight
    lookups = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)} - {id(output)}
    return sum(p.numel() * p.element_size() for p in model.parameters() if id(p) not in lookups)


def synthetic_tokenizer(vocab_size: int) -> Any:
    """A byte-level BPE with exactly `vocab_size` tokens: the 256 byte symbols, then `<i>` for the rest.

    The benchmark feeds token ids, so the tokenizer only has to decode every id the model can produce
    (torch-gen streams text); no merges are needed for that.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(alphabet)}
    for i in range(len(vocab), vocab_size):
        vocab[f"<{i}>"] = i
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def write_tokenizer(tokenizer: Any, out_dir: Path, max_length: int) -> None:
    tokenizer.save(str(out_dir / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length,
              "clean_up_tokenization_spaces": False}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def prompts(vocab_size: int, length: int) -> list[list[int]]:
    """PROMPT_ROWS seeded random prompts of `length` ids, the same for both engines (read from JSON)."""
    import torch

    generator = torch.Generator().manual_seed(SEED)
    return torch.randint(0, vocab_size, (PROMPT_ROWS, length), generator=generator).tolist()


def _stamp(spec: BenchModel, size: str, dtype: str) -> str:
    digest = hashlib.sha256(json.dumps([spec.name, spec.model_type, spec.common, spec.full, spec.tiny, size,
                                        dtype, SEED, MAX_CONTEXT[size]], sort_keys=True).encode())
    for path in sorted([*HERE.glob("torch_gen_export/**/*.py"), Path(__file__)]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _estimated_bytes(config: Any, dtype_bytes: int) -> int:
    """Parameters x dtype size, from the config alone (a meta-device model costs no memory)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in skeleton.parameters()) * dtype_bytes


def build(spec: BenchModel, size: str, dtype_name: str, root: Path, device: str, say: Any) -> dict[str, Any]:
    import torch
    from torch_gen_export import DTYPES, export_model

    dtype = DTYPES[dtype_name]
    target = root / spec.name
    entry: dict[str, Any] = {"name": spec.name, "shape_of": spec.shape_of, "architecture": spec.model_type,
                             "size": size, "dtype": dtype_name, "hf_dir": str(target / "hf"),
                             "torch_gen_dir": str(target / "torch-gen")}
    stamp = _stamp(spec, size, dtype_name)
    facts_path = target / "facts.json"
    if (target / ".stamp").is_file() and (target / ".stamp").read_text() == stamp and facts_path.is_file():
        return {**entry, **json.loads(facts_path.read_text())}
    config = hf_config(spec, size)
    # hf/ and torch-gen/ each hold the weights once (the exporter stages model.pt beside and renames it),
    # plus a margin for the tokenizer and the filesystem.
    needed = int(2.2 * _estimated_bytes(config, dtype.itemsize))
    free = shutil.disk_usage(root).free
    if needed > free:
        return {**entry, "skipped": f"needs about {needed / 2**30:.1f} GiB of disk, {free / 2**30:.1f} GiB free"}
    shutil.rmtree(target, ignore_errors=True)
    started = time.monotonic()
    say(f"building {spec.name} ({size}, {dtype_name}) on {device}")
    model = random_model(config, dtype, device)
    facts = {"parameters": sum(p.numel() for p in model.parameters()),
             "weight_bytes_per_token": weight_bytes_per_token(model),
             "vocab_size": config.vocab_size, "num_layers": config.num_hidden_layers,
             "hidden_size": config.hidden_size, "max_context": MAX_CONTEXT[size]}
    model = model.to("cpu")
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    hf_dir = target / "hf"
    model.save_pretrained(hf_dir)
    write_tokenizer(synthetic_tokenizer(config.vocab_size), hf_dir, MAX_CONTEXT[size])
    del model
    export_model(hf_dir, target / "torch-gen", dtype=dtype_name, max_context=MAX_CONTEXT[size], force=True,
                 progress=lambda line: say(f"  {spec.name}: {line}"))
    facts["build_seconds"] = round(time.monotonic() - started, 1)
    facts_path.write_text(json.dumps(facts, indent=1) + "\n")
    (target / ".stamp").write_text(stamp)
    return {**entry, **facts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_root", type=Path)
    parser.add_argument("--sizes", default="full", choices=["full", "tiny"])
    parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                        help="weights' dtype in hf/ and model.pt (default: float16 for full, float32 for tiny)")
    parser.add_argument("--only", help="comma-separated model names (default: all)")
    parser.add_argument("--device", default=None, help="where to run the random init (default: cuda if available)")
    args = parser.parse_args()

    import torch
    from transformers.utils import logging

    logging.disable_progress_bar()
    names = args.only.split(",") if args.only else [m.name for m in MODELS]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        print(f"gpu_bench_models: unknown model {', '.join(unknown)}; known: {', '.join(BY_NAME)}", file=sys.stderr)
        return 2
    dtype = args.dtype or ("float16" if args.sizes == "full" else "float32")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    root = args.out_root / args.sizes
    root.mkdir(parents=True, exist_ok=True)

    def say(line: str) -> None:
        print(f"gpu_bench_models: {line}", file=sys.stderr, flush=True)

    index_path = root / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {"models": {}}
    for name in names:
        entry = build(BY_NAME[name], args.sizes, dtype, root, device, say)
        index["models"][name] = entry
        if "skipped" in entry:
            say(f"skipped {name}: {entry['skipped']}")
        # Written after each model, so a run cut short still lists what it built.
        index.update(size=args.sizes, dtype=dtype, seed=SEED)
        index_path.write_text(json.dumps(index, indent=1) + "\n")
    vocab_sizes = {e["vocab_size"] for e in index["models"].values() if "vocab_size" in e}
    rows = {str(v): prompts(v, PROMPT_TOKENS[args.sizes]) for v in sorted(vocab_sizes)}
    (root / "prompts.json").write_text(json.dumps({"prompt_tokens": PROMPT_TOKENS[args.sizes], "by_vocab": rows}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
