// N replicas of `torch-gen serve` behind one nginx, all on loopback: the setup the replicas bench and
// test/integration/replicas.test.ts share. stop() ends every process it started; so does the harness's exit.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNginx, startNginx } from './nginx.mjs';
import { exited, isRunning } from './processes.mjs';
import { startReplica } from './replica.mjs';

export const MODEL_NAME = 'smollm2';

/**
 * Starts `replicas` servers (loading in parallel), then nginx in front of them.
 *
 * threads: libtorch threads per replica; default: the cores shared out, at least 1.
 * failTimeoutSeconds: how long nginx keeps a failed replica out before trying it again.
 */
export async function startCluster({
  replicas = 3,
  model,
  maxBatch = 8,
  maxContext = 512,
  threads = Math.max(1, Math.floor(cpus().length / replicas)),
  failTimeoutSeconds = 10,
}) {
  // Before loading any model: a missing nginx is the likeliest failure and the cheapest to report.
  const binary = findNginx();
  const dir = mkdtempSync(join(tmpdir(), 'torch-gen-replicas-'));
  // An exit without stop() (Ctrl-C in the bench): the processes are killed by processes.mjs's hook,
  // registered before this one; the directory goes here.
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const handles = [];
  let proxy;
  let stopping;
  const stop = () =>
    (stopping ??= (async () => {
      // nginx first, so that no new request reaches a replica that is shutting down.
      const nginx = proxy ? await proxy.stop() : undefined;
      const exits = await Promise.all(handles.map((replica) => replica.stop()));
      removeDir();
      process.off('exit', removeDir);
      return { nginx, replicas: exits };
    })());

  try {
    const started = await Promise.allSettled(
      Array.from({ length: replicas }, (_, index) => startReplica({ index, model, modelName: MODEL_NAME, maxBatch, maxContext, threads })),
    );
    for (const result of started) if (result.status === 'fulfilled') handles.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    proxy = await startNginx({ binary, dir, upstreams: handles.map((r) => r.address), failTimeoutSeconds });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    /** nginx's address: the one clients use. */
    url: proxy.url,
    nginx: proxy,
    replicas: handles,
    settings: { replicas, maxBatch, maxContext, threads, failTimeoutSeconds, nginx: binary },
    /**
     * SIGKILLs replica `index` (no draining, as a crash or the OOM killer would) once it reports a
     * generation in flight, so that the kill has requests to lose; waits at most `waitMs` for that.
     * Resolves with the performance.now() of the kill (`at`), of its exit (`gone`), and the replica's last
     * in-flight count. Between the two the process is being torn down (a loaded 2-CPU machine took ~300 ms
     * to free a replica's memory): its listening socket is still open, so a connection nginx makes then is
     * accepted by the kernel and lost with the process. Only from `gone` does nginx get a refusal.
     */
    killWhenBusy: async (index, waitMs = 10_000) => {
      const replica = handles[index];
      const begin = performance.now();
      let inFlight = await replica.inFlight();
      while (!(inFlight > 0) && performance.now() - begin < waitMs) {
        await new Promise((done) => setTimeout(done, 50));
        inFlight = await replica.inFlight();
      }
      // exited() resolves at once for a replica that died meanwhile; a SIGKILL cannot be ignored, so its
      // exit comes, but the bench must not hang on a kernel that never reports it.
      const exit = exited(replica.child).then(() => performance.now());
      const at = performance.now();
      replica.child.kill('SIGKILL');
      let timer;
      const gone = await Promise.race([exit, new Promise((done) => (timer = setTimeout(() => done(null), 30_000)))]);
      clearTimeout(timer);
      if (gone === null) throw new Error(`replica ${index} did not exit within 30 s of its SIGKILL`);
      return { at, gone, address: replica.address, index, inFlightReported: inFlight ?? null };
    },
    /**
     * Address -> the x-request-ids of the chat completions each replica logged as answered (200), read
     * once the live replicas' log lines for `records` have arrived (they come through a pipe, a moment
     * after the response) or after `waitMs`.
     */
    servedIds: async (records, waitMs = 5000) => {
      const read = () =>
        new Map(handles.map((r) => [r.address, new Set(r.logs().filter((l) => l.route === '/v1/chat/completions' && l.status === 200).map((l) => l.reqId))]));
      const live = new Set(handles.filter((r) => isRunning(r.child)).map((r) => r.address));
      const expected = records.filter((r) => r.ok && live.has(r.servedBy));
      const begin = performance.now();
      let ids = read();
      while (!expected.every((r) => ids.get(r.servedBy)?.has(r.requestId)) && performance.now() - begin < waitMs) {
        await new Promise((done) => setTimeout(done, 50));
        ids = read();
      }
      return ids;
    },
    stop,
  };
}
