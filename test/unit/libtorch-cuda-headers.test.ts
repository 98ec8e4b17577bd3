import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { findLibtorch } from '../../scripts/libtorch.mjs';

// scripts/libtorch.mjs on the layouts a GPU host has: torch 2.11's wheel set (CUDA 13) keeps the runtime API
// in nvidia/cu13/include and the crt/ headers in the nvidia-cuda-crt package, and moved the version numbers
// to torch/headeronly/version.h. A fake site-packages of empty files stands in for it.
let site: string;
const saved = { ...process.env };

function touch(path: string, text = ''): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

beforeEach(() => {
  site = mkdtempSync(join(tmpdir(), 'torch-gen-site-'));
  for (const file of ['include/torch/script.h', 'lib/libtorch.so', 'lib/libc10.so', 'lib/libtorch_cuda.so']) touch(join(site, 'torch', file));
  touch(join(site, 'torch/include/torch/headeronly/version.h'), '#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 11\n#define TORCH_VERSION_PATCH 0\n');
  touch(join(site, 'torch/include/torch/csrc/api/include/torch/version.h'), '#include <torch/headeronly/version.h>\n');
  touch(join(site, 'nvidia/cu13/include/cuda_runtime_api.h'));
  process.env.TORCH_GEN_LIBTORCH = join(site, 'torch');
  process.env.PATH = '/usr/bin:/bin';
  delete process.env.CUDA_HOME;
  delete process.env.TORCH_GEN_CUDA_INCLUDE;
  delete process.env.TORCH_GEN_REQUIRE_CUDA_GRAPHS;
});

afterEach(() => {
  process.env = { ...saved };
  rmSync(site, { recursive: true, force: true });
});

test('reads the version of a libtorch that keeps it in torch/headeronly/version.h (2.10 and later)', () => {
  expect(findLibtorch().version).toBe('2.11.0');
});

test('finds the CUDA 13 headers that the runtime and crt wheels put in nvidia/cu13/include', () => {
  touch(join(site, 'nvidia/cu13/include/crt/host_defines.h'));
  expect(findLibtorch().cudaIncludes).toEqual([join(site, 'nvidia/cu13/include')]);
});

test("completes the wheel's runtime headers with the crt/ headers of the toolkit whose nvcc is on PATH", () => {
  const toolkit = join(site, 'toolkit');
  touch(join(toolkit, 'include/crt/host_defines.h'));
  touch(join(toolkit, 'bin/nvcc'));
  chmodSync(join(toolkit, 'bin/nvcc'), 0o755);
  process.env.PATH = `${join(toolkit, 'bin')}:/usr/bin:/bin`;
  expect(findLibtorch().cudaIncludes).toEqual([join(site, 'nvidia/cu13/include'), join(toolkit, 'include')]);
});

test('without the crt/ headers a CUDA libtorch builds without CUDA graphs, or fails when they are required', () => {
  expect(findLibtorch().cudaIncludes).toEqual([]);
  process.env.TORCH_GEN_REQUIRE_CUDA_GRAPHS = '1';
  expect(() => findLibtorch()).toThrow(/is a CUDA libtorch but no CUDA runtime headers were found .*set TORCH_GEN_CUDA_INCLUDE/);
});
