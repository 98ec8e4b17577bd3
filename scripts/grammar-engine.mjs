// The grammar engine of constrained decoding: llguidance (a Rust crate) built by cargo into a static library
// that the addon links through its C header. Optional: without cargo (or with TORCH_GEN_GRAMMAR=off) the
// addon is built without it, the install still succeeds, and a constrained request says how to enable it.
//   node scripts/grammar-engine.mjs cmake OUT   builds it and writes OUT, a CMake file setting
//                                               TORCH_GEN_GRAMMAR_LIB and TORCH_GEN_GRAMMAR_INCLUDE (or a
//                                               message saying why not)
//   node scripts/grammar-engine.mjs cflags|libraries
//                                               the same for binding.gyp
// TORCH_GEN_GRAMMAR_TARGET puts cargo's output elsewhere than build/grammar (the node-gyp staging build
// shares the checkout's).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = join(root, 'native', 'grammar', 'Cargo.toml');
const LIBRARY = 'libtorch_gen_grammar.a';
export const ENABLE_HINT =
  "install Rust's toolchain (rustup, with cargo on the PATH or in ~/.cargo/bin), then run `npm run build:native`";

/** cargo's path: CARGO, then the PATH, then rustup's default place; undefined when there is none. */
function findCargo() {
  const candidates = [process.env.CARGO, 'cargo', join(homedir(), '.cargo', 'bin', 'cargo')].filter(Boolean);
  return candidates.find((cargo) => spawnSync(cargo, ['--version'], { stdio: 'ignore' }).status === 0);
}

/**
 * Builds the engine (a no-op when cargo finds it up to date). Returns { lib, include, version } or
 * { reason } when it is left out; cargo's own output goes to stderr.
 */
export function buildGrammarEngine() {
  if (process.env.TORCH_GEN_GRAMMAR === 'off') return { reason: 'TORCH_GEN_GRAMMAR=off' };
  const cargo = findCargo();
  if (cargo === undefined) return { reason: `cargo was not found; ${ENABLE_HINT}` };
  const target = process.env.TORCH_GEN_GRAMMAR_TARGET || join(root, 'build', 'grammar');
  // --locked: the crates of native/grammar/Cargo.lock, never newer ones picked at build time.
  const build = spawnSync(cargo, ['build', '--release', '--locked', '--manifest-path', manifest, '--target-dir', target], {
    stdio: ['ignore', 2, 2],
  });
  if (build.status !== 0) return { reason: `\`cargo build\` of native/grammar failed (exit ${build.status}); see its output above` };
  // llguidance.h ships in the crate's own directory, which cargo metadata names.
  const metadata = spawnSync(cargo, ['metadata', '--format-version', '1', '--locked', '--manifest-path', manifest], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 2],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (metadata.status !== 0) return { reason: '`cargo metadata` of native/grammar failed' };
  const engine = JSON.parse(metadata.stdout).packages.find((pkg) => pkg.name === 'llguidance');
  const include = dirname(engine.manifest_path);
  const lib = join(target, 'release', LIBRARY);
  if (!existsSync(join(include, 'llguidance.h')) || !existsSync(lib)) return { reason: `cargo built no ${LIBRARY} or llguidance.h` };
  return { lib, include, version: engine.version };
}

const cmakePath = (path) => path.replaceAll('\\', '/');

if (import.meta.url === `file://${process.argv[1]}`) {
  const what = process.argv[2];
  const engine = buildGrammarEngine();
  if (engine.reason) console.error(`torch-gen: building without the grammar engine (constrained decoding): ${engine.reason}`);
  if (what === 'cmake') {
    const lines = engine.reason
      ? [`set(TORCH_GEN_GRAMMAR_REASON "${engine.reason.replaceAll('"', "'")}")`]
      : [
          `set(TORCH_GEN_GRAMMAR_LIB "${cmakePath(engine.lib)}")`,
          `set(TORCH_GEN_GRAMMAR_INCLUDE "${cmakePath(engine.include)}")`,
          `set(TORCH_GEN_GRAMMAR_VERSION "${engine.version}")`,
        ];
    writeFileSync(process.argv[3], `${lines.join('\n')}\n`);
  } else if (what === 'cflags') {
    console.log(engine.reason ? '' : `-isystem ${engine.include} -DTORCH_GEN_GRAMMAR=1 -DTORCH_GEN_GRAMMAR_VERSION=${engine.version}`);
  } else if (what === 'libraries') {
    console.log(engine.reason ? '' : `${engine.lib} -ldl -lpthread -lm`);
  } else {
    console.error(`grammar-engine: unknown request '${what}'`);
    process.exit(1);
  }
}
