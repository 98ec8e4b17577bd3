"""--interface logits: the same model code and weights without a cache, forward(tokens) -> logits[B, T, V]."""

from __future__ import annotations

import signal

import pytest
import torch

from export_helpers import load_module, prefill_then_decode, read_manifest
from torch_gen_export import ExportError, export_model
from torch_gen_export.__main__ import main as cli_main

ROWS = [[5, 17, 42, 99, 7, 256, 3, 311, 64], [1, 300, 2, 250, 3, 200, 4, 150, 5]]  # ids below the vocab (384)
DECODE_STEPS = 8
# transformers' numerics in float32; measured <= 1.5e-6 (GPT-2), 0 (Llama, Qwen2) on logits of magnitude <= 5.
ATOL = 1e-4
# The same weights through the kv-cache module (other matmul shapes); measured <= 4.2e-6.
ATOL_KV = 1e-5

KINDS = {
    "gpt2": "GPT-2: learned positions, Conv1D weights, tied head",
    "llama-gqa": "Llama, 4 query heads on 2 kv heads",
    "qwen2": "Qwen2, q/k/v biases, tied embeddings",
}


def logits_of(module, rows: list[list[int]]) -> torch.Tensor:
    with torch.inference_mode():
        return module(torch.tensor(rows))


@pytest.mark.parametrize("kind", list(KINDS))
def test_logits_of_every_position_match_transformers_for_a_batch_of_two(exported, kind):
    model = exported(kind, interface="logits")
    logits = logits_of(model.module, ROWS)
    assert logits.shape == (2, len(ROWS[0]), 384) and logits.dtype == torch.float32
    with torch.no_grad():
        reference = model.hf_model(torch.tensor(ROWS)).logits
    assert float((logits - reference).abs().max()) < ATOL, KINDS[kind]


@pytest.mark.parametrize("kind", list(KINDS))
def test_last_position_logits_equal_the_kv_cache_exports_at_every_decode_step(exported, kind):
    logits_model, kv_model = exported(kind, interface="logits"), exported(kind)
    # The kv-cache export follows transformers' greedy choices; the logits module recomputes each sequence.
    pairs = prefill_then_decode(kv_model.module, kv_model.manifest, kv_model.hf_model, ROWS[0], DECODE_STEPS)
    ids = list(ROWS[0])
    for step, (kv_logits, reference) in enumerate(pairs):
        full = logits_of(logits_model.module, [ids])[0]  # [T, V]
        assert torch.allclose(full[-1], kv_logits, atol=ATOL_KV), f"{KINDS[kind]}, step {step}"
        ids.append(int(reference.argmax()))


def test_a_shorter_sequence_gives_the_first_positions_of_a_longer_ones_logits(exported):
    # Causal: no position sees a later token, so a prefix's logits do not depend on what follows it.
    module = exported("llama-gqa", interface="logits").module
    full, prefix = logits_of(module, [ROWS[0]])[0], logits_of(module, [ROWS[0][:4]])[0]
    assert torch.allclose(full[:4], prefix, atol=ATOL_KV)


def test_manifest_says_logits_and_keeps_the_cache_dimensions(exported):
    logits_model, kv_model = exported("llama-gqa", interface="logits"), exported("llama-gqa")
    assert logits_model.manifest["interface"] == "logits"
    assert {**logits_model.manifest, "interface": "kv-cache"} == kv_model.manifest
    assert (logits_model.manifest["num_layers"], logits_model.manifest["num_kv_heads"],
            logits_model.manifest["head_dim"]) == (2, 2, 16)


def test_forward_takes_only_the_tokens_and_the_weights_are_stored_once(exported):
    module = exported("qwen2", interface="logits").module
    assert [a.name for a in module.forward.schema.arguments] == ["self", "tokens"]
    kv_module = exported("qwen2").module
    assert sum(p.numel() for p in module.parameters()) == sum(p.numel() for p in kv_module.parameters())


def test_the_module_cast_to_float16_keeps_float32_rope_angles(exported):
    module = load_module(exported("llama3-gqa", interface="logits").out_dir)
    module.to(torch.float16)  # what the runtime does with dtype: 'float16'
    assert module.model.rotary.inv_freq_fixed.dtype == torch.int64
    logits = logits_of(module, [ROWS[0]])
    assert logits.dtype == torch.float16 and bool(torch.isfinite(logits).all())


def test_an_unknown_interface_is_refused_by_name(exported, tmp_path):
    with pytest.raises(ExportError, match=r"^--interface must be one of kv-cache, logits, received 'cached'$"):
        export_model(exported("gpt2").hf_dir, tmp_path / "out", interface="cached")
    assert not (tmp_path / "out").exists()


def test_cli_interface_option_exports_the_logits_interface(exported, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(signal, "signal", lambda *_args: None)  # main() would install a SIGTERM handler in pytest
    assert cli_main([str(exported("gpt2").hf_dir), "-o", str(tmp_path / "out"), "--interface", "logits"]) == 0
    assert capsys.readouterr().out == ""
    assert read_manifest(tmp_path / "out")["interface"] == "logits"
    assert logits_of(load_module(tmp_path / "out"), [ROWS[0]]).shape == (1, len(ROWS[0]), 384)

