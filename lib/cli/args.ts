/** Flag parsing shared by the commands: node's parseArgs, with errors that name the flag. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OptionError } from '../errors.js';

export const DEFAULT_MODEL_DIR = 'models/smollm2-135m-instruct';

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (error) {
    throw new OptionError(null, (error as Error).message);
  }
}

/** A string flag's value (parseArgs gives strings for `type: 'string'` flags). */
export function stringFlag(values: ParsedArgs['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function integerFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number)) throw new OptionError(`--${name}`, `expected an integer, received ${JSON.stringify(value)}`);
  return number;
}

export function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number)) {
    throw new OptionError(`--${name}`, `expected a number, received ${JSON.stringify(value)}`);
  }
  return number;
}

/** A repeatable string flag's values (`multiple: true`), in order; [] when absent. */
export function stringsFlag(values: ParsedArgs['values'], name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}
