// The `serve`, `chat` and `bench` commands, run as child processes like a user runs them.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import OpenAI from 'openai';
import { runNode } from '../child-process.js';
import { defaultModelDir, fixture } from '../helpers.js';

const bin = resolve(import.meta.dirname, '..', '..', 'bin', 'torch-gen.js');

const cli = (...args: string[]) => runNode([bin, ...args], { timeoutMs: 60_000 });

/** A running child with its output collected, and a way to wait for a pattern in it. */
function start(...args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: 'pipe' }) as ChildProcessWithoutNullStreams;
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (data: Buffer) => (output.stdout += data.toString('utf8')));
  child.stderr.on('data', (data: Buffer) => (output.stderr += data.toString('utf8')));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const waitFor = async (stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> => {
    const begin = performance.now();
    for (;;) {
      const match = output[stream].match(pattern);
      if (match) return match;
      if (performance.now() - begin > timeoutMs || child.exitCode !== null) {
        throw new Error(`no ${pattern} on ${stream}; stderr so far:\n${output.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, output, exited, waitFor };
}

describe('torch-gen serve', () => {
  test('SIGTERM drains: the in-flight stream finishes, /health turns 503, then the process exits 0', async () => {
    const server = start('serve', '-m', `smollm2=${defaultModelDir}`, '--port', '0', '--device', 'cpu', '--max-context', '512', '-q');
    try {
      const [, url] = await server.waitFor('stderr', /listening on (http:\/\/127\.0\.0\.1:\d+), loading smollm2 \(\/health answers 503 until ready\)\n/);
      await server.waitFor('stderr', /ready, serving smollm2 \(OpenAI API at http:\/\/127\.0\.0\.1:\d+\/v1\)\n/);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const stream = await client.completions.create({ model: 'smollm2', prompt: 'Once upon a time', max_tokens: 64, temperature: 0, stream: true });
      const iterator = stream[Symbol.asyncIterator]();
      let text = (await iterator.next()).value?.choices[0]?.text ?? '';
      server.child.kill('SIGTERM');
      await server.waitFor('stderr', /SIGTERM: draining requests in flight/);
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'draining' });
      let finish: string | null | undefined;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        text += next.value.choices[0]?.text ?? '';
        finish = next.value.choices[0]?.finish_reason ?? finish;
      }
      expect(finish).toBe('length');
      expect(text.length).toBeGreaterThan(20);
      expect(await server.exited).toBe(0);
      expect(server.output.stderr).toMatch(/torch-gen serve: stopped\n$/);
      // Request logs: JSON lines on stdout, one per request, without the prompt.
      const logs = server.output.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      const completion = logs.find((line) => line.route === '/v1/completions');
      expect(completion).toMatchObject({ status: 200, stream: true, completionTokens: 64, finishReason: 'length', model: 'smollm2' });
      expect(server.output.stdout).not.toContain('Once upon a time');
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  test('--help, and errors as one line with a non-zero exit', async () => {
    const help = await cli('serve', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: torch-gen serve/);
    expect(help.stdout).toContain('--api-key KEY');
    const badPort = await cli('serve', '--port', 'http');
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toBe('torch-gen serve: --port: expected an integer, received "http" (ERR_INVALID_OPTION)\n');
    const missing = await cli('serve', '-m', '/nonexistent/model', '--port', '0', '-q');
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n').pop()).toMatch(
      /^torch-gen serve: model model failed to load: model directory \/nonexistent\/model does not exist.*\(ERR_MODEL_LOAD\)$/,
    );
    expect(missing.stderr).not.toContain('ready, serving');
    // With several models, the line names the one that failed (the first loaded, then disposed).
    const second = await cli('serve', '-m', `good=${fixture('llama-kv')}`, '-m', 'broken=/nonexistent/other', '--port', '0', '--device', 'cpu', '-q');
    expect(second.code).toBe(2);
    expect(second.stderr.trim().split('\n').pop()).toMatch(/^torch-gen serve: model broken failed to load: model directory \/nonexistent\/other does not exist.*\(ERR_MODEL_LOAD\)$/);
    expect(second.stderr).not.toContain('ready, serving');
  });
});

describe('torch-gen chat', () => {
  test('answers each line, keeps the conversation, and Ctrl-C cancels only the reply being written', async () => {
    const chat = start('chat', '-m', defaultModelDir, '--device', 'cpu', '--max-context', '512', '-n', '48', '-v', '-q');
    try {
      chat.child.stdin.write('My name is Alice.\n');
      const first = await chat.waitFor('stderr', /\[(stop|length): (\d+) prompt \+ (\d+) generated tokens/);
      chat.child.stdin.write('What is my name?\n');
      const second = await chat.waitFor('stderr', /\[(?:stop|length): (\d+) prompt \+ \d+ generated tokens[^\n]*\n[^]*\[(?:stop|length): (\d+) prompt/);
      // The second prompt holds the first exchange: its prompt, the reply, and the new message.
      const firstPrompt = Number(first[2]);
      const firstReply = Number(first[3]);
      expect(Number(second[2])).toBeGreaterThan(firstPrompt + firstReply);
      const replies = chat.output.stdout.split('\n').filter((line) => line.trim() !== '');
      expect(replies.length).toBeGreaterThanOrEqual(2);

      const before = chat.output.stdout.length;
      chat.child.stdin.write('Tell me a long story about a dragon.\n');
      await chat.waitFor('stdout', new RegExp(`^[^]{${before + 1}}`));
      chat.child.kill('SIGINT');
      await chat.waitFor('stderr', /\(reply cancelled\)/);
      chat.child.stdin.write('/exit\n');
      expect(await chat.exited).toBe(0);
    } finally {
      chat.child.kill('SIGKILL');
    }
  });

  test('--help, and a model without a chat template is refused in one line', async () => {
    const help = await cli('chat', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: torch-gen chat/);
    const noTemplate = await cli('chat', '-m', fixture('llama-kv'), '--device', 'cpu', '-q');
    expect(noTemplate.code).toBe(2);
    expect(noTemplate.stderr).toMatch(/^torch-gen chat: .*llama-kv has no chat template; use `torch-gen generate` for plain text \(ERR_INVALID_OPTION\)\n$/);
  });
});

describe('torch-gen bench', () => {
  test('--help', async () => {
    const { code, stdout } = await cli('bench', '--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: torch-gen bench/);
    expect(stdout).toContain('--concurrency C');
  });

  test('measures tokens/s and time to first token (--json)', async () => {
    const { code, stdout } = await cli('bench', '-m', fixture('llama-kv'), '--device', 'cpu', '-r', '6', '-c', '3', '-n', '8', '-p', '5', '--json');
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { requests: number; concurrency: number; tokensPerSecond: number; generatedTokens: number; timeToFirstTokenMs: { p99: number } };
    expect(result).toMatchObject({ requests: 6, concurrency: 3 });
    expect(result.generatedTokens).toBeGreaterThan(0);
    expect(result.generatedTokens).toBeLessThanOrEqual(48);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(result.timeToFirstTokenMs.p99).toBeGreaterThanOrEqual(0);
  });
});

describe('torch-gen generate', () => {
  test('takes the generation flags and names a bad one', async () => {
    const sampled = await cli('generate', '-m', fixture('llama-kv'), '--device', 'cpu', '-n', '6', '-t', '0.8', '--top-k', '20', '--seed', '5', '--logprobs', '1', 'hello');
    expect(sampled.code).toBe(0);
    const again = await cli('generate', '-m', fixture('llama-kv'), '--device', 'cpu', '-n', '6', '-t', '0.8', '--top-k', '20', '--seed', '5', '--logprobs', '1', 'hello');
    expect(again.stdout).toBe(sampled.stdout);
    expect(sampled.stderr.split('\n').filter((line) => /^\s+-?\d+\.\d{3}  /.test(line))).toHaveLength(6);
    const bad = await cli('generate', '--frequency-penalty', '3', 'hi');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('torch-gen generate: --frequency-penalty: expected a number in [-2, 2], received 3 (ERR_INVALID_OPTION)\n');
  });
});
