// The harness's child processes (replicas, nginx): spawned so that none outlives the harness, whether it
// ends normally, throws, or is killed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';
// Linux's parent-death signal covers what exit hooks cannot: a harness killed with SIGKILL, or a vitest
// worker torn down at a timeout. setpriv (util-linux, in every Debian) sets it and then execs the command,
// so the child keeps its pid and the signals we send reach the real process.
const deathSignal = existsSync(SETPRIV);

const owned = new Set();

process.on('exit', () => {
  for (const child of owned) child.kill('SIGKILL');
});

/** spawn(), with the child killed when this process exits or dies. */
export function spawnOwned(command, args, options) {
  const child = deathSignal
    ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', command, ...args], options)
    : spawn(command, args, options);
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  // A failed spawn (ENOENT) reports through 'error', which would otherwise throw from an EventEmitter.
  child.once('error', () => owned.delete(child));
  return child;
}

export const isRunning = (child) => child.exitCode === null && child.signalCode === null && child.pid !== undefined;

/** Resolves with { code, signal } once the child has exited (at once if it already has). */
export function exited(child) {
  if (!isRunning(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs; resolves with how it exited. */
export async function stopChild(child, signal = 'SIGTERM', graceMs = 10_000) {
  if (!isRunning(child)) return exited(child);
  const exit = exited(child);
  child.kill(signal);
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(resolve, graceMs, 'late')));
  const first = await Promise.race([exit, late]);
  clearTimeout(timer);
  if (first !== 'late') return first;
  child.kill('SIGKILL');
  return { ...(await exit), forced: true };
}
