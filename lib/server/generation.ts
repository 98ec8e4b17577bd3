/**
 * One request's generation on a served model: cancelled when the client goes away or the server's drain
 * deadline passes, tracked for draining, timed (time to first token), counted for logs and metrics.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ChatChunk, ChatFinishReason, TokenLogprob, Usage } from '../model.js';
import type { GenerateOptions } from '../options.js';
import type { ChatPlan } from '../tool-calls/chat-plan.js';
import { withToolCalls } from '../tool-calls/tool-call-chunks.js';
import { assembleToolCalls, type ToolCallDelta } from '../tool-calls/tool-call-reader.js';
import type { ToolCall } from '../tool-calls/tools.js';
import type { ServerContext } from './context.js';
import type { AbortCause } from './lifecycle.js';
import { HttpError, toHttpError } from './openai-errors.js';
import { recordOf } from './request-log.js';
import type { ServedModel } from './served-models.js';

export interface GenerationRequest {
  served: ServedModel;
  promptIds: number[];
  options: GenerateOptions;
  /** The request field a prompt error is about: 'prompt' or 'messages'. */
  promptParam: 'prompt' | 'messages';
  /** A chat request's plan: its tool calls are read out of the reply. */
  plan?: ChatPlan;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface CollectedGeneration {
  text: string;
  toolCalls: ToolCall[];
  finishReason: ChatFinishReason;
  usage: Usage;
  logprobs: TokenLogprob[] | undefined;
}

export class Generation {
  readonly #iterator: AsyncGenerator<ChatChunk, void, undefined>;
  // The first chunk, when ready() waited for it.
  #first: Promise<IteratorResult<ChatChunk, void>> | undefined;
  readonly #controller: AbortController;
  readonly #req: GenerationRequest;
  readonly #context: ServerContext;
  readonly #start: number;
  #markEnded: () => void = () => {};

  private constructor(
    req: GenerationRequest,
    context: ServerContext,
    iterator: AsyncGenerator<ChatChunk, void, undefined>,
    controller: AbortController,
    start: number,
  ) {
    this.#start = start;
    recordOf(req.request).ended = new Promise((resolve) => (this.#markEnded = resolve));
    this.#req = req;
    this.#context = context;
    this.#iterator = iterator;
    this.#controller = controller;
  }

  /**
   * Starts the generation. What generate() refuses at its call (options, a prompt longer than the
   * context, a full queue) is thrown here as an HttpError, before any byte of a response is sent.
   */
  static start(req: GenerationRequest, context: ServerContext): Generation {
    const start = performance.now();
    const { request, reply, served } = req;
    const record = recordOf(request);
    record.promptTokens = req.promptIds.length;
    const maxPrompt = context.options.maxPromptTokens;
    if (maxPrompt !== undefined && req.promptIds.length > maxPrompt) {
      throw new HttpError(
        400,
        `${req.promptParam}: ${req.promptIds.length} tokens, more than this server's limit of ${maxPrompt} prompt tokens; shorten it`,
        { param: req.promptParam, code: 'context_length_exceeded' },
      );
    }
    const controller = new AbortController();
    // The request counts as in flight until its response is closed (the last byte sent, or the client
    // gone), so that draining never cuts a response short.
    const untrack = context.lifecycle.track(controller);
    const onClose = () => {
      if (!reply.raw.writableFinished) controller.abort('client-closed' satisfies AbortCause);
      untrack();
    };
    // A client that left while the body was read: the generation ends at once, with 'abort'.
    if (reply.raw.destroyed) onClose();
    else reply.raw.once('close', onClose);
    try {
      const chunks = served.model.generate(req.promptIds, { ...req.options, signal: controller.signal });
      const iterator = req.plan ? withToolCalls(chunks, req.plan) : chunks;
      return new Generation(req, context, iterator, controller, start);
    } catch (error) {
      untrack();
      reply.raw.off('close', onClose);
      throw toHttpError(error, { promptParam: req.promptParam, retryAfterSeconds: context.options.retryAfterSeconds });
    }
  }

  /** Who ended the request early, if anyone. */
  get abortCause(): AbortCause | undefined {
    return this.#controller.signal.aborted ? (this.#controller.signal.reason as AbortCause) : undefined;
  }

  /**
   * Waits for the first chunk of a constrained request (a responseFormat, or tools that constrain): its
   * format is compiled then, and a refusal (a schema the grammar engine cannot compile) must be a 400, not
   * an event in a stream already answered 200. Free requests skip it, so their headers go at once.
   */
  async ready(): Promise<void> {
    if (this.#req.options.responseFormat === undefined) return;
    this.#first = this.#iterator.next();
    try {
      await this.#first;
    } catch (error) {
      // chunks() will not run: the request's log line need not wait for it.
      this.#markEnded();
      throw toHttpError(error, { promptParam: this.#req.promptParam });
    }
  }

  /** The generation's chunks; the last one has finishReason and usage. Iterate once. */
  async *chunks(): AsyncGenerator<ChatChunk, void, undefined> {
    const { served, request } = this.#req;
    const record = recordOf(request);
    record.completionTokens = 0;
    let output = '';
    try {
      let next = await (this.#first ?? this.#iterator.next());
      while (!next.done) {
        const chunk = next.value;
        if (record.timeToFirstTokenMs === undefined && chunk.tokenIds.length > 0) {
          record.timeToFirstTokenMs = performance.now() - this.#start;
          this.#context.metrics.firstToken(served.name, record.timeToFirstTokenMs / 1000);
        }
        record.completionTokens += chunk.tokenIds.length;
        if (this.#context.options.logPrompts) output += chunk.text;
        if (chunk.finishReason) {
          record.finishReason = chunk.finishReason;
          if (chunk.usage) record.completionTokens = chunk.usage.completionTokens;
        }
        yield chunk;
        next = await this.#iterator.next();
      }
    } finally {
      // Left before the last chunk (the client went away, or an error): the request was cut short.
      record.finishReason ??= 'abort';
      if (this.#context.options.logPrompts) record.output = output;
      this.#context.metrics.generationFinished(served.name, record.promptTokens ?? 0, record.completionTokens);
      // Reached early (the client went away, or an error): cancels the request and frees its slot.
      try {
        await this.#iterator.return(undefined);
      } finally {
        this.#markEnded();
      }
    }
  }

  /** Runs the generation to its end. */
  async collect(): Promise<CollectedGeneration> {
    let text = '';
    const logprobs: TokenLogprob[] = [];
    const deltas: ToolCallDelta[] = [];
    let last: ChatChunk | undefined;
    for await (const chunk of this.chunks()) {
      text += chunk.text;
      if (chunk.toolCalls) deltas.push(...chunk.toolCalls);
      if (chunk.logprobs) logprobs.push(...chunk.logprobs);
      last = chunk;
    }
    const completionTokens = recordOf(this.#req.request).completionTokens ?? 0;
    return {
      text,
      toolCalls: assembleToolCalls(deltas),
      finishReason: last?.finishReason ?? 'abort',
      usage: last?.usage ?? { promptTokens: this.#req.promptIds.length, completionTokens, totalTokens: this.#req.promptIds.length + completionTokens },
      logprobs: logprobs.length > 0 ? logprobs : undefined,
    };
  }
}
