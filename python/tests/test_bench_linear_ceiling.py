"""bench/peers/linear_ceiling.py's choice of the matrices a decode step multiplies by (the ceiling it reports
is those products alone): a tied token table is the output layer's product, an untied one and a position
table are lookups."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "peers"))
from linear_ceiling import step_products  # noqa: E402


def names_of(products, matrices):
    return sorted(name for name, matrix in matrices.items() if any(matrix is p for p in products))


def test_a_tied_token_table_is_the_last_product():
    matrices = {"tok_embeddings.weight": torch.zeros(8, 4), "layers.0.attention.wqkv.weight": torch.zeros(12, 4)}
    assert names_of(step_products(matrices), matrices) == ["layers.0.attention.wqkv.weight", "tok_embeddings.weight"]


def test_an_untied_token_table_is_a_lookup_and_the_output_layer_the_product():
    matrices = {"tok_embeddings.weight": torch.zeros(8, 4), "output.weight": torch.zeros(8, 4),
                "layers.0.feed_forward.w2.weight": torch.zeros(4, 6)}
    assert names_of(step_products(matrices), matrices) == ["layers.0.feed_forward.w2.weight", "output.weight"]


def test_gpt2_position_table_is_always_a_lookup():
    matrices = {"wte.weight": torch.zeros(8, 4), "wpe.weight": torch.zeros(16, 4), "h.0.attn.c_attn.weight": torch.zeros(12, 4)}
    assert names_of(step_products(matrices), matrices) == ["h.0.attn.c_attn.weight", "wte.weight"]
    matrices["lm_head.weight"] = torch.zeros(8, 4)
    assert names_of(step_products(matrices), matrices) == ["h.0.attn.c_attn.weight", "lm_head.weight"]
