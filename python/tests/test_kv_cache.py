"""The kv-cache contract of docs/model-format.md: in-place writes into views of a pool, per-row positions."""

from __future__ import annotations

import pytest
import torch

from export_helpers import run, zeros_cache

ROWS = {"long": [5, 17, 42, 99, 7, 256, 3], "short": [311, 64, 12]}
# The same sums in a different batch shape: measured ~1e-6 for GPT-2 and Llama, up to 1.2e-5 for Gemma 3 (q/k
# norms, soft-capped logits) on logits of magnitude ~5.
ATOL = 3e-5


def prefill_alone(model, ids, t_max):
    k_cache, v_cache = zeros_cache(model.manifest, 1, t_max), zeros_cache(model.manifest, 1, t_max)
    logits = run(model.module, [ids], [list(range(len(ids)))], k_cache, v_cache, len(ids))
    return logits[0], k_cache, v_cache


@pytest.mark.parametrize("kind", ["gpt2", "llama3-gqa"])
def test_writes_keys_and_values_in_place_through_a_narrowed_view_of_a_bigger_pool(exported, kind):
    model = exported(kind)
    t_max, sentinel = 16, 7.0
    shape = zeros_cache(model.manifest, 4, t_max).shape  # [L, 4 slots, H_kv, T_max, D]
    k_pool, v_pool = torch.full(shape, sentinel), torch.full(shape, sentinel)
    ids = ROWS["long"]
    n = len(ids)
    # Two requests in slots 1 and 2, as the runtime passes them: views, not copies.
    k_view, v_view = k_pool.narrow(1, 1, 2), v_pool.narrow(1, 1, 2)
    assert not k_view.is_contiguous()
    logits = run(model.module, [ids, ids], [list(range(n))] * 2, k_view, v_view, n)

    alone_logits, alone_k, alone_v = prefill_alone(model, ids, t_max)
    for pool, alone in [(k_pool, alone_k), (v_pool, alone_v)]:
        for slot in (1, 2):
            assert torch.allclose(pool[:, slot, :, :n], alone[:, 0, :, :n], atol=ATOL)
            assert bool((pool[:, slot, :, n:] == sentinel).all()), "wrote past the row's positions"
        for slot in (0, 3):
            assert bool((pool[:, slot] == sentinel).all()), "wrote into another request's slot"
    # The sentinel past position n is never attended to: the logits are those of a zeroed cache.
    assert torch.allclose(logits[0], alone_logits, atol=ATOL)
    assert torch.allclose(logits[1], alone_logits, atol=ATOL)


@pytest.mark.parametrize("kind", ["gpt2", "llama3-gqa", "qwen2", "gemma2", "gemma3", "phi3"])
def test_rows_at_different_lengths_in_one_call_give_the_logits_of_each_row_alone(exported, kind):
    model = exported(kind)
    t_max = 24
    k_pool, v_pool = zeros_cache(model.manifest, 2, t_max), zeros_cache(model.manifest, 2, t_max)
    rows = [list(ROWS["long"]), list(ROWS["short"])]
    # Prefill each row into its slot on its own (rows of one call share T), then decode both together.
    for slot, ids in enumerate(rows):
        run(model.module, [ids], [list(range(len(ids)))], k_pool.narrow(1, slot, 1), v_pool.narrow(1, slot, 1),
            len(ids))
    alone = [prefill_alone(model, ids, t_max) for ids in rows]
    for step, (a, b) in enumerate([(9, 250), (31, 8), (100, 101), (2, 2)]):
        positions = [len(rows[0]), len(rows[1])]
        for ids, token in zip(rows, (a, b)):
            ids.append(token)
        batched = run(model.module, [[a], [b]], [[positions[0]], [positions[1]]], k_pool, v_pool,
                      max(positions) + 1)
        for row, (token, position) in enumerate(zip((a, b), positions)):
            _, k_cache, v_cache = alone[row]
            single = run(model.module, [[token]], [[position]], k_cache, v_cache, position + 1)
            assert torch.allclose(batched[row], single[0], atol=ATOL), f"row {row}, step {step}"


def test_a_row_padded_by_repeating_its_last_token_and_position_keeps_its_logits(exported):
    model = exported("llama3-gqa")
    long, short = ROWS["long"], ROWS["short"]
    pad = len(long) - len(short)
    padded = short + [short[-1]] * pad
    positions = list(range(len(short))) + [len(short) - 1] * pad
    k_cache, v_cache = zeros_cache(model.manifest, 2, 16), zeros_cache(model.manifest, 2, 16)
    logits = run(model.module, [long, padded], [list(range(len(long))), positions], k_cache, v_cache, len(long))
    short_alone, short_k, _ = prefill_alone(model, short, 16)
    long_alone, _, _ = prefill_alone(model, long, 16)
    assert torch.allclose(logits[0], long_alone, atol=ATOL)
    assert torch.allclose(logits[1], short_alone, atol=ATOL)
    assert torch.allclose(k_cache[:, 1, :, : len(short)], short_k[:, 0, :, : len(short)], atol=ATOL)


def test_stale_values_past_a_rows_position_do_not_change_its_logits(exported):
    model = exported("qwen2")
    ids = ROWS["long"]
    n, t_max = len(ids), 16
    garbage = torch.Generator().manual_seed(0)
    shape = zeros_cache(model.manifest, 1, t_max).shape
    k_cache = torch.randn(shape, generator=garbage) * 100
    v_cache = torch.randn(shape, generator=garbage) * 100
    # kv_len = T_max: the stale tail is inside the attended range and only the mask keeps it out.
    logits = run(model.module, [ids], [list(range(n))], k_cache, v_cache, t_max)
    clean, _, _ = prefill_alone(model, ids, t_max)
    assert torch.allclose(logits[0], clean, atol=ATOL)
