// Runs one piece of bench/peers in a child process of its own: a driver job (spec in, result file out),
// the bandwidth probe, the GGUF writer. Children die with the harness (bench/replicas/processes.mjs).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, spawnOwned, stopChild } from '../replicas/processes.mjs';

const TAIL_LINES = 20;

/**
 * Runs `command args`, its stderr passed through with a `[name]` prefix; resolves with the exit status,
 * stdout, and the last lines of stderr (for the report when it fails). Killed after `timeoutMs`.
 */
export async function run(name, command, args, { env = {}, timeoutMs = 30 * 60_000, cwd } = {}) {
  const child = spawnOwned(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const tail = [];
  let partial = '';
  child.stdout.on('data', (data) => (stdout += data));
  child.stderr.on('data', (data) => {
    const lines = (partial + data).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      // Progress bars redraw with \r; only the last state of the line is worth a line of its own.
      const shown = line.slice(line.lastIndexOf('\r') + 1);
      if (!shown.trim()) continue;
      process.stderr.write(`[${name}] ${shown}\n`);
      tail.push(shown);
      if (tail.length > TAIL_LINES) tail.shift();
    }
  });
  const spawnError = new Promise((resolve) => child.once('error', (error) => resolve({ code: null, error })));
  const timer = setTimeout(() => stopChild(child, 'SIGTERM', 5_000), timeoutMs);
  const outcome = await Promise.race([exited(child), spawnError]);
  clearTimeout(timer);
  if (partial.trim()) tail.push(partial);
  const failure =
    outcome.error?.message ??
    (outcome.code === 0 ? null : `exited with ${outcome.signal ?? `code ${outcome.code}`}${outcome.signal === 'SIGTERM' ? ` (timeout ${timeoutMs / 1000} s?)` : ''}`);
  return { ok: failure === null, failure, stdout, stderrTail: tail.slice(-TAIL_LINES) };
}

/** The JSON object a script printed as its last line of stdout (anything a library printed before it is skipped). */
export const lastJsonLine = (stdout) => JSON.parse(stdout.trim().split('\n').pop());

/** Runs a driver on `spec`; resolves with its result object, or { failed, stderrTail } when it failed. */
export async function runDriver(name, command, args, spec, options) {
  const dir = mkdtempSync(join(tmpdir(), 'peers-'));
  try {
    const specPath = join(dir, 'spec.json');
    const outPath = join(dir, 'result.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const outcome = await run(name, command, [...args, specPath, outPath], options);
    if (!outcome.ok) return { failed: outcome.failure, stderrTail: outcome.stderrTail };
    try {
      return JSON.parse(readFileSync(outPath, 'utf8'));
    } catch (error) {
      return { failed: `exited with code 0 but left no result (${error.message})`, stderrTail: outcome.stderrTail };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
