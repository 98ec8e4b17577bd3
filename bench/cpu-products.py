"""One-row products on the CPU, by shape and by library path: `python bench/cpu-products.py [THREADS] [MODEL_DIR]`.

What docs/architecture.md ("Where a CPU decode step's time goes") quotes. For each distinct weight shape of
the model (SmolLM2-135M by default: 960x576, 576x576, 3072x576, 576x1536 and the 49152x576 output layer), enough
copies to be far larger than the caches are multiplied by one row in turn, so each call reads its weight
from memory as a decode step does, and the read rate is printed for:
  onednn-packed  mkldnn._linear_pointwise on a weight laid out once (what the frozen graph calls)
  onednn-plain   the same op on the plain [out, in] weight (oneDNN's gemm path)
  F.linear       libtorch's own linear (MKL's sgemm)
  torch.mv       libtorch's matrix-vector product (MKL's sgemv)
  sum            torch.sum over the same bytes: the read rate with no product at all
Medians of 200 calls, in GB/s (10^9 bytes/s). Variants of the environment, run the same way:
  GLIBC_TUNABLES=glibc.malloc.hugetlb=1   2 MB pages for every large allocation (transparent huge pages)
  ONEDNN_MAX_CPU_ISA=AVX2 (or AVX512_CORE)  oneDNN's kernels capped at an instruction set
A single run on a shared machine drifts by 5-10%: compare variants in alternation.
"""

from __future__ import annotations

import sys
import time


def median_seconds(call, repeats: int = 200) -> float:
    for _ in range(10):
        call()
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
    return sorted(seconds)[len(seconds) // 2]


def main(argv: list[str]) -> int:
    import torch

    threads = int(argv[0]) if argv else 2
    model_dir = argv[1] if len(argv) > 1 else "models/smollm2-135m-instruct"
    torch.set_num_threads(threads)
    module = torch.jit.load(f"{model_dir}/model.pt", map_location="cpu")
    shapes = sorted({tuple(p.shape) for p in module.parameters() if p.dim() == 2}, key=lambda s: s[0] * s[1])
    del module
    print(f"{threads} threads; GB/s, median of 200 one-row calls, each on a weight not in the caches")
    print(f"{'shape':>12} {'MB':>7} " + " ".join(f"{name:>13}" for name in
                                             ("onednn-packed", "onednn-plain", "F.linear", "torch.mv", "sum")))
    with torch.no_grad():
        for out_features, in_features in shapes:
            nbytes = out_features * in_features * 4
            copies = max(2, 256_000_000 // nbytes)  # ~256 MB in turn: far beyond a 32 MB L3
            weights = [torch.randn(out_features, in_features) for _ in range(copies)]
            packed = [torch.ops.mkldnn._reorder_linear_weight(w, None) for w in weights]
            row, vector = torch.randn(1, in_features), torch.randn(in_features)
            turn = iter(range(10**12))

            def next_of(items):
                return items[next(turn) % len(items)]

            variants = {
                "onednn-packed": lambda: torch.ops.mkldnn._linear_pointwise(row, next_of(packed), None, "none", [], None),
                "onednn-plain": lambda: torch.ops.mkldnn._linear_pointwise(row, next_of(weights), None, "none", [], None),
                "F.linear": lambda: torch.nn.functional.linear(row, next_of(weights)),
                "torch.mv": lambda: torch.mv(next_of(weights), vector),
                "sum": lambda: next_of(weights).sum(),
            }
            rates = [nbytes / median_seconds(call) / 1e9 for call in variants.values()]
            print(f"{out_features:>6}x{in_features:<5} {nbytes / 1e6:7.2f} " + " ".join(f"{r:13.1f}" for r in rates))
            del weights, packed
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
