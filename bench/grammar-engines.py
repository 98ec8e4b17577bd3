"""The measurement behind the choice of grammar engine (docs/constrained-decoding.md): llguidance and xgrammar
side by side on SmolLM2's vocabulary, through their Python packages (the same engines as their C/C++ cores):
the time to compile each schema of test/constrained-schemas.json, and the time to compute one token mask along
a random walk through each schema's language (64 steps, the same walk length for both).

    pip install llguidance==1.9.1 xgrammar==0.2.8      # into any venv with torch and transformers
    (the schemas: test/constrained-schemas.json)
    python bench/grammar-engines.py test/constrained-schemas.json models/smollm2-135m-instruct

bench/constrained.mjs measures the engine we ship inside torch-gen.
"""
import json
import random
import statistics
import sys
import time

import torch
from transformers import AutoTokenizer

STEPS = 64


def walk(allowed_of, consume, is_done, rng):
    """Times `allowed_of` (the mask) at each step of a random walk; returns the per-step seconds."""
    times = []
    for _ in range(STEPS):
        start = time.perf_counter()
        allowed = allowed_of()
        times.append(time.perf_counter() - start)
        if not allowed or is_done():
            break
        consume(rng.choice(allowed))
        if is_done():
            break
    return times


def allowed_ids(bitmask_row, vocab):
    bits = bitmask_row.view(-1, 1).bitwise_right_shift(torch.arange(32, dtype=torch.int32)).bitwise_and(1).flatten()[:vocab]
    return bits.nonzero().flatten().tolist()


def bench_llguidance(tokenizer, schemas, vocab):
    import llguidance
    import llguidance.hf
    import llguidance.torch as llt

    start = time.perf_counter()
    tok = llguidance.hf.from_tokenizer(tokenizer)
    setup = time.perf_counter() - start
    compile_s, mask_s = [], []
    for case in schemas:
        grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(case["schema"]), defaults={"whitespace_flexible": False})
        start = time.perf_counter()
        matcher = llguidance.LLMatcher(tok, grammar)
        compile_s.append(time.perf_counter() - start)
        assert not matcher.is_error(), matcher.get_error()
        bitmask = llt.allocate_token_bitmask(1, vocab)

        def mask():
            llt.fill_next_token_bitmask(matcher, bitmask, 0)
            return [t for t in allowed_ids(bitmask[0], vocab) if t != tok.eos_token]

        mask_s += walk(mask, matcher.consume_token, matcher.is_stopped, random.Random(1))
    return setup, compile_s, mask_s


def bench_xgrammar(tokenizer, schemas, vocab):
    import xgrammar as xgr

    start = time.perf_counter()
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab)
    compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
    setup = time.perf_counter() - start
    compile_s, mask_s = [], []
    for case in schemas:
        start = time.perf_counter()
        compiled = compiler.compile_json_schema(json.dumps(case["schema"]), any_whitespace=False)
        compile_s.append(time.perf_counter() - start)
        matcher = xgr.GrammarMatcher(compiled)
        bitmask = xgr.allocate_token_bitmask(1, vocab)
        stops = set(info.stop_token_ids)

        def mask():
            matcher.fill_next_token_bitmask(bitmask, 0)
            return [t for t in allowed_ids(bitmask[0], vocab) if t not in stops]

        mask_s += walk(mask, matcher.accept_token, matcher.is_terminated, random.Random(1))
    return setup, compile_s, mask_s


def main():
    schemas = json.load(open(sys.argv[1]))
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[2])
    vocab = 49152
    torch.set_num_threads(1)
    print("| engine | vocabulary setup | compile median / max | mask median / p99 |")
    print("|---|---:|---:|---:|")
    for name, run in (("llguidance", bench_llguidance), ("xgrammar", bench_xgrammar)):
        try:
            setup, compile_s, mask_s = run(tokenizer, schemas, vocab)
        except Exception as error:  # one engine failing must not hide the other's figures
            print(f"| {name} | failed: {error} | | |")
            continue
        mask_s.sort()
        print(
            f"| {name} | {setup * 1e3:.0f} ms | {statistics.median(compile_s) * 1e3:.2f} / {max(compile_s) * 1e3:.1f} ms "
            f"| {statistics.median(mask_s) * 1e6:.0f} / {mask_s[int(len(mask_s) * 0.99)] * 1e6:.0f} µs |"
        )


if __name__ == "__main__":
    main()
