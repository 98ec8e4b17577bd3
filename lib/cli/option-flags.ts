/**
 * The option table's rows as command-line flags: their parseArgs config, their help lines, and the
 * library options the parsed flags ask for. Errors name the flag (`--top-p`) and carry the option.
 */
import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { OptionError } from '../errors.js';
import { expectedText, findOption, optionSpec, rangeText, type CliFlag, type FileFlag, type OptionName, type OptionSpec } from '../option-table.js';
import type { ParsedArgs } from './args.js';

export type FlagConfig = NonNullable<ParseArgsConfig['options']>;

function flagOf(spec: OptionSpec): CliFlag {
  if (spec.cli === undefined) throw new Error(`torch-gen: ${spec.name} has no command-line flag`);
  return spec.cli;
}

/** The parseArgs config of the options' flags. */
export function optionFlags(names: readonly OptionName[]): FlagConfig {
  const config: FlagConfig = {};
  for (const name of names) {
    const flag = flagOf(optionSpec(name));
    config[flag.name] = {
      type: flag.negated ? 'boolean' : 'string',
      ...(flag.short === undefined ? {} : { short: flag.short }),
      ...(flag.repeatable ? { multiple: true } : {}),
    };
  }
  return config;
}

const plain = (text: string) => text.replaceAll('`', '');

/** One help line: `  -n, --max-tokens N            most tokens to generate; [1, 1048576]; default 256`. */
export function helpLine(spec: OptionSpec): string {
  const flag = flagOf(spec);
  const left = `${flag.short === undefined ? '    ' : `-${flag.short}, `}--${flag.name}${flag.arg === undefined ? '' : ` ${flag.arg}`}`;
  // A choice's values stand where a number's range would; a repeatable string takes any text.
  const kind = spec.type.kind;
  const range = rangeText(spec) ?? (kind === 'choice' || (kind === 'special' && !flag.repeatable) ? expectedText(spec) : undefined);
  const parts =
    flag.help !== undefined
      ? [flag.help]
      : [plain(spec.doc), ...(range === undefined ? [] : [range]), ...(flag.repeatable ? ['repeatable'] : []), `default ${plain(spec.defaultDoc)}`];
  return `  ${left.padEnd(28)}  ${parts.join('; ')}`;
}

/** The help lines of the options' flags, in the order given. */
export function optionHelp(names: readonly OptionName[]): string {
  return names.map((name) => helpLine(optionSpec(name))).join('\n');
}

/** The flag as the user typed it, for messages: `--top-p`. */
export function flagName(option: string): string | undefined {
  const flag = findOption(option)?.cli;
  return flag === undefined ? undefined : `--${flag.name}`;
}

/**
 * The library options that the given flags ask for; flags left out stay out, so the library's defaults
 * apply. Only the text-to-value step is checked here (`--max-tokens many`); ranges are the library's.
 */
export function optionsFromFlags(values: ParsedArgs['values'], names: readonly OptionName[]): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const name of names) {
    const spec = optionSpec(name);
    const flag = flagOf(spec);
    const value = values[flag.name];
    if (value === undefined) continue;
    if (flag.negated) {
      if (value === true) options[name] = false;
    } else if (flag.repeatable) {
      const list = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
      if (list.length > 0) options[name] = list;
    } else if (typeof value === 'string') {
      options[name] = fromText(spec, flag, value);
    }
  }
  return options;
}

function fromText(spec: OptionSpec, flag: CliFlag, text: string): unknown {
  const kind = spec.type.kind;
  if (kind !== 'integer' && kind !== 'number') return text;
  const number = Number(text);
  const ok = kind === 'integer' ? Number.isInteger(number) : text.trim() !== '' && Number.isFinite(number);
  if (!ok) throw new OptionError(spec.name, `expected ${kind === 'integer' ? 'an integer' : 'a number'}, received ${JSON.stringify(text)}`, { label: `--${flag.name}` });
  return number;
}

/** The parseArgs config of the options' file flags (`--json-schema FILE`). */
export function fileFlags(names: readonly OptionName[]): FlagConfig {
  const config: FlagConfig = {};
  for (const name of names) for (const flag of optionSpec(name).fileFlags ?? []) config[flag.name] = { type: 'string' };
  return config;
}

/** The help line of a file flag: `      --json-schema FILE        constrain the output to ...`. */
export function fileFlagHelpLine(flag: FileFlag): string {
  return `      ${`--${flag.name} ${flag.arg}`.padEnd(28)}  ${flag.help}`;
}

/** The help lines of the options' file flags. */
export function fileFlagHelp(names: readonly OptionName[]): string {
  return names.flatMap((name) => (optionSpec(name).fileFlags ?? []).map(fileFlagHelpLine)).join('\n');
}

/** The option values that the given file flags read; at most one file flag per option. */
export function optionsFromFileFlags(values: ParsedArgs['values'], names: readonly OptionName[]): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const name of names) {
    const given = (optionSpec(name).fileFlags ?? []).filter((flag) => typeof values[flag.name] === 'string');
    if (given.length > 1) {
      throw new OptionError(name, `${given.map((flag) => `--${flag.name}`).join(' and ')} cannot be given together`, { label: `--${given[0]!.name}` });
    }
    const flag = given[0];
    if (flag !== undefined) options[name] = fromFile(name, flag, values[flag.name] as string);
  }
  return options;
}

function fromFile(name: OptionName, flag: FileFlag, path: string): unknown {
  const label = `--${flag.name}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OptionError(name, `cannot read ${path}: ${(error as Error).message}`, { label, cause: error });
  }
  switch (flag.reads) {
    case 'grammar':
      return { type: 'grammar', grammar: text };
    case 'json-schema': {
      let schema: unknown;
      try {
        schema = JSON.parse(text);
      } catch (error) {
        throw new OptionError(name, `${path} is not JSON (${(error as Error).message}); it should hold a JSON schema`, { label, cause: error });
      }
      return { type: 'json_schema', schema };
    }
  }
}
