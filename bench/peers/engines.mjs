// The engines bench/peers measures, as data: one row per engine and precision. A new torch-gen variant
// (another dtype, another quantization) is a new row here, and the report picks it up.
//
//   id         what --engines names it by, and the key of the JSON result
//   label      the table's name for it
//   driver     the child that runs it: torch-gen.mjs, llama.mjs (node) or hf_driver.py (python)
//   precision  the weights as the decode step reads them (recorded; TARGETS below pairs the engines)
//   model      torch-gen: the model directory; `make` the arguments of scripts/model-default.mjs that
//              export it (run before measuring: it does nothing when the export is up to date)
//   load       torch-gen: loadModel options besides threads, maxBatch and maxContext
//   env        variables for that engine's child process only, beside the ones every child gets
//   gguf       node-llama-cpp: the key of the GGUF in bench/peers/write_ggufs.py's index
//   concurrent whether the concurrent-requests run measures it too
//   targets    false: shown for comparison, without issue 14's targets (the default is what they judge)
export const DEFAULT_MODEL = 'models/smollm2-135m-instruct';

export const ENGINES = [
  {
    id: 'torch-gen-fp32',
    label: 'torch-gen FP32',
    driver: 'torch-gen',
    precision: 'fp32',
    model: DEFAULT_MODEL,
    make: [],
    load: {},
    concurrent: true,
  },
  {
    id: 'torch-gen-bf16',
    label: 'torch-gen bfloat16',
    driver: 'torch-gen',
    precision: 'bf16',
    model: DEFAULT_MODEL,
    make: [],
    load: { dtype: 'bfloat16' },
  },
  {
    id: 'torch-gen-int8',
    label: 'torch-gen int8',
    driver: 'torch-gen',
    precision: 'int8',
    model: 'models/smollm2-135m-instruct-int8',
    make: ['--int8-variant'],
    load: {},
  },
  // The same weights compiled by AOTInductor (model.pt2, `--format aoti`) for this machine's CPU: the manifest's
  // `aoti` entry (compile seconds, package bytes) goes into the result.
  {
    id: 'torch-gen-aoti-fp32',
    label: 'torch-gen AOTInductor FP32',
    driver: 'torch-gen',
    precision: 'fp32',
    model: 'models/smollm2-135m-instruct-aoti',
    make: ['--aoti-variant'],
    load: {},
    concurrent: true,
  },
  {
    id: 'torch-gen-aoti-bf16',
    label: 'torch-gen AOTInductor bfloat16',
    driver: 'torch-gen',
    precision: 'bf16',
    model: 'models/smollm2-135m-instruct-aoti-bf16',
    make: ['--aoti-bf16-variant'],
    load: {},
  },
  // The same model with every oneDNN kernel allowed. By default a float32 TorchScript model loaded first caps
  // oneDNN at AVX2 on AMD Zen 4, where those kernels read one-row products faster (lib/options.ts,
  // onednnIsaCapFor); elsewhere the two rows run the same kernels. For comparison: no targets.
  {
    id: 'torch-gen-fp32-onednn-all',
    label: 'torch-gen FP32, ONEDNN_MAX_CPU_ISA=ALL',
    driver: 'torch-gen',
    precision: 'fp32',
    model: DEFAULT_MODEL,
    make: [],
    load: {},
    env: { ONEDNN_MAX_CPU_ISA: 'ALL' },
    targets: false,
  },
  {
    id: 'transformers-fp32',
    label: 'transformers generate() FP32 eager',
    driver: 'transformers',
    precision: 'fp32',
  },
  {
    id: 'llama-f32',
    label: 'node-llama-cpp F32',
    driver: 'llama',
    precision: 'fp32',
    gguf: 'f32',
    concurrent: true,
  },
  {
    id: 'llama-f16',
    label: 'node-llama-cpp F16',
    driver: 'llama',
    precision: 'f16',
    gguf: 'f16',
  },
  {
    id: 'llama-q4_1',
    label: 'node-llama-cpp Q4_1',
    driver: 'llama',
    precision: 'q4_1',
    gguf: 'q4_1',
  },
];

// torch-gen's float32 rows with targets (the default model, its AOTInductor package): each gets issue 14's
// float32 targets, named by its label without the engine's name.
export const FLOAT32_ROWS = ENGINES.filter((e) => e.driver === 'torch-gen' && e.precision === 'fp32' && e.targets !== false);
const rowName = (engine) => engine.label.replace(/^torch-gen /, '');

/**
 * The ratios issue 14 sets targets for: `engine` over `peer`, of `metric` (decode at a prompt, time to
 * first token, or the --concurrency aggregate: 16 in the issue). `atLeast`/`atMost` is the target; the
 * report marks each.
 */
export const TARGETS = [
  ...FLOAT32_ROWS.map((e) => ({ what: `${rowName(e)} decode vs node-llama-cpp F32`, engine: e.id, peer: 'llama-f32', metric: 'decode', atLeast: 1.0 })),
  { what: 'bfloat16 decode vs node-llama-cpp F16', engine: 'torch-gen-bf16', peer: 'llama-f16', metric: 'decode', atLeast: 1.0 },
  { what: 'int8 decode vs node-llama-cpp Q4_1', engine: 'torch-gen-int8', peer: 'llama-q4_1', metric: 'decode', atLeast: 1.0 },
  { what: 'FP32 time to first token (short prompt) vs node-llama-cpp F32', engine: 'torch-gen-fp32', peer: 'llama-f32', metric: 'ttft', atMost: 1.2 },
  { what: 'concurrent requests, aggregate, vs node-llama-cpp F32', engine: 'torch-gen-fp32', peer: 'llama-f32', metric: 'concurrent', atLeast: 2.0 },
];

/** Float32 decode as a fraction of the measured bandwidth bound (issue 14: at least 60%), for each float32 row. */
export const BOUND_TARGETS = FLOAT32_ROWS.map((e) => ({ what: `${rowName(e)} decode as a fraction of the bandwidth bound`, engine: e.id, atLeast: 0.6 }));
