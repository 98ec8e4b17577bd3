"""Exports Hugging Face causal LMs (a model directory or a .gguf file) to torch-gen model directories.

The output follows docs/model-format.md: `model.pt` with the `kv-cache` interface (or, on request, the
`logits` one), the `torch-gen.json` manifest and the tokenizer files. Command line:
`python -m torch_gen_export SRC -o OUT_DIR [--interface logits]`.
"""

__version__ = "0.4.0"

from .errors import ExportError
from .export import DTYPES, export_model
from .interfaces import INTERFACES

__all__ = ["DTYPES", "INTERFACES", "ExportError", "__version__", "export_model"]
