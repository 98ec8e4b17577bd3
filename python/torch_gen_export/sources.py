"""Opens what the user points the exporter at: a Hugging Face model directory or a .gguf file.

Either way the result is a transformers config, a state dict under transformers' key names, the
tokenizer files and the generation defaults, so the model families see one kind of input. The config is
read and the architecture checked before any weights are loaded, so an unsupported model fails at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from . import gguf_config, tokenizer_files
from .errors import ExportError
from .families import check_supported

_GGUF_MAGIC = b"GGUF"

# GGUF general.architecture -> transformers model_type, for the architectures the families implement.
_GGUF_ARCHITECTURES = {"llama": "llama", "qwen2": "qwen2", "gpt2": "gpt2", "qwen3": "qwen3", "gemma2": "gemma2",
                       "gemma3": "gemma3_text", "phi3": "phi3"}


@dataclass
class Source:
    name: str  # the manifest's `source`: the file or directory name
    hf_config: Any  # a transformers PretrainedConfig
    load_state_dict: Callable[[], dict[str, torch.Tensor]]  # transformers key names, any float dtype
    write_tokenizer: Callable[[Path], None]  # writes tokenizer.json and tokenizer_config.json
    generation_config: Optional[dict[str, Any]]  # generation_config.json's content, if any


def open_source(path: Path) -> Source:
    if not path.exists():
        raise ExportError(f"{path}: no such file or directory")
    if path.is_dir():
        return _open_hf_dir(path)
    if path.suffix.lower() == ".gguf":
        return _open_gguf(path)
    raise ExportError(f"{path} is neither a directory nor a .gguf file: expected a Hugging Face model "
                      f"directory (config.json, *.safetensors, tokenizer files) or a .gguf file")


def _open_hf_dir(path: Path) -> Source:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ExportError(f"{path} has no config.json: expected a Hugging Face model directory "
                          f"(config.json, *.safetensors, tokenizer files) or a .gguf file")
    raw = _read_json(config_path)
    check_supported(raw.get("model_type"), raw.get("architectures"))
    weight_files = _weight_files(path)
    from transformers import AutoConfig

    try:
        hf_config = AutoConfig.from_pretrained(path, local_files_only=True)
    except Exception as error:  # transformers raises many types for a bad config; all mean the same here
        raise ExportError(f"{config_path}: transformers could not read it: {error}") from error
    generation_path = path / "generation_config.json"
    return Source(
        name=path.name,
        hf_config=hf_config,
        load_state_dict=lambda: _load_weight_files(weight_files),
        write_tokenizer=lambda out_dir: tokenizer_files.write_from_hf_dir(path, out_dir),
        generation_config=_read_json(generation_path) if generation_path.is_file() else None,
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportError(f"{path} is not a readable JSON file: {error}") from error
    if not isinstance(value, dict):
        raise ExportError(f"{path} does not hold a JSON object")
    return value


def _weight_files(path: Path) -> list[Path]:
    """The checkpoint files, via the shard index when there is one (a directory may hold other formats)."""
    for index_name, single_name in [
        ("model.safetensors.index.json", "model.safetensors"),
        ("pytorch_model.bin.index.json", "pytorch_model.bin"),
    ]:
        if (path / index_name).is_file():
            weight_map = _read_json(path / index_name).get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise ExportError(f"{path / index_name} has no weight_map")
            files = [path / name for name in sorted(set(weight_map.values()))]
            missing = [f.name for f in files if not f.is_file()]
            if missing:
                raise ExportError(f"{path / index_name} names shards that are not there: {', '.join(missing)}")
            return files
        if (path / single_name).is_file():
            return [path / single_name]
    raise ExportError(f"{path} has no weights: expected model.safetensors (or shards with "
                      f"model.safetensors.index.json, or pytorch_model.bin)")


def _load_weight_files(files: list[Path]) -> dict[str, torch.Tensor]:
    state_dict: dict[str, torch.Tensor] = {}
    for file in files:
        try:
            if file.suffix == ".safetensors":
                from safetensors.torch import load_file

                tensors = load_file(str(file))
            else:
                tensors = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
        except Exception as error:  # safetensors and torch.load raise their own types for a corrupt file
            raise ExportError(f"{file}: could not read the weights: {error}") from error
        for key in tensors:
            if key in state_dict:
                raise ExportError(f"tensor {key!r} appears in more than one weight file ({file.name})")
        state_dict.update(tensors)
    return _normalise_keys(state_dict)


# An image-and-text checkpoint (Gemma 3 4B and up): the prefixes of its language model's tensors, as saved
# on the hub and as transformers 5 names them in memory, and of the parts that are left out.
_LANGUAGE_MODEL_PREFIXES = {"language_model.model.": "model.", "language_model.lm_head.": "lm_head.",
                            "model.language_model.": "model."}
_VISION_PREFIXES = ("vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector.")


def _normalise_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenAI's GPT-2 checkpoints name keys without the `transformer.` prefix of GPT2LMHeadModel; an
    image-and-text checkpoint's language model is renamed to the text model's keys, its vision part dropped."""
    if "wte.weight" in state_dict and "transformer.wte.weight" not in state_dict:
        return {(k if k.startswith("lm_head.") else "transformer." + k): v for k, v in state_dict.items()}
    if any(k.startswith(tuple(_LANGUAGE_MODEL_PREFIXES)) for k in state_dict):
        renamed = {}
        for key, value in state_dict.items():
            if key.startswith(_VISION_PREFIXES):
                continue
            prefix = next((p for p in _LANGUAGE_MODEL_PREFIXES if key.startswith(p)), None)
            renamed[_LANGUAGE_MODEL_PREFIXES[prefix] + key[len(prefix):] if prefix else key] = value
        return renamed
    return state_dict


def _open_gguf(path: Path) -> Source:
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != _GGUF_MAGIC:
        raise ExportError(f"{path} is not a GGUF file (it does not start with the bytes 'GGUF')")
    reader = _gguf_reader(path)
    architecture = _gguf_architecture(path, reader)
    if architecture not in _GGUF_ARCHITECTURES:
        raise ExportError(f"GGUF architecture {architecture!r} is not supported; supported: "
                          f"{', '.join(sorted(_GGUF_ARCHITECTURES))}")
    from transformers import AutoConfig

    try:
        hf_config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
    except Exception as error:  # the GGUF reader raises many types for a damaged file
        raise ExportError(f"{path}: transformers could not read its metadata: {error}") from error
    gguf_config.complete(hf_config, reader, architecture)
    check_supported(hf_config.model_type, None)
    generation = {
        key: getattr(hf_config, key)
        for key in ("bos_token_id", "eos_token_id", "pad_token_id")
        if getattr(hf_config, key, None) is not None
    }
    return Source(
        name=path.name,
        hf_config=hf_config,
        load_state_dict=lambda: _load_gguf_weights(path, hf_config),
        write_tokenizer=lambda out_dir: tokenizer_files.write_from_gguf(path, out_dir),
        generation_config=generation or None,
    )


def _gguf_reader(path: Path) -> Any:
    from gguf import GGUFReader

    try:
        return GGUFReader(str(path))
    except Exception as error:  # a truncated or damaged file fails anywhere in the reader
        raise ExportError(f"{path}: could not read the GGUF header: {error}") from error


def _gguf_architecture(path: Path, reader: Any) -> str:
    try:
        field = reader.fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except Exception as error:  # a damaged header
        raise ExportError(f"{path}: could not read the GGUF header: {error}") from error


def _load_gguf_weights(path: Path, hf_config: Any) -> dict[str, torch.Tensor]:
    """Dequantized float32 tensors under transformers' names (llama.cpp's q/k row permutation undone)."""
    from transformers import AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    # transformers maps GGUF names from a model instance's keys; on meta it costs no memory.
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(hf_config)
    try:
        return load_gguf_checkpoint(str(path), return_tensors=True, model_to_load=skeleton)["tensors"]
    except Exception as error:  # unknown quantization types, truncated data
        raise ExportError(f"{path}: could not read the GGUF tensors: {error}") from error
