// The OpenAI-compatible API, driven by the official `openai` client against a real server (port 0) that
// serves the real SmolLM2-135M-Instruct (chat template, meaningful text) and the tiny llama-kv fixture.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import OpenAI from 'openai';
import { loadModel, type Completion, type Model } from '@org/torch-gen';
import { createServer } from '@org/torch-gen/server';
import { defaultModelDir, fixture, waitFor } from '../helpers.js';
import { postRaw, startServer, type Running } from './server-helpers.js';

const API_KEY = 'test-key';
let smol: Model;
let llama: Model;
let running: Running;
let client: OpenAI;

beforeAll(async () => {
  [smol, llama] = await Promise.all([
    loadModel(defaultModelDir, { device: 'cpu', maxBatch: 4, maxContext: 512 }),
    loadModel(fixture('llama-kv'), { device: 'cpu', maxBatch: 4 }),
  ]);
  running = await startServer({ smollm2: smol, 'llama-kv': llama }, { apiKey: API_KEY, maxTokensLimit: 200 });
  client = running.client(API_KEY);
});

afterAll(async () => {
  await running?.server.close();
  await Promise.all([smol?.dispose(), llama?.dispose()]);
});

describe('POST /v1/completions', () => {
  test('greedy text, usage and finish_reason equal model.complete() on the same prompt', async () => {
    const prompt = 'The capital of France is';
    const expected = await smol.complete(prompt, { maxTokens: 12, temperature: 0 });
    const before = Math.floor(Date.now() / 1000);
    const completion = await client.completions.create({ model: 'smollm2', prompt, max_tokens: 12, temperature: 0 });
    expect(completion.id).toMatch(/^cmpl-[\w-]{16}$/);
    expect(completion.object).toBe('text_completion');
    expect(completion.model).toBe('smollm2');
    expect(completion.created).toBeGreaterThanOrEqual(before);
    expect(completion.system_fingerprint).toBe('torch-gen-0.1.0-cpu-float32');
    expect(completion.choices).toEqual([{ index: 0, text: expected.text, logprobs: null, finish_reason: 'length' }]);
    expect(completion.usage).toEqual({
      prompt_tokens: expected.usage.promptTokens,
      completion_tokens: 12,
      total_tokens: expected.usage.promptTokens + 12,
    });
  });

  test('streams the same text as OpenAI does, chunk ids equal, one finish_reason, usage last', async () => {
    const prompt = 'The capital of France is';
    const expected = await smol.complete(prompt, { maxTokens: 12, temperature: 0 });
    const stream = await client.completions.create({
      model: 'smollm2',
      prompt,
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(expected.text);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0]?.finish_reason)).toEqual(['length']);
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: expected.usage.promptTokens, completion_tokens: 12, total_tokens: expected.usage.promptTokens + 12 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  test('the event stream is framed byte for byte as `data: {json}\\n\\n` ... `data: [DONE]\\n\\n`', async () => {
    const response = await postRaw(
      `${running.url}/v1/completions`,
      { model: 'llama-kv', prompt: 'hello', max_tokens: 6, temperature: 0, stream: true },
      { authorization: `Bearer ${API_KEY}` },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-request-id')).toMatch(/^req-[0-9a-f]{16}$/);
    expect(response.raw).toMatch(/^(data: \{[^\n]*\}\n\n)+data: \[DONE\]\n\n$/);
    expect(response.events.every((e) => e.object === 'text_completion' && !('usage' in e))).toBe(true);
  });

  test('max_tokens bounds the completion (finish_reason "length")', async () => {
    for (const maxTokens of [1, 7]) {
      const completion = await client.completions.create({ model: 'llama-kv', prompt: 'abc', max_tokens: maxTokens, temperature: 0 });
      expect(completion.usage?.completion_tokens).toBe(maxTokens);
      expect(completion.choices[0]?.finish_reason).toBe('length');
    }
    // Without max_tokens a completion stops at 16 tokens, as OpenAI's does.
    const byDefault = await client.completions.create({ model: 'llama-kv', prompt: 'abc', temperature: 0 });
    expect(byDefault.usage?.completion_tokens).toBe(16);
  });

  test('a stop string ends the text before it (finish_reason "stop"), streamed or not', async () => {
    const prompt = 'The capital of France is';
    const full = await smol.complete(prompt, { maxTokens: 20, temperature: 0 });
    expect(full.text).toContain('\n\n');
    const expected = full.text.slice(0, full.text.indexOf('\n\n'));
    const completion = await client.completions.create({ model: 'smollm2', prompt, max_tokens: 20, temperature: 0, stop: '\n\n' });
    expect(completion.choices[0]).toMatchObject({ text: expected, finish_reason: 'stop' });
    const stream = await client.completions.create({ model: 'smollm2', prompt, max_tokens: 20, temperature: 0, stop: ['\n\n', 'zzz'], stream: true });
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ text, finish }).toEqual({ text: expected, finish: 'stop' });
  });

  test('the same seed gives the same sampled text, equal to model.complete() with that seed', async () => {
    const request = { model: 'llama-kv', prompt: 'seeded', max_tokens: 24, temperature: 1, top_p: 0.95, seed: 1234 };
    const [a, b] = await Promise.all([client.completions.create(request), client.completions.create(request)]);
    expect(a.choices[0]?.text).toBe(b.choices[0]?.text);
    const local = await llama.complete('seeded', { maxTokens: 24, temperature: 1, topP: 0.95, seed: 1234 });
    expect(a.choices[0]?.text).toBe(local.text);
    const others = await Promise.all([1, 2, 3].map((seed) => client.completions.create({ ...request, seed })));
    expect(others.some((other) => other.choices[0]?.text !== a.choices[0]?.text)).toBe(true);
  });

  test('concurrent requests are batched by the one model and each gets its own greedy text', async () => {
    const prompts = ['One, two, three,', 'The sky is', 'Water boils at', 'My favourite food is'];
    const alone: Completion[] = [];
    for (const prompt of prompts) alone.push(await smol.complete(prompt, { maxTokens: 10, temperature: 0 }));
    const together = await Promise.all(prompts.map((prompt) => client.completions.create({ model: 'smollm2', prompt, max_tokens: 10, temperature: 0 })));
    together.forEach((completion, i) => expect(completion.choices[0]?.text).toBe(alone[i]!.text));
  });

  test('logprobs: n alternatives per token, as the model reports them', async () => {
    const local = await llama.complete('abc', { maxTokens: 5, temperature: 0, logprobs: 2 });
    const completion = await client.completions.create({ model: 'llama-kv', prompt: 'abc', max_tokens: 5, temperature: 0, logprobs: 2 });
    const logprobs = completion.choices[0]!.logprobs!;
    expect(logprobs.tokens).toEqual(local.logprobs!.map((l) => l.token));
    expect(logprobs.token_logprobs).toEqual(local.logprobs!.map((l) => l.logprob));
    expect(logprobs.top_logprobs!.every((top) => Object.keys(top).length <= 2)).toBe(true);
    expect(logprobs.text_offset![0]).toBe(0);
  });

  test('a prompt of token ids is fed as it is', async () => {
    const ids = [5, 17, 42, 99];
    const local = await llama.complete(ids, { maxTokens: 6, temperature: 0 });
    const completion = await client.completions.create({ model: 'llama-kv', prompt: ids, max_tokens: 6, temperature: 0 });
    expect(completion.choices[0]?.text).toBe(local.text);
    expect(completion.usage?.prompt_tokens).toBe(4);
  });
});

describe('POST /v1/chat/completions', () => {
  const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }];

  test('the greedy reply equals model.chat() on the same messages', async () => {
    const expected = await smol.chat(messages, { maxTokens: 24, temperature: 0 });
    const completion = await client.chat.completions.create({ model: 'smollm2', messages, max_tokens: 24, temperature: 0 });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]).toEqual({
      index: 0,
      message: { role: 'assistant', content: expected.text, refusal: null },
      logprobs: null,
      finish_reason: expected.finishReason,
    });
    expect(completion.usage).toEqual({
      prompt_tokens: expected.usage.promptTokens,
      completion_tokens: expected.usage.completionTokens,
      total_tokens: expected.usage.totalTokens,
    });
  });

  test('the next turn of a conversation starts from the cached keys and values of the turns before', async () => {
    const turn1 = [
      { role: 'system' as const, content: 'You are the assistant of a bakery. Answer in one sentence. '.repeat(4) },
      { role: 'user' as const, content: 'What bread do you bake?' },
    ];
    const first = await client.chat.completions.create({ model: 'smollm2', messages: turn1, max_tokens: 20, temperature: 0 });
    const turn2 = [...turn1, { role: 'assistant' as const, content: first.choices[0]!.message.content! }, { role: 'user' as const, content: 'And cakes?' }];
    const before = smol.stats().prefixCache!;
    const second = await client.chat.completions.create({ model: 'smollm2', messages: turn2, max_tokens: 20, temperature: 0 });
    const after = smol.stats().prefixCache!;
    expect(after.hits).toBe(before.hits + 1);
    // The first turn's prompt and reply, all but the last partial block and the reply's unfed last token.
    expect(after.hitTokens - before.hitTokens).toBeGreaterThanOrEqual(first.usage!.total_tokens - 32);
    expect(second.choices[0]!.message.content).toBe((await smol.chat(turn2, { maxTokens: 20, temperature: 0 })).text);
  });

  test('streams deltas: the role first, then content, one finish_reason, then usage', async () => {
    const expected = await smol.chat(messages, { maxTokens: 24, temperature: 0 });
    const stream = await client.chat.completions.create({
      model: 'smollm2',
      messages,
      max_completion_tokens: 24,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(expected.text);
    expect(chunks.flatMap((c) => (c.choices[0]?.finish_reason ? [c.choices[0].finish_reason] : []))).toEqual([expected.finishReason]);
    expect(chunks[chunks.length - 1]!.usage?.completion_tokens).toBe(expected.usage.completionTokens);
  });

  test('a reply that meets the end-of-sequence token finishes with "stop"', async () => {
    const completion = await client.chat.completions.create({ model: 'smollm2', messages: [{ role: 'user', content: 'Say hi.' }], max_tokens: 100, temperature: 0 });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage!.completion_tokens).toBeLessThan(100);
  });

  test('text parts and developer messages are accepted; the conversation is rendered by the template', async () => {
    const parts = [
      { role: 'developer' as const, content: 'You are terse.' },
      { role: 'user' as const, content: [{ type: 'text' as const, text: 'What is the capital ' }, { type: 'text' as const, text: 'of France?' }] },
    ];
    const expected = await smol.chat([{ role: 'system', content: 'You are terse.' }, messages[0]!], { maxTokens: 8, temperature: 0 });
    const completion = await client.chat.completions.create({ model: 'smollm2', messages: parts, max_tokens: 8, temperature: 0 });
    expect(completion.choices[0]?.message.content).toBe(expected.text);
  });

  test('logprobs with top_logprobs, as the model reports them', async () => {
    const expected = await smol.chat(messages, { maxTokens: 4, temperature: 0, logprobs: 3 });
    const completion = await client.chat.completions.create({ model: 'smollm2', messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = completion.choices[0]!.logprobs!.content!;
    expect(content.map((c) => [c.token, c.logprob])).toEqual(expected.logprobs!.map((l) => [l.token, l.logprob]));
    expect(content.every((c) => c.top_logprobs.length === 3 && Array.isArray(c.bytes))).toBe(true);
    const chosenOnly = await client.chat.completions.create({ model: 'smollm2', messages, max_tokens: 2, temperature: 0, logprobs: true });
    expect(chosenOnly.choices[0]!.logprobs!.content!.every((c) => c.top_logprobs.length === 0)).toBe(true);
  });
});

describe('errors in OpenAI\'s shape', () => {
  async function failure(call: () => Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
    try {
      await call();
    } catch (error) {
      if (error instanceof OpenAI.APIError) return error;
      throw error;
    }
    throw new Error('expected the request to fail');
  }

  test('401 with a wrong or missing API key', async () => {
    const wrong = await failure(() => running.client('wrong-key').completions.create({ model: 'llama-kv', prompt: 'x' }));
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(wrong.error).toEqual({ message: 'incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' });
    const missing = await postRaw(`${running.url}/v1/completions`, { model: 'llama-kv', prompt: 'x' });
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.raw)).toEqual({
      error: { message: 'missing API key: send it as `Authorization: Bearer KEY`', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
    });
  });

  test('400 for a bad temperature, of the wrong type or out of range, with our message', async () => {
    const range = await failure(() => client.completions.create({ model: 'llama-kv', prompt: 'x', temperature: -1 }));
    expect(range).toBeInstanceOf(OpenAI.BadRequestError);
    expect(range.error).toEqual({
      message: 'temperature: expected a number in [0, 100], received -1',
      type: 'invalid_request_error',
      param: 'temperature',
      code: 'invalid_value',
    });
    const type = await failure(() => client.chat.completions.create({ model: 'smollm2', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' as never }));
    expect(type.status).toBe(400);
    expect(type.message).toContain('temperature: expected a number in [0, 100], received "hot"');
    const topP = await failure(() => client.completions.create({ model: 'llama-kv', prompt: 'x', top_p: 1.5 }));
    expect(topP.error).toMatchObject({ message: 'top_p: expected a number in (0, 1], received 1.5', param: 'top_p' });
  });

  test('400 for n = 2 and other fields this server does not support', async () => {
    const n = await failure(() => client.completions.create({ model: 'llama-kv', prompt: 'x', n: 2 }));
    expect(n.status).toBe(400);
    expect(n.error).toEqual({
      message: 'n: only 1 choice per request is supported, received 2; send several requests instead',
      type: 'invalid_request_error',
      param: 'n',
      code: 'unsupported_value',
    });
    const chatN = await failure(() => client.chat.completions.create({ model: 'smollm2', messages: [{ role: 'user', content: 'x' }], n: 3 }));
    expect(chatN.status).toBe(400);
    const tools = await failure(() =>
      client.chat.completions.create({
        model: 'smollm2',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
      }),
    );
    expect(tools.error).toMatchObject({ param: 'tools', code: 'unsupported_parameter' });
  });

  test('400 for a prompt longer than the context (code context_length_exceeded)', async () => {
    const prompt = Array.from({ length: 300 }, (_, i) => 1 + (i % 300));
    const error = await failure(() => client.completions.create({ model: 'llama-kv', prompt, max_tokens: 4 }));
    expect(error.status).toBe(400);
    expect(error.error).toEqual({
      message:
        "the prompt has 300 tokens but the model's context holds 256, including at least one generated token; " +
        'shorten the prompt, or pass truncate: true',
      type: 'invalid_request_error',
      param: 'prompt',
      code: 'context_length_exceeded',
    });
  });

  test('400 for max_tokens above the server\'s limit', async () => {
    const error = await failure(() => client.completions.create({ model: 'llama-kv', prompt: 'x', max_tokens: 500 }));
    expect(error.error).toMatchObject({ message: "max_tokens: expected at most 200 (this server's limit), received 500", param: 'max_tokens' });
    const chat = await failure(() => client.chat.completions.create({ model: 'smollm2', messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 0 }));
    expect(chat.error).toMatchObject({ message: 'max_completion_tokens: expected an integer in [1, 1048576], received 0', param: 'max_completion_tokens' });
  });

  test('404 for an unknown model', async () => {
    const error = await failure(() => client.completions.create({ model: 'gpt-4o', prompt: 'x' }));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.error).toEqual({
      message: 'The model `gpt-4o` does not exist; this server serves `smollm2`, `llama-kv`',
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
    await expect(client.models.retrieve('gpt-4o')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  test('400 for a chat with a model that has no chat template, bad messages, or bad JSON', async () => {
    const noTemplate = await failure(() => client.chat.completions.create({ model: 'llama-kv', messages: [{ role: 'user', content: 'x' }] }));
    expect(noTemplate.error).toMatchObject({ param: 'messages' });
    expect(noTemplate.message).toMatch(/this model has no chat template/);
    const empty = await failure(() => client.chat.completions.create({ model: 'smollm2', messages: [] }));
    expect(empty.error).toMatchObject({ message: 'messages: expected a non-empty array of { role, content }', param: 'messages' });
    const response = await fetch(`${running.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: '{"model": ',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  test('limits on the body size and the prompt tokens (a server with small limits)', async () => {
    const server = createServer(llama, { maxBodyBytes: 1024, maxPromptTokens: 8, warmUp: false });
    try {
      await server.ready;
      const tooBig = await server.app.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: 'x'.repeat(2000) } });
      expect(tooBig.statusCode).toBe(413);
      expect(tooBig.json().error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
      const long = await server.app.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: Array.from({ length: 9 }, () => 7) } });
      expect(long.statusCode).toBe(400);
      expect(long.json().error).toEqual({
        message: "prompt: 9 tokens, more than this server's limit of 8 prompt tokens; shorten it",
        type: 'invalid_request_error',
        param: 'prompt',
        code: 'context_length_exceeded',
      });
      // With one model served, `model` may be left out.
      const ok = await server.app.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: [7, 7, 7], max_tokens: 2 } });
      expect(ok.json().model).toBe('llama-kv');
    } finally {
      await server.close();
    }
  });

  test('an unknown route answers 404 in the same shape', async () => {
    const response = await fetch(`${running.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { message: 'no route POST /v1/embeddings', type: 'invalid_request_error', param: null, code: 'unknown_url' },
    });
  });
});

describe('models, health, metrics, logs', () => {
  test('GET /v1/models lists the served models', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['smollm2', 'llama-kv']);
    expect(page.data[0]).toMatchObject({ object: 'model', owned_by: 'torch-gen' });
    expect((await client.models.retrieve('llama-kv')).id).toBe('llama-kv');
  });

  test('GET /health is 200 once loaded and warmed up, 503 while loading or after a failed load', async () => {
    const response = await fetch(`${running.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', models: ['smollm2', 'llama-kv'], inFlight: 0 });

    let resolveLoad: (model: Model) => void = () => {};
    const loading = createServer(new Promise<Model>((resolve) => (resolveLoad = resolve)));
    try {
      const before = await loading.app.inject({ method: 'GET', url: '/health' });
      expect(before.statusCode).toBe(503);
      expect(before.json()).toMatchObject({ status: 'loading' });
      const early = await loading.app.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: 'x' } });
      expect(early.statusCode).toBe(503);
      expect(early.json().error.code).toBe('model_loading');
      resolveLoad(llama);
      await loading.ready;
      expect((await loading.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await loading.close();
    }

    const failed = createServer(Promise.reject(new Error('no such model')));
    try {
      await expect(failed.ready).rejects.toThrow('no such model');
      const health = await failed.app.inject({ method: 'GET', url: '/health' });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toMatchObject({ status: 'failed' });
    } finally {
      await failed.close();
    }
  });

  test('GET /metrics: requests by route and status, tokens, TTFT histogram, queue, memory', async () => {
    await client.completions.create({ model: 'llama-kv', prompt: 'metrics', max_tokens: 3 });
    // The same long prompt twice: the second starts from the first's cached prefix.
    const long = 'a prompt long enough to fill more than one block of the prefix cache '.repeat(4);
    for (let i = 0; i < 2; i++) await client.completions.create({ model: 'llama-kv', prompt: long, max_tokens: 2 });
    const response = await fetch(`${running.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('torch_gen_http_requests_total{route="/v1/completions",method="POST",status="200"}')).toBeGreaterThan(5);
    expect(value('torch_gen_http_requests_total{route="/v1/completions",method="POST",status="400"}')).toBeGreaterThan(0);
    expect(value('torch_gen_http_requests_total{route="/v1/completions",method="POST",status="404"}')).toBeGreaterThan(0);
    expect(value('torch_gen_time_to_first_token_seconds_count{model="llama-kv"}')).toBeGreaterThan(5);
    expect(text).toMatch(/^torch_gen_time_to_first_token_seconds_bucket\{model="smollm2",le="\+Inf"\} \d+$/m);
    expect(value('torch_gen_tokens_generated_total{model="llama-kv"}')).toBe(llama.stats().tokensGenerated);
    expect(value('torch_gen_device_memory_bytes{model="smollm2",device="cpu"}')).toBe(smol.stats().memoryBytes);
    expect(value('torch_gen_queue_depth{model="smollm2"}')).toBe(0);
    expect(value('torch_gen_active_requests{model="smollm2"}')).toBe(0);
    expect(value('torch_gen_max_batch{model="smollm2"}')).toBe(4);
    const prefix = llama.stats().prefixCache!;
    expect(prefix.hits).toBeGreaterThan(0);
    expect(value('torch_gen_prefix_cache_hits_total{model="llama-kv"}')).toBe(prefix.hits);
    expect(value('torch_gen_prefix_cache_hit_tokens_total{model="llama-kv"}')).toBe(prefix.hitTokens);
    expect(value('torch_gen_prefix_cache_evictions_total{model="llama-kv"}')).toBe(prefix.evictions);
    expect(value('torch_gen_prefix_cache_tokens{model="llama-kv"}')).toBe(prefix.cachedTokens);
    expect(value('torch_gen_prefix_cache_capacity_tokens{model="llama-kv"}')).toBe(prefix.capacityTokens);
    expect(value('torch_gen_tokens_per_second{model="smollm2"}')).toBeGreaterThanOrEqual(0);
    expect(value('torch_gen_http_generations_in_flight')).toBe(0);
    expect(value('torch_gen_ready')).toBe(1);
    expect(text).toMatch(/^# TYPE torch_gen_time_to_first_token_seconds histogram$/m);
  });

  test('one JSON log line per request, with id, route, status, tokens and timings, and no prompt text', async () => {
    const secret = 'my secret prompt text';
    const completion = await client.completions.create({ model: 'llama-kv', prompt: secret, max_tokens: 4, temperature: 0 });
    const id = completion._request_id;
    await waitFor(() => running.logs.some((line) => line.reqId === id), 5000, "the request's log line");
    const lines = running.logs.filter((line) => line.reqId === id);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'request completed',
      route: '/v1/completions',
      method: 'POST',
      status: 200,
      model: 'llama-kv',
      stream: false,
      promptTokens: completion.usage!.prompt_tokens,
      completionTokens: 4,
      finishReason: 'length',
    });
    expect(lines[0]!.timeToFirstTokenMs).toBeTypeOf('number');
    expect(lines[0]!.durationMs).toBeTypeOf('number');
    expect(JSON.stringify(running.logs)).not.toContain(secret);
  });

  test('with logPrompts the log line also holds the prompt and the generated text', async () => {
    const verbose = await startServer({ 'llama-kv': llama }, { logPrompts: true, warmUp: false });
    try {
      const completion = await verbose.client().completions.create({ model: 'llama-kv', prompt: 'log me', max_tokens: 3, temperature: 0 });
      await waitFor(() => verbose.logs.some((l) => l.reqId === completion._request_id), 5000, "the request's log line");
      const line = verbose.logs.find((l) => l.reqId === completion._request_id);
      expect(line).toMatchObject({ prompt: 'log me', output: completion.choices[0]!.text });
    } finally {
      await verbose.server.close();
    }
  });
});

describe('createServer', () => {
  test('refuses bad options with a message naming the option', () => {
    expect(() => createServer(llama, { maxBodyBytes: 10 })).toThrow('maxBodyBytes: expected an integer in [1024, 1073741824], received 10');
    expect(() => createServer(llama, { apiKey: '' })).toThrow('apiKey: expected a non-empty string, received ""');
    expect(() => createServer(llama, { port: 8000 } as never)).toThrow(
      'createServer: unknown option `port`; known options are `apiKey`, `maxBodyBytes`, `maxPromptTokens`, `maxTokensLimit`, `logger`, `logPrompts`, `warmUp`, `retryAfterSeconds`',
    );
  });

  test('a model disposed under a running server answers 503; close() is idempotent', async () => {
    const own = await loadModel(fixture('llama-kv'), { device: 'cpu' });
    const server = createServer({ own }, { warmUp: false });
    try {
      await server.ready;
      await own.dispose();
      const response = await server.app.inject({ method: 'POST', url: '/v1/completions', payload: { prompt: 'x', max_tokens: 2 } });
      expect(response.statusCode).toBe(503);
      expect(response.json().error).toMatchObject({ type: 'server_error', code: 'service_unavailable' });
      const metrics = await server.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
    } finally {
      const first = server.close();
      expect(server.close()).toBe(first);
      await first;
      expect(server.state).toBe('closed');
    }
  });
});
