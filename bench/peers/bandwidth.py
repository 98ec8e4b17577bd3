"""The memory read bandwidth bench/peers divides by: `python bench/peers/bandwidth.py THREADS [GIB] [REPEATS]`.

A decode step at batch 1 reads every weight once, so weight bytes per token / read bandwidth is the
fastest any engine could decode on this machine. The bandwidth is measured, not taken from a data
sheet: torch sums a float32 tensor of GIB GiB (far larger than any cache) REPEATS times with THREADS
intra-op threads (the engines' thread count, since two cores do not saturate what the whole socket
could), and the best repeat counts: the machine is shared and a slow repeat is someone else's load.
Prints one JSON object: bytes, seconds of every repeat, best GB/s (10^9 bytes/s).
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 3:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    import torch

    threads = int(argv[0])
    gib = float(argv[1]) if len(argv) > 1 else 1.0
    repeats = int(argv[2]) if len(argv) > 2 else 8
    torch.set_num_threads(threads)
    values = torch.ones(int(gib * 2**30) // 4, dtype=torch.float32)  # touched once, so every page is resident
    nbytes = values.numel() * values.element_size()
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        values.sum()
        seconds.append(time.perf_counter() - began)
    best = min(seconds)
    print(json.dumps({"method": f"torch.sum over a {gib:g} GiB float32 tensor, {threads} threads, best of {repeats}",
                      "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "bytes": nbytes, "seconds": seconds,
                      "bestGBps": nbytes / best / 1e9, "medianGBps": nbytes / sorted(seconds)[len(seconds) // 2] / 1e9}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
