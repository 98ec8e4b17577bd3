/** The models a server answers for, by name; their loading and warm-up. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { OptionError } from '../errors.js';
import { Model } from '../model.js';
import { HttpError, badRequest } from './openai-errors.js';

/** One model, or several by the name clients use in the `model` field. */
export type ModelsInput = Model | Readonly<Record<string, Model>>;

export interface ServedModel {
  /** The name in requests and in /v1/models. */
  name: string;
  model: Model;
  /** Unix seconds when it became available. */
  created: number;
  /** The backend configuration, as OpenAI's system_fingerprint. */
  fingerprint: string;
}

const version = (() => {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

export class ServedModels {
  readonly #models = new Map<string, ServedModel>();

  /** Takes the (possibly still loading) models; warms each up with a two-token generation when asked. */
  async load(input: ModelsInput | Promise<ModelsInput>, warmUp: boolean): Promise<void> {
    const models = await input;
    const entries: [string, Model][] =
      models instanceof Model ? [[basename(models.info.path), models]] : Object.entries(models);
    if (entries.length === 0) throw new OptionError('models', 'expected at least one model', { label: 'createServer' });
    for (const [name, model] of entries) {
      if (!(model instanceof Model)) throw new OptionError('models', `models.${name} is not a loaded Model`, { label: 'createServer' });
    }
    if (warmUp) {
      for (const [, model] of entries) {
        const prompt = model.info.bosTokenId === null ? model.tokenizer.encode('Hello') : [model.info.bosTokenId];
        await model.complete(prompt, { maxTokens: 2, temperature: 0 });
      }
    }
    const created = Math.floor(Date.now() / 1000);
    for (const [name, model] of entries) {
      const fingerprint = `torch-gen-${version}-${model.info.device}-${model.info.dtype}`;
      this.#models.set(name, { name, model, created, fingerprint });
    }
  }

  get list(): ServedModel[] {
    return [...this.#models.values()];
  }

  /** The model a request names; with one model served, a request may leave `model` out. */
  resolve(name: unknown): ServedModel {
    if (name === undefined || name === null) {
      if (this.#models.size === 1) return this.list[0] as ServedModel;
      throw badRequest('model', `model: required; this server serves ${this.#names()}`, 'missing_required_parameter');
    }
    if (typeof name !== 'string') throw badRequest('model', `model: expected a string, received ${JSON.stringify(name)}`);
    const served = this.#models.get(name);
    if (!served) {
      throw new HttpError(404, `The model \`${name}\` does not exist; this server serves ${this.#names()}`, {
        param: 'model',
        code: 'model_not_found',
      });
    }
    return served;
  }

  #names(): string {
    return [...this.#models.keys()].map((n) => `\`${n}\``).join(', ');
  }
}
