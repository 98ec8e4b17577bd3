/** Renders chat messages into a prompt with the model's own Jinja chat template (@huggingface/jinja). */
import { Template } from '@huggingface/jinja';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelLoadError, OptionError } from './errors.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export class ChatTemplate {
  readonly #template: Template;
  readonly #specialTokens: Record<string, string>;

  private constructor(template: Template, specialTokens: Record<string, string>) {
    this.#template = template;
    this.#specialTokens = specialTokens;
  }

  /** The template of `dir/tokenizer_config.json` (or `chat_template.jinja`), or undefined if it has none. */
  static async fromDirectory(dir: string): Promise<ChatTemplate | undefined> {
    let config: Record<string, unknown> = {};
    try {
      config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      // Tokenizer.fromDirectory reports a malformed tokenizer_config.json; no file means no template.
    }
    let source = config.chat_template;
    if (Array.isArray(source)) {
      // Several named templates: the one called "default" is what transformers uses.
      source = (source as { name?: string; template?: string }[]).find((t) => t.name === 'default')?.template;
    }
    if (typeof source !== 'string') {
      source = await readFile(join(dir, 'chat_template.jinja'), 'utf8').catch(() => undefined);
    }
    if (typeof source !== 'string') return undefined;
    let template: Template;
    try {
      template = new Template(source);
    } catch (error) {
      throw new ModelLoadError(`${dir}: the chat template does not parse (${(error as Error).message})`, { cause: error });
    }
    const specialTokens: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
      const value = config[key];
      const content = typeof value === 'string' ? value : (value as { content?: unknown } | null)?.content;
      if (typeof content === 'string') specialTokens[key] = content;
    }
    return new ChatTemplate(template, specialTokens);
  }

  /**
   * The prompt text for `messages`, ending where the assistant's reply begins. `variables` are further
   * template variables, as transformers' apply_chat_template passes its keyword arguments (`tools`,
   * `enable_thinking`...); they cannot replace `messages` or `add_generation_prompt`.
   */
  render(messages: readonly ChatMessage[], variables: Readonly<Record<string, unknown>> = {}): string {
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new OptionError('messages', 'expected a non-empty array of { role, content }');
    }
    messages.forEach((message, index) => {
      if (typeof message !== 'object' || message === null || typeof message.role !== 'string' || typeof message.content !== 'string') {
        throw new OptionError('messages', 'expected { role: string, content: string }', { label: `messages[${index}]` });
      }
    });
    try {
      return this.#template.render({ ...this.#specialTokens, ...variables, messages, add_generation_prompt: true });
    } catch (error) {
      // Templates raise their own errors, e.g. "Conversation roles must alternate user/assistant".
      throw new OptionError('messages', `the model's chat template refused them (${(error as Error).message})`, { cause: error });
    }
  }
}
