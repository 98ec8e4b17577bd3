import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Tokenizer } from '@org/torch-gen';
import { runNode } from '../child-process.js';
import { fixture, readExpected } from '../helpers.js';

const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'torch-gen.js');
const cli = (...args: string[]) => runNode([bin, ...args], { timeoutMs: 120_000 });

describe('torch-gen CLI', () => {
  test('generate streams the greedy continuation to stdout and a summary to stderr', async () => {
    const prompt = readExpected('llama-kv').prompts[1]!;
    const tokenizer = await Tokenizer.fromDirectory(fixture('llama-kv'));
    const { code, stdout, stderr } = await cli('generate', '-m', fixture('llama-kv'), '-n', '12', '--device', 'cpu', prompt.text);
    expect(code).toBe(0);
    expect(stdout).toBe(`${tokenizer.decode(prompt.generated_ids.slice(0, 12))}\n`);
    expect(stderr).toContain(`[length: ${prompt.prompt_ids.length} prompt + 12 generated tokens]`);
  });

  test('info --json shows the runtime and the manifest', async () => {
    const { code, stdout } = await cli('info', '--json', '-m', fixture('llama-kv'));
    expect(code).toBe(0);
    const info = JSON.parse(stdout) as { runtime: { torchVersion: string }; manifest: { interface: string } };
    expect(info.runtime.torchVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.manifest.interface).toBe('kv-cache');
  });

  test('info names the model family and its features', async () => {
    const { code, stdout } = await cli('info', '-m', fixture('gemma2-kv'));
    expect(code).toBe(0);
    expect(stdout).toContain('  architecture  Gemma 2 (gemma2; kv-cache interface, float32 weights)\n');
    expect(stdout).toMatch(/^ {2}features {6}.*attention logit soft-capping 4, final logit soft-capping 6.*sliding-window attention \(8 tokens\) on 2 of 4 layers$/m);
  });

  test('errors are one line on stderr with a non-zero exit', async () => {
    const missing = await cli('generate', '-m', '/nonexistent/model', 'hi');
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/^torch-gen generate: model directory \/nonexistent\/model does not exist.*\(ERR_MODEL_LOAD\)$/m);
    const badFlag = await cli('generate', '--max-tokens', 'many', 'hi');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toBe('torch-gen generate: --max-tokens: expected an integer, received "many" (ERR_INVALID_OPTION)\n');
    // A load option out of range is named as its flag too.
    const badThreads = await cli('generate', '-m', fixture('llama-kv'), '--threads', '0', 'hi');
    expect(badThreads.code).toBe(2);
    expect(badThreads.stderr).toBe('torch-gen generate: --threads: expected an integer in [1, 1024], received 0 (ERR_INVALID_OPTION)\n');
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^torch-gen: unknown command 'frobnicate'/);
  });

  test('--help on each command', async () => {
    for (const command of ['generate', 'info']) {
      const { code, stdout } = await cli(command, '--help');
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: torch-gen ${command}`));
    }
    expect((await cli('--help')).stdout).toMatch(/^Usage: torch-gen <command>/);
    expect((await cli('export', '--help')).stdout).toMatch(/usage: /i);
  });

  test('export refuses a file that is not a model and leaves no output directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'torch-gen-cli-'));
    try {
      const notModel = join(dir, 'weights.gguf');
      writeFileSync(notModel, 'definitely not a GGUF file');
      const out = join(dir, 'out');
      const { code, stderr } = await cli('export', notModel, '-o', out);
      expect(code).not.toBe(0);
      expect(stderr).toMatch(/not a GGUF file|GGUF/i);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
