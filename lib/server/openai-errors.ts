/**
 * Errors in OpenAI's shape, `{ error: { message, type, param, code } }`, and the mapping of torch-gen's
 * typed errors (and fastify's) to an HTTP status and that body.
 */
import {
  ContextLengthError,
  DisposedError,
  GrammarUnavailableError,
  OptionError,
  OutOfMemoryError,
  QueueFullError,
  TorchGenError,
} from '../errors.js';
import { findOption } from '../option-table.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface HttpErrorDetails {
  type?: string;
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
}

/** An error the server answers with `status` and an OpenAI error body. */
export class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, details: HttpErrorDetails = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.type = details.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = details.param ?? null;
    this.code = details.code ?? null;
    this.headers = details.headers ?? {};
  }

  get body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 for a request field, named as the client sent it. */
export function badRequest(param: string | null, message: string, code: string | null = 'invalid_value'): HttpError {
  return new HttpError(400, message, { param, code });
}

/**
 * An OptionError about an option the request carries in a field (`toolChoice` in `tool_choice`) as a 400
 * naming that field; other errors pass through.
 */
export function optionBadRequest(error: unknown): unknown {
  if (!(error instanceof OptionError) || error.option === null) return error;
  const http = findOption(error.option)?.http;
  if (http === undefined) return error;
  // A label that already is the field's path (`tools[0].function.name`) stays.
  const named = http === error.option ? error : error.renamed(http);
  return badRequest(http, named.message);
}

export interface ErrorMappingOptions {
  /** The request field a ContextLengthError is about: 'prompt' or 'messages'. */
  promptParam?: string;
  /** Seconds for a 429's Retry-After header. */
  retryAfterSeconds?: number;
}

/** Maps anything thrown while serving a request to the HttpError the client gets. */
export function toHttpError(error: unknown, options: ErrorMappingOptions = {}): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ContextLengthError) {
    return badRequest(options.promptParam ?? null, error.message, 'context_length_exceeded');
  }
  const named = optionBadRequest(error);
  if (named instanceof HttpError) return named;
  if (error instanceof OptionError) return badRequest(options.promptParam ?? error.option, error.message);
  if (error instanceof GrammarUnavailableError) return badRequest(null, error.message, 'grammar_unavailable');
  if (error instanceof QueueFullError) {
    return new HttpError(429, error.message, {
      type: 'requests',
      code: 'rate_limit_exceeded',
      headers: { 'retry-after': String(options.retryAfterSeconds ?? 1) },
    });
  }
  if (error instanceof DisposedError) {
    return new HttpError(503, 'the model is being unloaded; the server is shutting down', { code: 'service_unavailable' });
  }
  if (error instanceof OutOfMemoryError) return new HttpError(503, error.message, { code: 'out_of_memory' });
  if (error instanceof TorchGenError) return new HttpError(500, error.message, { code: error.code.toLowerCase() });
  // fastify's own errors (bad JSON, body too large, wrong content type) carry a 4xx statusCode.
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = error instanceof Error ? error.message : String(error);
    return new HttpError(status, message, { code: status === 413 ? 'request_too_large' : null });
  }
  return new HttpError(500, 'internal server error; see the server log', { code: 'internal_error' });
}
