// Runs the project's Python (the .venv's, or TORCH_GEN_PYTHON) with the given arguments.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { venvPython } from './libtorch.mjs';

const python = process.env.TORCH_GEN_PYTHON || venvPython;
if (!existsSync(python) && !process.env.TORCH_GEN_PYTHON) {
  console.error(`torch-gen: ${python} not found; run \`npm run setup:python\` first.`);
  process.exit(1);
}
const result = spawnSync(python, process.argv.slice(2), { stdio: 'inherit' });
process.exit(result.status ?? 1);
