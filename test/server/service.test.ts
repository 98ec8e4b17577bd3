// Service behaviour with one slot: a full queue is a 429 with Retry-After, a client that goes away frees its
// slot, and close() drains in-flight requests (or aborts them past its deadline). SmolLM2 on the CPU (about
// 40 ms a token) keeps a request in flight long enough to act on it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import OpenAI from 'openai';
import { loadModel, type Model } from '@org/torch-gen';
import { defaultModelDir, waitFor } from '../helpers.js';
import { startServer, type Running } from './server-helpers.js';

let model: Model;

beforeAll(async () => {
  model = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 1, maxQueue: 1, maxContext: 512 });
});

afterAll(() => model?.dispose());

/** Starts a long streaming completion and resolves once its first chunk arrived (it holds the slot). */
async function holdSlot(client: OpenAI, signal?: AbortSignal) {
  const stream = await client.completions.create(
    { model: 'smollm2', prompt: 'Once upon a time', max_tokens: 400, temperature: 0, stream: true },
    signal ? { signal } : {},
  );
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next();
  return iterator;
}

describe('one slot, a queue of one', () => {
  let running: Running;
  beforeAll(async () => {
    running = await startServer({ smollm2: model });
  });
  afterAll(() => running?.server.close());

  test('a request beyond the queue gets 429 with Retry-After; the slot and queue then drain', async () => {
    const client = running.client();
    const holder = new AbortController();
    await holdSlot(client, holder.signal);
    const queued = client.completions.create({ model: 'smollm2', prompt: 'Hello', max_tokens: 2 });
    await waitFor(() => model.stats().queuedRequests === 1, 5000, 'the second request to queue');
    const refused = await client.completions.create({ model: 'smollm2', prompt: 'Hello', max_tokens: 2 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const error = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.headers.get('retry-after')).toBe('1');
    expect(error.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });
    expect(error.message).toMatch(/the queue is full/);
    // The streaming form is refused before any event is sent.
    await expect(client.completions.create({ model: 'smollm2', prompt: 'Hello', max_tokens: 2, stream: true })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
    holder.abort();
    const second = await queued;
    expect(second.choices[0]?.finish_reason).toBe('length');
    await waitFor(() => model.stats().activeRequests === 0 && model.stats().queuedRequests === 0, 5000, 'the slot to free');
  });

  test('a client that disconnects mid-stream cancels its request and frees its slot', async () => {
    const client = running.client();
    const controller = new AbortController();
    const iterator = await holdSlot(client, controller.signal);
    await iterator.next();
    expect(model.stats().activeRequests).toBe(1);
    const generatedBefore = model.stats().tokensGenerated;
    controller.abort();
    await waitFor(() => model.stats().activeRequests === 0, 2000, 'the slot to free after the disconnect');
    // Cancelled within a step or two, far short of the 400 tokens it asked for.
    expect(model.stats().tokensGenerated - generatedBefore).toBeLessThan(20);
    // The slot serves the next request at once.
    const next = await client.chat.completions.create({ model: 'smollm2', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3 });
    expect(next.usage?.completion_tokens).toBe(3);
    await waitFor(() => running.logs.some((line) => line.status === 499), 2000, 'the cancelled request\'s log line');
    const cancelled = running.logs.find((line) => line.status === 499)!;
    expect(cancelled).toMatchObject({ msg: 'request cancelled by the client', route: '/v1/completions', finishReason: 'abort' });
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/^torch_gen_http_requests_total\{route="\/v1\/completions",method="POST",status="499"\} [1-9]/m);
  });

  test('a client that disconnects from a non-streamed request also frees its slot', async () => {
    const controller = new AbortController();
    const pending = running.client().completions.create({ model: 'smollm2', prompt: 'Once upon a time', max_tokens: 400 }, { signal: controller.signal });
    pending.catch(() => {});
    await waitFor(() => model.stats().activeRequests === 1, 5000, 'the request to start');
    controller.abort();
    await waitFor(() => model.stats().activeRequests === 0, 2000, 'the slot to free');
  });
});

describe('close() drains', () => {
  test('in-flight requests finish; meanwhile /health and new requests answer 503', async () => {
    const running = await startServer({ smollm2: model }, { warmUp: false });
    const client = running.client();
    const stream = await client.completions.create({ model: 'smollm2', prompt: 'Once upon a time', max_tokens: 30, temperature: 0, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    let text = (await iterator.next()).value?.choices[0]?.text ?? '';
    const closed = running.server.close({ drainTimeoutMs: 30_000 });
    expect(running.server.state).toBe('draining');
    const health = await fetch(`${running.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'draining', inFlight: 1 });
    const refused = await client.completions.create({ model: 'smollm2', prompt: 'x' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.InternalServerError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ code: 'server_shutting_down' });
    let finish: string | null | undefined;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      text += next.value.choices[0]?.text ?? '';
      finish = next.value.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    expect(text).toBe((await model.complete('Once upon a time', { maxTokens: 30, temperature: 0 })).text);
    await closed;
    expect(running.server.state).toBe('closed');
  });

  test('past the drain timeout, requests still running are aborted and the stream reports why', async () => {
    const running = await startServer({ smollm2: model }, { warmUp: false });
    const iterator = await holdSlot(running.client());
    const start = performance.now();
    await running.server.close({ drainTimeoutMs: 300 });
    expect(performance.now() - start).toBeLessThan(3000);
    const error = await (async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next());
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toMatch(/the server shut down before this request finished/);
    expect(model.stats().activeRequests).toBe(0);
  });
});
