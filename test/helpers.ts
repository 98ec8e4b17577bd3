import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export const fixturesRoot = resolve(import.meta.dirname, 'fixtures', 'models');
export const fixture = (name: string) => join(fixturesRoot, name);
/** The real SmolLM2-135M-Instruct, exported by `npm run model:default`. */
export const defaultModelDir = resolve(import.meta.dirname, '..', 'models', 'smollm2-135m-instruct');

export interface ExpectedPrompt {
  text: string;
  prompt_ids: number[];
  generated_ids: number[];
}
export interface Expected {
  max_new_tokens: number;
  eos_token_id: number;
  eos_token_ids?: number[];
  prompts: ExpectedPrompt[];
}

export function readExpected(name: string): Expected {
  return JSON.parse(readFileSync(join(fixture(name), 'expected.json'), 'utf8')) as Expected;
}

/** Copies a fixture into a temporary directory so a test can break it; returns the copy's path. */
export function copyFixture(name: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `torch-gen-${name}-`));
  cpSync(fixture(name), dir, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function editManifest(dir: string, edit: (manifest: Record<string, unknown>) => void): void {
  const path = join(dir, 'torch-gen.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(manifest);
  writeFileSync(path, JSON.stringify(manifest));
}

/** Measures the event loop's delay while `work` runs: resolves with its p99 and max in milliseconds. */
export async function measureEventLoopLag<T>(work: () => Promise<T>): Promise<{ result: T; p99Ms: number; maxMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  try {
    const result = await work();
    return { result, p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

/**
 * Polls `check` until it returns true, or fails after `timeoutMs` naming `what`. Tests wait on a state
 * (`model.stats()`, a log line) this way rather than sleeping for a guessed time.
 */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
