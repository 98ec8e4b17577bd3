// One replica: `torch-gen serve` as a child process on a loopback port, with its request log kept.
import { join, resolve } from 'node:path';
import { isRunning, spawnOwned, stopChild } from './processes.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'torch-gen.js');

/**
 * Starts replica `index` and resolves once it reports ready (model loaded and warmed up).
 * `threads` sets libtorch's intra-op pool (OMP_NUM_THREADS): several replicas on a few cores would
 * otherwise each start a thread per core and fight over them.
 */
export async function startReplica({ index, model, modelName, maxBatch, maxContext, threads, readyTimeoutMs = 300_000 }) {
  const args = [
    bin, 'serve', '-m', `${modelName}=${model}`, '--host', '127.0.0.1', '--port', '0', '--device', 'cpu',
    '--max-batch', String(maxBatch), '--max-context', String(maxContext), '--drain-timeout', '5', '-q',
  ];
  const child = spawnOwned(process.execPath, args, {
    cwd: root,
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let partial = '';
  const logs = [];
  child.stdout.on('data', (data) => {
    const lines = (partial + data.toString('utf8')).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line));
      } catch {
        // Not a request-log line (something else wrote to standard output): not ours to judge here.
      }
    }
  });
  child.stderr.on('data', (data) => (stderr += data.toString('utf8')));
  let spawnError;
  child.once('error', (error) => (spawnError = error));

  const begin = performance.now();
  for (;;) {
    const port = stderr.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1];
    if (port && stderr.includes('ready, serving')) {
      const address = `127.0.0.1:${port}`;
      return {
        index,
        address,
        url: `http://${address}`,
        child,
        /** The JSON request-log lines written so far (one per request, at its end). */
        logs: () => logs,
        stderr: () => stderr,
        /** The replica's own count of generations in flight (its /metrics), or undefined if it does not answer. */
        inFlight: () => inFlightOf(`http://${address}`),
        stop: () => stopChild(child, 'SIGTERM'),
      };
    }
    if (spawnError || !isRunning(child) || performance.now() - begin > readyTimeoutMs) {
      await stopChild(child, 'SIGKILL');
      throw new Error(`replica ${index} did not start${spawnError ? ` (${spawnError.message})` : ''}; its standard error:\n${stderr}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}

async function inFlightOf(url) {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    return Number(text.match(/^torch_gen_http_generations_in_flight (\d+)/m)?.[1]);
  } catch {
    return undefined;
  }
}
