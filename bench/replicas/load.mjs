// Load through nginx with the official openai client: `clients` loops, each sending chat completions
// one after another (a mix of streamed and not) until the duration is over; one record per request.
import OpenAI from 'openai';

const TOPICS = ['the sea', 'a lighthouse', 'autumn', 'bread', 'a red bicycle', 'owls', 'rain on a roof', 'chess', 'a violin', 'mountains', 'a city at night', 'honey', 'the moon', 'a library', 'trains', 'snow'];
const SAMPLING = { temperature: 0.8, top_p: 0.95 };

/** Whether request `index` of `client` streams: an even mix at any share, the same on every run. */
const streams = (client, index, share) => (client * 0.381966 + index * 0.618034) % 1 < share;

/** The last address in $upstream_addr ("A, B" when nginx moved the request from A to B): who answered. */
export const finalUpstream = (header) => header?.split(',').pop().trim() || undefined;

/**
 * Runs the load and resolves with { records, startedAt, endedAt, actions }. `at` lists actions to run
 * meanwhile: { afterMs, run } (run's result lands in `actions`), e.g. killing a replica halfway.
 * Times are performance.now() values. The client never retries (maxRetries 0): a failure shows as one.
 */
export async function runLoad({ url, model, clients, durationMs, maxTokens, streamShare = 0.5, at = [] }) {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 300_000 });
  const records = [];
  const startedAt = performance.now();
  const actions = at.map(({ afterMs, run }) => new Promise((done) => setTimeout(done, afterMs)).then(run));
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() - startedAt < durationMs; i++) {
        records.push(await oneRequest(client, { model, client: c, index: i, stream: streams(c, i, streamShare), maxTokens }));
      }
    }),
  );
  const endedAt = performance.now();
  return { records, startedAt, endedAt, actions: await Promise.all(actions) };
}

async function oneRequest(client, { model, client: c, index, stream, maxTokens }) {
  const topic = TOPICS[(c * 7 + index * 3) % TOPICS.length];
  const body = {
    model,
    messages: [{ role: 'user', content: `Write one short sentence about ${topic}. (Note ${c}.${index})` }],
    max_tokens: maxTokens,
    seed: c * 100_000 + index,
    ...SAMPLING,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
  const record = { client: c, index, stream, start: performance.now() };
  try {
    const { data, response } = await client.chat.completions.create(body).withResponse();
    // The replica's response had begun (for a stream: its first event), so a failure from here on is a cut.
    record.responseStarted = true;
    record.upstream = response.headers.get('x-upstream-addr') ?? undefined;
    record.requestId = response.headers.get('x-request-id') ?? undefined;
    const result = stream ? await readStream(data, record) : { finishReason: data.choices[0]?.finish_reason, usage: data.usage };
    // A stream that ends without its last chunks was cut, even if no error surfaced.
    if (!result.finishReason || !result.usage) throw new Error('the response ended without its finish_reason and usage');
    record.ok = true;
    record.finishReason = result.finishReason;
    record.completionTokens = result.usage.completion_tokens;
  } catch (error) {
    record.ok = false;
    record.error = { status: error.status ?? null, name: error.constructor?.name ?? 'Error', message: String(error.message).slice(0, 200) };
    // nginx's own 502 carries X-Upstream-Addr too (`always`): the replica the request was on.
    record.upstream ??= error.headers?.get?.('x-upstream-addr') ?? undefined;
  }
  record.end = performance.now();
  record.servedBy = finalUpstream(record.upstream);
  return record;
}

async function readStream(stream, record) {
  let finishReason;
  let usage;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (record.firstToken === undefined && choice?.delta?.content) record.firstToken = performance.now();
    if (choice?.finish_reason) finishReason = choice.finish_reason;
  }
  return { finishReason, usage };
}
