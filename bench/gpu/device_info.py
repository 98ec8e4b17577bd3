"""The device the GPU benchmark runs on, and its memory bandwidth: `python bench/gpu/device_info.py --device cuda`.

Prints JSON: the device's name and memory, driver, torch / CUDA / transformers versions, the bandwidth
measured with a large device-to-device copy, and the vendor's figure for known GPUs. The decode bound
(weight bytes per token / bandwidth) is computed from these by bench/gpu/report.mjs.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from typing import Any, Optional

# Vendor peak memory bandwidth in bytes/s (decimal TB/s), matched against torch.cuda.get_device_name() in
# this order: a more specific name first (an "H100 NVL" also contains "H100").
SPEC_BANDWIDTH = [
    ("H100 NVL", 3.9e12, "H100 NVL, HBM3, 3.9 TB/s"),
    ("H100 PCIe", 2.0e12, "H100 PCIe, HBM2e, 2.0 TB/s"),
    ("H100", 3.35e12, "H100 SXM5 80GB, HBM3, 3.35 TB/s"),
    ("H200", 4.8e12, "H200, HBM3e, 4.8 TB/s"),
    ("A100-SXM4-80GB", 2.039e12, "A100 SXM4 80GB, 2.039 TB/s"),
    ("A100 80GB PCIe", 1.935e12, "A100 PCIe 80GB, 1.935 TB/s"),
    ("A100", 1.555e12, "A100 40GB, 1.555 TB/s"),
    ("L40S", 0.864e12, "L40S, GDDR6, 864 GB/s"),
    ("L40", 0.864e12, "L40, GDDR6, 864 GB/s"),
    ("L4", 0.3e12, "L4, GDDR6, 300 GB/s"),
    ("A10G", 0.6e12, "A10G, GDDR6, 600 GB/s"),
    ("A10", 0.6e12, "A10, GDDR6, 600 GB/s"),
    ("RTX 4090", 1.008e12, "GeForce RTX 4090, GDDR6X, 1008 GB/s"),
]


def spec_bandwidth(name: str) -> Optional[dict[str, Any]]:
    if "MIG" in name:  # a MIG slice gets a share of the bandwidth, not the sheet's figure
        return None
    for key, bandwidth, description in SPEC_BANDWIDTH:
        # A GH200 (whose name contains "H200") comes in HBM3 and HBM3e versions: left to the measurement.
        if key in name and "GH200" not in name:
            return {"bytes_per_second": bandwidth, "source": description}
    return None


def measure_bandwidth(device: str) -> dict[str, Any]:
    """A copy reads and writes every byte: bandwidth = 2 x size x copies / time. Best of 3 rounds."""
    import torch

    cuda = device.startswith("cuda")
    size = 1 << 30 if cuda else 256 << 20  # 1 GiB on a GPU, far above its caches
    if cuda:
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        size = min(size, free // 4)
    source = torch.empty(size, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    copies = 20 if cuda else 5
    best = float("inf")
    for _round in range(4):  # the first round warms up and is not counted
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(copies):
                target.copy_(source)
            end.record()
            end.synchronize()
            seconds = start.elapsed_time(end) / 1000
        else:
            began = time.perf_counter()
            for _ in range(copies):
                target.copy_(source)
            seconds = time.perf_counter() - began
        if _round > 0:
            best = min(best, seconds)
    del source, target
    if cuda:
        torch.cuda.empty_cache()
    return {"bytes_per_second": 2 * size * copies / best, "copy_bytes": size, "copies": copies,
            "method": "torch copy_ of a uint8 tensor, device to device, best of 3 rounds; 2 x bytes per copy"}


def nvidia_smi(query: str) -> Optional[str]:
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    import torch

    info: dict[str, Any] = {
        "device": args.device,
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "python": platform.python_version(),
        "host": platform.node(),
    }
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        info["transformers"] = None
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print(f"device_info: device {args.device} requested but torch sees no CUDA GPU", file=sys.stderr)
            return 1
        device = torch.device(args.device)
        properties = torch.cuda.get_device_properties(device)
        info.update(name=properties.name, total_memory_bytes=properties.total_memory,
                    compute_capability=f"{properties.major}.{properties.minor}",
                    driver=nvidia_smi("driver_version"), spec_bandwidth=spec_bandwidth(properties.name))
    else:
        info.update(name=f"CPU ({platform.processor() or platform.machine()})", total_memory_bytes=None,
                    driver=None, spec_bandwidth=None)
    info["measured_bandwidth"] = measure_bandwidth(args.device)
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
