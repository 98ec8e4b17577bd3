// The conditions a bench/peers result was measured under: machine, CPU model and instruction-set flags,
// commit, date. The engines' versions come from their own drivers' results.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';

// The flags that decide which kernels the engines can use (vector width, bfloat16, int8 dot products).
const RELEVANT_FLAGS = /^(avx|avx2|fma|f16c|avx512.*|amx.*|avx_vnni.*|sse4_2)$/;

function cpuInfo() {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return { model: cpus()[0]?.model ?? 'unknown', flags: [] };
  }
  const field = (name) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const flags = (field('flags') ?? '').split(/\s+/).filter((flag) => RELEVANT_FLAGS.test(flag));
  return {
    model: field('model name') ?? 'unknown',
    family: field('cpu family'),
    modelNumber: field('model'),
    flags,
  };
}

function commit() {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    return dirty ? `${sha}+changes` : sha;
  } catch {
    return 'unknown';
  }
}

export function machine() {
  return {
    hostname: hostname(),
    kernel: release(),
    cpu: cpuInfo(),
    logicalCpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    // The load when the run started: another process's work slows every engine, the bound included.
    loadAverage1m: loadavg()[0],
    node: process.version,
    commit: commit(),
    date: new Date().toISOString(),
  };
}
