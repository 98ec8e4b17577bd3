import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ChatTemplate, type ChatMessage } from '../../lib/chat-template.js';
import { OptionError } from '../../lib/errors.js';
import { fixture } from '../helpers.js';

// The chat templates Qwen3, Gemma 2, Gemma 3 and Phi-3.5 publish (test/fixtures/chat-templates, SOURCES.md
// says where each came from) render through @huggingface/jinja exactly as transformers' apply_chat_template
// renders them; expected.json is written by python/fixtures/chat_templates.py, the template directory as the
// exporter writes it (tokenizer_config.json with the template inside).
interface Case {
  name: string;
  messages: ChatMessage[];
  extra: Record<string, unknown>;
  expected?: string;
  error?: string;
}

const root = fixture('chat-templates');
const templates = readdirSync(root, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);

describe.each(templates)('chat template %s', (name) => {
  const { cases } = JSON.parse(readFileSync(join(root, name, 'expected.json'), 'utf8')) as { cases: Case[] };

  test.each(cases.map((c) => [c.name, c] as const))('%s renders as transformers renders it', async (_title, c) => {
    const template = await ChatTemplate.fromDirectory(join(root, name));
    expect(template).toBeDefined();
    if (c.error === undefined) {
      expect(template!.render(c.messages, c.extra)).toBe(c.expected);
    } else {
      // The template's own raise_exception, as an OptionError on `messages` that quotes it.
      const error = (() => {
        try {
          template!.render(c.messages, c.extra);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(OptionError);
      expect((error as Error).message).toContain(c.error);
    }
  });
});

test('the fixtures cover the four families, with system prompts, several turns and tools', () => {
  expect(templates.sort()).toEqual(['Qwen-Qwen3-0.6B', 'google-gemma-2-2b-it', 'google-gemma-3-1b-it', 'microsoft-Phi-3.5-mini-instruct']);
  const qwen3 = JSON.parse(readFileSync(join(root, 'Qwen-Qwen3-0.6B', 'expected.json'), 'utf8')) as { cases: Case[] };
  expect(qwen3.cases.find((c) => c.name === 'tools')?.expected).toContain('<tools>\n{"type": "function"');
  const gemma2 = JSON.parse(readFileSync(join(root, 'google-gemma-2-2b-it', 'expected.json'), 'utf8')) as { cases: Case[] };
  expect(gemma2.cases.find((c) => c.name === 'system prompt')?.error).toBe('System role not supported');
});

test('template variables add to the context but cannot replace the messages or the generation prompt', async () => {
  const template = (await ChatTemplate.fromDirectory(join(root, 'Qwen-Qwen3-0.6B')))!;
  const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
  expect(template.render(messages, { messages: [], add_generation_prompt: false })).toBe(template.render(messages));
  expect(template.render(messages, { enable_thinking: false })).toBe(`${template.render(messages)}<think>\n\n</think>\n\n`);
});
