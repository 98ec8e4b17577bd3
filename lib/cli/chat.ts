/** `torch-gen chat`: an interactive conversation on standard input and output. */
import { createInterface } from 'node:readline';
import { OptionError, TorchGenError } from '../errors.js';
import { parse, stringFlag } from './args.js';
import { ChatSession } from './chat-session.js';
import { GENERATION_FLAGS, GENERATION_HELP, generationOptions } from './generation-flags.js';
import { SINGLE_USER_LOAD_FLAGS, loadOptions, loadWithProgress, MODEL_HELP, modelDir } from './load-flags.js';
import { Progress } from './progress.js';

const HELP = `Usage: torch-gen chat [options]

Chats with the model on standard input and output, through its chat template. The conversation is kept
from turn to turn (the oldest turns are dropped when it outgrows the context). Each line of input is a
message; with input from a pipe, each reply is written on its own line.

In the chat: /exit or Ctrl-D ends it, /reset starts over, Ctrl-C cancels the reply being written.

Options:
${MODEL_HELP}
  -s, --system TEXT             a system message to start the conversation with
  -v, --verbose                 after each reply, its finish reason, token counts and speed on standard error
      --device DEVICE           auto, cpu, cuda or cuda:N (default auto)
      --dtype DTYPE             float32, float16, bfloat16 or auto (default: float16 on CUDA, float32 on CPU)
      --threads N               CPU threads for the model (default: the physical cores)
      --max-context N           tokens the conversation may hold
  -q, --quiet                   no progress line while the model loads
  -h, --help                    show this help

${GENERATION_HELP}`;

const COMMANDS = '/exit (or Ctrl-D) ends the chat, /reset starts over, Ctrl-C cancels a reply';

export async function runChat(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...SINGLE_USER_LOAD_FLAGS,
    ...GENERATION_FLAGS,
    system: { type: 'string', short: 's' },
    verbose: { type: 'boolean', short: 'v' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const options = generationOptions(values);
  const dir = modelDir(values);
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  await using model = await loadWithProgress(dir, { ...loadOptions(values), maxBatch: 1 }, new Progress({ quiet: values.quiet === true }));
  if (!model.info.hasChatTemplate) {
    throw new OptionError(`${dir} has no chat template; use \`torch-gen generate\` for plain text`);
  }
  const session = new ChatSession(model, stringFlag(values, 'system'));
  const rl = createInterface({
    input: process.stdin,
    ...(interactive ? { output: process.stdout, terminal: true } : { terminal: false }),
    prompt: '> ',
  });
  let replying: AbortController | undefined;
  const interrupt = () => {
    if (replying) {
      replying.abort();
    } else if (interactive) {
      process.stdout.write(`\n${COMMANDS}\n`);
      rl.prompt();
    } else {
      rl.close();
    }
  };
  rl.on('SIGINT', interrupt); // a terminal: readline reads Ctrl-C itself
  process.on('SIGINT', interrupt); // a pipe
  if (interactive) {
    process.stderr.write(`Chatting with ${dir}. ${COMMANDS}.\n`);
    rl.prompt();
  }
  try {
    for await (const line of rl) {
      const text = line.trim();
      if (text === '/exit' || text === '/quit') break;
      if (text === '/reset') {
        session.reset();
        process.stderr.write('(conversation cleared)\n');
      } else if (text === '/help') {
        process.stderr.write(`${COMMANDS}\n`);
      } else if (text !== '') {
        replying = new AbortController();
        try {
          const summary = await session.reply(text, { ...options, signal: replying.signal }, (piece) => process.stdout.write(piece));
          process.stdout.write(interactive ? '\n\n' : '\n');
          if (summary.finishReason === 'abort') process.stderr.write('(reply cancelled)\n');
          if (values.verbose && summary.usage) {
            const { promptTokens, completionTokens } = summary.usage;
            process.stderr.write(
              `[${summary.finishReason}: ${promptTokens} prompt + ${completionTokens} generated tokens, ${summary.tokensPerSecond.toFixed(1)} tokens/s]\n`,
            );
          }
        } catch (error) {
          // A turn that fails (a message longer than the context, say) ends that turn, not the chat.
          if (!(error instanceof TorchGenError)) throw error;
          process.stderr.write(`torch-gen chat: ${error.message} (${error.code})\n`);
        } finally {
          replying = undefined;
        }
      }
      if (interactive) rl.prompt();
    }
  } finally {
    process.off('SIGINT', interrupt);
    rl.close();
  }
  return 0;
}
