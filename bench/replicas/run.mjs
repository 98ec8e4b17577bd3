// Replicas behind nginx under load, with one replica killed halfway.
//
//   npm run bench:replicas [-- --replicas 3 --clients 12 --duration 60 --kill-at 30 --kill 0 --max-tokens 32]
//
// Starts N `torch-gen serve` replicas (SmolLM2-135M-Instruct, CPU) on loopback ports and nginx (the
// system's) in front of them (cluster.mjs, nginx.conf.template: least_conn, no buffering, passive health
// checks, only never-sent requests moved to another replica). C clients of the official openai package send
// chat completions through nginx, half of them streamed, for D seconds; at --kill-at seconds (once it has
// requests in flight) one replica gets SIGKILL and the load goes on. nginx names the replica that answered
// each request (X-Upstream-Addr), checked against the replicas' own request logs. Reports the spread, what
// failed and where it was, aggregate tokens/s and latency; writes bench/results/replicas.json and .md.
// Exits 1 when a check fails: a failure anywhere but on the killed replica's in-flight requests, say.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { analyse, countBy } from './analyse.mjs';
import { MODEL_NAME, startCluster } from './cluster.mjs';
import { runLoad } from './load.mjs';
import { markdown } from './report.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/smollm2-135m-instruct' },
    replicas: { type: 'string', default: '3' },
    clients: { type: 'string', default: '12' },
    duration: { type: 'string', default: '60' },
    'kill-at': { type: 'string' },
    kill: { type: 'string', default: '0' },
    'max-tokens': { type: 'string', default: '32' },
    'stream-share': { type: 'string', default: '0.5' },
    'max-batch': { type: 'string', default: '8' },
    'max-context': { type: 'string', default: '512' },
    threads: { type: 'string' },
    'fail-timeout': { type: 'string', default: '10' },
  },
});
const replicas = Number(values.replicas);
const durationMs = Number(values.duration) * 1000;
const killAtMs = values['kill-at'] === undefined ? durationMs / 2 : Number(values['kill-at']) * 1000;
const killIndex = Number(values.kill);
if (!(replicas >= 2) || !(killIndex >= 0 && killIndex < replicas)) throw new Error('--replicas: at least 2; --kill: a replica index below --replicas');
const load = {
  clients: Number(values.clients),
  durationMs,
  maxTokens: Number(values['max-tokens']),
  streamShare: Number(values['stream-share']),
};

// Ctrl-C or a SIGTERM: exit, and the exit hook in processes.mjs kills the replicas and nginx.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

const loadBefore = loadavg();
const begin = performance.now();
const cluster = await startCluster({
  replicas,
  model: values.model,
  maxBatch: Number(values['max-batch']),
  maxContext: Number(values['max-context']),
  failTimeoutSeconds: Number(values['fail-timeout']),
  ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
});
let report;
try {
  const startSeconds = (performance.now() - begin) / 1000;
  console.error(`${replicas} replicas ready behind nginx at ${cluster.url} in ${startSeconds.toFixed(1)} s; ${load.clients} clients for ${durationMs / 1000} s, replica ${killIndex} killed at ${killAtMs / 1000} s`);
  const result = await runLoad({ url: cluster.url, model: MODEL_NAME, ...load, at: [{ afterMs: killAtMs, run: () => cluster.killWhenBusy(killIndex) }] });
  const [kill] = result.actions;
  console.error(`replica ${killIndex} (${kill.address}) SIGKILLed at ${((kill.at - result.startedAt) / 1000).toFixed(1)} s; it reported ${kill.inFlightReported} in flight`);
  const servedIds = await cluster.servedIds(result.records);
  const nginxLog = cluster.nginx.accessLog();
  const nginxErrors = cluster.nginx.errorLog();
  const books = analyse({ load: result, replicas: cluster.replicas, kill, servedIds });
  const exits = await cluster.stop();
  report = {
    benchmark: 'replicas-behind-nginx',
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
    loadAverage: { before: loadBefore.map((l) => Number(l.toFixed(2))), after: loadavg().map((l) => Number(l.toFixed(2))) },
    nginx: nginxVersion(cluster.settings.nginx),
    model: values.model,
    cluster: { ...cluster.settings, startSeconds: Number(startSeconds.toFixed(1)) },
    load: {
      clients: load.clients,
      durationSeconds: durationMs / 1000,
      maxTokens: load.maxTokens,
      streamShare: load.streamShare,
      killAtSeconds: killAtMs / 1000,
      killIndex,
      temperature: 0.8,
      topP: 0.95,
    },
    ...books,
    nginxView: {
      statuses: countBy(nginxLog.filter((l) => l.uri.startsWith('/v1/')), (l) => String(l.status)),
      refusedConnections: (nginxErrors.match(/connect\(\) failed \(111: Connection refused\)/g) ?? []).length,
      prematureCloses: (nginxErrors.match(/upstream prematurely closed connection/g) ?? []).length,
    },
    exits: { nginx: exits.nginx, replicas: exits.replicas },
  };
} finally {
  await cluster.stop();
}

mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/replicas.json', `${JSON.stringify(report, null, 2)}\n`);
const summary = markdown(report);
writeFileSync('bench/results/replicas.md', summary);
console.log(summary);
process.exitCode = report.passed ? 0 : 1;

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function nginxVersion(binary) {
  // `nginx -v` prints on standard error.
  return spawnSync(binary, ['-v'], { encoding: 'utf8' }).stderr.trim();
}
