/** A loaded model: generation, chat, its tokenizer, its facts, and dispose(). */
import type { ChatMessage, ChatTemplate } from './chat-template.js';
import { planChat, type ChatPlan } from './tool-calls/chat-plan.js';
import { withToolCalls } from './tool-calls/tool-call-chunks.js';
import { assembleToolCalls, type ToolCallDelta } from './tool-calls/tool-call-reader.js';
import { isObject, resolveTools, type ToolCall, type ToolOptions } from './tool-calls/tools.js';
import { debug } from './debug.js';
import { ConstraintCompiler } from './constraints.js';
import { ContextLengthError, DisposedError, GrammarUnavailableError, OptionError, fromNativeError } from './errors.js';
import type { Manifest } from './manifest.js';
import type { NativeConstraint, NativeEvent, NativeModel, NativePrefixCacheStats } from './native.js';
import { resolveGenerateOptions, type Dtype, type GenerateOptions, type ResolvedGenerateOptions, type SamplingDefaults } from './options.js';
import type { RequestStream } from './request-stream.js';
import { Requests } from './requests.js';
import { StopStringMatcher } from './stop-strings.js';
import { IncrementalTextDecoder } from './text-decoder.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * Why a generation ended: `'stop'` at an end-of-sequence token, a stop token, a stop string, or the end of
 * the responseFormat; `'length'` at maxTokens or the end of the context; `'abort'` on a signal, a break, or
 * dispose().
 */
export type FinishReason = 'stop' | 'length' | 'abort';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface TokenAlternative {
  tokenId: number;
  /** The token's text (a byte-level token may be part of a character). */
  token: string;
  logprob: number;
}

/** A generated token's log-probability under the model, and the most likely alternatives. */
export interface TokenLogprob extends TokenAlternative {
  topLogprobs: TokenAlternative[];
}

/** One piece of a streamed generation. The last chunk has `finishReason` and `usage`. */
export interface GenerationChunk {
  /** New text; may be '' while a multi-token character or a possible stop string is incomplete. */
  text: string;
  /** The token ids generated since the previous chunk (an end-of-sequence token included). */
  tokenIds: number[];
  /** Per token id, when the `logprobs` option is set. */
  logprobs?: TokenLogprob[];
  finishReason?: FinishReason;
  usage?: Usage;
}

export interface Timings {
  /** From the call to the first generated token (queueing and prefill). */
  timeToFirstTokenMs: number;
  totalMs: number;
  /** Generated tokens per second after the first one. */
  tokensPerSecond: number;
}

/** The whole result of complete(). */
export interface Completion {
  text: string;
  tokenIds: number[];
  finishReason: FinishReason;
  usage: Usage;
  timings: Timings;
  logprobs?: TokenLogprob[];
}

/** Why a chat reply ended: a generation's reasons, or `'tool_calls'` when it ended with calls of tools. */
export type ChatFinishReason = FinishReason | 'tool_calls';

/** One piece of a streamed chat reply: a generation's chunk, with the reply's tool calls read out. */
export interface ChatChunk extends Omit<GenerationChunk, 'finishReason'> {
  /** Pieces of tool calls, as OpenAI streams them: per call, a first one with its id and name, then arguments. */
  toolCalls?: ToolCallDelta[];
  finishReason?: ChatFinishReason;
}

/** chat()'s and streamChat()'s options: generate()'s, and the tools the model may call. */
export interface ChatOptions extends GenerateOptions, ToolOptions {}

/** The whole result of chat(). */
export interface ChatCompletion extends Omit<Completion, 'finishReason'> {
  /** The reply's content: its text without the calls ('' when it only calls). */
  text: string;
  finishReason: ChatFinishReason;
  /** The calls the reply made, when it made any. */
  toolCalls?: ToolCall[];
  /** The reply as a message to append to the conversation. */
  message: { role: 'assistant'; content: string; tool_calls?: ToolCall[] };
}

/** @internal A chat request as chat() and the server run it: its prompt, its generate() options, its plan. */
export interface ChatRequest {
  promptIds: number[];
  options: GenerateOptions;
  plan: ChatPlan;
}

export interface ModelInfo {
  /** transformers' model_type of the exported model: 'llama', 'qwen3', 'gemma3_text'... */
  architecture: string;
  /** The family as people name it: 'Llama', 'Qwen3', 'Gemma 3', 'Phi-3'... */
  family: string;
  /** What distinguishes the model, in words: 'q/k RMSNorm', 'sliding-window attention (4096 tokens) on 13 of 26 layers'... */
  features: string[];
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
  /** End-of-sequence ids: the manifest's and generation_config.json's. */
  eosTokenIds: number[];
  /**
   * Parameter count (a tied embedding counts once). For an int8 model, the elements it stores: its tied
   * output projection's own int8 copy and two range columns per layer included.
   */
  parameters: number;
  /** CPU threads the model's forward passes use (the threads load option, as libtorch applied it). */
  threads: number;
  /**
   * Nodes of the module's forward graph as it runs (after optimizeGraph): the per-call work of the
   * TorchScript interpreter, which is most of a small model's decode step besides its matrix products.
   */
  graphNodes: number;
  /** How the graph was prepared at load: 'frozen, 121 oneDNN linear layers', 'frozen', or 'as exported (why)'. */
  graphOptimization: string;
  /** 'int8-dynamic' for a model exported with `--quantize int8`, else null. */
  quantization: 'int8-dynamic' | null;
  /** Whether the model has a chat template (chat() needs one). */
  hasChatTemplate: boolean;
  /** The model directory it was loaded from. */
  path: string;
}

/** The model's load, from stats(). */
export interface ModelStats {
  /** Requests holding a KV-cache slot: generating, or having their prompt prefilled. */
  activeRequests: number;
  /** Requests waiting for a slot. */
  queuedRequests: number;
  /** The KV-cache slots: requests that can be active at once. */
  maxBatch: number;
  /** Tokens generated since load, all requests together. */
  tokensGenerated: number;
  /** Prompt tokens prefilled since load. */
  promptTokens: number;
  /** Requests ended since load, for any reason. */
  requestsFinished: number;
  /** Bytes of the KV-cache pool (allocated once at load) on the model's device. */
  cacheBytes: number;
  /** Bytes of the weights (parameters and buffers) on the model's device. */
  weightBytes: number;
  /** The model's device memory torch-gen holds: weights plus cache (activations come and go per step). */
  memoryBytes: number;
  /**
   * GPU memory of the model's device as libtorch's allocator sees it, process-wide (every model on that
   * GPU): held by tensors now, the peak since the process started, and reserved from the driver. Zero on
   * the CPU.
   */
  deviceAllocatedBytes: number;
  devicePeakBytes: number;
  deviceReservedBytes: number;
  /** Decode-step CUDA graphs captured so far (see the cudaGraphs load option); 0 on the CPU. */
  cudaGraphsCaptured: number;
  /** On a CUDA device, why the decode step runs eagerly; null while CUDA graphs are on, and on the CPU. */
  cudaGraphsOff: string | null;
  /**
   * Decode steps since load whose input tokens were on the model's device already: every row of the step
   * before was greedy, its argmax was taken on the device (inside the CUDA graph on a GPU) and only the ids
   * came back to the host. 0 for a model that only samples.
   */
  deviceFedSteps: number;
  /** Automatic prefix caching (the prefixCacheMiB load option); null when it is off. */
  prefixCache: PrefixCacheStats | null;
}

/** What the prefix cache holds and has saved, from stats(). */
export interface PrefixCacheStats {
  /** Bytes of its block storage on the model's device (allocated at load; counted in memoryBytes). */
  bytes: number;
  /** Tokens it can hold: whole blocks of 16 tokens. */
  capacityTokens: number;
  /** Tokens whose keys and values it holds now. */
  cachedTokens: number;
  /** Requests that started from a cached prefix, since load. */
  hits: number;
  /** Prompt tokens those requests did not prefill, since load. */
  hitTokens: number;
  /** Blocks given up for newer ones (least recently used first), since load. */
  evictions: number;
}

/** Prompt text, or token ids to feed as they are. */
export type Prompt = string | readonly number[];

/** @internal What loadModel() knows of a model besides its native half. */
export interface ModelParts {
  tokenizer: Tokenizer;
  info: ModelInfo;
  samplingDefaults: SamplingDefaults;
  chatTemplate: ChatTemplate | undefined;
  /** runtimeInfo().grammarEngine: null when the addon was built without it. */
  grammarEngine: string | null;
}

let construct: (native: NativeModel, requests: Requests, parts: ModelParts) => Model;
// Proves a constructor call comes from openModel(): TypeScript's `private` does not bind JavaScript callers.
const constructing = Symbol('constructing');

/**
 * @internal loadModel()'s way to make a Model: `open` loads the native model with the event callback of
 * the Model's requests, and `describe` says what else the Model is, once the native model exists.
 */
export async function openModel(
  open: (onEvents: (events: NativeEvent[]) => void) => Promise<NativeModel>,
  describe: (native: NativeModel) => ModelParts,
): Promise<Model> {
  const requests = new Requests();
  const native = await open(requests.deliver);
  return construct(native, requests, describe(native));
}

export class Model {
  readonly tokenizer: Tokenizer;
  readonly info: Readonly<ModelInfo>;
  readonly #native: NativeModel;
  readonly #requests: Requests;
  readonly #samplingDefaults: SamplingDefaults;
  readonly #chatTemplate: ChatTemplate | undefined;
  readonly #grammarEngine: string | null;
  readonly #constraints: ConstraintCompiler;
  #disposePromise: Promise<void> | undefined;

  static {
    construct = (native, requests, parts) => new Model(constructing, native, requests, parts);
  }

  /** Use loadModel(). */
  private constructor(token: typeof constructing, native: NativeModel, requests: Requests, parts: ModelParts) {
    if (token !== constructing) throw new TypeError('a Model comes from loadModel(), not from its constructor');
    this.#native = native;
    this.#requests = requests;
    this.tokenizer = parts.tokenizer;
    this.#samplingDefaults = parts.samplingDefaults;
    this.#chatTemplate = parts.chatTemplate;
    this.#grammarEngine = parts.grammarEngine;
    this.#constraints = new ConstraintCompiler(native);
    this.info = Object.freeze({ ...parts.info, eosTokenIds: [...parts.info.eosTokenIds] });
  }

  /** True after dispose() was called. */
  get disposed(): boolean {
    return this.#disposePromise !== undefined;
  }

  /**
   * Streams the continuation of `prompt`. The request is checked and queued at this call: a refusal (an
   * option, a prompt that does not fit, a full queue, a disposed model) is thrown here, before any chunk.
   * Breaking out of the `for await` loop cancels the request.
   *
   * @example
   * for await (const chunk of model.generate('Once upon a time', { maxTokens: 32, temperature: 0.7, seed: 1 })) {
   *   process.stdout.write(chunk.text);
   * }
   */
  generate(prompt: Prompt, options: GenerateOptions = {}): AsyncGenerator<GenerationChunk, void, undefined> {
    const caller = new Error();
    if (this.disposed) throw new DisposedError();
    const resolved = resolveGenerateOptions(options, this.info.vocabSize, this.#samplingDefaults);
    const promptIds = this.#fitContext(this.#promptIds(prompt), resolved.maxTokens, resolved.truncate);
    if (resolved.responseFormat !== undefined && this.#grammarEngine === null) {
      throw new GrammarUnavailableError(
        'responseFormat needs the grammar engine (llguidance), which this build of the addon left out: it is ' +
          "built when Rust's `cargo` is on the PATH at build time. Install Rust (rustup), then run " +
          '`npm run build:native`; `runtimeInfo().grammarEngine` says whether the addon has it',
      );
    }
    if (resolved.signal?.aborted) return aborted(promptIds.length);
    if (resolved.responseFormat !== undefined) return this.#constrained(promptIds, resolved, caller);
    return this.#submit(promptIds, resolved, undefined, caller);
  }

  /**
   * A constrained request: its format is compiled (off the JavaScript thread, or found in the cache) before
   * it is queued, so its refusals, a format the engine cannot compile included, come from the first next().
   */
  async *#constrained(promptIds: number[], resolved: ResolvedGenerateOptions, caller: Error): AsyncGenerator<GenerationChunk, void, undefined> {
    let constraint: NativeConstraint;
    try {
      constraint = await this.#constraints.compile(resolved.responseFormat!);
    } catch (error) {
      throw fromNativeError(error, caller);
    }
    if (this.disposed) throw new DisposedError();
    if (resolved.signal?.aborted) {
      yield* aborted(promptIds.length);
      return;
    }
    yield* this.#submit(promptIds, resolved, constraint, caller);
  }

  #submit(
    promptIds: number[],
    resolved: ResolvedGenerateOptions,
    constraint: NativeConstraint | undefined,
    caller: Error,
  ): AsyncGenerator<GenerationChunk, void, undefined> {
    let requestId: number;
    const stopTokenIds = [...new Set([...this.info.eosTokenIds, ...resolved.stopTokenIds])];
    try {
      requestId = this.#native.generate({
        tokens: Int32Array.from(promptIds),
        maxTokens: resolved.maxTokens,
        stopTokenIds,
        sampling: resolved.sampling,
        ...(constraint === undefined ? {} : { constraint }),
      });
    } catch (error) {
      throw fromNativeError(error, caller);
    }
    debug('request %d: %d prompt tokens, %o', requestId, promptIds.length, resolved.sampling);
    const stream = this.#requests.open(requestId);
    const cancel = () => this.#native.cancel(requestId);
    resolved.signal?.addEventListener('abort', cancel, { once: true });
    const chunks = this.#chunks(stream, promptIds, new Set(stopTokenIds), resolved, cancel, caller);
    // return() before the first next() skips the generator's body and so its finally: cancel here too.
    const end = chunks.return.bind(chunks);
    chunks.return = (value) => {
      resolved.signal?.removeEventListener('abort', cancel);
      if (!stream.finished) cancel();
      return end(value);
    };
    return chunks;
  }

  async *#chunks(
    stream: RequestStream,
    promptIds: number[],
    stopTokenIds: ReadonlySet<number>,
    resolved: ResolvedGenerateOptions,
    cancel: () => void,
    caller: Error,
  ): AsyncGenerator<GenerationChunk, void, undefined> {
    const decoder = new IncrementalTextDecoder(this.tokenizer, promptIds);
    const stopStrings = new StopStringMatcher(resolved.stop);
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
        let finishReason: FinishReason | undefined = last.finishReason;
        // The engine ends with 'stop' at a stop token, which ends the text without being part of it, or after
        // the token that completes a responseFormat, which is text.
        const endsAtStopToken = finishReason === 'stop' && stopTokenIds.has(tokenIds[tokenIds.length - 1] as number);
        const textIds = endsAtStopToken ? tokenIds.slice(0, -1) : tokenIds;
        let decoded = decoder.push(textIds);
        if (finishReason !== undefined) decoded += decoder.flush();
        const matched = stopStrings.push(decoded);
        let text = matched.text;
        if (matched.stopped) {
          finishReason = 'stop';
        } else if (finishReason !== undefined) {
          text += stopStrings.flush();
        }
        const chunk: GenerationChunk = { text, tokenIds };
        if (resolved.sampling.logprobs > 0) chunk.logprobs = this.#logprobs(events);
        if (finishReason === undefined) {
          yield chunk;
          continue;
        }
        chunk.finishReason = finishReason;
        chunk.usage = usage(promptIds.length, completionTokens);
        yield chunk;
        return;
      }
    } finally {
      resolved.signal?.removeEventListener('abort', cancel);
      // Reached without a final event after a stop string, a break or a throw: end the request. The stream
      // stays registered until its final (abort) event arrives and the addon forgets it.
      if (!stream.finished) cancel();
    }
  }

  /** Generates to the end and returns the whole text, with usage and timings. */
  async complete(prompt: Prompt, options: GenerateOptions = {}): Promise<Completion> {
    const { toolCalls: _none, ...completion } = await this.#collect(this.generate(prompt, options));
    // generate()'s chunks end with a generation's finish reasons only.
    return completion as Completion;
  }

  /**
   * Streams the assistant's reply to `messages`, rendered with the model's chat template. With `tools`, the
   * reply's calls come in the chunks' `toolCalls` (not in `text`), and the last chunk says 'tool_calls'.
   * @example
   * for await (const chunk of model.streamChat([{ role: 'user', content: 'Hi' }])) process.stdout.write(chunk.text);
   */
  streamChat(messages: readonly ChatMessage[], options: ChatOptions = {}): AsyncGenerator<ChatChunk, void, undefined> {
    const request = this.chatRequest(messages, options);
    return withToolCalls(this.generate(request.promptIds, request.options), request.plan);
  }

  /**
   * The assistant's whole reply to `messages`. With `tools`, `toolCalls` holds the calls it made; answer
   * them with `{ role: 'tool', tool_call_id, content }` messages after the reply's `message`.
   * @example
   * const reply = await model.chat(messages, { tools, toolChoice: { type: 'function', function: { name: 'get_weather' } } });
   * JSON.parse(reply.toolCalls[0].function.arguments);   // { city: 'Paris' }
   */
  async chat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatCompletion> {
    const { toolCalls, ...completion } = await this.#collect(this.streamChat(messages, options));
    if (toolCalls.length === 0) return { ...completion, message: { role: 'assistant', content: completion.text } };
    return { ...completion, toolCalls, message: { role: 'assistant', content: completion.text, tool_calls: toolCalls } };
  }

  /** The token ids of `messages` rendered with the chat template (and `tools`), ready for generate(). */
  chatPromptIds(messages: readonly ChatMessage[], options: ToolOptions = {}): number[] {
    return this.chatRequest(messages, options).promptIds;
  }

  /**
   * @internal The prompt, generate() options and tool-call plan of a chat request; the server runs it in
   * pieces (its own generate() call, then withToolCalls()).
   */
  chatRequest(messages: readonly ChatMessage[], options: ChatOptions = {}): ChatRequest {
    if (this.disposed) throw new DisposedError();
    if (!this.#chatTemplate) {
      throw new OptionError(null, `this model has no chat template (${this.info.path}/tokenizer_config.json); use generate() with a plain prompt`);
    }
    // A non-object is left for generate()'s check, which names it.
    const { tools, toolChoice, parallelToolCalls, ...rest } = isObject(options) ? options : ({} as ChatOptions);
    const generateOptions = isObject(options) ? rest : options;
    const plan = planChat(this.#chatTemplate, messages, resolveTools({ tools, toolChoice, parallelToolCalls }));
    if (plan.responseFormat !== undefined && (rest.responseFormat ?? undefined) !== undefined) {
      throw new OptionError('responseFormat', "cannot be combined with toolChoice 'required' or a named function, which constrain the reply to a call themselves");
    }
    // The template writes the special tokens itself (as transformers' apply_chat_template does), so the
    // tokenizer must not add its own.
    const promptIds = this.tokenizer.encode(plan.prompt, { addSpecialTokens: false });
    const withFormat = plan.responseFormat === undefined ? generateOptions : { ...generateOptions, responseFormat: plan.responseFormat };
    return { promptIds, options: withFormat, plan };
  }

  /** The model's current load: requests, slots, tokens generated, cache memory. Throws DisposedError after dispose(). */
  stats(): ModelStats {
    if (this.disposed) throw new DisposedError();
    const native = this.#native.stats();
    return {
      activeRequests: native.active,
      queuedRequests: native.queued,
      maxBatch: this.info.maxBatch,
      tokensGenerated: native.tokensGenerated,
      promptTokens: native.promptTokens,
      requestsFinished: native.requestsFinished,
      cacheBytes: native.cacheBytes,
      weightBytes: native.weightBytes,
      memoryBytes: native.weightBytes + native.cacheBytes + native.prefixCache.bytes,
      deviceAllocatedBytes: native.deviceAllocatedBytes,
      devicePeakBytes: native.devicePeakBytes,
      deviceReservedBytes: native.deviceReservedBytes,
      cudaGraphsCaptured: native.cudaGraphsCaptured,
      cudaGraphsOff: native.cudaGraphsOff ?? null,
      deviceFedSteps: native.deviceFedSteps,
      prefixCache: prefixCacheStats(native.prefixCache),
    };
  }

  /** Stops the engine: requests in flight end with finish reason 'abort'; then frees the model's memory. */
  dispose(): Promise<void> {
    this.#disposePromise ??= this.#native.dispose().then(() => {
      this.#requests.abortAll();
      debug('model %s disposed', this.info.path);
    });
    return this.#disposePromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  async #collect(stream: AsyncGenerator<ChatChunk, void, undefined>): Promise<Omit<ChatCompletion, 'message'> & { toolCalls: ToolCall[] }> {
    const start = performance.now();
    let firstToken: number | undefined;
    let text = '';
    const tokenIds: number[] = [];
    const logprobs: TokenLogprob[] = [];
    const deltas: ToolCallDelta[] = [];
    let last: ChatChunk | undefined;
    for await (const chunk of stream) {
      if (firstToken === undefined && chunk.tokenIds.length > 0) firstToken = performance.now();
      text += chunk.text;
      tokenIds.push(...chunk.tokenIds);
      if (chunk.logprobs) logprobs.push(...chunk.logprobs);
      if (chunk.toolCalls) deltas.push(...chunk.toolCalls);
      last = chunk;
    }
    const end = performance.now();
    const ttft = (firstToken ?? end) - start;
    const after = end - (firstToken ?? end);
    const completion: Omit<ChatCompletion, 'message'> & { toolCalls: ToolCall[] } = {
      text,
      toolCalls: assembleToolCalls(deltas),
      tokenIds,
      finishReason: last?.finishReason ?? 'abort',
      usage: last?.usage ?? usage(0, tokenIds.length),
      timings: {
        timeToFirstTokenMs: ttft,
        totalMs: end - start,
        tokensPerSecond: tokenIds.length > 1 && after > 0 ? ((tokenIds.length - 1) * 1000) / after : 0,
      },
    };
    if (logprobs.length > 0) completion.logprobs = logprobs;
    return completion;
  }

  #logprobs(events: NativeEvent[]): TokenLogprob[] {
    const token = (id: number) => this.tokenizer.decode([id]);
    return events.flatMap((event) =>
      (event.logprobs ?? []).map((entry, i) => ({
        tokenId: event.tokenIds[i] as number,
        token: token(event.tokenIds[i] as number),
        logprob: entry.logprob,
        topLogprobs: entry.top.map((alt) => ({ tokenId: alt.tokenId, token: token(alt.tokenId), logprob: alt.logprob })),
      })),
    );
  }

  #promptIds(prompt: Prompt): number[] {
    let ids: number[];
    if (typeof prompt === 'string') {
      ids = this.tokenizer.encode(prompt);
    } else if (Array.isArray(prompt)) {
      ids = prompt.map((id, index) => {
        if (!Number.isInteger(id) || id < 0 || id >= this.info.vocabSize) {
          throw new OptionError('prompt', `expected a token id in [0, ${this.info.vocabSize}), received ${String(id)}`, { label: `prompt[${index}]` });
        }
        return id;
      });
    } else {
      throw new OptionError('prompt', `expected a string or an array of token ids, received ${typeof prompt}`);
    }
    if (ids.length === 0) {
      if (this.info.bosTokenId === null) {
        throw new OptionError('prompt', 'expected a non-empty prompt (this model has no BOS token to start from)');
      }
      ids = [this.info.bosTokenId];
    }
    return ids;
  }

  // Generation ends at the context's end ('length'); only a prompt that leaves no room at all is an error,
  // unless the caller asked for truncation.
  #fitContext(ids: number[], maxTokens: number, truncate: boolean): number[] {
    const context = this.info.maxContext;
    if (truncate && ids.length + maxTokens > context) {
      const keep = Math.max(Math.floor(context / 2), context - maxTokens);
      return ids.length > keep ? ids.slice(ids.length - keep) : ids;
    }
    if (ids.length >= context) {
      throw new ContextLengthError(
        `the prompt has ${ids.length} tokens but the model's context holds ${context}, ` +
          'including at least one generated token; shorten the prompt, or pass truncate: true',
      );
    }
    return ids;
  }
}

function usage(promptTokens: number, completionTokens: number): Usage {
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** The stream of a request whose signal was aborted before it was queued. */
async function* aborted(promptTokens: number): AsyncGenerator<GenerationChunk, void, undefined> {
  yield { text: '', tokenIds: [], finishReason: 'abort', usage: usage(promptTokens, 0) };
}

function prefixCacheStats(native: NativePrefixCacheStats): PrefixCacheStats | null {
  if (native.capacityBlocks === 0) return null;
  return {
    bytes: native.bytes,
    capacityTokens: native.capacityBlocks * native.blockTokens,
    cachedTokens: native.cachedTokens,
    hits: native.hits,
    hitTokens: native.hitTokens,
    evictions: native.evictions,
  };
}
