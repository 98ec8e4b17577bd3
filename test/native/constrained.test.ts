// Constrained decoding (responseFormat, issue 19) on the real SmolLM2-135M-Instruct: sampled at temperature
// 1, the text always parses and validates (ajv, JSON Schema 2020-12), a constrained request leaves the free
// ones beside it untouched, and every refusal is a typed error that names what is wrong.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, runtimeInfo, OptionError, ResponseFormatError, type Completion, type Model, type ResponseFormat } from '@org/torch-gen';
import { SCHEMA_CASES } from '../constrained-schemas.js';
import { defaultModelDir, measureEventLoopLag } from '../helpers.js';

const ajv = new Ajv2020({ strict: false, allErrors: true });
const SEEDS = [1, 2, 3];
const SYSTEM = 'You answer with JSON only.';

// CI builds the engine (cargo is on its machines); a machine without Rust skips these tests, and the
// refusal it gets instead is tested below.
const engine = runtimeInfo().grammarEngine;
if (process.env.CI && engine === null) throw new Error('CI must build the grammar engine (cargo was not found?)');
const withEngine = describe.skipIf(engine === null);

withEngine('constrained decoding on SmolLM2', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(defaultModelDir, { device: 'cpu', maxBatch: 8, maxContext: 1024 });
  });
  afterAll(() => model.dispose());

  const ask = (request: string, responseFormat: ResponseFormat, seed: number, maxTokens = 256) =>
    model.chat([{ role: 'system', content: SYSTEM }, { role: 'user', content: request }], { responseFormat, temperature: 1, seed, maxTokens });

  test(`covers at least 30 schemas (${SCHEMA_CASES.length})`, () => {
    expect(SCHEMA_CASES.length).toBeGreaterThanOrEqual(30);
    expect(runtimeInfo().grammarEngine).toMatch(/^llguidance \d+\.\d+\.\d+$/);
  });

  test.each(SCHEMA_CASES.map((c) => [c.name, c] as const))(
    'schema "%s": sampled at temperature 1 with 3 seeds, the text parses and validates',
    async (_name, { request, schema }) => {
      const validate = ajv.compile(schema);
      const replies = await Promise.all(SEEDS.map((seed) => ask(request, { type: 'json_schema', schema }, seed)));
      for (const reply of replies) {
        expect(reply.finishReason, reply.text).toBe('stop');
        const value: unknown = JSON.parse(reply.text);
        expect(validate(value), `${reply.text}\n${ajv.errorsText(validate.errors)}`).toBe(true);
        expect(reply.message.content).toBe(reply.text);
      }
    },
    120_000,
  );

  test("json_object: any JSON object; unbounded, so a sampled one may also end at maxTokens ('length')", async () => {
    const messages = [{ role: 'system' as const, content: SYSTEM }, { role: 'user' as const, content: 'Give the name and age of a person.' }];
    const greedy = await model.chat(messages, { responseFormat: { type: 'json_object' }, temperature: 0, maxTokens: 64 });
    expect(greedy.finishReason).toBe('stop');
    expect(JSON.parse(greedy.text)).toEqual(expect.any(Object));
    // Free-form JSON has no bound on its strings: at temperature 1 a 135M model may ramble past maxTokens.
    const sampled = await Promise.all(SEEDS.map((seed) => model.chat(messages, { responseFormat: { type: 'json_object' }, temperature: 1, seed, maxTokens: 96 })));
    for (const reply of sampled) {
      if (reply.finishReason === 'length') {
        expect(reply.usage.completionTokens).toBe(96);
        continue;
      }
      const value: unknown = JSON.parse(reply.text);
      expect(typeof value === 'object' && value !== null && !Array.isArray(value), reply.text).toBe(true);
    }
  });

  test('regex: the text is a whole match, and generate() streams it', async () => {
    const pattern = '[A-Z][a-z]{2,8} (19|20)[0-9]{2}';
    let text = '';
    let last;
    for await (const chunk of model.generate('The inventor and year:', { responseFormat: { type: 'regex', pattern }, temperature: 1, seed: 4, maxTokens: 32 })) {
      text += chunk.text;
      last = chunk;
    }
    expect(last?.finishReason).toBe('stop');
    expect(text).toMatch(new RegExp(`^(?:${pattern})$`));
  });

  test('grammar: a Lark grammar as llguidance reads it', async () => {
    const grammar = 'start: "The answer is " ANSWER "."\nANSWER: "yes" | "no" | "maybe"';
    const replies = await Promise.all(SEEDS.map((seed) => ask('Will it rain?', { type: 'grammar', grammar }, seed)));
    for (const reply of replies) {
      expect(reply.finishReason).toBe('stop');
      expect(reply.text).toMatch(/^The answer is (yes|no|maybe)\.$/);
    }
  });

  test("greedy (temperature 0) decoding is constrained too, and complete() returns the same text", async () => {
    const schema = SCHEMA_CASES.find((c) => c.name === 'form fill')!.schema;
    const options = { responseFormat: { type: 'json_schema', schema } as const, temperature: 0, maxTokens: 200 };
    const prompt = model.chatPromptIds([{ role: 'user', content: 'Fill in a sign-up form for Ada Lovelace.' }]);
    const first = await model.complete(prompt, options);
    const second = await model.complete(prompt, options);
    expect(first.finishReason).toBe('stop');
    expect(ajv.validate(schema, JSON.parse(first.text))).toBe(true);
    expect(second.tokenIds).toEqual(first.tokenIds);
  });

  test("finishReason is 'length' when maxTokens cuts the JSON", async () => {
    const reply = await ask('Describe a person and their address.', { type: 'json_schema', schema: SCHEMA_CASES[14]!.schema }, 1, 5);
    expect(reply.finishReason).toBe('length');
    expect(reply.usage.completionTokens).toBe(5);
    expect(() => JSON.parse(reply.text)).toThrow();
  });

  test("a constrained request batched with free ones leaves the free ones' tokens what they are alone", async () => {
    const prompts = ['Once upon a time', 'The capital of France is', 'def fibonacci(n):'];
    const free = { temperature: 1, maxTokens: 24 } as const;
    const alone: Completion[] = [];
    for (const [i, prompt] of prompts.entries()) alone.push(await model.complete(prompt, { ...free, seed: 10 + i }));
    const constrained = SCHEMA_CASES.slice(0, 4).map((c, i) => ask(c.request, { type: 'json_schema', schema: c.schema }, 100 + i, 64));
    const together = await Promise.all([...prompts.map((prompt, i) => model.complete(prompt, { ...free, seed: 10 + i })), ...constrained]);
    prompts.forEach((_, i) => expect(together[i]!.tokenIds).toEqual(alone[i]!.tokenIds));
  });

  test('the same schema is compiled once and reused; many requests at once share it', async () => {
    const schema = { type: 'object', properties: { n: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['n'], additionalProperties: false };
    const replies = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((seed) => ask('Pick a digit.', { type: 'json_schema', schema }, seed, 32)));
    for (const reply of replies) expect(ajv.validate(schema, JSON.parse(reply.text)), reply.text).toBe(true);
  });

  test('compiling schemas does not block the event loop', async () => {
    const { p99Ms } = await measureEventLoopLag(async () => {
      for (const c of SCHEMA_CASES.slice(0, 12)) {
        const schema = { ...c.schema, description: `fresh ${Math.random()}` };  // a cache miss each
        await model.complete('x', { responseFormat: { type: 'json_schema', schema }, maxTokens: 1 });
      }
    });
    expect(p99Ms).toBeLessThan(100);
  });

  test('breaking out of a constrained stream ends the request and frees its slot', async () => {
    for await (const chunk of model.generate('Tell me', { responseFormat: { type: 'json_object' }, temperature: 1, seed: 2, maxTokens: 100 })) {
      expect(chunk.tokenIds.length).toBeGreaterThan(0);
      break;
    }
    await expect.poll(() => model.stats().activeRequests).toBe(0);
  });

  test('an aborted signal before the compile ends is an abort, with no request queued', async () => {
    const controller = new AbortController();
    const stream = model.generate('x', { responseFormat: { type: 'regex', pattern: `a{1,${(Math.random() * 50 + 2) | 0}}` }, signal: controller.signal });
    controller.abort();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)?.finishReason).toBe('abort');
    expect(model.stats().activeRequests).toBe(0);
  });

  describe('refusals', () => {
    test('a schema the engine cannot compile is a ResponseFormatError naming its path', async () => {
      const schema = {
        type: 'object',
        properties: { order: { type: 'object', properties: { id: { type: 'integer' }, kind: { not: { type: 'string' } } } } },
      };
      const error = await model.complete('x', { responseFormat: { type: 'json_schema', schema } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResponseFormatError);
      expect(error).toBeInstanceOf(OptionError);
      expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', option: 'responseFormat', path: '/properties/order/properties/kind' });
      expect((error as Error).message).toMatch(/^responseFormat: the grammar engine cannot compile the schema at \/properties\/order\/properties\/kind: Unimplemented keys: \["not"\]$/);
      expect((error as ResponseFormatError).engineMessage).toBe('Unimplemented keys: ["not"]');
    });

    test('an unsatisfiable schema is refused at its root when no part fails alone', async () => {
      const schema = { allOf: [{ type: 'integer' }, { type: 'string' }] };
      const error = (await model.complete('x', { responseFormat: { type: 'json_schema', schema } }).catch((e: unknown) => e)) as ResponseFormatError;
      expect(error).toBeInstanceOf(ResponseFormatError);
      expect(error.path).toBe('');
      expect(error.message).toMatch(/^responseFormat: the grammar engine cannot compile the schema: /);
    });

    test('a regular expression and a grammar the engine cannot compile', async () => {
      const regex = (await model.complete('x', { responseFormat: { type: 'regex', pattern: '(ab' } }).catch((e: unknown) => e)) as ResponseFormatError;
      expect(regex).toBeInstanceOf(ResponseFormatError);
      expect(regex.message).toMatch(/^responseFormat: the grammar engine cannot compile this pattern: /);
      const grammar = (await model.complete('x', { responseFormat: { type: 'grammar', grammar: 'start: missing_rule' } }).catch((e: unknown) => e)) as ResponseFormatError;
      expect(grammar).toBeInstanceOf(ResponseFormatError);
      expect(grammar.message).toMatch(/^responseFormat: the grammar engine cannot compile this grammar: .*unknown name: "missing_rule"/);
      // GBNF is not the engine's syntax: the error says which one is.
      const gbnf = (await model.complete('x', { responseFormat: { type: 'grammar', grammar: 'root ::= "a" | "b"' } }).catch((e: unknown) => e)) as ResponseFormatError;
      expect(gbnf.message).toMatch(/this looks like GBNF; the grammar is Lark/);
    });

    test('a refused format is not cached: the next request with it is refused the same way', async () => {
      const format = { type: 'regex', pattern: '[z-a]' } as const;
      const first = await model.complete('x', { responseFormat: format }).catch((e: unknown) => e);
      const second = await model.complete('x', { responseFormat: format }).catch((e: unknown) => e);
      expect((second as Error).message).toBe((first as Error).message);
    });

    test('a wrong shape is thrown by generate() itself, naming the field', () => {
      const bad = (responseFormat: unknown) => () => model.generate('x', { responseFormat } as never);
      expect(bad('json')).toThrow(/^responseFormat: expected \{ type: 'json_object' \}, .* received "json"$/);
      expect(bad({ type: 'xml' })).toThrow(`responseFormat.type: expected 'json_object', 'json_schema', 'regex' or 'grammar', received "xml"`);
      expect(bad({ type: 'json_schema' })).toThrow('responseFormat.schema: expected a JSON schema (an object or a boolean), received undefined');
      expect(bad({ type: 'json_schema', schema: [] })).toThrow('responseFormat.schema: expected a JSON schema (an object or a boolean), received an array');
      expect(bad({ type: 'regex', pattern: '' })).toThrow('responseFormat.pattern: expected a non-empty string, received ""');
      expect(bad({ type: 'grammar', grammar: 7 })).toThrow('responseFormat.grammar: expected a non-empty string, received 7');
      expect(bad({ type: 'json_object', schema: {} })).toThrow("responseFormat: unknown field `schema` for type 'json_object'; it takes `type`");
      const cyclic: Record<string, unknown> = { type: 'object' };
      cyclic.self = cyclic;
      expect(bad({ type: 'json_schema', schema: cyclic })).toThrow(/^responseFormat\.schema: expected a JSON schema that JSON\.stringify can write/);
      expect(bad(null)).not.toThrow();
    });

    test('a model whose vocabulary the engine cannot read refuses constrained requests (ERR_GRAMMAR_UNAVAILABLE)', async () => {
      // Not through loadModel (which always gives the tokenizer): the addon's own spec without one.
      const { loadAddon } = await import('../../lib/native.js');
      const spec = nativeSpec();
      const native = await loadAddon().loadModel({ ...spec, tokenizerPath: '/nonexistent/tokenizer.json' }, () => {});
      try {
        const error = await native.compileConstraint('regex', 'a').catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'ERR_GRAMMAR_UNAVAILABLE' });
        expect((error as Error).message).toMatch(/cannot read \/nonexistent\/tokenizer\.json/);
        // A handle that is not a compiled constraint never reaches the engine.
        expect(() => native.generate({ tokens: Int32Array.from([1]), maxTokens: 1, stopTokenIds: [], sampling: sampling(), constraint: {} as never })).toThrow(
          /`constraint` must come from compileConstraint\(\)/,
        );
      } finally {
        await native.dispose();
      }
    });

    test('a constraint compiled for one model is refused by another', async () => {
      const { loadAddon } = await import('../../lib/native.js');
      const addon = loadAddon();
      const [a, b] = await Promise.all([addon.loadModel(nativeSpec(), () => {}), addon.loadModel(nativeSpec(), () => {})]);
      try {
        const constraint = await a.compileConstraint('regex', '[0-9]+');
        expect(() => b.generate({ tokens: Int32Array.from([1]), maxTokens: 1, stopTokenIds: [], sampling: sampling(), constraint })).toThrow(
          /compiled for another model/,
        );
      } finally {
        await Promise.all([a.dispose(), b.dispose()]);
      }
    });
  });
});

function sampling() {
  return { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, seed: 0, logprobs: 0 };
}

/** The addon's spec of SmolLM2 with a small cache (what loadModel would pass). */
function nativeSpec() {
  return {
    modelPath: `${defaultModelDir}/model.pt`,
    moduleFormat: 'torchscript' as const,
    interface: 'kv-cache' as const,
    vocabSize: 49152,
    maxContext: 64,
    numLayers: 30,
    numKvHeads: 3,
    headDim: 64,
    maxBatch: 1,
    maxQueue: 4,
    prefillChunk: 64,
    device: 'cpu',
    dtype: 'float32' as const,
    cudaGraphs: false,
    cudaGraphBatchSizes: [],
    threads: 1,
    optimizeGraph: false,
    prefixCacheMiB: 0,
    tokenizerPath: `${defaultModelDir}/tokenizer.json`,
    eosTokenIds: [2],
  };
}
