#!/usr/bin/env bash
# The GPU suite, one command on a Linux host with an NVIDIA GPU, cmake, a C++ compiler and a Python with torch
# and transformers (Node comes from the offline bundle, scripts/bundle.mjs; no registry is needed):
#
#   scripts/gpu-suite.sh [--out DIR] [--steps a,b,...] [--models a,b,...] [--fresh]
#
# Steps, in order (all by default):
#   build       the addon against TORCH_GEN_PYTHON's torch (any 2.x: another version than package.json's is a
#               warning), dist/ if missing; checks that the addon sees the device
#   device      the GPU, driver, versions and measured memory bandwidth -> OUT/device.json
#   fixtures    the test models, by python/make_fixtures.py (gpt2-kv, llama-kv, qwen2-kv) with that Python
#   references  transformers' float32 outputs for them on the test device -> WORK/references.json
#   test        the GPU tests, vitest.gpu.config.ts (test/gpu) -> OUT/tests.json
#   models      the benchmark models (python/gpu_bench_models.py): same random weights for both engines
#   bench       transformers generate() and torch-gen on each model -> OUT/bench/*.json
#   report      OUT/results.json and OUT/results.md (tables, bandwidth bound, the issue's targets)
#
# Environment:
#   TORCH_GEN_PYTHON        the Python whose torch the addon links and whose transformers is the reference
#                           (default python3)
#   TORCH_GEN_TEST_DEVICE   cuda (default), cuda:N, or cpu (proves the plumbing on a machine without a GPU)
#   TORCH_GEN_BENCH_SIZES   full (GPT-2 124M, Qwen2-0.5B, TinyLlama-1.1B, Llama-2-7B shapes; the default) or
#                           tiny (the same architectures at toy sizes; the default on the cpu device)
#   TORCH_GEN_GPU_WORK      models and references (default models/gpu-suite; the full sizes need ~35 GB)
#   TORCH_GEN_BENCH_NEW_TOKENS (256; tiny 16), TORCH_GEN_BENCH_REPS (3; tiny 2), TORCH_GEN_BENCH_BATCHES (1,32),
#   TORCH_GEN_BENCH_BATCHES_7B (1: no target needs the 7B at batch 32), TORCH_GEN_BENCH_HF_MODES
#   (eager,static-compile; none skips transformers), TORCH_GEN_BENCH_HF_MODES_7B (eager: compiling the 7B costs minutes and no target
#   needs it), TORCH_GEN_BENCH_TIMEOUT (seconds per engine and model, 900)
#
# Each step logs to OUT/logs/STEP.log and its outcome to OUT/steps.tsv. A failing test or benchmark does not
# stop the steps after it; a step whose input failed is marked "skipped". Re-running is cheap and picks up
# where a cut-short run stopped: the build is incremental, fixtures and models are cached by a hash of what
# builds them, and the bench step skips a model whose results are already in OUT (--fresh redoes them).
# Exit status: 0 when every step passed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

OUT="gpu-results"
STEPS="build,device,fixtures,references,test,models,bench,report"
MODELS="gpt2-124m,qwen2-0.5b,tinyllama-1.1b,llama2-7b"
FRESH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --models) MODELS="$2"; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-suite: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# The bundle carries its own Node in node/bin; a checkout uses the one on PATH.
if [ -x "$ROOT/node/bin/node" ]; then export PATH="$ROOT/node/bin:$PATH"; fi
export TORCH_GEN_PYTHON="${TORCH_GEN_PYTHON:-python3}"
export TORCH_GEN_TEST_DEVICE="${TORCH_GEN_TEST_DEVICE:-cuda}"
DEVICE="$TORCH_GEN_TEST_DEVICE"
if [ "$DEVICE" = cpu ]; then SIZES="${TORCH_GEN_BENCH_SIZES:-tiny}"; else SIZES="${TORCH_GEN_BENCH_SIZES:-full}"; fi
if [ "$SIZES" = tiny ]; then NEW_TOKENS_DEFAULT=16 REPS_DEFAULT=2; else NEW_TOKENS_DEFAULT=256 REPS_DEFAULT=3; fi
NEW_TOKENS="${TORCH_GEN_BENCH_NEW_TOKENS:-$NEW_TOKENS_DEFAULT}"
REPS="${TORCH_GEN_BENCH_REPS:-$REPS_DEFAULT}"
BATCHES="${TORCH_GEN_BENCH_BATCHES:-1,32}"
BATCHES_7B="${TORCH_GEN_BENCH_BATCHES_7B:-1}"
HF_MODES="${TORCH_GEN_BENCH_HF_MODES:-eager,static-compile}"
HF_MODES_7B="${TORCH_GEN_BENCH_HF_MODES_7B:-eager}"
BENCH_TIMEOUT="${TORCH_GEN_BENCH_TIMEOUT:-900}"
export TORCH_GEN_GPU_WORK="${TORCH_GEN_GPU_WORK:-$ROOT/models/gpu-suite}"
WORK="$TORCH_GEN_GPU_WORK"
PY="$TORCH_GEN_PYTHON"
INDEX="$WORK/bench-models/$SIZES/index.json"

mkdir -p "$OUT/logs" "$OUT/bench" "$WORK"
OUT="$(cd "$OUT" && pwd)"
[ "$FRESH" = 1 ] && rm -f "$OUT"/bench/*.json

declare -A STATUS=()
say() { printf '\n=== gpu-suite: %s (%s) ===\n' "$*" "$(date -u +%H:%M:%S)"; }
wants() { [[ ",$STEPS," == *",$1,"* ]]; }

# record STEP STATUS SECONDS: one line per step in steps.tsv, the latest run's replacing an earlier one.
record() {
  STATUS[$1]="$2"
  local tsv="$OUT/steps.tsv"
  touch "$tsv"
  grep -v "^$1	" "$tsv" > "$tsv.tmp" || true
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "logs/$1.log" >> "$tsv.tmp"
  mv "$tsv.tmp" "$tsv"
}

# step NAME NEEDS FUNCTION: runs FUNCTION with its output teed to the step's log, unless a step it needs failed.
step() {
  local name="$1" needs="$2" fn="$3"
  wants "$name" || return 0
  for need in ${needs//,/ }; do
    if [ -n "${STATUS[$need]:-}" ] && [ "${STATUS[$need]}" != passed ]; then
      say "$name: skipped, $need ${STATUS[$need]}"
      record "$name" "skipped ($need ${STATUS[$need]})" 0
      return 0
    fi
  done
  say "$name"
  local began=$SECONDS
  if "$fn" 2>&1 | tee "$OUT/logs/$name.log"; then
    record "$name" passed $((SECONDS - began))
  else
    record "$name" failed $((SECONDS - began))
    echo "gpu-suite: step $name failed; see $OUT/logs/$name.log" >&2
  fi
}

prerequisites() {
  # A caller that runs the suite step by step (scripts/gpu-first-run.sh) checks once: importing transformers
  # takes seconds.
  [ "${TORCH_GEN_SUITE_CHECKED:-}" = 1 ] && return 0
  local missing=()
  command -v node > /dev/null || missing+=("node (unpack the bundle made by \`npm run bundle\`, or install Node 20+)")
  command -v cmake > /dev/null || missing+=(cmake)
  command -v c++ > /dev/null || command -v g++ > /dev/null || missing+=("a C++ compiler (c++ or g++)")
  "$PY" -c 'import torch, transformers' 2> /dev/null || missing+=("$PY with torch and transformers (set TORCH_GEN_PYTHON)")
  [ -d node_modules/vitest ] && [ -d node_modules/cmake-js ] || missing+=("node_modules with cmake-js and vitest (the bundle has them)")
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'gpu-suite: missing: %s\n' "${missing[@]}" >&2
    exit 2
  fi
  if [[ "$DEVICE" == cuda* ]] && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu-suite: TORCH_GEN_TEST_DEVICE=$DEVICE but $PY's torch sees no CUDA GPU (nvidia-smi: $(nvidia-smi -L 2>&1 | head -1))" >&2
    exit 2
  fi
  echo "gpu-suite: node $(node --version) ($(command -v node)), python $PY ($("$PY" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')), device $DEVICE, sizes $SIZES"
  echo "gpu-suite: results in $OUT, models in $WORK"
}

do_build() {
  node scripts/build-native.mjs || return 1
  if [ ! -f dist/index.js ]; then
    [ -f node_modules/typescript/bin/tsc ] || { echo "dist/ is missing and typescript is not installed" >&2; return 1; }
    node node_modules/typescript/bin/tsc -p tsconfig.json || return 1
  fi
  # The addon must load, and on a GPU see it: a CUDA build whose libtorch_cuda was dropped at link time
  # would otherwise pass the build and fail every test with a DeviceError.
  node --input-type=module -e "
    const { runtimeInfo } = await import('./dist/index.js');
    const info = runtimeInfo();
    console.log(JSON.stringify(info));
    (await import('node:fs')).writeFileSync('$OUT/runtime.json', JSON.stringify(info, null, 1) + '\n');
    if ('$DEVICE'.startsWith('cuda') && !info.cudaAvailable) {
      console.error('the addon loads but sees no CUDA device (cudaBuild ' + info.cudaBuild + ')');
      process.exit(1);
    }"
}

do_device() { "$PY" bench/gpu/device_info.py --device "$DEVICE" > "$OUT/device.json" && cat "$OUT/device.json"; }
do_fixtures() { "$PY" python/make_fixtures.py "$WORK/fixtures" --only gpt2-kv,llama-kv,qwen2-kv,faulty-kv; }
do_references() { "$PY" test/gpu/references.py --fixtures "$WORK/fixtures" --device "$DEVICE" --out "$WORK/references.json"; }
do_test() {
  # TORCH_GEN_GPU_TEST_FILES: some of test/gpu's files only (space-separated), all by default.
  # shellcheck disable=SC2086
  node node_modules/vitest/vitest.mjs run --config vitest.gpu.config.ts --reporter=default --reporter=json \
    --outputFile.json="$OUT/tests.json" ${TORCH_GEN_GPU_TEST_FILES:-}
}
do_models() { "$PY" python/gpu_bench_models.py "$WORK/bench-models" --sizes "$SIZES" --only "$MODELS"; }

do_bench() {
  local failed=0 model batches modes
  for model in ${MODELS//,/ }; do
    batches="$BATCHES" modes="$HF_MODES"
    [ "$model" = llama2-7b ] && batches="$BATCHES_7B" modes="$HF_MODES_7B"
    if [ "$modes" = none ]; then
      echo "gpu-suite: transformers not run (TORCH_GEN_BENCH_HF_MODES=none)"
    elif [ -f "$OUT/bench/hf-$model.json" ]; then
      echo "gpu-suite: $OUT/bench/hf-$model.json exists; skipping (--fresh to redo)"
    else
      timeout "$BENCH_TIMEOUT" "$PY" bench/gpu/hf_generate.py --index "$INDEX" --model "$model" --device "$DEVICE" \
        --batches "$batches" --modes "$modes" --new-tokens "$NEW_TOKENS" --reps "$REPS" \
        --out "$OUT/bench/hf-$model.json" || { echo "gpu-suite: transformers on $model failed (exit $?)" >&2; failed=1; }
    fi
    if [ -f "$OUT/bench/torch-gen-$model.json" ]; then
      echo "gpu-suite: $OUT/bench/torch-gen-$model.json exists; skipping (--fresh to redo)"
    else
      timeout "$BENCH_TIMEOUT" node bench/gpu/torch-gen.mjs --index "$INDEX" --model "$model" --device "$DEVICE" \
        --batches "$batches" --new-tokens "$NEW_TOKENS" --reps "$REPS" \
        --out "$OUT/bench/torch-gen-$model.json" || { echo "gpu-suite: torch-gen on $model failed (exit $?)" >&2; failed=1; }
    fi
  done
  return $failed
}

do_report() { node bench/gpu/report.mjs --results "$OUT" --index "$INDEX"; }

prerequisites
step build "" do_build
step device "" do_device
step fixtures "" do_fixtures
step references fixtures do_references
step test build,fixtures,references do_test
step models "" do_models
step bench build,models do_bench
step report "" do_report

say "summary"
cat "$OUT/steps.tsv"
[ -f "$OUT/results.md" ] && { echo; cat "$OUT/results.md"; }
for name in ${STEPS//,/ }; do
  [ "${STATUS[$name]:-}" = passed ] || exit 1
done
exit 0
