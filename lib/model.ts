/** A loaded model: generation, its tokenizer, its facts, and dispose(). */
import { debug } from './debug.js';
import { ContextLengthError, DisposedError, OptionError, fromNativeError } from './errors.js';
import type { Manifest } from './manifest.js';
import type { NativeEvent, NativeModel } from './native.js';
import { resolveGenerateOptions, type Dtype, type GenerateOptions } from './options.js';
import { RequestStream } from './request-stream.js';
import { IncrementalTextDecoder } from './text-decoder.js';
import type { Tokenizer } from './tokenizer.js';

/** Why a generation ended: an end-of-sequence token, the token limit or context end, or cancellation. */
export type FinishReason = 'stop' | 'length' | 'abort';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** One piece of a streamed generation. The last chunk has `finishReason` and `usage`. */
export interface GenerationChunk {
  /** New text; may be '' while a multi-token character is incomplete. Never a broken character. */
  text: string;
  /** The token ids generated since the previous chunk (the end-of-sequence token included). */
  tokenIds: number[];
  finishReason?: FinishReason;
  usage?: Usage;
}

export interface ModelInfo {
  architecture: string;
  interface: Manifest['interface'];
  vocabSize: number;
  /** Tokens per request (prompt plus generated), as loaded (the maxContext option). */
  maxContext: number;
  /** Requests decoded together (the maxBatch option; 1 for `logits` models). */
  maxBatch: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  device: string;
  dtype: Dtype;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** The model directory it was loaded from. */
  path: string;
}

/** Prompt text, or token ids to feed as they are. */
export type Prompt = string | readonly number[];

export class Model {
  readonly tokenizer: Tokenizer;
  readonly info: Readonly<ModelInfo>;
  readonly #native: NativeModel;
  readonly #streams: Map<number, RequestStream>;
  #disposePromise: Promise<void> | undefined;

  /** @internal Use loadModel(). */
  constructor(native: NativeModel, streams: Map<number, RequestStream>, tokenizer: Tokenizer, info: ModelInfo) {
    this.#native = native;
    this.#streams = streams;
    this.tokenizer = tokenizer;
    this.info = Object.freeze({ ...info, eosTokenIds: [...info.eosTokenIds] });
  }

  /** True after dispose() was called. */
  get disposed(): boolean {
    return this.#disposePromise !== undefined;
  }

  /**
   * Streams the continuation of `prompt`. Breaking out of the `for await` loop cancels the request.
   *
   * @example
   * for await (const chunk of model.generate('Once upon a time', { maxTokens: 32 })) {
   *   process.stdout.write(chunk.text);
   * }
   */
  async *generate(prompt: Prompt, options: GenerateOptions = {}): AsyncGenerator<GenerationChunk, void, undefined> {
    const caller = new Error();
    if (this.disposed) throw new DisposedError();
    const { maxTokens, signal } = resolveGenerateOptions(options);
    const promptIds = this.#promptIds(prompt);
    if (signal?.aborted) {
      yield { text: '', tokenIds: [], finishReason: 'abort', usage: usage(promptIds.length, 0) };
      return;
    }

    let requestId: number;
    try {
      requestId = this.#native.generate({
        tokens: Int32Array.from(promptIds),
        maxTokens,
        stopTokenIds: this.info.eosTokenIds,
      });
    } catch (error) {
      throw fromNativeError(error, caller);
    }
    const stream = new RequestStream();
    this.#streams.set(requestId, stream);
    const cancel = () => this.#native.cancel(requestId);
    signal?.addEventListener('abort', cancel, { once: true });
    debug('request %d: %d prompt tokens, maxTokens %d', requestId, promptIds.length, maxTokens);

    const decoder = new IncrementalTextDecoder(this.tokenizer, promptIds);
    const stopIds = new Set(this.info.eosTokenIds);
    let completionTokens = 0;
    try {
      while (true) {
        const events = await stream.take();
        const tokenIds = events.flatMap((event) => event.tokenIds);
        completionTokens += tokenIds.length;
        const last = events[events.length - 1] as NativeEvent;
        if (last.finishReason === 'error') {
          throw fromNativeError(Object.assign(new Error(last.errorMessage ?? 'generation failed'), { code: last.errorCode }), caller);
        }
        const finishReason = last.finishReason === '' ? undefined : last.finishReason;
        // The end-of-sequence token ends the text; it is not part of it.
        const textIds =
          finishReason === 'stop' && tokenIds.length > 0 && stopIds.has(tokenIds[tokenIds.length - 1] as number)
            ? tokenIds.slice(0, -1)
            : tokenIds;
        let text = decoder.push(textIds);
        if (finishReason === undefined) {
          yield { text, tokenIds };
          continue;
        }
        text += decoder.flush();
        yield { text, tokenIds, finishReason, usage: usage(promptIds.length, completionTokens) };
        return;
      }
    } finally {
      signal?.removeEventListener('abort', cancel);
      // Reached without a final event when the caller broke out of the loop or threw: stop the request.
      // The stream stays registered until its final (abort) event arrives and the addon forgets it.
      if (!stream.finished) cancel();
    }
  }

  /** Stops the engine: requests in flight end with finish reason 'abort'; then frees the model's memory. */
  dispose(): Promise<void> {
    this.#disposePromise ??= this.#native.dispose().then(() => {
      // The addon delivers every final event before dispose() resolves; this is only a safety net.
      for (const [id, stream] of this.#streams) {
        stream.push({ requestId: id, tokenIds: [], finishReason: 'abort' });
      }
      this.#streams.clear();
      debug('model %s disposed', this.info.path);
    });
    return this.#disposePromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  #promptIds(prompt: Prompt): number[] {
    let ids: number[];
    if (typeof prompt === 'string') {
      ids = this.tokenizer.encode(prompt);
    } else if (Array.isArray(prompt)) {
      ids = prompt.map((id, index) => {
        if (!Number.isInteger(id) || id < 0 || id >= this.info.vocabSize) {
          throw new OptionError(`prompt[${index}]: expected a token id in [0, ${this.info.vocabSize}), received ${String(id)}`);
        }
        return id;
      });
    } else {
      throw new OptionError(`prompt: expected a string or an array of token ids, received ${typeof prompt}`);
    }
    if (ids.length === 0) {
      if (this.info.bosTokenId === null) {
        throw new OptionError('prompt: expected a non-empty prompt (this model has no BOS token to start from)');
      }
      ids = [this.info.bosTokenId];
    }
    if (ids.length >= this.info.maxContext) {
      throw new ContextLengthError(
        `the prompt has ${ids.length} tokens but the model's context holds ${this.info.maxContext}, ` +
          'including at least one generated token; shorten the prompt',
      );
    }
    return ids;
  }
}

function usage(promptTokens: number, completionTokens: number): Usage {
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** Routes each batch of native events to the streams of their requests. */
export function dispatchEvents(streams: Map<number, RequestStream>, events: NativeEvent[]): void {
  for (const event of events) {
    const stream = streams.get(event.requestId);
    if (!stream) continue;
    stream.push(event);
    if (event.finishReason !== '') streams.delete(event.requestId);
  }
}
