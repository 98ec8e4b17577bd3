// Builds the addon.
//   node scripts/build-native.mjs             cmake-js (the default build) -> build/Release/torch_gen.node
//   node scripts/build-native.mjs --if-needed only when the addon is missing or older than its sources
//   node scripts/build-native.mjs --gyp       node-gyp, from a staging copy so the cmake-js build stays:
//                                             -> build/gyp/torch_gen.node
//   TORCH_GEN_SANITIZE=address node scripts/build-native.mjs
//                                             cmake-js with AddressSanitizer, in a build directory of its own
//                                             so the normal build stays: -> build/asan/Release/torch_gen.node
//   TORCH_GEN_BUILD_DIR=build/torch-2.11.0 node scripts/build-native.mjs
//                                             cmake-js into that directory (another libtorch's build beside the
//                                             normal one, scripts/test-torch-version.sh): -> DIR/Release/torch_gen.node
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { findLibtorch, projectRoot, versionWarning } from './libtorch.mjs';

export const cmakeAddon = join(projectRoot, 'build', 'Release', 'torch_gen.node');
export const gypAddon = join(projectRoot, 'build', 'gyp', 'torch_gen.node');
export const asanBuildDir = join(projectRoot, 'build', 'asan');
export const asanAddon = join(asanBuildDir, 'Release', 'torch_gen.node');

/** The sanitizer asked for with TORCH_GEN_SANITIZE: undefined (none) or 'address'. */
function sanitizer() {
  const value = process.env.TORCH_GEN_SANITIZE || undefined;
  if (value !== undefined && value !== 'address') {
    throw new Error(`TORCH_GEN_SANITIZE must be unset or 'address', not '${value}'`);
  }
  return value;
}

function newestSource() {
  const files = ['CMakeLists.txt', 'binding.gyp', 'native/sources.txt'].map((f) => join(projectRoot, f));
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(join(projectRoot, 'native'));
  return Math.max(...files.map((file) => statSync(file).mtimeMs));
}

export function isStale(addon) {
  return !existsSync(addon) || statSync(addon).mtimeMs < newestSource();
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`torch-gen: \`${command} ${args.join(' ')}\` failed (exit ${result.status})`);
    process.exit(1);
  }
}

function nodeDir() {
  // node-gyp must not download headers (machines without internet): use the running Node's own.
  const dir = join(dirname(process.execPath), '..');
  return existsSync(join(dir, 'include', 'node', 'node_api.h')) ? dir : undefined;
}

export function buildWithCmakeJs() {
  const torch = findLibtorch();
  const warning = versionWarning(torch);
  if (warning) console.error(warning);
  const sanitize = sanitizer();
  console.error(
    `torch-gen: building the addon with cmake-js against libtorch ${torch.version} (${torch.dir})` +
      (sanitize ? `, with AddressSanitizer, into ${asanBuildDir}` : ''),
  );
  // Resolved as Node resolves it: in an installed package npm hoists cmake-js beside the package, not
  // into its own node_modules.
  const cmakeJs = join(dirname(createRequire(import.meta.url).resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const jobs = String(Math.max(1, cpus().length));
  const args = [cmakeJs, 'build', '--parallel', jobs, `--CDLIBTORCH_DIR=${torch.dir}`];
  if (sanitize) args.push('--out', asanBuildDir, `--CDTORCH_GEN_SANITIZE=${sanitize}`);
  else if (process.env.TORCH_GEN_BUILD_DIR) args.push('--out', process.env.TORCH_GEN_BUILD_DIR);
  run(process.execPath, args, projectRoot);
}

export function buildWithNodeGyp() {
  const torch = findLibtorch();
  console.error(`torch-gen: building the addon with node-gyp against libtorch ${torch.version} (${torch.dir})`);
  const stage = join(projectRoot, 'build', 'gyp-stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  for (const entry of ['binding.gyp', 'native', 'scripts', 'package.json']) {
    cpSync(join(projectRoot, entry), join(stage, entry), { recursive: true });
  }
  symlinkSync(join(projectRoot, 'node_modules'), join(stage, 'node_modules'));
  const nodeGyp = join(projectRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const args = [nodeGyp, 'rebuild', `--jobs=${cpus().length}`];
  const dir = nodeDir();
  if (dir) args.push(`--nodedir=${dir}`);
  // The staged scripts/libtorch.mjs would look for .venv inside the stage; point it at the real one.
  const env = process.env.TORCH_GEN_LIBTORCH || process.env.TORCH_GEN_PYTHON ? {} : { TORCH_GEN_LIBTORCH: torch.dir };
  // The grammar engine's cargo build is shared with the cmake-js build rather than redone in the stage.
  env.TORCH_GEN_GRAMMAR_TARGET = process.env.TORCH_GEN_GRAMMAR_TARGET || join(projectRoot, 'build', 'grammar');
  const result = spawnSync(process.execPath, args, { cwd: stage, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) {
    console.error(`torch-gen: node-gyp build failed (exit ${result.status})`);
    process.exit(1);
  }
  mkdirSync(dirname(gypAddon), { recursive: true });
  cpSync(join(stage, 'build', 'Release', 'torch_gen.node'), gypAddon);
  rmSync(stage, { recursive: true, force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const gyp = process.argv.includes('--gyp');
  const ifNeeded = process.argv.includes('--if-needed');
  try {
    if (gyp) {
      if (!ifNeeded || isStale(gypAddon)) buildWithNodeGyp();
    } else if (!ifNeeded || isStale(sanitizer() ? asanAddon : cmakeAddon)) {
      buildWithCmakeJs();
    }
  } catch (error) {
    console.error(`torch-gen: ${error.message}`);
    process.exit(1);
  }
}
