#!/usr/bin/env bash
# The optional second GPU run (at most 3 minutes), for what a first run (scripts/gpu-first-run.sh) most likely
# wants to try again on a fresh machine: the addon is rebuilt (a fresh machine has nothing of the first run),
# then ONE of
#   tests    the GPU tests of one file (TORCH_GEN_RETRY_TESTS, default test/gpu/cuda-faults.test.ts) on the
#            fixtures they need
#   bench    the benchmark of one model (TORCH_GEN_RETRY_MODEL, default tinyllama-1.1b), torch-gen only, batch
#            1 and 32, 128 new tokens, 2 repetitions
# typically with a backend choice forced (TORCH_GEN_SDPA=math, TORCH_GEN_GPU_FUSER=on, TORCH_GEN_JIT_EXECUTOR=
# simple: native/core/backend_settings.h). Packs into
# OUT as the first run does: 1-summary.txt, 2-results.md, 3-results.json, 4-tests.json, 5-env.json, 6-logs.tar.gz.
#
#   scripts/gpu-retry.sh tests|bench [OUT]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHAT="${1:?usage: scripts/gpu-retry.sh tests|bench [OUT]}"
shift
case "$WHAT" in
  tests) STEPS="build,fixtures,references,test" ;;
  bench) STEPS="build,device,models,bench" ;;
  *) echo "gpu-retry: expected tests or bench, received '$WHAT'" >&2; exit 2 ;;
esac
export TORCH_GEN_FIRST_RUN_BUDGET="${TORCH_GEN_FIRST_RUN_BUDGET:-170}"
export TORCH_GEN_FIRST_RUN_STEPS="$STEPS"
export TORCH_GEN_FIRST_RUN_MODELS="${TORCH_GEN_RETRY_MODEL:-tinyllama-1.1b}"
export TORCH_GEN_BENCH_HF_MODES=none
[ "$WHAT" = tests ] && export TORCH_GEN_GPU_TEST_FILES="${TORCH_GEN_RETRY_TESTS:-test/gpu/cuda-faults.test.ts}"
exec bash "$ROOT/scripts/gpu-first-run.sh" "$@"
