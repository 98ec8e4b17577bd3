/** POST /v1/chat/completions: OpenAI's chat completions, through the model's chat template. */
import type { FastifyInstance } from 'fastify';
import type { ChatMessage } from '../chat-template.js';
import type { ChatChunk, ChatRequest } from '../model.js';
import type { ToolCall } from '../tool-calls/tools.js';
import type { ServerContext } from './context.js';
import { Generation } from './generation.js';
import { badRequest, toHttpError } from './openai-errors.js';
import { chatLogprobs, finishReasonBody, responseMeta, sseData, usageBody, type ResponseMeta } from './openai-format.js';
import { field, requestBody, samplingRequest, type SamplingRequest } from './request-options.js';
import { recordOf } from './request-log.js';
import { answerAborted, sendEventStream, type ChunkRenderer } from './respond.js';

/** Text parts are joined; other parts (images, audio) are refused. */
function contentText(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw badRequest('messages', `${where}.content: expected a string or an array of text parts`);
  return content
    .map((part: { type?: unknown; text?: unknown }, i) => {
      if (part?.type !== 'text' || typeof part.text !== 'string') {
        throw badRequest('messages', `${where}.content[${i}]: only { type: 'text', text } parts are supported`, 'unsupported_value');
      }
      return part.text;
    })
    .join('');
}

/**
 * OpenAI's messages as the library's: content parts joined, 'developer' read as 'system'. Tool calls and
 * tool results pass as they are; the library checks them (their ids, their arguments).
 */
function chatMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw badRequest('messages', 'messages: expected a non-empty array of { role, content }', value === undefined ? 'missing_required_parameter' : 'invalid_value');
  }
  return value.map((message: { role?: unknown; content?: unknown; tool_calls?: unknown; tool_call_id?: unknown } | null, i) => {
    const where = `messages[${i}]`;
    if (typeof message !== 'object' || message === null) throw badRequest('messages', `${where}: expected { role, content }`);
    const { role } = message;
    if (role !== 'system' && role !== 'developer' && role !== 'user' && role !== 'assistant' && role !== 'tool') {
      throw badRequest('messages', `${where}.role: expected 'system', 'developer', 'user', 'assistant' or 'tool', received ${JSON.stringify(role)}`);
    }
    const out: ChatMessage = { role: role === 'developer' ? 'system' : role, content: contentText(message.content, where) };
    if (message.tool_calls !== undefined && message.tool_calls !== null) out.tool_calls = message.tool_calls as ToolCall[];
    if (message.tool_call_id !== undefined) out.tool_call_id = message.tool_call_id as string;
    return out;
  });
}

function chunkBody(meta: ResponseMeta, choice: Record<string, unknown>, includeUsage: boolean) {
  return { ...meta, object: 'chat.completion.chunk', choices: [{ index: 0, logprobs: null, ...choice }], ...(includeUsage ? { usage: null } : {}) };
}

function renderer(meta: ResponseMeta, sampling: SamplingRequest): ChunkRenderer {
  let first = true;
  return (chunk: ChatChunk) => {
    const events: string[] = [];
    if (first) {
      // OpenAI's first chunk carries the role.
      events.push(sseData(chunkBody(meta, { delta: { role: 'assistant', content: '' }, finish_reason: null }, sampling.includeUsage)));
      first = false;
    }
    const logprobs =
      sampling.topLogprobs !== undefined && chunk.logprobs && chunk.logprobs.length > 0 ? chatLogprobs(chunk.logprobs, sampling.topLogprobs) : null;
    if (chunk.text !== '' || logprobs) {
      events.push(sseData(chunkBody(meta, { delta: { content: chunk.text }, logprobs, finish_reason: null }, sampling.includeUsage)));
    }
    // One event per piece of a call: the first with the call's id, type and name, then its arguments.
    for (const delta of chunk.toolCalls ?? []) {
      events.push(sseData(chunkBody(meta, { delta: { tool_calls: [delta] }, finish_reason: null }, sampling.includeUsage)));
    }
    if (chunk.finishReason && chunk.usage) {
      events.push(sseData(chunkBody(meta, { delta: {}, finish_reason: finishReasonBody(chunk.finishReason) }, sampling.includeUsage)));
      if (sampling.includeUsage) events.push(sseData({ ...meta, object: 'chat.completion.chunk', choices: [], usage: usageBody(chunk.usage) }));
    }
    return events;
  };
}

export function registerChatCompletions(app: FastifyInstance, context: ServerContext): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = requestBody(request.body);
    const served = context.models.resolve(field(body, 'model'));
    const record = recordOf(request);
    record.model = served.name;
    const limit = context.options.maxTokensLimit ?? served.model.info.maxContext;
    // Without max_tokens a chat reply runs to its end (or the context's), as OpenAI's does.
    const sampling = samplingRequest(body, 'chat', { defaultMaxTokens: limit, maxTokensLimit: limit, vocabSize: served.model.info.vocabSize });
    record.stream = sampling.stream;
    const messages = chatMessages(field(body, 'messages'));
    if (context.options.logPrompts) record.prompt = messages;
    let chat: ChatRequest;
    try {
      chat = served.model.chatRequest(messages, { ...sampling.options, ...sampling.tools });
    } catch (error) {
      throw toHttpError(error, { promptParam: 'messages' });
    }
    const generation = Generation.start(
      { served, promptIds: chat.promptIds, options: chat.options, plan: chat.plan, promptParam: 'messages', request, reply },
      context,
    );
    await generation.ready();
    const meta = responseMeta('chatcmpl', served);
    if (sampling.stream) return sendEventStream(reply, generation, renderer(meta, sampling));

    const result = await generation.collect();
    if (result.finishReason === 'abort') return answerAborted(reply, generation);
    const logprobs = sampling.topLogprobs !== undefined && result.logprobs ? chatLogprobs(result.logprobs, sampling.topLogprobs) : null;
    return {
      ...meta,
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            // OpenAI's content is null when a reply only calls.
            content: result.toolCalls.length > 0 && result.text === '' ? null : result.text,
            refusal: null,
            ...(result.toolCalls.length > 0 ? { tool_calls: result.toolCalls } : {}),
          },
          logprobs,
          finish_reason: finishReasonBody(result.finishReason),
        },
      ],
      usage: usageBody(result.usage),
    };
  });
}
