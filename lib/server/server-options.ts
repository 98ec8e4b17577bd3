/** The options of createServer(), their validation and defaults. */
import type { FastifyBaseLogger } from 'fastify';
import type { LoggerOptions } from 'pino';
import { OptionError } from '../errors.js';

export interface ServerOptions {
  /**
   * The bearer token clients must send on the `/v1` routes (`Authorization: Bearer KEY`); a missing or
   * wrong one gets 401. `/health` and `/metrics` stay open. Default: none, no authentication.
   * @example { apiKey: process.env.TORCH_GEN_API_KEY }
   */
  apiKey?: string;
  /** The largest request body in bytes, an integer in [1024, 2^30]; bigger bodies get 413. Default 1048576 (1 MiB). */
  maxBodyBytes?: number;
  /**
   * The most prompt tokens a request may bring (after the chat template), an integer >= 1; more get 400
   * (`context_length_exceeded`). A prompt that does not fit the model's context is refused anyway.
   * Default: no limit beyond the model's context.
   */
  maxPromptTokens?: number;
  /**
   * The largest `max_tokens` a request may ask for, an integer >= 1; more get 400. It is also the default
   * `max_tokens` of a chat completion that gives none (a completion's default is 16, as OpenAI's). Default:
   * the model's context (maxContext).
   */
  maxTokensLimit?: number;
  /**
   * Request logs: `false` (default) for none, `true` for fastify's pino logger on stdout, pino options, or a
   * pino logger. Each request logs one line: request id, route, status, model, token counts and timings.
   * @example { logger: { level: 'info' } }
   */
  logger?: boolean | LoggerOptions | FastifyBaseLogger;
  /** Also log each request's prompt (or messages) and generated text. Default false: never log them. */
  logPrompts?: boolean;
  /** Run one short generation per model before `/health` reports ready, so the first client is not slow. Default true. */
  warmUp?: boolean;
  /** Seconds a client is told to wait (the Retry-After header) after a 429 for a full queue, an integer >= 0. Default 1. */
  retryAfterSeconds?: number;
}

export interface ResolvedServerOptions {
  apiKey: string | undefined;
  maxBodyBytes: number;
  maxPromptTokens: number | undefined;
  maxTokensLimit: number | undefined;
  logger: boolean | LoggerOptions | FastifyBaseLogger;
  logPrompts: boolean;
  warmUp: boolean;
  retryAfterSeconds: number;
}

const KNOWN = ['apiKey', 'maxBodyBytes', 'maxPromptTokens', 'maxTokensLimit', 'logger', 'logPrompts', 'warmUp', 'retryAfterSeconds'];

function integer(raw: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = raw[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new OptionError(name, `expected an integer ${range}, received ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

function boolean(raw: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = raw[name] ?? fallback;
  if (typeof value !== 'boolean') throw new OptionError(name, `expected a boolean, received ${JSON.stringify(value)}`);
  return value;
}

export function resolveServerOptions(options: unknown): ResolvedServerOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new OptionError(null, `createServer options: expected an options object, received ${JSON.stringify(options)}`);
  }
  const raw = (options ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!KNOWN.includes(key)) {
      throw new OptionError(key, `unknown option \`${key}\`; known options are ${KNOWN.map((k) => `\`${k}\``).join(', ')}`, { label: 'createServer' });
    }
  }
  const apiKey = raw.apiKey;
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.length === 0)) {
    throw new OptionError('apiKey', `expected a non-empty string, received ${JSON.stringify(apiKey)}`);
  }
  const logger = raw.logger ?? false;
  if (typeof logger !== 'boolean' && (typeof logger !== 'object' || logger === null)) {
    throw new OptionError('logger', `expected a boolean, pino options or a pino logger, received ${JSON.stringify(logger)}`);
  }
  return {
    apiKey: apiKey as string | undefined,
    maxBodyBytes: integer(raw, 'maxBodyBytes', 1024, 2 ** 30) ?? 1024 * 1024,
    maxPromptTokens: integer(raw, 'maxPromptTokens', 1, Number.MAX_SAFE_INTEGER),
    maxTokensLimit: integer(raw, 'maxTokensLimit', 1, Number.MAX_SAFE_INTEGER),
    logger: logger as ResolvedServerOptions['logger'],
    logPrompts: boolean(raw, 'logPrompts', false),
    warmUp: boolean(raw, 'warmUp', true),
    retryAfterSeconds: integer(raw, 'retryAfterSeconds', 0, 86_400) ?? 1,
  };
}

/** A pino logger instance (as opposed to pino options): it can make child loggers. */
export function isLoggerInstance(logger: unknown): logger is FastifyBaseLogger {
  return typeof logger === 'object' && logger !== null && typeof (logger as { child?: unknown }).child === 'function';
}
