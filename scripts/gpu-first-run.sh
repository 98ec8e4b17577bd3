#!/usr/bin/env bash
# The first GPU run, in one command that fits a 10-minute device window: from the unpacked offline bundle
# (`npm run bundle`; it carries Node) on a GPU host with a Python that has torch, transformers, cmake and a
# C++ compiler. It builds the addon against that torch (CUDA graphs required), runs the GPU tests and a
# trimmed benchmark (GPT-2 124M and TinyLlama-1.1B shapes, 128 new tokens, 2 repetitions, transformers eager
# as the baseline), and packs everything into at most 8 files in OUT, the first a one-screen summary:
#
#   OUT/1-summary.txt   read this first: the device, the build, each step, the tests, the benchmark table
#   OUT/2-results.md    the full report (bench/gpu/report.mjs): tables, bandwidth bound, targets
#   OUT/3-results.json  the same as data, with every run's figures
#   OUT/4-tests.json    vitest's JSON report of test/gpu
#   OUT/5-env.json      runtimeInfo() (libtorch, CUDA graphs built in, backend choices) and the GPU
#   OUT/6-logs.tar.gz   every step's log, steps.tsv and the benchmark's raw JSON
#
#   scripts/gpu-first-run.sh [OUT]        (OUT defaults to $OUT, else gpu-results/first-run)
#
# Environment: TORCH_GEN_PYTHON (default python3), TORCH_GEN_TEST_DEVICE (cuda; cpu for a dry run on a machine
# without a GPU, with the toy model sizes), TORCH_GEN_FIRST_RUN_BUDGET (seconds for the whole run, 540: each
# step gets what is left, and the packing always happens), TORCH_GEN_JIT_EXECUTOR / TORCH_GEN_GPU_FUSER /
# TORCH_GEN_SDPA (native/core/backend_settings.h) pass through. docs/gpu.md says what each result means.
# Exit status: 0 when every step passed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BEGAN=$SECONDS
BUDGET="${TORCH_GEN_FIRST_RUN_BUDGET:-540}"
PACK_RESERVE=15  # seconds kept back for the packing
OUT_DIR="${1:-${OUT:-$ROOT/gpu-results/first-run}}"
mkdir -p "$OUT_DIR" && OUT_DIR="$(cd "$OUT_DIR" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/torch-gen-first-run.XXXXXX")"
RESULTS="$WORK/results"
mkdir -p "$RESULTS/logs"
# Everything this prints (the suite's prerequisite check too) also goes to logs/kit.log, in 6-logs.tar.gz.
exec > >(tee -a "$RESULTS/logs/kit.log") 2>&1

if [ -x "$ROOT/node/bin/node" ]; then export PATH="$ROOT/node/bin:$PATH"; fi
export TORCH_GEN_PYTHON="${TORCH_GEN_PYTHON:-python3}"
export TORCH_GEN_TEST_DEVICE="${TORCH_GEN_TEST_DEVICE:-cuda}"
export TORCH_GEN_GPU_WORK="$WORK/models"
export TORCH_GEN_BENCH_NEW_TOKENS="${TORCH_GEN_BENCH_NEW_TOKENS:-128}"
export TORCH_GEN_BENCH_REPS="${TORCH_GEN_BENCH_REPS:-2}"
export TORCH_GEN_BENCH_HF_MODES="${TORCH_GEN_BENCH_HF_MODES:-eager}"
export TORCH_GEN_BENCH_TIMEOUT="${TORCH_GEN_BENCH_TIMEOUT:-150}"
# A GPU run of an addon built without CUDA graphs would measure the wrong thing: the build says so at once.
if [[ "$TORCH_GEN_TEST_DEVICE" == cuda* ]]; then export TORCH_GEN_REQUIRE_CUDA_GRAPHS=1; fi
MODELS="${TORCH_GEN_FIRST_RUN_MODELS:-gpt2-124m,tinyllama-1.1b}"
STEPS="${TORCH_GEN_FIRST_RUN_STEPS:-build,device,models,bench,fixtures,references,test}"  # gpu-retry.sh narrows them

left() { echo $((BUDGET - PACK_RESERVE - (SECONDS - BEGAN))); }

# suite STEP: one step of scripts/gpu-suite.sh, cut at the time left (it records itself in steps.tsv).
suite() {
  local step="$1" remaining
  [[ ",$STEPS,report," == *",$step,"* ]] || return 0
  remaining="$(left)"
  if [ "$remaining" -lt 10 ]; then
    printf '%s\tskipped (out of time)\t0\tlogs/%s.log\n' "$step" "$step" >> "$RESULTS/steps.tsv"
    return 1
  fi
  timeout --kill-after=5 "$remaining" bash scripts/gpu-suite.sh --out "$RESULTS" --steps "$step" --models "$MODELS"
  local status=$?
  if [ $status -eq 124 ] || [ $status -eq 137 ]; then
    printf '%s\tfailed (cut at %s s, the budget)\t%s\tlogs/%s.log\n' "$step" "$remaining" "$remaining" "$step" >> "$RESULTS/steps.tsv"
  fi
  return $status
}

passed() { grep -q "^$1	passed" "$RESULTS/steps.tsv" 2> /dev/null; }

suite build
grep -q "^build	" "$RESULTS/steps.tsv" 2> /dev/null ||
  printf 'build\tfailed (prerequisites: see logs/kit.log)\t0\tlogs/kit.log\n' >> "$RESULTS/steps.tsv"
export TORCH_GEN_SUITE_CHECKED=1  # the build step checked the prerequisites
if passed build; then
  # The order is what a short window wants most: the benchmark's figures, then the tests.
  suite device
  suite models && suite bench
  suite fixtures && suite references && suite test
fi
suite report > /dev/null 2>&1 || true

# ---- packing: at most 8 files, the first one a one-screen summary ----
SUMMARY="$OUT_DIR/1-summary.txt"
{
  echo "torch-gen GPU first run, $(date -u +%Y-%m-%dT%H:%M:%SZ), $((SECONDS - BEGAN)) s of a ${BUDGET} s budget"
  [ -f "$ROOT/BUNDLE.json" ] && echo "bundle: $(tr -d '\n ' < "$ROOT/BUNDLE.json" | cut -c1-150)"
  echo "device: $TORCH_GEN_TEST_DEVICE; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || echo 'no nvidia-smi')"
  echo "python: $("$TORCH_GEN_PYTHON" -c 'import sys, torch, transformers; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' 2>&1 | tail -1)"
  if [ -f "$RESULTS/runtime.json" ]; then
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const b = r.backend || {};
      console.log(`addon: libtorch ${r.torchVersion}, cudaAvailable ${r.cudaAvailable}, CUDA graphs built in ${r.cudaGraphsBuilt}; executor ${b.executor}, GPU fuser ${b.gpuFuser ? "on" : "off"}, attention ${(b.sdpa || []).join(",")}`);' "$RESULTS/runtime.json"
  else
    echo "addon: not built (see the build step's log in 6-logs.tar.gz)"
  fi
  echo
  echo "step        status                          seconds"
  awk -F'\t' '{ printf "%-11s %-31s %s\n", $1, $2, $3 }' "$RESULTS/steps.tsv" 2>/dev/null
  if [ -f "$RESULTS/tests.json" ]; then
    echo
    node -e '
      const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(`tests: ${t.numPassedTests} passed, ${t.numFailedTests} failed, ${t.numPendingTests} skipped`);
      const failed = t.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === "failed"));
      for (const a of failed.slice(0, 6)) console.log(`  FAILED ${a.fullName.slice(0, 90)}\n    ${String(a.failureMessages[0] || "").split("\n")[0].slice(0, 150)}`);' "$RESULTS/tests.json"
  fi
  if [ -f "$RESULTS/results.md" ]; then
    echo
    # The benchmark's table: the figures a first run is for.
    awk '/^## Benchmark/ { inside = 1; next } inside && /^\|/ { print; shown = 1; next } shown { exit }' "$RESULTS/results.md" |
      cut -d'|' -f2-7,11 | head -14
  fi
  echo
  echo "files: 2-results.md (report), 3-results.json, 4-tests.json, 5-env.json, 6-logs.tar.gz (logs, raw bench JSON)"
} > "$SUMMARY" 2>&1
[ -f "$RESULTS/results.md" ] && cp "$RESULTS/results.md" "$OUT_DIR/2-results.md"
[ -f "$RESULTS/results.json" ] && cp "$RESULTS/results.json" "$OUT_DIR/3-results.json"
[ -f "$RESULTS/tests.json" ] && cp "$RESULTS/tests.json" "$OUT_DIR/4-tests.json"
node -e '
  const fs = require("fs");
  const read = (p) => { try { return JSON.parse(fs.readFileSync(p, "utf8")); } catch { return null; } };
  fs.writeFileSync(process.argv[2], JSON.stringify({ runtime: read(process.argv[1] + "/runtime.json"), device: read(process.argv[1] + "/device.json") }, null, 1) + "\n");
' "$RESULTS" "$OUT_DIR/5-env.json"
tar -czf "$OUT_DIR/6-logs.tar.gz" -C "$RESULTS" . 2> /dev/null
cat "$SUMMARY"
status=0
grep -qv "	passed	" "$RESULTS/steps.tsv" 2> /dev/null && status=1
rm -rf "$WORK"
exit $status
