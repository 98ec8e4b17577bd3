/** `torch-gen export`: runs the Python exporter (python/torch_gen_export) with the project's Python. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** TORCH_GEN_PYTHON, then the package's .venv (npm run setup:python), then python3 on the PATH. */
export function exporterPython(): string {
  if (process.env.TORCH_GEN_PYTHON) return process.env.TORCH_GEN_PYTHON;
  const venv = join(packageRoot, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

export function runExport(argv: string[]): Promise<number> {
  const python = exporterPython();
  const pythonPath = [join(packageRoot, 'python'), process.env.PYTHONPATH].filter(Boolean).join(':');
  return new Promise((resolvePromise) => {
    const child = spawn(python, ['-m', 'torch_gen_export', ...argv], {
      stdio: 'inherit',
      env: { ...process.env, PYTHONPATH: pythonPath },
    });
    child.on('error', (error) => {
      process.stderr.write(`torch-gen export: cannot run ${python} (${error.message}); run \`npm run setup:python\` or set TORCH_GEN_PYTHON\n`);
      resolvePromise(1);
    });
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}
