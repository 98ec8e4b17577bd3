#!/usr/bin/env bash
# Builds the addon against another torch than the pinned one and runs the CPU tests (test/native) on it, so
# that a GPU host's stack (torch 2.11 there) is known to compile and pass before a GPU minute is spent.
#
#   scripts/test-torch-version.sh PYTHON [vitest arguments...]
#
# PYTHON is a Python whose `import torch` gives that torch (for example a venv made with
# `python3 -m venv /work/venv-211 && /work/venv-211/bin/pip install 'torch==2.11.*' 'nvidia-cuda-crt==13.0.*'`;
# the crt package completes the CUDA 13 headers, so the CUDA-graph code compiles too). The addon goes to
# build/torch-VERSION, beside the normal build, which stays; the fixtures are built by the project's own
# .venv as usual (models exported with the pinned torch, loaded by the other: what a GPU host does).
# Takes about 20 minutes on 2 CPUs (a full build of about 8, then test/native: 902 s on 2 shared CPUs with
# node-gyp-build.test.ts's 392 s, which it now leaves out). Exit status: vitest's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${1:?usage: scripts/test-torch-version.sh PYTHON [vitest arguments...]}"
shift
TORCH_DIR="$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)"
# (`node scripts/libtorch.mjs` prints every field as JSON; the version alone comes from findLibtorch.)
VERSION="$(TORCH_GEN_LIBTORCH="$TORCH_DIR" node --input-type=module \
  -e "import { findLibtorch } from './scripts/libtorch.mjs'; console.log(findLibtorch().version)")"
case "$VERSION" in
  [0-9]*.[0-9]*) ;;
  *) echo "test-torch-version: cannot read the torch version of $TORCH_DIR (got '$VERSION')" >&2; exit 1 ;;
esac
BUILD="build/torch-$VERSION"
echo "test-torch-version: torch $VERSION ($TORCH_DIR) -> $BUILD"
began=$SECONDS
TORCH_GEN_LIBTORCH="$TORCH_DIR" TORCH_GEN_BUILD_DIR="$BUILD" node scripts/build-native.mjs
echo "test-torch-version: built in $((SECONDS - began)) s"
node scripts/make-fixtures.mjs
# TORCH_GEN_LIBTORCH: what the tests compare runtimeInfo() with; TORCH_GEN_ADDON: the addon they load.
# node-gyp-build.test.ts is left out: it rebuilds build/gyp (the normal build's, not this torch's directory)
# against this torch, so the next `npm test` rebuilds it again, and the sources it checks are the same.
TORCH_GEN_LIBTORCH="$TORCH_DIR" TORCH_GEN_ADDON="$ROOT/$BUILD/Release/torch_gen.node" \
  node node_modules/vitest/vitest.mjs run test/native --exclude test/native/node-gyp-build.test.ts "$@"
echo "test-torch-version: torch $VERSION, build and test/native in $((SECONDS - began)) s"
