// Fuzzing the tool-call pieces that need no model: random tools, toolChoice and messages through
// resolveTools() and planChat() (each either plans or throws an OptionError), and random replies, cut into
// random pieces, through every ToolCallReader mode (never a throw; the content shown plus the calls account
// for the whole reply). Seeded: TOOLS_FUZZ_SEED (default 1), TOOLS_FUZZ_CASES (default 3000).
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ChatTemplate } from '../../lib/chat-template.js';
import { OptionError } from '../../lib/errors.js';
import { planChat } from '../../lib/tool-calls/chat-plan.js';
import { TOOL_CALL_FORMATS } from '../../lib/tool-calls/formats/index.js';
import { assembleToolCalls, ToolCallReader, type ToolCallMode } from '../../lib/tool-calls/tool-call-reader.js';
import { resolveTools } from '../../lib/tool-calls/tools.js';
import { randomText, seeded, type Random } from '../fuzz-inputs.js';

const SEED = Number(process.env.TOOLS_FUZZ_SEED ?? 1);
const CASES = Number(process.env.TOOLS_FUZZ_CASES ?? 3000);
const templates = resolve(import.meta.dirname, '..', 'fixtures', 'tool-templates');

function randomTool(random: Random): unknown {
  if (random.next() < 0.1) return random.value();
  const name = random.pick(['get_weather', 'f', 'get_time', 'bad name', '', 'x'.repeat(65), '工具']);
  const parameters = random.pick<unknown>([
    undefined,
    { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    { type: 'object' },
    { type: 'string' },
    [],
    random.value(),
  ]);
  return { type: random.next() < 0.9 ? 'function' : random.value(), function: random.next() < 0.95 ? { name, parameters, description: random.pick([undefined, 'd', 3]) } : random.value() };
}

function randomMessages(random: Random): unknown {
  if (random.next() < 0.05) return random.value();
  return Array.from({ length: 1 + random.int(4) }, () => {
    const role = random.pick(['user', 'assistant', 'tool', 'system']);
    const message: Record<string, unknown> = { role, content: random.next() < 0.9 ? randomText(random).slice(0, 200) : random.value() };
    if (role === 'assistant' && random.next() < 0.5) {
      message.tool_calls = [{ id: random.pick(['call_1', 'c']), type: 'function', function: { name: 'get_weather', arguments: random.pick(['{"city": "巴黎"}', '{', '[]', 7]) } }];
    }
    if (role === 'tool') message.tool_call_id = random.pick(['call_1', 'c', 3, undefined]);
    return message;
  });
}

/** Calls written in a format's own way, with text and junk around them. */
function randomReply(random: Random): string {
  const call = () => `{"name": "${random.pick(['get_weather', 'f'])}", "arguments": {"city": "${random.pick(['Paris', '巴黎', '{', '\\"'])}"}}`;
  const pieces = [
    () => `<tool_call>${call()}</tool_call>`,
    () => `<tool_call>\n${call()}`,
    () => `[TOOL_CALLS] [${call()}, ${call()}]`,
    () => `<|python_tag|>${call().replace('arguments', 'parameters')}`,
    () => call(),
    () => `[${call()}, ${call()}]`,
    () => '<tool_', () => '<tool_call>', () => '{', () => '"', () => '\\', () => '"\\q"', () => ']', () => ' \n', () => '"name": ',
    () => randomText(random).slice(0, 40),
  ];
  return Array.from({ length: random.int(6) }, () => random.pick(pieces)()).join('');
}

describe('tool-call fuzzing', () => {
  test(`random tools, toolChoice and messages plan or are refused with an OptionError (${CASES} cases)`, async () => {
    const loaded = await Promise.all(['hermes-tools', 'llama3-tools', 'chatml'].map((name) => ChatTemplate.fromDirectory(resolve(templates, name))));
    const random = seeded(SEED);
    const outcomes = { planned: 0, refused: 0 };
    for (let i = 0; i < CASES / 3; i++) {
      const options = {
        tools: random.next() < 0.9 ? Array.from({ length: random.int(3) }, () => randomTool(random)) : random.value(),
        toolChoice: random.pick<unknown>([undefined, 'auto', 'none', 'required', { type: 'function', function: { name: 'get_weather' } }, random.value()]),
        parallelToolCalls: random.pick<unknown>([undefined, true, false, random.value()]),
      };
      const messages = randomMessages(random);
      try {
        planChat(random.pick(loaded) as ChatTemplate, messages as never, resolveTools(options));
        outcomes.planned++;
      } catch (error) {
        if (!(error instanceof OptionError)) throw new Error(`case ${i}: ${String(error)} for ${JSON.stringify({ options, messages })}`);
        outcomes.refused++;
      }
    }
    expect(outcomes.planned).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });

  test(`random replies in random pieces never break a reader (${CASES} cases)`, () => {
    const random = seeded(SEED + 1);
    let calls = 0;
    for (let i = 0; i < CASES; i++) {
      const reply = randomReply(random);
      const mode = random.pick<ToolCallMode>([
        { kind: 'named', name: 'f' },
        { kind: 'required', parallel: random.next() < 0.5 },
        { kind: 'auto', format: random.pick(TOOL_CALL_FORMATS), parallel: random.next() < 0.5 },
      ]);
      let n = 0;
      const reader = new ToolCallReader(mode, () => `call_${n++}`);
      let text = '';
      const deltas = [];
      for (let at = 0; at < reply.length; ) {
        const size = 1 + random.int(12);
        const piece = reader.push(reply.slice(at, at + size));
        text += piece.text;
        deltas.push(...piece.toolCalls);
        at += size;
      }
      const end = reader.end();
      text += end.text;
      deltas.push(...end.toolCalls);
      const found = assembleToolCalls(deltas);
      calls += found.length;
      const where = `case ${i}, ${JSON.stringify(mode.kind)}: ${JSON.stringify(reply)}`;
      expect(reader.called, where).toBe(found.length > 0);
      // No call: the reply is all content (a named reply is always its call).
      if (found.length === 0) expect(text, where).toBe(reply);
      for (const call of found) expect(call.id, where).toMatch(/^call_\d+$/);
      // A constrained 'auto' format's calls carry arguments that parse.
      if (mode.kind === 'auto') for (const call of found) expect(() => JSON.parse(call.function.arguments), where).not.toThrow();
    }
    expect(calls).toBeGreaterThan(0);
  });
});
