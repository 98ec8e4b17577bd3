// `npm install` of the package (or of a checkout): provisions libtorch into .venv unless the user
// brings one (TORCH_GEN_LIBTORCH / TORCH_GEN_PYTHON), builds the addon, and compiles the TypeScript in
// a checkout. TORCH_GEN_SKIP_INSTALL=1 skips all of it (for tooling that only needs node_modules).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './libtorch.mjs';

if (process.env.TORCH_GEN_SKIP_INSTALL === '1') {
  console.error('torch-gen: TORCH_GEN_SKIP_INSTALL=1, skipping libtorch setup and the addon build');
  process.exit(0);
}

function step(script, ...args) {
  const result = spawnSync(process.execPath, [join(projectRoot, 'scripts', script), ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

step('setup-libtorch.mjs');
step('build-native.mjs', '--if-needed');
const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
if (existsSync(join(projectRoot, 'tsconfig.json')) && existsSync(tsc)) {
  const result = spawnSync(process.execPath, [tsc, '-p', join(projectRoot, 'tsconfig.json')], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
