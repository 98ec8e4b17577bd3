"""Shared fixtures: the fixture tokenizer and tiny random-weight models exported once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # python/: torch_gen_export and fixtures

from export_helpers import Exported, export_random_model  # noqa: E402
from fixtures.kv_models import VOCAB_SIZE  # noqa: E402
from fixtures.tokenizer import END_OF_TEXT, train_bpe_tokenizer  # noqa: E402

# The machine is shared with C++ builds; these models are tiny, one thread is enough.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tokenizer():
    return train_bpe_tokenizer(VOCAB_SIZE)


@pytest.fixture(scope="session")
def eos_id(tokenizer) -> int:
    return tokenizer.token_to_id(END_OF_TEXT)


@pytest.fixture(scope="session")
def exported(tmp_path_factory, tokenizer, eos_id):
    """exported(kind, dtype="float32", interface="kv-cache") -> Exported, built once per argument triple for the
    whole session (the same random weights for every dtype and interface of one kind)."""
    cache: dict[tuple[str, str, str], Exported] = {}

    def get(kind: str, dtype: str = "float32", interface: str = "kv-cache") -> Exported:
        key = (kind, dtype, interface)
        if key not in cache:
            root = tmp_path_factory.mktemp(f"{kind}-{dtype}-{interface}")
            cache[key] = export_random_model(kind, dtype, root, tokenizer, eos_id, interface)
        return cache[key]

    return get
