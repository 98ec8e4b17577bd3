"""All-or-nothing output: files are written into a hidden sibling directory that is renamed at the end.

A failure, a crash inside Python or Ctrl-C therefore never leaves a half-written model directory that the
runtime would later try to load. (A SIGKILL can leave the hidden `.NAME.partial-*` sibling behind, never
NAME itself.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ExportError


def check_output_dir(out_dir: Path, force: bool) -> None:
    """Refuses, before any work, an output that exists and is not an empty directory (unless forced)."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise ExportError(f"output {out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise ExportError(f"output directory {out_dir} already exists and is not empty; pass --force to replace it")


@contextmanager
def staged_output(out_dir: Path, force: bool) -> Iterator[Path]:
    """Yields an empty staging directory; on success it becomes `out_dir`, on any exception it is removed."""
    check_output_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    stage.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700); the model is an ordinary directory
    try:
        yield stage
        _replace(stage, out_dir, force)
    except BaseException:  # KeyboardInterrupt and SystemExit (SIGTERM in __main__) too
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace(stage: Path, out_dir: Path, force: bool) -> None:
    check_output_dir(out_dir, force)  # again: something may have written there during the export
    if not out_dir.exists():
        stage.rename(out_dir)
        return
    # Move the old directory aside first, so that out_dir always holds a complete model or none.
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    out_dir.rename(old / out_dir.name)
    stage.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
