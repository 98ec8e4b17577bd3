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
}

/**
 * oneDNN's instruction-set cap from the environment (ONEDNN_MAX_CPU_ISA, or its older name DNNL_MAX_CPU_ISA),
 * upper-cased; null when unset. oneDNN reads it once for the process. Below AVX-512 (e.g. AVX2, which runs
 * float32 one-row products faster on AMD Zen 4: docs/architecture.md) it has no bfloat16 kernels, and weights
 * laid out for its AVX-512 kernels (an AOTInductor package's) fall to its reference code.
 */
export function onednnIsaCap(env: NodeJS.ProcessEnv = process.env): string | null {
  const value = (env.ONEDNN_MAX_CPU_ISA ?? env.DNNL_MAX_CPU_ISA)?.trim().toUpperCase();
  return value ? value : null;
}

/** Whether a oneDNN cap (onednnIsaCap) leaves out its AVX-512 kernels: every name but ALL, AVX512_* and AMX*. */
export function capsBelowAvx512(cap: string | null): boolean {
  return cap !== null && cap !== 'ALL' && !/512|AMX/.test(cap);
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
