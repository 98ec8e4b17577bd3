"""The fixtures the Node tests load: exported tiny models with transformers' greedy outputs."""

from __future__ import annotations

import json

import pytest

from fixtures.kv_models import NEW_TOKENS, PROMPTS, VOCAB_SIZE, build_kv_fixture


@pytest.mark.parametrize("arch", ["gpt2", "llama", "qwen2"])
def test_build_kv_fixture_writes_a_model_directory_with_the_greedy_outputs_of_transformers(tmp_path, arch, eos_id):
    # build_kv_fixture itself checks that the exported module reproduces every generated id.
    out = build_kv_fixture(arch, tmp_path / arch)
    assert (out / "model.pt").is_file() and (out / "torch-gen.json").is_file()
    expected = json.loads((out / "expected.json").read_text())
    prompts = expected["prompts"]
    assert [p["text"] for p in prompts] == PROMPTS
    assert any("夜" in p["text"] for p in prompts) and any("🚀" in p["text"] for p in prompts)
    lengths = [len(p["generated_ids"]) for p in prompts]
    assert NEW_TOKENS in lengths, "no prompt runs the full 64 tokens"
    stopped = [p for p in prompts if len(p["generated_ids"]) < NEW_TOKENS]
    assert stopped and all(p["generated_ids"][-1] == eos_id for p in stopped)
    assert all(0 <= i < VOCAB_SIZE for p in prompts for i in p["prompt_ids"] + p["generated_ids"])
