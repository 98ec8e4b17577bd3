"""--format aoti: what it refuses before compiling anything, the manifest entry and the package it writes
(a tiny model, ~50 s of C++ compilation), and TorchScript's deprecation warnings reported once."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from fixtures.kv_models import load_kv_module
from torch_gen_export import ExportError, export_model
from torch_gen_export import aoti


@pytest.mark.parametrize(("options", "message"), [
    (dict(interface="logits"), r"^--format aoti builds the kv-cache interface only, received --interface logits; "
                               r"use --format torchscript for the logits interface$"),
    (dict(quantize="int8"), r"^--format aoti does not support --quantize int8 \(fbgemm's packed int8 layers do not "
                            r"go through torch.export\); use --format torchscript$"),
    (dict(device="tpu"), r"^--device must be one of cpu, cuda, received 'tpu'$"),
    (dict(threads=0), r"^--threads must be a positive integer, received 0$"),
])
def test_what_aoti_cannot_build_is_refused_before_any_work(exported, tmp_path, options, message):
    src = exported("llama-gqa").hf_dir
    with pytest.raises(ExportError, match=message):
        export_model(src, tmp_path / "out", module_format="aoti", **options)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_cuda_package_without_a_gpu_says_to_export_on_a_gpu_host(exported, tmp_path):
    with pytest.raises(ExportError, match=r"^--device cuda compiles Triton kernels for the GPU and needs a CUDA GPU on "
                                          r"this machine .*; export on a GPU host, or use --device cpu$"):
        export_model(exported("llama-gqa").hf_dir, tmp_path / "out", module_format="aoti", device="cuda")


def test_an_unknown_format_is_refused(exported, tmp_path):
    with pytest.raises(ExportError, match=r"^--format must be one of torchscript, aoti, received 'onnx'$"):
        export_model(exported("llama-gqa").hf_dir, tmp_path / "out", module_format="onnx")


def test_the_package_matches_the_torchscript_module_and_the_manifest_says_what_it_needs(exported, tmp_path):
    reference = exported("llama-gqa")
    lines: list[str] = []
    out = export_model(reference.hf_dir, tmp_path / "out", module_format="aoti", threads=2, progress=lines.append)
    manifest = json.loads((out / "torch-gen.json").read_text())
    entry = manifest["aoti"]
    assert entry["file"] == "model.pt2" and (out / "model.pt2").stat().st_size == entry["bytes"]
    assert entry["device"] == "cpu" and entry["cpu_isa"] == aoti.cpu_isa() and entry["threads"] == 2
    assert entry["torch"] == torch.__version__ and entry["compile_seconds"] > 0
    assert not (out / "model.pt").exists()
    assert any(line.startswith("wrote model.pt2 (") for line in lines)
    # Prefill then decode, in slot 1 of a pool of 2, against the TorchScript export of the same weights.
    package = load_kv_module(out, manifest)
    shape = (manifest["num_layers"], 2, manifest["num_kv_heads"], 16, manifest["head_dim"])
    caches = [torch.zeros(shape) for _ in range(4)]
    with torch.inference_mode():
        for tokens, positions, kv_len in [([[5, 9, 13]], [[0, 1, 2]], 3), ([[40]], [[3]], 4)]:
            tokens, positions = torch.tensor(tokens), torch.tensor(positions)
            want = reference.module(tokens, positions, caches[0][:, 1:], caches[1][:, 1:], kv_len)
            got = package(tokens, positions, caches[2][:, 1:], caches[3][:, 1:], kv_len)
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(caches[2], caches[0], rtol=1e-5, atol=1e-5)
    assert not bool(caches[2][:, 0].any()), "slot 0 was not the package's to write"


def test_torchscript_deprecation_warnings_become_one_line(exported, tmp_path, monkeypatch):
    """torch 2.10+ warns once per scripted function; the export reports it in one progress line."""
    real_script = torch.jit.script

    def warning_script(module):
        for _ in range(50):
            warnings.warn("torch.jit.script is deprecated; use torch.export", DeprecationWarning)
        return real_script(module)

    monkeypatch.setattr(torch.jit, "script", warning_script)
    lines: list[str] = []
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        export_model(exported("llama-gqa").hf_dir, tmp_path / "out", progress=lines.append)
    assert [w for w in leaked if "deprecated" in str(w.message)] == []
    notes = [line for line in lines if "TorchScript deprecated" in line]
    assert len(notes) == 1 and "(50 warning(s))" in notes[0]
