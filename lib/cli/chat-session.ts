/**
 * A conversation with a model: keeps the turns, streams each reply, and drops the oldest turns when the
 * conversation and the next reply would outgrow the context.
 */
import type { ChatMessage } from '../chat-template.js';
import type { FinishReason, Model, Usage } from '../model.js';
import { DEFAULT_MAX_TOKENS, type GenerateOptions } from '../options.js';

export interface ReplySummary {
  text: string;
  finishReason: FinishReason;
  usage: Usage | undefined;
  /** Generated tokens per second after the first one. */
  tokensPerSecond: number;
}

export class ChatSession {
  readonly #model: Model;
  readonly #system: ChatMessage[];
  #turns: ChatMessage[] = [];

  constructor(model: Model, system?: string) {
    this.#model = model;
    this.#system = system ? [{ role: 'system', content: system }] : [];
  }

  /** Messages kept so far (system message included). */
  get messages(): readonly ChatMessage[] {
    return [...this.#system, ...this.#turns];
  }

  reset(): void {
    this.#turns = [];
  }

  /** Streams the reply to `userText` through `write`; an aborted reply keeps what was written of it. */
  async reply(userText: string, options: GenerateOptions, write: (text: string) => void): Promise<ReplySummary> {
    const turns: ChatMessage[] = [...this.#turns, { role: 'user', content: userText }];
    const promptIds = this.#fit(turns, options.maxTokens ?? DEFAULT_MAX_TOKENS);
    let text = '';
    let finishReason: FinishReason = 'abort';
    let usage: Usage | undefined;
    let tokens = 0;
    let firstTokenAt: number | undefined;
    for await (const chunk of this.#model.generate(promptIds, options)) {
      if (firstTokenAt === undefined && chunk.tokenIds.length > 0) firstTokenAt = performance.now();
      tokens += chunk.tokenIds.length;
      write(chunk.text);
      text += chunk.text;
      if (chunk.finishReason) finishReason = chunk.finishReason;
      if (chunk.usage) usage = chunk.usage;
    }
    const seconds = firstTokenAt === undefined ? 0 : (performance.now() - firstTokenAt) / 1000;
    if (finishReason !== 'abort' || text !== '') this.#turns = [...turns, { role: 'assistant', content: text }];
    return { text, finishReason, usage, tokensPerSecond: tokens > 1 && seconds > 0 ? (tokens - 1) / seconds : 0 };
  }

  /** The prompt for `turns` (oldest turns dropped from it, in place, until the reply has room). */
  #fit(turns: ChatMessage[], maxTokens: number): number[] {
    const context = this.#model.info.maxContext;
    const room = Math.min(maxTokens, Math.floor(context / 2));
    for (;;) {
      const ids = this.#model.chatPromptIds([...this.#system, ...turns]);
      if (ids.length + room <= context || turns.length <= 1) return ids;
      turns.splice(0, 2); // the oldest user message and the reply to it
    }
  }
}
