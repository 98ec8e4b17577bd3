// Load test of `torch-gen serve`: N concurrent streaming chat clients for a fixed time.
//
//   npm run bench:server [-- --clients 64 --duration 30 --max-tokens 32 --max-batch 64 --sample 16 --model DIR]
//
// Starts the server as a child process on 127.0.0.1 (port 0) with SmolLM2-135M-Instruct on the CPU. Each
// client loops until the duration is over: it opens a streaming /v1/chat/completions request (its own
// prompt and seed, temperature 0.8), reads the stream to `data: [DONE]`, and checks that the stream is
// well-formed and complete (framing, one id, the role first, one finish reason, usage last and consistent).
// Then the server gets SIGTERM (it must exit 0), the model is loaded in this process, and a sample of the
// streams is generated again with model.chat() and the same seed: any difference is a lost or mixed-up
// stream. Reports aggregate tokens/s (all completion tokens over the wall time) and time to first token
// (client side, to the first content delta); writes bench/results/server-load.json and prints a markdown
// table. Exits 1 on any error, malformed stream or mismatch.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel, runtimeInfo } from '@org/torch-gen';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/smollm2-135m-instruct' },
    clients: { type: 'string', default: '64' },
    duration: { type: 'string', default: '30' },
    'max-tokens': { type: 'string', default: '32' },
    'max-batch': { type: 'string', default: '64' },
    'max-context': { type: 'string', default: '512' },
    sample: { type: 'string', default: '16' },
  },
});
const clients = Number(values.clients);
const durationMs = Number(values.duration) * 1000;
const maxTokens = Number(values['max-tokens']);
const sampleSize = Number(values.sample);
const MODEL_NAME = 'smollm2';
const SAMPLING = { temperature: 0.8, top_p: 0.95 };
const TOPICS = ['the sea', 'a lighthouse', 'autumn', 'bread', 'a red bicycle', 'owls', 'rain on a roof', 'chess', 'a violin', 'mountains', 'a city at night', 'honey', 'the moon', 'a library', 'trains', 'snow'];

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Starts `torch-gen serve` and resolves with its URL once it reports ready. */
async function startServer() {
  const args = [
    'bin/torch-gen.js', 'serve', '-m', `${MODEL_NAME}=${values.model}`, '--host', '127.0.0.1', '--port', '0', '--device', 'cpu',
    '--max-batch', values['max-batch'], '--max-context', values['max-context'], '--max-queue', '1024', '-q',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let logLines = [];
  let partial = '';
  child.stdout.on('data', (data) => {
    const lines = (partial + data.toString('utf8')).split('\n');
    partial = lines.pop();
    logLines.push(...lines.filter(Boolean).map((line) => JSON.parse(line)));
  });
  child.stderr.on('data', (data) => (stderr += data.toString('utf8')));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const begin = performance.now();
  for (;;) {
    const url = stderr.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    if (url && stderr.includes('ready, serving')) return { child, url, exited, logs: () => logLines, stderr: () => stderr };
    if (child.exitCode !== null || performance.now() - begin > 120_000) throw new Error(`the server did not start:\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One streamed chat completion, read and checked; resolves with what it measured (or the problem). */
async function streamOnce(url, request) {
  const started = performance.now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL_NAME,
      messages: request.messages,
      max_tokens: maxTokens,
      seed: request.seed,
      ...SAMPLING,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (response.status !== 200) return { error: `status ${response.status}: ${await response.text()}` };
  if (response.headers.get('content-type') !== 'text/event-stream; charset=utf-8') return { malformed: 'content-type' };
  const decoder = new TextDecoder();
  let buffer = '';
  let firstTokenMs;
  const events = [];
  for await (const bytes of response.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith('data: ')) return { malformed: `event without data: ${JSON.stringify(event.slice(0, 60))}` };
      const data = event.slice(6);
      if (data === '[DONE]') {
        events.push(data);
        continue;
      }
      const chunk = JSON.parse(data);
      if (firstTokenMs === undefined && chunk.choices?.[0]?.delta?.content) firstTokenMs = performance.now() - started;
      events.push(chunk);
    }
  }
  const totalMs = performance.now() - started;
  return { ...checkStream(events, buffer), firstTokenMs, totalMs };
}

/** The stream's shape, as OpenAI sends it; returns its text and usage, or what is wrong with it. */
function checkStream(events, rest) {
  if (rest !== '') return { malformed: 'bytes after the last event' };
  if (events[events.length - 1] !== '[DONE]') return { malformed: 'no [DONE] at the end' };
  const chunks = events.slice(0, -1);
  if (chunks.includes('[DONE]')) return { malformed: '[DONE] before the end' };
  const usageChunk = chunks.pop();
  if (!usageChunk?.usage || usageChunk.choices.length !== 0) return { malformed: 'no usage chunk last' };
  const ids = new Set([...chunks, usageChunk].map((c) => c.id));
  if (ids.size !== 1 || !/^chatcmpl-/.test([...ids][0])) return { malformed: `ids ${[...ids].join(', ')}` };
  if (chunks.some((c) => c.object !== 'chat.completion.chunk' || c.model !== MODEL_NAME || c.usage !== null)) return { malformed: 'chunk fields' };
  if (chunks[0]?.choices[0]?.delta?.role !== 'assistant') return { malformed: 'the first delta has no role' };
  const finishes = chunks.filter((c) => c.choices[0].finish_reason !== null);
  if (finishes.length !== 1 || finishes[0] !== chunks[chunks.length - 1]) return { malformed: 'not exactly one finish_reason, last' };
  const finishReason = finishes[0].choices[0].finish_reason;
  const { completion_tokens: completionTokens, prompt_tokens: promptTokens, total_tokens: totalTokens } = usageChunk.usage;
  if (totalTokens !== promptTokens + completionTokens || completionTokens < 1 || completionTokens > maxTokens) return { malformed: 'usage' };
  if (finishReason === 'length' && completionTokens !== maxTokens) return { malformed: 'length before max_tokens' };
  const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
  return { text, finishReason, completionTokens, promptTokens };
}

function requestFor(client, index) {
  const topic = TOPICS[(client * 7 + index * 3) % TOPICS.length];
  return {
    client,
    index,
    seed: client * 100_000 + index,
    messages: [{ role: 'user', content: `Write one short sentence about ${topic}. (Note ${client}.${index})` }],
  };
}

const server = await startServer();
console.error(`server ready at ${server.url}; ${clients} clients for ${durationMs / 1000} s`);
const results = [];
const start = performance.now();
await Promise.all(
  Array.from({ length: clients }, async (_, client) => {
    for (let index = 0; performance.now() - start < durationMs; index++) {
      const request = requestFor(client, index);
      const result = await streamOnce(server.url, request).catch((error) => ({ error: error.message }));
      results.push({ request, ...result });
    }
  }),
);
const wallSeconds = (performance.now() - start) / 1000;
const metrics = await (await fetch(`${server.url}/metrics`)).text();
server.child.kill('SIGTERM');
const exit = await server.exited;

const ok = results.filter((r) => r.text !== undefined);
const errors = results.filter((r) => r.error);
const malformed = results.filter((r) => r.malformed);
const tokens = ok.reduce((sum, r) => sum + r.completionTokens, 0);
const ttft = ok.map((r) => r.firstTokenMs).filter((ms) => ms !== undefined).sort((a, b) => a - b);
const latency = ok.map((r) => r.totalMs).sort((a, b) => a - b);
const logged = server.logs().filter((line) => line.route === '/v1/chat/completions' && line.status === 200).length;
console.error(`${results.length} streams in ${wallSeconds.toFixed(1)} s: ${errors.length} errors, ${malformed.length} malformed; server exit ${exit.code}`);
for (const bad of [...errors, ...malformed].slice(0, 5)) console.error(`  client ${bad.request.client}.${bad.request.index}: ${bad.error ?? bad.malformed}`);

// Re-generate a sample of the streams alone, with the same seed: the text must be the same.
const step = Math.max(1, Math.floor(ok.length / sampleSize));
const sample = ok.filter((_, i) => i % step === 0).slice(0, sampleSize);
const model = await loadModel(values.model, { device: 'cpu', maxBatch: 1, maxContext: Number(values['max-context']) });
const mismatches = [];
for (const r of sample) {
  const local = await model.chat(r.request.messages, { maxTokens, seed: r.request.seed, temperature: SAMPLING.temperature, topP: SAMPLING.top_p });
  if (local.text !== r.text || local.usage.completionTokens !== r.completionTokens) {
    mismatches.push({ client: r.request.client, index: r.request.index, server: r.text, local: local.text });
  }
}
const runtime = runtimeInfo();
const dtype = model.info.dtype;
await model.dispose();
console.error(`verified ${sample.length} sampled streams against model.chat(): ${mismatches.length} mismatches`);
for (const m of mismatches.slice(0, 3)) console.error(`  ${m.client}.${m.index}: server ${JSON.stringify(m.server)} vs local ${JSON.stringify(m.local)}`);

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const serverTtftCount = Number(metrics.match(/^torch_gen_time_to_first_token_seconds_count\{model="smollm2"\} (\d+)/m)?.[1] ?? 0);
const summary = {
  benchmark: 'server-load',
  date: new Date().toISOString(),
  commit,
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
  runtime,
  model: values.model,
  device: 'cpu',
  dtype,
  server: { maxBatch: Number(values['max-batch']), maxContext: Number(values['max-context']), exitCode: exit.code },
  load: { clients, durationSeconds: durationMs / 1000, maxTokens, ...SAMPLING, stream: true },
  streams: results.length,
  completed: ok.length,
  errors: errors.length,
  malformed: malformed.length,
  requestLogLines: logged,
  serverTtftObservations: serverTtftCount,
  wallSeconds: Number(wallSeconds.toFixed(2)),
  completionTokens: tokens,
  tokensPerSecond: Number((tokens / wallSeconds).toFixed(1)),
  ttftMs: { p50: Math.round(percentile(ttft, 50)), p90: Math.round(percentile(ttft, 90)), p99: Math.round(percentile(ttft, 99)), max: Math.round(ttft[ttft.length - 1] ?? 0) },
  latencyMs: { p50: Math.round(percentile(latency, 50)), p99: Math.round(percentile(latency, 99)) },
  verified: { sampled: sample.length, mismatches: mismatches.length },
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/server-load.json', `${JSON.stringify({ ...summary, mismatchDetails: mismatches }, null, 2)}\n`);

console.log('| clients | duration s | streams | errors / malformed | aggregate tokens/s | TTFT p50 ms | TTFT p99 ms | latency p50 ms | sample re-checked |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
console.log(
  `| ${clients} | ${summary.wallSeconds} | ${ok.length} | ${errors.length} / ${malformed.length} | ${summary.tokensPerSecond} | ` +
    `${summary.ttftMs.p50} | ${summary.ttftMs.p99} | ${summary.latencyMs.p50} | ${sample.length - mismatches.length}/${sample.length} equal |`,
);
const failed = errors.length + malformed.length + mismatches.length > 0 || exit.code !== 0 || logged !== ok.length;
if (logged !== ok.length) console.error(`request log lines: ${logged}, completed streams: ${ok.length}`);
process.exitCode = failed ? 1 : 0;
