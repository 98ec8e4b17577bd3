/** Renders chat messages into a prompt with the model's own Jinja chat template (@huggingface/jinja). */
import { Template } from '@huggingface/jinja';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { templateMessages, type ChatMessage } from './chat-messages.js';
import { ModelLoadError, OptionError } from './errors.js';
import type { ToolDefinition } from './tool-calls/tools.js';

export type { ChatMessage } from './chat-messages.js';

// A function no template names by chance: seeing it in the prompt shows that the template renders tools.
const PROBE_TOOL: ToolDefinition = {
  type: 'function',
  function: { name: 'torch_gen_probe_function', description: '', parameters: { type: 'object', properties: {} } },
};

export class ChatTemplate {
  readonly #template: Template;
  readonly #specialTokens: Record<string, string>;
  #supportsTools: boolean | undefined;
  /** The template's Jinja text (a tool-call format is recognised in it). */
  readonly source: string;

  private constructor(template: Template, source: string, specialTokens: Record<string, string>) {
    this.#template = template;
    this.source = source;
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
    return new ChatTemplate(template, source, specialTokens);
  }

  /**
   * The prompt text for `messages`, ending where the assistant's reply begins. `variables` are further
   * template variables, as transformers' apply_chat_template passes its keyword arguments (`tools`,
   * `enable_thinking`...); they cannot replace `messages` or `add_generation_prompt`. A template that does
   * not use one ignores it.
   */
  render(messages: readonly ChatMessage[], variables: Readonly<Record<string, unknown>> = {}): string {
    const checked = templateMessages(messages);
    try {
      return this.#template.render({ ...this.#specialTokens, ...variables, messages: checked, add_generation_prompt: true });
    } catch (error) {
      // Templates raise their own errors, e.g. "Conversation roles must alternate user/assistant".
      throw new OptionError('messages', `the model's chat template refused them (${(error as Error).message})`, { cause: error });
    }
  }

  /** Whether the template shows the model the tools it is given (else a system message must describe them). */
  get supportsTools(): boolean {
    if (this.#supportsTools === undefined) {
      const messages = [{ role: 'user', content: 'Hello' }];
      try {
        this.#supportsTools = this.render(messages, { tools: [PROBE_TOOL] }).includes(PROBE_TOOL.function.name);
      } catch {
        this.#supportsTools = false;
      }
    }
    return this.#supportsTools;
  }
}
