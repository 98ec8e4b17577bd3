"""Qwen3, Gemma 2, Gemma 3, Phi-3 and the sliding-window variants of Mistral and Qwen2: the exported
kv-cache module computes transformers' logits on the same weights, every distinguishing feature switched on
(fixtures/kv_models.py: hf_config)."""

from __future__ import annotations

import copy

import pytest
import torch

from export_helpers import HfCachedDecoder, max_abs_diff, prefill_then_decode, run, zeros_cache
from fixtures.kv_models import WINDOW

PROMPT = [5, 17, 42, 99, 7, 256, 3, 311, 64]  # 9 tokens: longer than the windows (8)
DECODE_STEPS = 16

# float32: the same ops in a different order (fused projections, SDPA, one RoPE for q and k); measured
# <= 6e-6 on logits of magnitude <= 6 over a prefill and 16 steps (1.7e-5 against transformers recomputing
# the whole sequence), so 1e-4 leaves room for another CPU's summation order and still catches any real
# difference (a wrong norm, mask or rotation moves logits by 1e-1 or more).
ATOL_FLOAT32 = 1e-4

KINDS = {
    "qwen3": "Qwen3: q/k RMSNorm, head_dim 32 != hidden / heads, tied embeddings",
    "gemma2": "Gemma 2: soft-capped attention and logits, alternating 8-token windows, (1+w) norms, GeGLU",
    "gemma3": "Gemma 3: q/k norms, 2 local layers (own RoPE base) per global one (linear RoPE), capped logits",
    "phi3": "Phi-3: fused qkv / gate_up, LongRoPE past its original context (8), 24-token window",
    "phi3-crossing": "Phi-3: LongRoPE crossing its original context (16) while decoding",
    "mistral-window": "Mistral with an 8-token sliding window on every layer",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_float32_logits_match_transformers_generate_for_a_prefill_and_16_decode_steps(exported, kind):
    model = exported(kind)
    pairs = prefill_then_decode(model.module, model.manifest, model.hf_model, PROMPT, DECODE_STEPS,
                                cached_reference=True)
    assert len(pairs) == DECODE_STEPS + 1
    assert max_abs_diff(pairs) < ATOL_FLOAT32, KINDS[kind]
    assert all(int(a.argmax()) == int(b.argmax()) for a, b in pairs)


def test_generate_recomputes_the_sequence_where_longrope_switches_which_a_kv_cache_does_not(exported):
    # transformers' Phi-3 generate() drops its cache when the sequence first outgrows the original context,
    # so that every earlier key is rotated again with the long factors; a KV-cache runtime keeps the keys it
    # has. The first step past the switch therefore differs from transformers recomputing the sequence.
    model = exported("phi3-crossing")
    pairs = prefill_then_decode(model.module, model.manifest, model.hf_model, PROMPT, DECODE_STEPS)
    before_switch = pairs[: 16 - len(PROMPT)]  # logits for positions < 16: short factors either way
    assert max_abs_diff(before_switch) < ATOL_FLOAT32
    assert max_abs_diff(pairs) > 1e-2


@pytest.mark.parametrize("kind", ["qwen3", "gemma2", "gemma3", "phi3", "mistral-window"])
def test_the_logits_also_match_transformers_recomputing_the_whole_sequence_unless_longrope_switches(exported, kind):
    model = exported(kind)
    pairs = prefill_then_decode(model.module, model.manifest, model.hf_model, PROMPT, DECODE_STEPS)
    assert max_abs_diff(pairs) < ATOL_FLOAT32


@pytest.mark.parametrize("kind", ["gemma2", "gemma3"])
def test_a_prompt_three_windows_long_decodes_as_transformers_does(exported, kind):
    model = exported(kind)
    prompt = [(7 * i + 3) % 380 for i in range(3 * WINDOW + 1)]
    pairs = prefill_then_decode(model.module, model.manifest, model.hf_model, prompt, DECODE_STEPS,
                                cached_reference=True)
    assert max_abs_diff(pairs) < ATOL_FLOAT32


def test_qwen2_with_sliding_window_layers_matches_transformers(exported):
    model = exported("qwen2-window")  # layers from max_window_layers (1) on slide
    assert model.manifest["attention_windows"] == [None, WINDOW]
    pairs = prefill_then_decode(model.module, model.manifest, model.hf_model, PROMPT, DECODE_STEPS,
                                cached_reference=True)
    assert max_abs_diff(pairs) < ATOL_FLOAT32


# Reduced precision against float32 transformers: both the export and transformers itself in that dtype
# round weights and activations, so the bound is relative to transformers' own error in the dtype on the
# same steps (measured: ours / its own <= 1.6, Gemma 3 in bfloat16: 1.03 / 0.65).
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("kind", ["qwen3", "gemma2", "gemma3", "phi3"])
def test_reduced_precision_stays_within_twice_transformers_own_error_in_that_dtype(exported, kind, dtype):
    torch_dtype = getattr(torch, dtype)
    model = exported(kind, dtype)
    assert model.manifest["dtype"] == dtype
    ours = prefill_then_decode(model.module, model.manifest, model.hf_model, PROMPT, DECODE_STEPS, torch_dtype,
                               cached_reference=True)
    hf_reduced = HfCachedDecoder(copy.deepcopy(model.hf_model).to(torch_dtype))
    ids, own_error = list(PROMPT), 0.0
    for (_, reference), token in zip(ours, [None] + [int(b.argmax()) for _, b in ours[:-1]]):
        if token is not None:
            ids.append(token)
        own_error = max(own_error, float((hf_reduced(ids) - reference).abs().max()))
    assert max_abs_diff(ours) < 2 * own_error + 1e-2, f"transformers' own {dtype} error: {own_error:.3g}"


def test_longrope_switches_per_row_so_a_row_decodes_as_it_would_alone(exported):
    # Row 0 is past Phi-3's original context (16, long factors), row 1 is not (short factors).
    model = exported("phi3-crossing")
    rows = [[(11 * i) % 380 for i in range(20)], [(5 * i + 1) % 380 for i in range(6)]]
    t_max = 32
    k_pool, v_pool = zeros_cache(model.manifest, 2, t_max), zeros_cache(model.manifest, 2, t_max)
    alone = []
    for slot, ids in enumerate(rows):
        n = len(ids)
        run(model.module, [ids], [list(range(n))], k_pool.narrow(1, slot, 1), v_pool.narrow(1, slot, 1), n)
        k_cache, v_cache = zeros_cache(model.manifest, 1, t_max), zeros_cache(model.manifest, 1, t_max)
        run(model.module, [ids], [list(range(n))], k_cache, v_cache, n)
        alone.append((k_cache, v_cache))
    positions = [len(rows[0]), len(rows[1])]
    batched = run(model.module, [[3], [4]], [[positions[0]], [positions[1]]], k_pool, v_pool, max(positions) + 1)
    for row, (token, position) in enumerate(zip((3, 4), positions)):
        k_cache, v_cache = alone[row]
        single = run(model.module, [[token]], [[position]], k_cache, v_cache, position + 1)
        assert torch.allclose(batched[row], single[0], atol=1e-5), f"row {row}"


def test_the_logits_interface_of_gemma2_matches_transformers_on_every_position(exported):
    model = exported("gemma2", interface="logits")
    tokens = torch.tensor([PROMPT + [1, 2, 3, 4, 5, 6, 7]])  # [1, 16]: two windows
    with torch.inference_mode():
        ours = model.module(tokens)  # [1, T, V]
    with torch.no_grad():
        reference = model.hf_model(tokens).logits
    assert float((ours - reference).abs().max()) < ATOL_FLOAT32


@pytest.mark.parametrize("kind, family, windows, features", [
    ("qwen3", "Qwen3", None, ["q/k RMSNorm", "SwiGLU", "tied embeddings"]),
    ("gemma2", "Gemma 2", [8, None, 8, None],
     ["GeGLU (gelu tanh)", "(1 + w) RMSNorm", "post-attention and pre/post feed-forward norms", "scaled embeddings",
      "query_pre_attn_scalar 24", "attention logit soft-capping 4", "final logit soft-capping 6",
      "sliding-window attention (8 tokens) on 2 of 4 layers"]),
    ("gemma3", "Gemma 3", [8, 8, None],
     ["q/k RMSNorm", "RoPE linear (theta 1e+06)", "local RoPE default (theta 10000) on the sliding-window layers",
      "sliding-window attention (8 tokens) on 2 of 3 layers"]),
    ("phi3", "Phi-3", [24, 24], ["RoPE longrope (theta 10000)", "sliding-window attention (24 tokens) on 2 of 2 layers"]),
])
def test_the_manifest_names_the_family_its_features_and_windows(exported, kind, family, windows, features):
    manifest = exported(kind).manifest
    assert manifest["family"] == family
    assert set(features) <= set(manifest["features"]), manifest["features"]
    assert manifest.get("attention_windows") == windows
    assert manifest.get("longrope_original_context") == (8 if kind == "phi3" else None)


def test_the_language_model_of_a_gemma3_image_and_text_checkpoint_is_exported(tmp_path, tokenizer, eos_id):
    # Gemma 3 4B and up are Gemma3ForConditionalGeneration: a vision tower beside the text model.
    import transformers as tf

    from export_helpers import WEIGHT_SEED, WEIGHT_STD, load_module, read_manifest
    from fixtures.kv_models import hf_config, random_hf_model, save_hf_dir
    from torch_gen_export import export_model

    text = hf_config("gemma3", eos_id).to_dict()
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32,
                  patch_size=8)
    config = tf.Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4, image_token_index=383,
                             boi_token_index=381, eoi_token_index=382, bos_token_id=eos_id, eos_token_id=eos_id)
    hf_model = random_hf_model(config, WEIGHT_SEED, WEIGHT_STD)
    out = export_model(save_hf_dir(hf_model, tokenizer, tmp_path / "hf"), tmp_path / "out")
    manifest = read_manifest(out)
    assert (manifest["architecture"], manifest["family"], manifest["attention_windows"]) == ("gemma3_text", "Gemma 3",
                                                                                             [8, 8, None])
    pairs = prefill_then_decode(load_module(out), manifest, hf_model, PROMPT, DECODE_STEPS, cached_reference=True)
    assert max_abs_diff(pairs) < ATOL_FLOAT32
