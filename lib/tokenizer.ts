/** The model's tokenizer, on @huggingface/tokenizers (pure JavaScript, the same files as Python's). */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelLoadError, OptionError } from './errors.js';

export interface EncodeOptions {
  /** Add the special tokens the tokenizer's post-processor defines (a BOS token, say). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave special tokens (like `<|endoftext|>`) out of the text. Default false. */
  skipSpecialTokens?: boolean;
}

export class Tokenizer {
  readonly #hf: HfTokenizer;
  /** The number of tokens the tokenizer knows, added tokens included. */
  readonly vocabSize: number;
  /** The largest token id the tokenizer can produce (ids need not be contiguous); -1 for an empty vocabulary. */
  readonly maxTokenId: number;

  private constructor(hf: HfTokenizer) {
    this.#hf = hf;
    const vocab = hf.get_vocab(true);
    this.vocabSize = vocab.size;
    let maxTokenId = -1;  // a loop: spreading a 150k-entry vocabulary into Math.max overflows the stack
    for (const id of vocab.values()) maxTokenId = Math.max(maxTokenId, id);
    this.maxTokenId = maxTokenId;
  }

  /** Reads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`. */
  static async fromDirectory(dir: string): Promise<Tokenizer> {
    const tokenizerJson = await readJson(join(dir, 'tokenizer.json'), true);
    const config = (await readJson(join(dir, 'tokenizer_config.json'), false)) ?? {};
    try {
      return new Tokenizer(new HfTokenizer(tokenizerJson as object, config as object));
    } catch (error) {
      throw new ModelLoadError(
        `${join(dir, 'tokenizer.json')} is not a tokenizer that @huggingface/tokenizers can use ` +
          `(${(error as Error).message}); save it again with transformers' tokenizer.save_pretrained()`,
        { cause: error },
      );
    }
  }

  /** Text to token ids. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new OptionError('text', `expected a string, received ${typeof text}`);
    return this.#hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** Token ids to text. An empty list gives an empty string. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    return this.#hf.decode(ids as number[], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
    });
  }

  /** The id of a token string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#hf.token_to_id(token);
  }

  /** The string of a token id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.#hf.id_to_token(id);
  }
}

async function readJson(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelLoadError(`${path} is missing or unreadable; copy the model's tokenizer files into its directory`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelLoadError(`${path} is not valid JSON (${(error as Error).message})`, { cause: error });
  }
}
