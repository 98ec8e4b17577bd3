/**
 * Every error torch-gen throws is a {@link TorchGenError} with a stable `code`, and its message says
 * what to do about it.
 */

export type ErrorCode =
  | 'ERR_MODEL_LOAD'
  | 'ERR_DEVICE'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_INVALID_OPTION'
  | 'ERR_CONTEXT_LENGTH'
  | 'ERR_DISPOSED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_GENERATION'
  | 'ERR_NATIVE_BINDING'
  | 'ERR_GRAMMAR_UNAVAILABLE';

/** The base class of torch-gen's errors. */
export class TorchGenError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The model directory, its files or its manifest cannot be used. Fix or re-export the model. */
export class ModelLoadError extends TorchGenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MODEL_LOAD', message, options);
  }
}

/** The requested device does not exist or cannot be used. */
export class DeviceError extends TorchGenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DEVICE', message, options);
  }
}

/** The device ran out of memory. */
export class OutOfMemoryError extends TorchGenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_OUT_OF_MEMORY', message, options);
  }
}

/**
 * An option or argument has the wrong type or is out of range. The message starts with its name;
 * `option` holds the name as data.
 */
export class OptionError extends TorchGenError {
  /**
   * The option or argument the error is about, as the library names it (`topP`, `maxBatch`, `prompt`,
   * `messages`), also when the message names it as a caller spells it (`--top-p`, `top_p`); null when the
   * error is about no single one.
   */
  readonly option: string | null;
  /** The message without the leading name: what was expected and what was received. */
  readonly problem: string;

  /**
   * The message is `<label or option>: <problem>` (just the problem when both are null). `label` names
   * the option as the caller spelled it, or the call for an error about an unknown option
   * (`loadModel: unknown option ...`).
   */
  constructor(option: string | null, problem: string, options?: { cause?: unknown; label?: string }) {
    const label = options?.label ?? option;
    super('ERR_INVALID_OPTION', label === null ? problem : `${label}: ${problem}`, options);
    this.option = option;
    this.problem = problem;
  }

  /** The same error, naming the option as the caller spells it: `--top-p`, `top_p`. */
  renamed(label: string): OptionError {
    return new OptionError(this.option, this.problem, { cause: this, label });
  }
}

/**
 * The `responseFormat` option holds a schema, pattern or grammar that the grammar engine cannot compile
 * (an unsupported keyword, a bad regular expression, a grammar syntax error). `path` is the JSON pointer of
 * the part of the schema the engine refused (`/properties/age`; '' for the whole schema, or for a pattern or
 * grammar), and `engineMessage` the engine's own words.
 */
export class ResponseFormatError extends OptionError {
  readonly path: string;
  readonly engineMessage: string;

  constructor(problem: string, path: string, engineMessage: string, options?: { cause?: unknown; label?: string }) {
    super('responseFormat', problem, options);
    this.path = path;
    this.engineMessage = engineMessage;
  }

  /** The same error, naming the option as the caller spells it (`response_format`), path kept. */
  override renamed(label: string): ResponseFormatError {
    return new ResponseFormatError(this.problem, this.path, this.engineMessage, { cause: this, label });
  }
}

/**
 * A constrained request (`responseFormat`) on an addon built without the grammar engine: it is built only
 * where Rust's `cargo` was found at build time. Install Rust and rebuild the addon.
 */
export class GrammarUnavailableError extends TorchGenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_GRAMMAR_UNAVAILABLE', message, options);
  }
}

/** The prompt does not fit in the model's context. */
export class ContextLengthError extends TorchGenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTEXT_LENGTH', message, options);
  }
}

/** The model (or another resource) was used after `dispose()`. */
export class DisposedError extends TorchGenError {
  constructor(what = 'model') {
    super('ERR_DISPOSED', `this ${what} has been disposed; load it again to use it`);
  }
}

/** The model's queue of waiting requests is full (the maxQueue option); retry later. */
export class QueueFullError extends TorchGenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_QUEUE_FULL', message, options);
  }
}

/** A forward pass or sampling step failed inside the engine; other requests are not affected. */
export class GenerationError extends TorchGenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_GENERATION', message, options);
  }
}

/** The native addon could not be loaded (not built, or libtorch not found). */
export class NativeBindingError extends TorchGenError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NATIVE_BINDING', message, options);
  }
}

/**
 * Converts an error thrown or rejected by the addon (an Error with a native `code`) to a typed error.
 * `caller` is an Error created before the asynchronous call, so the stack shows the user's code rather
 * than an empty native frame.
 */
export function fromNativeError(error: unknown, caller?: Error): TorchGenError {
  if (error instanceof TorchGenError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  let typed: TorchGenError;
  switch (code) {
    case 'ERR_MODEL_LOAD':
      typed = new ModelLoadError(message, { cause: error });
      break;
    case 'ERR_DEVICE':
      typed = new DeviceError(message, { cause: error });
      break;
    case 'ERR_OUT_OF_MEMORY':
      typed = new OutOfMemoryError(message, { cause: error });
      break;
    case 'ERR_DISPOSED':
      typed = new DisposedError();
      break;
    case 'ERR_QUEUE_FULL':
      typed = new QueueFullError(message, { cause: error });
      break;
    case 'ERR_CONTEXT_LENGTH':
      typed = new ContextLengthError(message, { cause: error });
      break;
    case 'ERR_GRAMMAR_UNAVAILABLE':
      typed = new GrammarUnavailableError(message, { cause: error });
      break;
    case 'ERR_INVALID_ARGUMENT':
      typed = new OptionError(null, message, { cause: error });
      break;
    default:
      typed = new GenerationError(message, { cause: error });
  }
  if (caller?.stack) typed.stack = `${typed.name}: ${typed.message}\n${caller.stack.split('\n').slice(1).join('\n')}`;
  return typed;
}
