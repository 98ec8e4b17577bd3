/** The pieces of OpenAI's response objects both endpoints share: ids, usage, finish reasons, logprobs. */
import { randomBytes } from 'node:crypto';
import type { ChatFinishReason, TokenLogprob, Usage } from '../model.js';
import type { ServedModel } from './served-models.js';

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
  system_fingerprint: string;
}

export function responseMeta(prefix: 'cmpl' | 'chatcmpl', served: ServedModel): ResponseMeta {
  return {
    id: `${prefix}-${randomBytes(12).toString('base64url')}`,
    created: Math.floor(Date.now() / 1000),
    model: served.name,
    system_fingerprint: served.fingerprint,
  };
}

export interface UsageBody {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageBody(usage: Usage): UsageBody {
  return { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.totalTokens };
}

/** OpenAI has no 'abort': an aborted request is not answered, so only 'stop', 'length' and 'tool_calls' reach here. */
export function finishReasonBody(reason: ChatFinishReason): 'stop' | 'length' | 'tool_calls' {
  return reason === 'length' || reason === 'tool_calls' ? reason : 'stop';
}

/** The legacy completions form: parallel arrays, alternatives as token -> logprob maps. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

/** `offset` is where the first token starts in the choice's text; `top` alternatives are kept per token. */
export function completionLogprobs(entries: readonly TokenLogprob[], top: number, offset: number): CompletionLogprobs {
  const body: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const entry of entries) {
    body.tokens.push(entry.token);
    body.token_logprobs.push(entry.logprob);
    const alternatives = top === 0 ? [entry] : entry.topLogprobs.slice(0, top);
    body.top_logprobs.push(Object.fromEntries(alternatives.map((alt) => [alt.token, alt.logprob])));
    body.text_offset.push(offset);
    offset += entry.token.length;
  }
  return body;
}

interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface ChatLogprobs {
  content: (ChatTokenLogprob & { top_logprobs: ChatTokenLogprob[] })[];
  refusal: null;
}

const bytesOf = (token: string) => [...Buffer.from(token, 'utf8')];

export function chatLogprobs(entries: readonly TokenLogprob[], top: number): ChatLogprobs {
  return {
    content: entries.map((entry) => ({
      token: entry.token,
      logprob: entry.logprob,
      bytes: bytesOf(entry.token),
      top_logprobs: entry.topLogprobs.slice(0, top).map((alt) => ({ token: alt.token, logprob: alt.logprob, bytes: bytesOf(alt.token) })),
    })),
    refusal: null,
  };
}

/** Server-sent events as OpenAI streams them: `data: {json}\n\n` ... `data: [DONE]\n\n`. */
export const sseData = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;
export const SSE_DONE = 'data: [DONE]\n\n';
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};
