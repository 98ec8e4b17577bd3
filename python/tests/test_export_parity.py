"""The exported kv-cache module computes the same logits as transformers on the same weights."""

from __future__ import annotations

import copy

import pytest
import torch

from export_helpers import load_module, max_abs_diff, prefill_then_decode
from torch_gen_export import families

PROMPT = [5, 17, 42, 99, 7, 256, 3, 311, 64]  # 9 tokens, any ids below the fixture vocab (384)
DECODE_STEPS = 16

# float32: measured differences are <= 4.2e-6 on logits of magnitude <= 5 (fused q/k/v and SDPA
# reorder the sums).
ATOL_FLOAT32 = 1e-4

KINDS = {
    "gpt2": "GPT-2: learned positions, Conv1D weights, tied head",
    "llama-gqa": "Llama, 4 query heads on 2 kv heads, default RoPE",
    "llama3-gqa": "Llama, grouped-query attention, rope_scaling type llama3",
    "llama-linear": "Llama, rope_scaling type linear, attention_bias on q/k/v/o, untied head",
    "mistral": "Mistral, one kv head (multi-query), sliding_window None",
    "qwen2": "Qwen2, q/k/v biases, tied embeddings",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_float32_logits_match_transformers_for_a_prefill_and_16_decode_steps(exported, kind):
    model = exported(kind)
    pairs = prefill_then_decode(model.module, model.manifest, model.hf_model, PROMPT, DECODE_STEPS)
    assert len(pairs) == DECODE_STEPS + 1
    assert max_abs_diff(pairs) < ATOL_FLOAT32, KINDS[kind]
    assert all(int(a.argmax()) == int(b.argmax()) for a, b in pairs)


# Reduced precision against float32 transformers: the error is the rounding of the weights and
# activations, so the bound is looser. Measured over 16 steps on logits of magnitude <= 5: float16
# <= 1.2e-2, bfloat16 <= 9.3e-2.
@pytest.mark.parametrize("dtype, atol", [("float16", 3e-2), ("bfloat16", 2e-1)])
@pytest.mark.parametrize("kind", ["gpt2", "qwen2"])
def test_reduced_precision_export_stays_close_to_float32_transformers(exported, kind, dtype, atol):
    model = exported(kind, dtype)
    assert model.manifest["dtype"] == dtype
    assert all(p.dtype == getattr(torch, dtype) for p in model.module.parameters())
    pairs = prefill_then_decode(model.module, model.manifest, model.hf_model, PROMPT, 4, getattr(torch, dtype))
    assert max_abs_diff(pairs) < atol


def test_saved_module_gives_the_same_outputs_as_the_eager_module(exported):
    model = exported("llama3-gqa")
    cfg = families.config_from_hf(model.hf_model.config, None)
    weights = {key: value.detach().clone() for key, value in model.hf_model.state_dict().items()}
    eager = families.build_module(cfg, weights, torch.float32)
    loaded = load_module(model.out_dir)
    eager_pairs = prefill_then_decode(eager, model.manifest, model.hf_model, PROMPT, 3)
    loaded_pairs = prefill_then_decode(loaded, model.manifest, model.hf_model, PROMPT, 3)
    for (eager_logits, _), (loaded_logits, _) in zip(eager_pairs, loaded_pairs):
        assert torch.equal(eager_logits, loaded_logits)


def test_casting_the_module_to_another_dtype_keeps_the_rope_frequencies_exact(exported):
    model = exported("llama3-gqa")
    module = load_module(model.out_dir)
    before = module.rotary.inv_freq_fixed.clone()
    module.to(torch.float64)  # what the runtime does with the user's dtype
    assert module.rotary.inv_freq_fixed.dtype == torch.int64
    assert torch.equal(module.rotary.inv_freq_fixed, before)
    hf_float64 = copy.deepcopy(model.hf_model).double()
    pairs = prefill_then_decode(module, model.manifest, hf_float64, PROMPT, 2, torch.float64)
    assert max_abs_diff(pairs) < ATOL_FLOAT32
