"""Writes tokenizer.json and tokenizer_config.json (with the chat template inside) into a model directory.

Recent transformers versions save the chat template beside tokenizer_config.json as chat_template.jinja;
torch-gen reads it from tokenizer_config.json's `chat_template` (docs/model-format.md), so it is moved in.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import ExportError

# Keys transformers' save_pretrained records about how it loaded the tokenizer on this machine.
_LOADING_ARTIFACTS = ("is_local", "local_files_only")


def write_from_hf_dir(src: Path, out_dir: Path) -> None:
    """Copies the directory's tokenizer.json as is, or has transformers build one from the slow files."""
    if (src / "tokenizer.json").is_file():
        _write(src, out_dir)
        return
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=True)
    except Exception as error:  # missing or unreadable vocab files raise many types
        raise ExportError(f"{src} has no tokenizer.json and transformers could not build one: {error}") from error
    _save_and_write(tokenizer, src, out_dir)


def write_from_gguf(path: Path, out_dir: Path) -> None:
    """Has transformers convert the GGUF's embedded vocabulary, merges and chat template."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
    except Exception as error:  # an unknown tokenizer model in the metadata
        raise ExportError(f"{path}: transformers could not convert its tokenizer: {error}") from error
    _save_and_write(tokenizer, path, out_dir)


def _save_and_write(tokenizer: Any, src: Path, out_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        if not (Path(tmp) / "tokenizer.json").is_file():
            raise ExportError(f"{src}: transformers built only a slow tokenizer, which has no tokenizer.json")
        _write(Path(tmp), out_dir)


def _write(tokenizer_dir: Path, out_dir: Path) -> None:
    shutil.copyfile(tokenizer_dir / "tokenizer.json", out_dir / "tokenizer.json")
    config: dict[str, Any] = {}
    config_path = tokenizer_dir / "tokenizer_config.json"
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ExportError(f"{config_path} is not valid JSON: {error}") from error
    for key in _LOADING_ARTIFACTS:
        config.pop(key, None)
    if "chat_template" not in config:
        template = _chat_template(tokenizer_dir)
        if template is not None:
            config["chat_template"] = template
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")


def _chat_template(tokenizer_dir: Path) -> Any:
    jinja = tokenizer_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    legacy = tokenizer_dir / "chat_template.json"  # {"chat_template": ...}, written by older processors
    if legacy.is_file():
        return json.loads(legacy.read_text(encoding="utf-8")).get("chat_template")
    return None
