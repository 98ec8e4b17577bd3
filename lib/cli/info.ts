/** `torch-gen info`: the runtime, and a model's manifest when one is given. */
import { environmentThreads, hostIsAmdZen4 } from '../cpu.js';
import { readManifest } from '../manifest.js';
import type { OneDnnIsaCap } from '../native.js';
import { onednnIsaCapForFloat32 } from '../options.js';
import { runtimeInfo } from '../runtime.js';
import { parse, stringFlag } from './args.js';

const HELP = `Usage: torch-gen info [--model DIR] [--json]

Shows the libtorch version, whether CUDA is built and available, the devices, and with --model the
model's manifest.`;

export async function runInfo(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    model: { type: 'string', short: 'm' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const runtime = runtimeInfo();
  const modelDir = stringFlag(values, 'model');
  const manifest = modelDir ? await readManifest(modelDir) : undefined;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ runtime, manifest }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `libtorch      ${runtime.torchVersion} (${runtime.cudaBuild ? 'CUDA build' : 'CPU build'})`,
    `CUDA          ${runtime.cudaAvailable ? `available, ${runtime.deviceCount} device(s)` : 'not available'}`,
    `CPU threads   ${runtime.cpuThreads}`,
    `CUDA graphs   ${runtime.cudaGraphsBuilt ? 'built in' : 'not built in (no CUDA runtime headers at build time)'}`,
    `TorchScript   ${runtime.backend.executor} executor, fuser GPU ${runtime.backend.gpuFuser ? 'on' : 'off'} CPU ${runtime.backend.cpuFuser ? 'on' : 'off'}, CUDA attention ${runtime.backend.sdpa.join(', ')}, CPU linear ${runtime.backend.onednnLinear ? 'oneDNN' : "libtorch's"}`,
    `oneDNN cap    ${describeOnednnCap(runtime.backend.onednnIsaCap)}`,
    `CPU cores     ${runtime.cpuCores} (default threads per model: ${runtime.defaultThreads}${environmentThreads() === null ? '' : ', from OMP_NUM_THREADS'})`,
    `CPU features  ${Object.entries(runtime.cpuFeatures).filter(([, on]) => on).map(([name]) => name).join(', ') || 'none of avx2, avx512, VNNI, bf16, AMX'}`,
    `addon         ${runtime.addonPath}`,
  ];
  if (manifest) {
    lines.push(
      `model         ${modelDir}`,
      `  architecture  ${manifest.family} (${manifest.architecture}; ${manifest.interface} interface, ${manifest.dtype} weights)`,
      ...(manifest.features.length > 0 ? [`  features      ${manifest.features.join(', ')}`] : []),
      `  vocabulary    ${manifest.vocabSize} tokens, context ${manifest.maxContext}`,
      `  layers        ${manifest.numLayers}, heads ${manifest.numHeads} (kv ${manifest.numKvHeads}) x ${manifest.headDim}`,
      `  exported with ${Object.entries(manifest.exportedWith).map(([k, v]) => `${k} ${v}`).join(', ') || 'unknown'}`,
      `  source        ${manifest.source || 'unknown'}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

// What caps oneDNN's instruction set in this process, and what a first float32 load would do (lib/options.ts).
function describeOnednnCap(cap: OneDnnIsaCap): string {
  if (cap.source === 'environment') return `${cap.value} (ONEDNN_MAX_CPU_ISA)`;
  if (cap.source === 'torch-gen') return `${cap.value} (set by torch-gen for the float32 model loaded first)`;
  const float32 = onednnIsaCapForFloat32({ zen4: hostIsAmdZen4() });
  return float32 === null ? 'none' : `none yet (a float32 TorchScript model loaded first sets ${float32}: faster on this AMD Zen 4; ONEDNN_MAX_CPU_ISA=ALL keeps AVX-512)`;
}
