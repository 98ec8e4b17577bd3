#!/usr/bin/env bash
# Proves the offline bundle on this machine: unpacks it into a fresh temporary directory and runs the GPU
# suite from there in CPU mode, as a GPU host would run it but without a GPU: the bundled node first on PATH,
# an empty HOME (no npm or cmake-js configuration), nothing of the checkout (its node_modules, .venv, build/)
# reachable from the unpacked tree, and the addon built there from the bundled sources against
# TORCH_GEN_PYTHON's torch (default: the checkout's .venv; the bundle carries no Python).
#
#   test/package/check-bundle.sh [BUNDLE] [RESULTS_DIR] [suite|first-run]
#
# The third argument picks what runs from the bundle: the whole GPU suite (default), or the first-run kit
# (scripts/gpu-first-run.sh, docs/gpu.md), whose RESULTS_DIR then holds its at most 8 files.
#
# BUNDLE defaults to build/torch-gen-bundle-linux-x64.tar.xz (`npm run bundle`), RESULTS_DIR to
# bench/results/bundle-check. It takes minutes (the addon is compiled from scratch), more than the vitest
# suites should: hence a script, run by hand or by CI. Exit status: the suite's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="$(realpath "${1:-$ROOT/build/torch-gen-bundle-linux-x64.tar.xz}")"
RESULTS="${2:-$ROOT/bench/results/bundle-check}"
case "${3:-suite}" in
  suite) RUN="scripts/gpu-suite.sh --out" ;;
  first-run) RUN="scripts/gpu-first-run.sh" ;;
  *) echo "check-bundle: the third argument is suite or first-run, not '$3'" >&2; exit 2 ;;
esac
mkdir -p "$RESULTS" && RESULTS="$(cd "$RESULTS" && pwd)"
PYTHON="${TORCH_GEN_PYTHON:-$ROOT/.venv/bin/python}"

SCRATCH="$(mktemp -d /tmp/torch-gen-bundle-check.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/home"
began=$SECONDS
tar -xJf "$BUNDLE" -C "$SCRATCH"
TREE="$SCRATCH/torch-gen-bundle"
echo "check-bundle: unpacked $(du -sh "$BUNDLE" | cut -f1) into $TREE in $((SECONDS - began)) s"
[ ! -e "$TREE/build" ] || { echo "check-bundle: the bundle carries a build/ directory; it must build its own addon" >&2; exit 1; }

# A clean environment: only what a GPU host would have, plus the bundled node in front.
status=0
env -i HOME="$SCRATCH/home" PATH="$TREE/node/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
  TORCH_GEN_PYTHON="$PYTHON" TORCH_GEN_TEST_DEVICE=cpu ${TORCH_GEN_BENCH_SIZES:+TORCH_GEN_BENCH_SIZES=$TORCH_GEN_BENCH_SIZES} \
  ${TORCH_GEN_FIRST_RUN_BUDGET:+TORCH_GEN_FIRST_RUN_BUDGET=$TORCH_GEN_FIRST_RUN_BUDGET} \
  RUN="$RUN" \
  bash -c '
    set -euo pipefail
    cd "$1"
    [ "$(command -v node)" = "$1/node/bin/node" ] || { echo "check-bundle: node on PATH is $(command -v node), not the bundled one" >&2; exit 1; }
    echo "check-bundle: node $(node --version) from $(command -v node); HOME=$HOME"
    node -e "try { require.resolve(\"vitest/package.json\", { paths: [\"/\"] }); console.error(\"vitest resolves from /\"); process.exit(1) } catch {}"
    exec $RUN "$2"
  ' check-bundle "$TREE" "$RESULTS" || status=$?
echo "check-bundle: suite exit $status after $((SECONDS - began)) s in all; results in $RESULTS"
exit $status
