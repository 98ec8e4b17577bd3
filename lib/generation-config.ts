/** Reads a model's optional generation_config.json: its end-of-sequence ids and sampling defaults. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelLoadError } from './errors.js';
import { GREEDY_DEFAULTS, type SamplingDefaults } from './options.js';

export interface GenerationConfig {
  eosTokenIds: number[];
  sampling: SamplingDefaults;
}

export async function readGenerationConfig(dir: string, vocabSize: number): Promise<GenerationConfig> {
  const path = join(dir, 'generation_config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { eosTokenIds: [], sampling: { ...GREEDY_DEFAULTS } };
    throw new ModelLoadError(`${path} is not valid JSON (${(error as Error).message}); fix or delete it`, { cause: error });
  }
  if (typeof raw !== 'object' || raw === null) throw new ModelLoadError(`${path}: expected a JSON object`);
  const eos = raw.eos_token_id;
  const eosList = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  const eosTokenIds = eosList.filter((id): id is number => Number.isInteger(id) && id >= 0 && id < vocabSize);

  // Hugging Face samples only when do_sample is true; its temperature/top_k/top_p apply only then.
  const number = (key: string, fallback: number, ok: (v: number) => boolean) => {
    const value = raw[key];
    return typeof value === 'number' && ok(value) ? value : fallback;
  };
  const sampling: SamplingDefaults =
    raw.do_sample === true
      ? {
          temperature: number('temperature', 1, (v) => v >= 0 && v <= 100),
          topK: number('top_k', 50, (v) => Number.isInteger(v) && v >= 0),
          topP: number('top_p', 1, (v) => v > 0 && v <= 1),
          minP: number('min_p', 0, (v) => v >= 0 && v <= 1),
          repetitionPenalty: number('repetition_penalty', 1, (v) => v > 0 && v <= 100),
        }
      : { ...GREEDY_DEFAULTS, repetitionPenalty: number('repetition_penalty', 1, (v) => v > 0 && v <= 100) };
  return { eosTokenIds, sampling };
}
