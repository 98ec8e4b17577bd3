// Child processes for the tests, run asynchronously. A test worker that blocks in spawnSync (a CLI that
// loads a model, an addon build) stops answering vitest's RPC, whose 60 s timeout then fails the run with
// "[vitest-worker]: Timeout calling onTaskUpdate" although every test passed.
import { spawn } from 'node:child_process';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGTERM) after this long; `signal` then says so. */
  timeoutMs?: number;
}

/** Runs `command` to its end and resolves with its exit and output, whatever they are. */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, ...output }));
  });
}

/** Runs this Node with `args`. */
export const runNode = (args: readonly string[], options: RunOptions = {}): Promise<Finished> => runProcess(process.execPath, args, options);
