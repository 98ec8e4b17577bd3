/**
 * OpenAI request fields to generate() options, by the option table's `http` names. Range checks are the
 * library's own (options.ts); their messages name the field as the client sent it (`top_p`, not `topP`),
 * and the 400's `param` is that field, found from the error's option.
 */
import { OptionError } from '../errors.js';
import { checkGenerateOptions } from '../option-names.js';
import { findOption, optionsOf } from '../option-table.js';
import { resolveGenerateOptions, type GenerateOptions } from '../options.js';
import { resolveTools, type ToolOptions } from '../tool-calls/tools.js';
import { badRequest, optionBadRequest } from './openai-errors.js';
import { responseFormatField } from './response-format-field.js';

export type Body = Record<string, unknown>;

export interface SamplingRequest {
  /** Everything but the signal, ready for model.generate(); responseFormat included. */
  options: GenerateOptions;
  /** tools, tool_choice and parallel_tool_calls (chat only), checked. */
  tools: ToolOptions;
  stream: boolean;
  /** stream_options.include_usage: a last chunk with the usage and no choices. */
  includeUsage: boolean;
  /** How many alternatives to report per token when logprobs were asked for (0: the chosen token only). */
  topLogprobs: number | undefined;
}

export interface SamplingLimits {
  /** The default when the request gives no max_tokens. */
  defaultMaxTokens: number;
  /** The largest max_tokens accepted. */
  maxTokensLimit: number;
  vocabSize: number;
}

/** A JSON object body, or a 400. */
export function requestBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(null, 'the request body must be a JSON object (send Content-Type: application/json)');
  }
  return body as Body;
}

/** The field, with JSON null read as absent (OpenAI's clients send null for "default"). */
export function field(body: Body, name: string): unknown {
  const value = body[name];
  return value === null ? undefined : value;
}

function refuseUnsupported(body: Body, kind: 'completion' | 'chat'): void {
  const n = field(body, 'n');
  if (n !== undefined && n !== 1) {
    throw badRequest('n', `n: only 1 choice per request is supported, received ${JSON.stringify(n)}; send several requests instead`, 'unsupported_value');
  }
  const logitBias = field(body, 'logit_bias');
  if (logitBias !== undefined && (typeof logitBias !== 'object' || Object.keys(logitBias as object).length > 0)) {
    throw badRequest('logit_bias', 'logit_bias: not supported by this server', 'unsupported_parameter');
  }
  if (kind === 'completion') {
    const bestOf = field(body, 'best_of');
    if (bestOf !== undefined && bestOf !== 1) {
      throw badRequest('best_of', `best_of: only 1 is supported, received ${JSON.stringify(bestOf)}`, 'unsupported_value');
    }
    if (field(body, 'echo') === true) throw badRequest('echo', 'echo: not supported by this server', 'unsupported_parameter');
    if (field(body, 'suffix') !== undefined) throw badRequest('suffix', 'suffix: not supported by this server', 'unsupported_parameter');
    return;
  }
  for (const name of ['functions', 'function_call']) {
    if (field(body, name) !== undefined) {
      throw badRequest(name, `${name}: the deprecated function-calling fields are not supported; use tools and tool_choice`, 'unsupported_parameter');
    }
  }
}

/** tools, tool_choice and parallel_tool_calls as chat() takes them, checked by the library's rules. */
function toolsRequest(body: Body, kind: 'completion' | 'chat'): ToolOptions {
  const tools: ToolOptions = {};
  for (const spec of optionsOf('chat')) {
    const value = field(body, spec.http as string);
    if (value === undefined) continue;
    if (kind === 'completion') {
      throw badRequest(spec.http as string, `${spec.http}: only /v1/chat/completions calls tools`, 'unsupported_parameter');
    }
    (tools as Record<string, unknown>)[spec.name] = value;
  }
  try {
    resolveTools(tools);
  } catch (error) {
    throw optionBadRequest(error);
  }
  return tools;
}

function booleanField(body: Body, name: string): boolean {
  const value = field(body, name) ?? false;
  if (typeof value !== 'boolean') throw badRequest(name, `${name}: expected a boolean, received ${JSON.stringify(value)}`);
  return value;
}

/** The fields both endpoints share, and logprobs in each one's form. */
export function samplingRequest(body: Body, kind: 'completion' | 'chat', limits: SamplingLimits): SamplingRequest {
  refuseUnsupported(body, kind);
  const stream = booleanField(body, 'stream');
  const streamOptions = field(body, 'stream_options');
  if (streamOptions !== undefined && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) {
    throw badRequest('stream_options', `stream_options: expected an object, received ${JSON.stringify(streamOptions)}`);
  }
  if (streamOptions !== undefined && !stream) {
    throw badRequest('stream_options', 'stream_options: only allowed when stream is true');
  }
  const includeUsage = streamOptions !== undefined && booleanField(streamOptions as Body, 'include_usage');

  const maxTokensField = kind === 'chat' && field(body, 'max_completion_tokens') !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const logprobsField = kind === 'chat' ? 'top_logprobs' : 'logprobs';
  // The request field each option came in: the table's, but for the two fields that differ by endpoint.
  const fieldOf = (option: string): string | undefined =>
    option === 'maxTokens' ? maxTokensField : option === 'logprobs' ? logprobsField : findOption(option)?.http;
  const options: GenerateOptions = { maxTokens: (field(body, maxTokensField) ?? limits.defaultMaxTokens) as number };
  for (const spec of optionsOf('generate')) {
    // These three are read below, each in its endpoint's or OpenAI's own shape.
    if (spec.http === undefined || spec.name === 'maxTokens' || spec.name === 'logprobs' || spec.name === 'responseFormat') continue;
    const value = field(body, spec.http);
    if (value !== undefined) (options as Record<string, unknown>)[spec.name] = value;
  }
  const responseFormat = responseFormatField(field(body, 'response_format'));
  if (responseFormat !== undefined) options.responseFormat = responseFormat;
  const topLogprobs = logprobsRequest(body, kind);
  // Our logprobs option reports the chosen token's log-probability only together with at least one
  // alternative; extra alternatives are cut from the response.
  if (topLogprobs !== undefined) options.logprobs = Math.max(1, topLogprobs);
  try {
    checkGenerateOptions(options, fieldOf, limits.vocabSize);
  } catch (error) {
    if (error instanceof OptionError) throw badRequest(error.option === null ? null : (fieldOf(error.option) ?? null), error.message);
    throw error;
  }
  if ((options.maxTokens as number) > limits.maxTokensLimit) {
    throw badRequest(
      maxTokensField,
      `${maxTokensField}: expected at most ${limits.maxTokensLimit} (this server's limit), received ${options.maxTokens}`,
    );
  }
  return { options, tools: toolsRequest(body, kind), stream, includeUsage, topLogprobs };
}

/** A count of alternatives per token in `name` (completions' logprobs, chat's top_logprobs), by the logprobs option's range. */
function alternativesField(body: Body, name: string): number | undefined {
  const value = field(body, name);
  if (value === undefined) return undefined;
  try {
    return resolveGenerateOptions({ logprobs: value }).sampling.logprobs;
  } catch (error) {
    throw error instanceof OptionError ? badRequest(name, error.renamed(name).message) : error;
  }
}

function logprobsRequest(body: Body, kind: 'completion' | 'chat'): number | undefined {
  if (kind === 'completion') return alternativesField(body, 'logprobs');
  const logprobs = field(body, 'logprobs');
  if (logprobs !== undefined && typeof logprobs !== 'boolean') {
    throw badRequest('logprobs', `logprobs: expected a boolean, received ${JSON.stringify(logprobs)}`);
  }
  const top = alternativesField(body, 'top_logprobs');
  if (top !== undefined && logprobs !== true) {
    throw badRequest('top_logprobs', 'top_logprobs: requires logprobs: true');
  }
  return logprobs === true ? ((top as number | undefined) ?? 0) : undefined;
}
