// The Dockerfile, checked without a Docker engine (CI has none): hadolint, and its pinned versions against
// package.json (scripts/check-dockerfile.mjs, `npm run check:dockerfile`).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { argDefaults, hadolint, versionProblems } from '../../scripts/check-dockerfile.mjs';
import { runNode } from '../child-process.js';

const root = resolve(import.meta.dirname, '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { torchGen: Record<string, string> };
const work = mkdtempSync(join(tmpdir(), 'torch-gen-dockerfile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('Dockerfile', () => {
  it('passes hadolint', () => {
    const { ok, output } = hadolint(join(root, 'Dockerfile')) as { ok: boolean; output: string };
    expect(output).toBe('');
    expect(ok).toBe(true);
  });

  it("takes its Node, torch and CUDA versions from package.json's torchGen pins", () => {
    expect(versionProblems(dockerfile, pkg.torchGen)).toEqual([]);
    expect(argDefaults(dockerfile).get('NODE_VERSION')).toEqual([pkg.torchGen.nodeVersion]);
  });

  it('a version that differs from package.json is reported with the fix', () => {
    const changed = dockerfile.replace(`ARG TORCH_VERSION=${pkg.torchGen.torchVersion}`, 'ARG TORCH_VERSION=2.8.0');
    expect(versionProblems(changed, pkg.torchGen)).toEqual([
      `Dockerfile: ARG TORCH_VERSION defaults to 2.8.0, but package.json "torchGen.torchVersion" is ${pkg.torchGen.torchVersion}; make them equal`,
    ]);
    expect(versionProblems(changed.replace(/^ARG CUDA_VERSION=.*$/m, 'ARG CUDA_VERSION'), pkg.torchGen)).toHaveLength(2);
  });

  it('hadolint is really run: an image tagged latest and a final root user are refused', () => {
    const broken = join(work, 'Dockerfile');
    writeFileSync(broken, 'FROM ubuntu:latest\nUSER root\nCMD ["true"]\n');
    const { ok, output } = hadolint(broken) as { ok: boolean; output: string };
    expect(ok).toBe(false);
    expect(output).toContain('DL3007');
    expect(output).toContain('DL3002');
  });

  it('npm run check:dockerfile passes on the real Dockerfile', async () => {
    const result = await runNode([join(root, 'scripts', 'check-dockerfile.mjs')], { cwd: root });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
