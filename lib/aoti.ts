/**
 * AOTInductor packages (model.pt2, `--format aoti`): what the manifest says they were compiled for, and the
 * load-time refusals of a package this process cannot run. A package holds machine code for one device, one
 * dtype and one CPU instruction set, and runs on the libtorch it was built with or a newer one.
 */
import { capsBelowAvx512 } from './cpu.js';
import { ModelLoadError } from './errors.js';
import type { CpuFeatures, OneDnnIsaCap } from './native.js';
import type { WeightDtype } from './manifest.js';

/** The manifest's `aoti` entry (python/torch_gen_export/aoti.py writes it). */
export interface AotiPackage {
  /** The package's file name in the model directory ('model.pt2'). */
  file: string;
  device: 'cpu' | 'cuda';
  /** Inductor's vector instruction set on the CPU ('avx512', 'avx2', 'neon', 'none'); null for CUDA. */
  cpuIsa: string | null;
  /** The torch version that compiled it ('2.9.1+cu128'). */
  torch: string;
  /** The OpenMP threads its CPU kernels were compiled for (fixed in the code); null when not recorded. */
  threads: number | null;
}

/** Parses the manifest's `aoti` field; undefined or null: the model is TorchScript. */
export function parseAotiPackage(value: unknown, fail: (message: string) => never): AotiPackage | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) fail(`\`aoti\` must be an object, found ${JSON.stringify(value)}`);
  const raw = value as Record<string, unknown>;
  const file = raw.file;
  if (typeof file !== 'string' || file.length === 0 || /[/\\]/.test(file)) {
    fail(`\`aoti.file\` must be a file name in the model directory, found ${JSON.stringify(file)}`);
  }
  if (raw.device !== 'cpu' && raw.device !== 'cuda') fail(`\`aoti.device\` must be "cpu" or "cuda", found ${JSON.stringify(raw.device)}`);
  const cpuIsa = raw.cpu_isa ?? null;
  if (cpuIsa !== null && typeof cpuIsa !== 'string') fail(`\`aoti.cpu_isa\` must be a string or null, found ${JSON.stringify(cpuIsa)}`);
  if (typeof raw.torch !== 'string' || parseVersion(raw.torch) === null) {
    fail(`\`aoti.torch\` must be the torch version that compiled the package, found ${JSON.stringify(raw.torch)}`);
  }
  const threads = raw.threads ?? null;
  if (threads !== null && (typeof threads !== 'number' || !Number.isSafeInteger(threads) || threads < 1)) {
    fail(`\`aoti.threads\` must be a positive integer or null, found ${JSON.stringify(threads)}`);
  }
  return {
    file: file as string,
    device: raw.device as 'cpu' | 'cuda',
    cpuIsa: cpuIsa as string | null,
    torch: raw.torch as string,
    threads: threads as number | null,
  };
}

/**
 * The load options with the package's device and dtype as defaults: a package runs on one device in one
 * dtype, so 'auto' and an absent option mean those.
 */
export function withPackageDefaults(options: unknown, dtype: WeightDtype, pkg: AotiPackage): unknown {
  if (typeof options !== 'object' || options === null) return options;
  const raw = options as Record<string, unknown>;
  return {
    ...raw,
    device: raw.device === undefined || raw.device === 'auto' ? pkg.device : raw.device,
    dtype: raw.dtype === undefined || raw.dtype === 'auto' ? dtype : raw.dtype,
  };
}

export interface AotiHost {
  device: string;
  dtype: WeightDtype;
  torchVersion: string;
  cpuFeatures: CpuFeatures;
  /** process.arch */
  arch: string;
  /** oneDNN's instruction-set cap in this process (runtimeInfo().backend.onednnIsaCap); absent: none. */
  onednnCap?: OneDnnIsaCap;
}

/** Throws ModelLoadError when the package was built for another device, dtype, CPU or a newer libtorch. */
export function checkAotiPackage(pkg: AotiPackage, packageDtype: WeightDtype, host: AotiHost, path: string): void {
  const reexport = (how: string): string =>
    `re-export the model with \`${['python -m torch_gen_export SRC -o DIR --format aoti', how].filter(Boolean).join(' ')}\``;
  const hostDevice = host.device.startsWith('cuda') ? 'cuda' : 'cpu';
  if (pkg.device !== hostDevice) {
    throw new ModelLoadError(
      `${path} is an AOTInductor package compiled for ${pkg.device}, which cannot run on ${host.device}: load it with ` +
        `device '${pkg.device}', or ${reexport(`--device ${hostDevice}`)}${hostDevice === 'cuda' ? ' on a GPU host' : ''}`,
    );
  }
  if (host.dtype !== packageDtype) {
    throw new ModelLoadError(
      `${path} is an AOTInductor package compiled for ${packageDtype}, and its kernels cannot cast: load it with ` +
        `dtype '${packageDtype}' (or 'auto'), or ${reexport(`--dtype ${host.dtype}`)}`,
    );
  }
  const missing = pkg.device === 'cpu' ? missingInstructions(pkg.cpuIsa, host) : null;
  if (missing !== null) {
    throw new ModelLoadError(
      `${path} is an AOTInductor package compiled for CPUs with ${missing}, which this CPU lacks; ` +
        `${reexport('--device cpu')} on this machine (or one with the same instruction set)`,
    );
  }
  const cap = host.onednnCap?.value ?? null;
  if (pkg.device === 'cpu' && /avx512/.test(pkg.cpuIsa ?? '') && capsBelowAvx512(cap)) {
    const how = host.onednnCap?.source === 'torch-gen'
      ? `torch-gen capped oneDNN at ${cap} in this process for the float32 TorchScript model loaded first (faster ` +
        'on AMD Zen 4): start the process with ONEDNN_MAX_CPU_ISA=ALL, or load this package first'
      : `ONEDNN_MAX_CPU_ISA=${cap} turns them off in this process: unset ONEDNN_MAX_CPU_ISA, or load the TorchScript model.pt instead`;
    throw new ModelLoadError(
      `${path} is an AOTInductor package whose linear layers were laid out for oneDNN's AVX-512 kernels, which ` +
        `oneDNN would run in its reference code here, hundreds of times slower: ${how}`,
    );
  }
  const built = parseVersion(pkg.torch);
  const here = parseVersion(host.torchVersion);
  if (built !== null && here !== null && compareVersions(built, here) > 0) {
    throw new ModelLoadError(
      `${path} is an AOTInductor package compiled with torch ${pkg.torch}, newer than this libtorch ` +
        `(${host.torchVersion}), which cannot load it: ${reexport('')} under torch ${here.join('.')} ` +
        'or older, or upgrade libtorch',
    );
  }
}

let warnedThreads = false;

/**
 * Inductor writes the thread count it compiled with into each CPU kernel (`omp parallel num_threads(N)`); the
 * `threads` option then sets only the matrix products'. Say so once when they differ.
 */
export function warnThreadMismatch(pkg: AotiPackage, threads: number, path: string): void {
  if (warnedThreads || pkg.device !== 'cpu' || pkg.threads === null || pkg.threads === threads) return;
  warnedThreads = true;
  process.emitWarning(
    `${path} is an AOTInductor package whose CPU kernels were compiled for ${pkg.threads} thread(s) and run with ` +
      `that many whatever the threads option (${threads}) says; re-export it with \`--threads ${threads}\` to match`,
    { code: 'TORCH_GEN_AOTI_THREADS' },
  );
}

// Inductor's instruction set names ('avx512', 'avx2', 'neon'; torch 2.11 lists extensions too: 'avx512
// avx512_vnni') -> what runtimeInfo().cpuFeatures must have; null when nothing is missing.
function missingInstructions(isa: string | null, host: AotiHost): string | null {
  const missing = (isa ?? '').split(/\s+/).filter((name) => name !== '' && name !== 'none').map((name) => lacking(name, host));
  const named = missing.filter((name): name is string => name !== null);
  return named.length > 0 ? named.join(' and ') : null;
}

function lacking(name: string, host: AotiHost): string | null {
  const x86 = host.arch === 'x64' || host.arch === 'ia32';
  const { cpuFeatures: cpu } = host;
  if (name.startsWith('amx')) return cpu.amx ? null : 'AMX';
  if (name === 'avx512_vnni') return cpu.avx512Vnni ? null : 'AVX-512 VNNI';
  if (name === 'avx512_bf16') return cpu.avx512Bf16 ? null : 'AVX-512 BF16';
  if (name.startsWith('avx512')) return cpu.avx512 ? null : 'AVX-512';
  if (name === 'avx2') return x86 && cpu.avx2 ? null : 'AVX2';
  // neon, sve, asimd: the package's architecture must be this one.
  if (name === 'neon' || name.startsWith('sve') || name === 'asimd') return host.arch === 'arm64' ? null : `the ${name} instructions of ARM`;
  return x86 ? `the ${name} instructions` : null;
}

function parseVersion(version: string): [number, number, number] | null {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

function compareVersions(a: [number, number, number], b: [number, number, number]): number {
  for (let i = 0; i < 3; i += 1) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
