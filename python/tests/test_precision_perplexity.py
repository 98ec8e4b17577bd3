"""The accuracy cost of bfloat16 and int8 on the real SmolLM2, as perplexity on a fixed 2,048-token text.

Measured on 2026-11-30 (the bounds leave room for other CPUs' summation orders): float32 13.62,
bfloat16 13.61 (-0.05%), int8 with 8-bit activations 14.34 (+5.3%), with 7-bit activations 15.47 (+13.6%).
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from fixtures import smollm2_reference
from fixtures.perplexity import perplexity, text_ids
from torch_gen_export import families
from torch_gen_export.quantize import quantize_int8
from torch_gen_export.sources import open_source


@pytest.fixture(scope="module")
def smollm2_float32():
    source = open_source(smollm2_reference.smollm2_gguf())
    cfg = families.config_from_hf(source.hf_config, 2048)
    return families.build_module(cfg, source.load_state_dict(), torch.float32)


@pytest.fixture(scope="module")
def ids(tmp_path_factory, smollm2_float32):
    source = open_source(smollm2_reference.smollm2_gguf())
    out = tmp_path_factory.mktemp("smollm2-tokenizer")
    source.write_tokenizer(out)
    tokens = text_ids(out / "tokenizer.json")
    assert len(tokens) == 2048  # the text is longer than 2,048 tokens: the score covers a full window
    return tokens


@pytest.fixture(scope="module")
def float32_perplexity(smollm2_float32, ids):
    value = perplexity(smollm2_float32, ids)
    assert 10 < value < 20  # the license text is ordinary English to SmolLM2
    return value


def test_bfloat16_perplexity_is_within_1_percent_of_float32(smollm2_float32, ids, float32_perplexity):
    bf16 = copy.deepcopy(smollm2_float32).to(torch.bfloat16)
    assert perplexity(bf16, ids, torch.bfloat16) < 1.01 * float32_perplexity


@pytest.mark.parametrize(("bits", "bound"), [(8, 1.08), (7, 1.20)])
def test_int8_perplexity_is_within_its_bound_of_float32(smollm2_float32, ids, float32_perplexity, bits, bound):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        int8 = quantize_int8(copy.deepcopy(smollm2_float32), bits)
    assert perplexity(int8, ids) < bound * float32_perplexity

