/** POST /v1/completions: OpenAI's (legacy) text completions, streamed or not. */
import type { FastifyInstance } from 'fastify';
import type { ChatChunk, Model } from '../model.js';
import type { ServerContext } from './context.js';
import { Generation } from './generation.js';
import { badRequest } from './openai-errors.js';
import {
  completionLogprobs,
  finishReasonBody,
  responseMeta,
  sseData,
  usageBody,
  type ResponseMeta,
} from './openai-format.js';
import { field, requestBody, samplingRequest, type SamplingRequest } from './request-options.js';
import { recordOf } from './request-log.js';
import { answerAborted, sendEventStream, type ChunkRenderer } from './respond.js';

/** OpenAI's default max_tokens for completions. */
const COMPLETION_DEFAULT_MAX_TOKENS = 16;

/** A string, token ids, or a one-element array of either (several prompts would need n > 1). */
function promptIds(prompt: unknown, model: Model): number[] {
  let one = prompt;
  if (Array.isArray(prompt) && (prompt.length === 0 || typeof prompt[0] !== 'number')) {
    if (prompt.length !== 1) {
      throw badRequest('prompt', `prompt: one prompt per request is supported, received ${prompt.length}; send one request per prompt`, 'unsupported_value');
    }
    one = prompt[0];
  }
  if (typeof one === 'string') return model.tokenizer.encode(one);
  if (Array.isArray(one) && one.every((id) => typeof id === 'number')) return one as number[];
  if (one === undefined || one === null) throw badRequest('prompt', 'prompt: required', 'missing_required_parameter');
  throw badRequest('prompt', `prompt: expected a string or an array of token ids, received ${JSON.stringify(one).slice(0, 80)}`);
}

function chunkBody(meta: ResponseMeta, choice: Record<string, unknown>, includeUsage: boolean) {
  return { ...meta, object: 'text_completion', choices: [{ index: 0, ...choice }], ...(includeUsage ? { usage: null } : {}) };
}

function renderer(meta: ResponseMeta, sampling: SamplingRequest): ChunkRenderer {
  let offset = 0;
  return (chunk: ChatChunk) => {
    const events: string[] = [];
    let logprobs = null;
    if (sampling.topLogprobs !== undefined && chunk.logprobs && chunk.logprobs.length > 0) {
      logprobs = completionLogprobs(chunk.logprobs, sampling.topLogprobs, offset);
      offset += chunk.logprobs.reduce((sum, entry) => sum + entry.token.length, 0);
    }
    if (chunk.text !== '' || logprobs) {
      events.push(sseData(chunkBody(meta, { text: chunk.text, logprobs, finish_reason: null }, sampling.includeUsage)));
    }
    if (chunk.finishReason && chunk.usage) {
      events.push(sseData(chunkBody(meta, { text: '', logprobs: null, finish_reason: finishReasonBody(chunk.finishReason) }, sampling.includeUsage)));
      if (sampling.includeUsage) events.push(sseData({ ...meta, object: 'text_completion', choices: [], usage: usageBody(chunk.usage) }));
    }
    return events;
  };
}

export function registerCompletions(app: FastifyInstance, context: ServerContext): void {
  app.post('/v1/completions', async (request, reply) => {
    const body = requestBody(request.body);
    const served = context.models.resolve(field(body, 'model'));
    const record = recordOf(request);
    record.model = served.name;
    const limit = context.options.maxTokensLimit ?? served.model.info.maxContext;
    const sampling = samplingRequest(body, 'completion', {
      defaultMaxTokens: Math.min(COMPLETION_DEFAULT_MAX_TOKENS, limit),
      maxTokensLimit: limit,
      vocabSize: served.model.info.vocabSize,
    });
    record.stream = sampling.stream;
    if (context.options.logPrompts) record.prompt = body.prompt;
    const ids = promptIds(field(body, 'prompt'), served.model);
    const generation = Generation.start(
      { served, promptIds: ids, options: sampling.options, promptParam: 'prompt', request, reply },
      context,
    );
    await generation.ready();
    const meta = responseMeta('cmpl', served);
    if (sampling.stream) return sendEventStream(reply, generation, renderer(meta, sampling));

    const result = await generation.collect();
    if (result.finishReason === 'abort') return answerAborted(reply, generation);
    const logprobs =
      sampling.topLogprobs !== undefined && result.logprobs ? completionLogprobs(result.logprobs, sampling.topLogprobs, 0) : null;
    return {
      ...meta,
      object: 'text_completion',
      choices: [{ index: 0, text: result.text, logprobs, finish_reason: finishReasonBody(result.finishReason) }],
      usage: usageBody(result.usage),
    };
  });
}
