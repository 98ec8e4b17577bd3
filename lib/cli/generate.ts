/** `torch-gen generate`: streams a continuation to standard output. */
import { readFileSync } from 'node:fs';
import { loadModel } from '../load-model.js';
import type { Device, Dtype } from '../options.js';
import { DEFAULT_MODEL_DIR, integerFlag, parse, stringFlag } from './args.js';

const HELP = `Usage: torch-gen generate [options] [PROMPT]

Streams the model's continuation of PROMPT (or of standard input when PROMPT is omitted).

Options:
  -m, --model DIR        model directory (default: $TORCH_GEN_MODEL or ${DEFAULT_MODEL_DIR})
  -n, --max-tokens N     most tokens to generate (default 256)
      --device DEVICE    auto, cpu, cuda or cuda:N (default auto)
      --dtype DTYPE      float32, float16 or bfloat16 (default: float16 on CUDA, float32 on CPU)
      --max-context N    tokens per request the cache holds
  -h, --help             show this help`;

export async function runGenerate(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    model: { type: 'string', short: 'm' },
    'max-tokens': { type: 'string', short: 'n' },
    device: { type: 'string' },
    dtype: { type: 'string' },
    'max-context': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const prompt = positionals.length > 0 ? positionals.join(' ') : readFileSync(0, 'utf8');
  const dir = stringFlag(values, 'model') ?? process.env.TORCH_GEN_MODEL ?? DEFAULT_MODEL_DIR;
  const maxContext = integerFlag('max-context', stringFlag(values, 'max-context'));
  const device = stringFlag(values, 'device') as Device | undefined;
  const dtype = stringFlag(values, 'dtype') as Dtype | undefined;
  await using model = await loadModel(dir, {
    ...(device === undefined ? {} : { device }),
    ...(dtype === undefined ? {} : { dtype }),
    ...(maxContext === undefined ? {} : { maxContext }),
    maxBatch: 1,
  });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const maxTokens = integerFlag('max-tokens', stringFlag(values, 'max-tokens'));
    for await (const chunk of model.generate(prompt, {
      ...(maxTokens === undefined ? {} : { maxTokens }),
      signal: controller.signal,
    })) {
      process.stdout.write(chunk.text);
      if (chunk.usage) {
        process.stdout.write('\n');
        process.stderr.write(
          `[${chunk.finishReason}: ${chunk.usage.promptTokens} prompt + ${chunk.usage.completionTokens} generated tokens]\n`,
        );
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  return 0;
}
