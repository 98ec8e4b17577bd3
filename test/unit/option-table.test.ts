// The option table (lib/option-table.ts) against what is derived from it or written beside it: the addon's
// bounds (a header generated from the table), the README's option tables, the CLI's flags and help, and the
// server's request fields.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { GENERATION_FLAGS, GENERATION_HELP } from '../../lib/cli/generation-flags.js';
import { LOAD_FLAGS, LOAD_HELP } from '../../lib/cli/load-flags.js';
import { fileFlagHelpLine, helpLine } from '../../lib/cli/option-flags.js';
import { expectedText, OPTIONS, optionsOf, rangeText, type OptionScope, type OptionSpec } from '../../lib/option-table.js';
import { HttpError } from '../../lib/server/openai-errors.js';
import { samplingRequest } from '../../lib/server/request-options.js';

const root = resolve(import.meta.dirname, '..', '..');
const specs: readonly OptionSpec[] = OPTIONS;

const pascal = (name: string) => name[0]!.toUpperCase() + name.slice(1);
const cppNumber = (value: number) => (Number.isInteger(value) ? `${value}.0` : String(value));

/** native/addon/option_bounds.h as the table makes it. */
function boundsHeader(): string {
  const lines = specs
    .filter((spec) => spec.native === true)
    .map((spec) => {
      const type = spec.type;
      if (type.kind === 'integer') return `inline constexpr IntegerBounds k${pascal(spec.name)}{${type.min}, ${type.max}};`;
      if (type.kind === 'number') {
        return `inline constexpr NumberBounds k${pascal(spec.name)}{${cppNumber(type.min)}, ${cppNumber(type.max)}, ${type.minExclusive === true}};`;
      }
      throw new Error(`${spec.name}: only integer and number options have native bounds`);
    });
  return `// Generated from lib/option-table.ts by test/unit/option-table.test.ts; do not edit. After a change to the
// table: npx vitest run test/unit/option-table.test.ts -u
// The bounds the addon checks on the options it reads: the same as the TypeScript validation's, so that a
// value the library accepts is never refused below it, and a caller of the addon gets no wider range.
#pragma once

#include <cstdint>

namespace torchgen::option_bounds {

struct IntegerBounds {
  int64_t min;
  int64_t max;
};

// [min, max], or (min, max] when min_exclusive.
struct NumberBounds {
  double min;
  double max;
  bool min_exclusive;
};

${lines.join('\n')}

}  // namespace torchgen::option_bounds
`;
}

/** The README's table of one scope's options, as the table makes it. */
function readmeTable(scope: OptionScope): string {
  const rows = optionsOf(scope).map((spec) => `| \`${spec.name}\` | ${spec.doc} | ${rangeText(spec) ?? expectedText(spec)} | ${spec.defaultDoc} |`);
  return ['| option | meaning | range | default |', '|---|---|---|---|', ...rows].join('\n');
}

function readmeSection(scope: OptionScope): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const begin = `<!-- options:${scope} (generated: test/unit/option-table.test.ts) -->\n`;
  const end = `\n<!-- /options:${scope} -->`;
  const start = readme.indexOf(begin);
  const stop = readme.indexOf(end, start);
  expect(start, `README.md has no ${begin.trim()} marker`).toBeGreaterThanOrEqual(0);
  return readme.slice(start + begin.length, stop);
}

describe('the option table', () => {
  test('generates the bounds the addon checks (native/addon/option_bounds.h)', async () => {
    await expect(boundsHeader()).toMatchFileSnapshot(join(root, 'native', 'addon', 'option_bounds.h'));
  });

  test.each(['load', 'generate', 'chat'] as const)("is the README's table of %s options", (scope) => {
    expect(readmeSection(scope)).toBe(readmeTable(scope));
  });

  test('gives every flag of the CLI its help line, and every option with a flag is a flag', () => {
    const flags = { ...LOAD_FLAGS, ...GENERATION_FLAGS };
    const help = `${LOAD_HELP}\n${GENERATION_HELP}`.split('\n');
    for (const spec of specs.filter((s) => s.cli !== undefined)) {
      expect(flags, spec.name).toHaveProperty([spec.cli!.name]);
      expect(help, spec.name).toContain(helpLine(spec));
    }
    for (const flag of specs.flatMap((spec) => spec.fileFlags ?? [])) {
      expect(flags, flag.name).toHaveProperty([flag.name]);
      expect(help, flag.name).toContain(fileFlagHelpLine(flag));
    }
    expect(Object.keys(flags).filter((flag) => flag !== 'model').sort()).toEqual(
      specs.flatMap((spec) => [...(spec.cli ? [spec.cli.name] : []), ...(spec.fileFlags ?? []).map((flag) => flag.name)]).sort(),
    );
  });

  test.each(specs.filter((spec) => spec.http !== undefined).map((spec) => [spec.name, spec.http!, spec.scope] as const))(
    'the server reads %s from the request field %s, and a bad value is a 400 naming that field',
    (name, field, scope) => {
      let error: unknown;
      try {
        // Chat options (tools) belong to the chat endpoint.
        samplingRequest({ [field]: -1e9 }, scope === 'chat' ? 'chat' : 'completion', { defaultMaxTokens: 16, maxTokensLimit: 1024, vocabSize: 100 });
      } catch (caught) {
        error = caught;
      }
      expect(error, name).toBeInstanceOf(HttpError);
      expect((error as HttpError).param).toBe(field);
      expect((error as HttpError).message).toMatch(new RegExp(`^${field}: expected `));
    },
  );
});
