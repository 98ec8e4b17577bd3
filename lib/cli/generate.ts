/** `torch-gen generate`: streams a continuation to standard output. */
import { readFileSync } from 'node:fs';
import type { TokenLogprob } from '../model.js';
import { parse } from './args.js';
import { GENERATION_FLAGS, GENERATION_HELP, generationOptions } from './generation-flags.js';
import { SINGLE_USER_LOAD_FLAGS, loadOptions, loadWithProgress, MODEL_HELP, modelDir } from './load-flags.js';
import { Progress } from './progress.js';

const HELP = `Usage: torch-gen generate [options] [PROMPT]

Streams the model's continuation of PROMPT (or of standard input when PROMPT is omitted) to standard
output; a summary (finish reason and token counts) and, with --logprobs, each token's log-probability go
to standard error. Ctrl-C stops the generation.

Options:
${MODEL_HELP}
      --device DEVICE           auto, cpu, cuda or cuda:N (default auto)
      --dtype DTYPE             float32, float16, bfloat16 or auto (default: float16 on CUDA, float32 on CPU)
      --threads N               CPU threads for the model (default: the physical cores)
      --max-context N           tokens per request the cache holds
  -q, --quiet                   no progress line while the model loads
  -h, --help                    show this help

${GENERATION_HELP}`;

function formatLogprob(entry: TokenLogprob): string {
  const alternatives = entry.topLogprobs.map((alt) => `${JSON.stringify(alt.token)} ${alt.logprob.toFixed(3)}`).join(', ');
  return `${entry.logprob.toFixed(3).padStart(8)}  ${JSON.stringify(entry.token)}${alternatives ? `  (${alternatives})` : ''}`;
}

export async function runGenerate(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...SINGLE_USER_LOAD_FLAGS,
    ...GENERATION_FLAGS,
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const options = generationOptions(values);
  const prompt = positionals.length > 0 ? positionals.join(' ') : readFileSync(0, 'utf8');
  const progress = new Progress({ quiet: values.quiet === true });
  await using model = await loadWithProgress(modelDir(values), { ...loadOptions(values), maxBatch: 1 }, progress);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const logprobs: TokenLogprob[] = [];
  try {
    for await (const chunk of model.generate(prompt, { ...options, signal: controller.signal })) {
      process.stdout.write(chunk.text);
      if (chunk.logprobs) logprobs.push(...chunk.logprobs);
      if (chunk.usage) {
        process.stdout.write('\n');
        if (logprobs.length > 0) process.stderr.write(`${logprobs.map(formatLogprob).join('\n')}\n`);
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
