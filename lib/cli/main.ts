/** `torch-gen <command>`: dispatches to one file per command. Errors are one line and a non-zero exit. */
import { TorchGenError } from '../errors.js';
import { runBench } from './bench.js';
import { runChat } from './chat.js';
import { runExport } from './export.js';
import { runGenerate } from './generate.js';
import { runInfo } from './info.js';
import { runServe } from './serve.js';

export const USAGE = `Usage: torch-gen <command> [options]

Commands:
  generate [PROMPT]   stream a continuation of PROMPT (or of standard input) to standard output
  chat                chat with a model interactively (it keeps the conversation)
  serve               serve models over an OpenAI-compatible HTTP API
  bench               measure a model's tokens/s and time to first token on this machine
  info [--model DIR]  show libtorch, CUDA and devices, and a model's manifest
  export SRC -o DIR   export a Hugging Face model directory or a GGUF file to a torch-gen model

Run \`torch-gen <command> --help\` for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'generate':
        return await runGenerate(rest);
      case 'chat':
        return await runChat(rest);
      case 'serve':
        return await runServe(rest);
      case 'bench':
        return await runBench(rest);
      case 'info':
        return await runInfo(rest);
      case 'export':
        return await runExport(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`torch-gen: unknown command '${command}'\n\n${USAGE}\n`);
        return 1;
    }
  } catch (error) {
    process.stderr.write(`torch-gen ${command}: ${describeError(error)}\n`);
    return error instanceof TorchGenError ? 2 : 1;
  }
}

function describeError(error: unknown): string {
  if (error instanceof TorchGenError) return `${error.message} (${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}
