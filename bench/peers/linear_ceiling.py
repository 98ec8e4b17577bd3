"""How fast the library's one-row products read the model's weights, with nothing else in the step:
`python bench/peers/linear_ceiling.py THREADS MODEL_DIR [REPEATS] [--dtypes=LIST]`.

A batch-1 decode step is mostly one product per weight matrix with a single row of activations. torch-gen
runs those on the CPU through oneDNN (the frozen graph's linear layers, native/core/inference_graph.cpp:
weights laid out once by mkldnn._reorder_linear_weight, each product a mkldnn._linear_pointwise). This
times exactly those calls, every matrix a step multiplies by once per pass (model.pt's 2-D parameters but the
lookup tables; step_products), in the order of its parameters, as float32
and, where the CPU has bfloat16 instructions, as bfloat16. Bytes read per pass / the best pass's seconds is
the ceiling of any step built on these kernels: a step at X% of the bandwidth bound cannot beat this
fraction, whatever the rest of the step costs. Prints one JSON object per dtype. --dtypes (a comma list,
e.g. float32) narrows the dtypes: bench/peers/run.mjs runs float32 alone under ONEDNN_MAX_CPU_ISA=AVX2, the
cap torch-gen's float32 models run with on AMD Zen 4, below which oneDNN has no bfloat16 kernels.
"""

from __future__ import annotations

import json
import sys
import time


# The exporter's token tables (decoder.py, gpt2.py) and the output layers that may replace them. A token
# table is a lookup (one row a step) unless the output layer is tied to it, when the step's last product
# reads all of it; a position table is always a lookup.
TOKEN_TABLES = {"tok_embeddings.weight": "output.weight", "wte.weight": "lm_head.weight"}
POSITION_TABLES = {"wpe.weight"}


def step_products(matrices: dict) -> list:
    """The weight matrices a decode step multiplies by, each once (every 2-D parameter but the lookups)."""
    products = []
    for name, matrix in matrices.items():
        if name in POSITION_TABLES:
            continue
        if name in TOKEN_TABLES and TOKEN_TABLES[name] in matrices:
            continue  # untied: the output layer is its own matrix, listed under its own name
        products.append(matrix)
    return products


def main(argv: list[str]) -> int:
    wanted = next((a.split("=", 1)[1].split(",") for a in argv if a.startswith("--dtypes=")), None)
    argv = [a for a in argv if not a.startswith("--dtypes=")]
    if not 2 <= len(argv) <= 3:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    import torch

    threads, model_dir = int(argv[0]), argv[1]
    repeats = int(argv[2]) if len(argv) > 2 else 10
    torch.set_num_threads(threads)
    module = torch.jit.load(f"{model_dir}/model.pt", map_location="cpu").eval()
    matrices = step_products({name: p.detach() for name, p in module.named_parameters() if p.dim() == 2})
    dtypes = [torch.float32]
    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        dtypes.append(torch.bfloat16)
    if wanted is not None:
        dtypes = [dtype for dtype in dtypes if str(dtype).replace("torch.", "") in wanted]
    with torch.no_grad():
        for dtype in dtypes:
            weights = [w.to(dtype).contiguous() for w in matrices]
            # The layout hint the engine gives (LayoutHint in native/core/inference_graph.cpp, which decides it):
            # laid out for one row in bfloat16, oneDNN's default in float32.
            hint = 1 if dtype == torch.bfloat16 else None
            packed = [torch.ops.mkldnn._reorder_linear_weight(w, hint) for w in weights]
            rows = [torch.randn(1, w.size(1)).to(dtype) for w in weights]
            nbytes = sum(w.numel() * w.element_size() for w in weights)
            del weights
            seconds = []
            for _ in range(repeats + 2):  # two passes warm oneDNN's primitive cache
                began = time.perf_counter()
                for p, x in zip(packed, rows):
                    torch.ops.mkldnn._linear_pointwise(x, p, None, "none", [], None)
                seconds.append(time.perf_counter() - began)
            seconds = seconds[2:]
            best = min(seconds)
            print(json.dumps({"method": f"{len(packed)} oneDNN one-row products (mkldnn._linear_pointwise on "
                                        f"weights from mkldnn._reorder_linear_weight), {threads} threads, "
                                        f"best of {repeats} passes",
                              "dtype": str(dtype).replace("torch.", ""), "products": len(packed),
                              "bytes": nbytes, "seconds": seconds, "bestGBps": nbytes / best / 1e9,
                              "medianGBps": nbytes / sorted(seconds)[len(seconds) // 2] / 1e9}))
            del packed
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
