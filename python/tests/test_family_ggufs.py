"""Qwen3, Gemma 2, Gemma 3 and Phi-3 from GGUF files laid out as llama.cpp writes them (fixtures/gguf_files.py):
the export computes what transformers computes on the same weights from the Hugging Face directory."""

from __future__ import annotations

import pytest

from export_helpers import WEIGHT_SEED, WEIGHT_STD, load_module, max_abs_diff, prefill_then_decode, read_manifest
from fixtures.gguf_files import write_gguf
from fixtures.kv_models import hf_config, random_hf_model
from torch_gen_export import ExportError, export_model

PROMPT = [5, 17, 42, 99, 7, 256, 3, 311, 64]
# float32 weights, so the same bound as from a directory (test_families.py); Gemma's norms go through
# 1 + w and back, one rounding of a value near 1.
ATOL_FLOAT32 = 1e-4

# query_pre_attn_scalar is not in a GGUF: llama.cpp takes head_dim (32 here) for all but the 27B models.
GGUF_KINDS = {"qwen3": {}, "gemma2": {"query_pre_attn_scalar": 32}, "gemma3": {"query_pre_attn_scalar": 32},
              "phi3": {}}


@pytest.mark.parametrize("kind", list(GGUF_KINDS))
def test_a_llama_cpp_gguf_exports_to_the_same_logits_as_transformers(kind, tmp_path, tokenizer, eos_id):
    hf_model = random_hf_model(hf_config(kind, eos_id, **GGUF_KINDS[kind]), WEIGHT_SEED, WEIGHT_STD)
    gguf_path = write_gguf(hf_model, tokenizer, tmp_path / f"{kind}.gguf")
    out = export_model(gguf_path, tmp_path / "out")
    manifest = read_manifest(out)
    assert manifest["source"] == f"{kind}.gguf"
    pairs = prefill_then_decode(load_module(out), manifest, hf_model, PROMPT, 16, cached_reference=True)
    assert max_abs_diff(pairs) < ATOL_FLOAT32


def test_the_gguf_manifest_has_the_features_transformers_own_gguf_reader_leaves_out(tmp_path, tokenizer, eos_id):
    hf_model = random_hf_model(hf_config("gemma2", eos_id, query_pre_attn_scalar=32), WEIGHT_SEED, WEIGHT_STD)
    out = export_model(write_gguf(hf_model, tokenizer, tmp_path / "gemma2.gguf"), tmp_path / "out")
    features = read_manifest(out)["features"]
    assert "attention logit soft-capping 4" in features and "final logit soft-capping 6" in features


def test_a_gemma3_gguf_may_list_its_layers_pattern_as_booleans(tmp_path, tokenizer, eos_id):
    hf_model = random_hf_model(hf_config("gemma3", eos_id, query_pre_attn_scalar=32), WEIGHT_SEED, WEIGHT_STD)
    gguf_path = write_gguf(hf_model, tokenizer, tmp_path / "gemma3.gguf", sliding_window_pattern=[True, True, False])
    out = export_model(gguf_path, tmp_path / "out")
    assert read_manifest(out)["attention_windows"] == [8, 8, None]


@pytest.mark.parametrize("kind, gguf_args, message", [
    ("phi3", {"omit": {"rope_factors_short.weight"}},
     r"^phi3 GGUF has rope factor tensors \['rope_factors_long.weight'\]; expected the long and short ones$"),
    ("phi3", {"omit": {"rope.scaling.original_context_length"}},
     r"^the GGUF lacks phi3.rope.scaling.original_context_length, which its phi3 layers need$"),
    ("gemma3", {"sliding_window_pattern": [True, False]},
     r"^gemma3.attention.sliding_window_pattern lists 2 layers, not 3$"),
])
def test_a_gguf_missing_what_its_family_needs_is_refused_by_name(kind, gguf_args, message, tmp_path, tokenizer, eos_id):
    hf_model = random_hf_model(hf_config(kind, eos_id), WEIGHT_SEED, WEIGHT_STD)
    gguf_path = write_gguf(hf_model, tokenizer, tmp_path / f"{kind}.gguf", **gguf_args)
    with pytest.raises(ExportError, match=message):
        export_model(gguf_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
