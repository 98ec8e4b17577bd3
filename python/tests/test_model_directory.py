"""The files of an exported model directory and what they hold (docs/model-format.md)."""

from __future__ import annotations

import json
import shutil
import stat

import transformers
import torch

from torch_gen_export import __version__, export_model

CHAT_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"


def test_manifest_describes_the_cache_the_ids_and_the_export(exported):
    model = exported("llama3-gqa")
    assert model.manifest == {
        "format": "torch-gen",
        "format_version": 1,
        "interface": "kv-cache",
        "architecture": "llama",
        "family": "Llama",
        "features": ["grouped-query attention (4 query, 2 kv heads)", "SwiGLU", "RoPE llama3 (theta 10000)"],
        "vocab_size": 384,
        "max_context": 256,
        "num_layers": 2,
        "num_heads": 4,
        "num_kv_heads": 2,
        "head_dim": 16,
        "dtype": "float32",
        "bos_token_id": 0,
        "eos_token_ids": [0],
        "pad_token_id": 0,
        "exported_with": {"torch": torch.__version__, "transformers": transformers.__version__,
                          "torch_gen_export": __version__},
        "source": "hf",
    }


def test_gpt2_manifest_counts_every_head_as_a_kv_head(exported):
    manifest = exported("gpt2").manifest
    assert (manifest["architecture"], manifest["num_heads"], manifest["num_kv_heads"]) == ("gpt2", 4, 4)
    assert (manifest["family"], manifest["features"]) == ("GPT-2", ["learned positions (256)", "LayerNorm", "GELU (tanh)",
                                                                    "tied embeddings"])


def test_tokenizer_and_generation_files_are_copied_from_the_source(exported):
    model = exported("qwen2")
    assert (model.out_dir / "tokenizer.json").read_bytes() == (model.hf_dir / "tokenizer.json").read_bytes()
    assert json.loads((model.out_dir / "tokenizer_config.json").read_text()) == json.loads(
        (model.hf_dir / "tokenizer_config.json").read_text())
    generation = json.loads((model.out_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == 0


def test_a_chat_template_saved_beside_the_tokenizer_config_is_moved_inside_it(exported, tmp_path):
    src = shutil.copytree(exported("gpt2").hf_dir, tmp_path / "hf")
    (src / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    export_model(src, tmp_path / "out")
    config = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())
    assert config["chat_template"] == CHAT_TEMPLATE
    assert config["eos_token"] == "<|endoftext|>"


def test_a_source_without_generation_config_gets_none(exported, tmp_path):
    src = shutil.copytree(exported("gpt2").hf_dir, tmp_path / "hf")
    (src / "generation_config.json").unlink()
    export_model(src, tmp_path / "out")
    assert not (tmp_path / "out" / "generation_config.json").exists()
    assert json.loads((tmp_path / "out" / "torch-gen.json").read_text())["eos_token_ids"] == [0]


def test_the_model_directory_is_readable_by_others_like_any_directory(exported):
    mode = exported("gpt2").out_dir.stat().st_mode
    assert mode & stat.S_IRGRP and mode & stat.S_IXGRP  # not mkdtemp's private 0700 (umask 022 here)
