/** Facts about the host's CPU that load-time defaults depend on (lib/options.ts makes the decisions). */
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { debug } from './debug.js';

export interface CpuFacts {
  /** Physical cores this process may use (hyper-threads not counted). */
  cores: number;
  /** The CPU runs bfloat16 matmuls natively (avx512_bf16 or AMX), so bfloat16 is faster than float32. */
  bfloat16: boolean;
  /** The thread count the environment asks for (environmentThreads); null or absent: none. */
  environmentThreads?: number | null;
  /** An AMD Zen 4 CPU (isAmdZen4); absent: not one. */
  zen4?: boolean;
}

/**
 * Whether a cap on oneDNN's instruction set (ONEDNN_MAX_CPU_ISA, as runtimeInfo().backend.onednnIsaCap holds
 * it) leaves out its AVX-512 kernels: every name but ALL, AVX512_*, AVX10_* and AMX*. Below AVX-512 oneDNN
 * has no bfloat16 kernels, and weights laid out for its AVX-512 kernels (an AOTInductor package's) fall to
 * its reference code.
 */
export function capsBelowAvx512(cap: string | null): boolean {
  return cap !== null && cap !== 'ALL' && !/512|AMX/.test(cap);
}

/**
 * Whether /proc/cpuinfo's text describes an AMD Zen 4 CPU: vendor AuthenticAMD, family 25 (19h, Zen 3 and
 * Zen 4) with AVX-512 (which Zen 3 lacks). Zen 4 runs each 512-bit instruction as two 256-bit halves; on it
 * oneDNN's AVX2 kernels read one-row float32 products about 1.4x faster than its AVX-512 ones
 * (docs/architecture.md). Zen 5 (family 26) has full-width AVX-512 and is not matched.
 */
export function isAmdZen4(cpuinfo: string): boolean {
  const first = cpuinfo.split(/\n\s*\n/)[0] ?? '';
  const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1]?.trim();
  return field('vendor_id') === 'AuthenticAMD' && field('cpu family') === '25' && /(^| )avx512f( |$)/.test(field('flags') ?? '');
}

/** isAmdZen4 of this machine's /proc/cpuinfo; false where it cannot be read (not Linux). */
export function hostIsAmdZen4(): boolean {
  try {
    return isAmdZen4(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The thread count the environment asks for: OMP_NUM_THREADS, which OpenMP programs and PyTorch's own
 * default follow, and which a deployment sets to share a few cores among processes (replicas, containers).
 * Its first value when it lists one per nesting level ("4,2"); null when unset or not a positive integer.
 */
export function environmentThreads(env: NodeJS.ProcessEnv = process.env): number | null {
  const value = env.OMP_NUM_THREADS;
  const first = value?.split(',')[0]?.trim();
  const count = first && /^\d+$/.test(first) ? Number(first) : 0;
  if (count >= 1) return Math.min(count, 1024);
  // Ignored as OpenMP itself ignores it; NODE_DEBUG=torch-gen says so.
  if (value !== undefined) debug('OMP_NUM_THREADS=%j is not a positive integer: the threads default is the physical cores', value);
  return null;
}

/**
 * Physical cores available to this process: a decode step streams weights from memory, and a second
 * hyper-thread on a core adds no bandwidth but does add synchronisation (llama.cpp picks the same default).
 * Linux topology from /sys; elsewhere, or if it cannot be read, the logical CPUs.
 */
export function physicalCores(): number {
  const logical = availableParallelism();
  try {
    const root = '/sys/devices/system/cpu';
    const cores = new Set<string>();
    for (const name of readdirSync(root)) {
      if (!/^cpu\d+$/.test(name)) continue;
      const topology = `${root}/${name}/topology`;
      const pkg = readFileSync(`${topology}/physical_package_id`, 'utf8').trim();
      const core = readFileSync(`${topology}/core_id`, 'utf8').trim();
      cores.add(`${pkg}:${core}`);
    }
    if (cores.size === 0) return logical;
    // Affinity or a cgroup may allow fewer CPUs than the machine has.
    return Math.max(1, Math.min(cores.size, logical));
  } catch {
    return logical;
  }
}
