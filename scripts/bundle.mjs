// `npm run bundle`: packs what the GPU suite and the library need on a Linux x64 host that has no registry
// and no Node (a GPU host with its own Python, torch, CUDA, cmake and a compiler):
//
//   node scripts/bundle.mjs [--out build/torch-gen-bundle-linux-x64.tar.xz] [--skip-tsc] [--no-strip]
//
// Inside, under torch-gen-bundle/: this machine's Node binary (node/bin/node), the production node_modules
// plus vitest and what it needs (typescript is left out: dist/ is compiled here), the sources that rebuild
// the addon (native/, CMakeLists.txt, binding.gyp, scripts/, with node-addon-api and cmake-js), dist/, bin/,
// python/ (the exporter, the fixture builders, the benchmark models), bench/gpu, test/gpu,
// vitest.gpu.config.ts, README-BUNDLE.md and BUNDLE.json (the commit it was made from). No addon binary:
// the target builds its own against its own torch (the addon links that torch by absolute rpath).
// Docs, tests, type declarations and source maps inside node_modules are dropped.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from './libtorch.mjs';

const NAME = 'torch-gen-bundle';
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join('build', `${NAME}-linux-x64.tar.xz`) },
    'skip-tsc': { type: 'boolean', default: false },
    'no-strip': { type: 'boolean', default: false },
  },
});
const stageRoot = join(projectRoot, 'build', 'bundle');
const stage = join(stageRoot, NAME);

// What the suite runs from the project, relative to its root.
const PROJECT_FILES = ['package.json', 'CMakeLists.txt', 'binding.gyp', 'tsconfig.json', 'vitest.gpu.config.ts', 'README.md', 'BENCHMARKS.md', 'docs/gpu.md'];
const PROJECT_DIRS = ['native', 'scripts', 'dist', 'bin', 'python', 'bench/gpu', 'test/gpu'];
// Packages beside the production dependencies: the GPU suite runs its tests with vitest.
const EXTRA_PACKAGES = ['vitest'];
// Dropped from the copy of the project: caches, and python/tests (pytest, which the suite does not run).
// dist/'s source maps stay: vitest reads them for the stack traces of the library's code.
const SKIP_IN_PROJECT = (path) => /(^|\/)(__pycache__|\.pytest_cache)(\/|$)/.test(path) || path.startsWith('python/tests');
// Dropped from node_modules: what no code loads. Licence files stay.
const PRUNED_DIRS = new Set(['test', 'tests', '__tests__', 'docs', 'doc', 'example', 'examples', '.github', 'coverage', 'benchmark', 'benchmarks']);
const PRUNED_FILE = /(\.map|\.md|\.markdown|\.d\.ts|\.d\.mts|\.d\.cts|\.tsbuildinfo)$/i;
const KEEP_FILE = /^(licen[cs]e|copying|notice)/i;

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`\`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
}

/** Hard-links a file into the stage (fast, and tar then stores files linked to each other once), else copies. */
function place(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
    chmodSync(to, statSync(from).mode);
  }
}

function copyTree(from, to, skip) {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (skip(source, entry)) continue;
    if (entry.isDirectory()) copyTree(source, join(to, entry.name), skip);
    else if (entry.isFile()) place(source, join(to, entry.name));
  }
}

/** The package directories needed by `roots`: their dependencies, resolved as Node does, transitively. */
function packageClosure(roots) {
  const needed = new Set();
  const visit = (dir) => {
    if (needed.has(dir)) return;
    needed.add(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    // Optional peers (vite's CSS preprocessors, vitest's browser runner...) are left out even when some other
    // tool installed them: nothing in the suite asks for them.
    const optionalPeers = new Set(Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
    const required = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})].filter((n) => !optionalPeers.has(n));
    for (const name of new Set(required)) {
      const found = resolvePackage(dir, name);
      if (!found) throw new Error(`${relative(projectRoot, dir)} needs ${name}, which is not installed; run npm install`);
      visit(found);
    }
    // Optional dependencies are platform binaries (esbuild's, rollup's): this platform's is installed.
    for (const name of Object.keys(manifest.optionalDependencies ?? {})) {
      const found = resolvePackage(dir, name);
      if (found) visit(found);
    }
  };
  for (const name of roots) {
    const found = resolvePackage(projectRoot, name);
    if (!found) throw new Error(`${name} is not installed; run npm install`);
    visit(found);
  }
  return [...needed];
}

/** Node's lookup: DIR/node_modules/NAME, then each parent's, up to the project root. */
function resolvePackage(fromDir, name) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === projectRoot || dir === dirname(dir)) return undefined;
  }
}

function copyPackages(dirs) {
  for (const dir of dirs) {
    copyTree(dir, join(stage, relative(projectRoot, dir)), (source, entry) => {
      // Nested node_modules are packages of their own, copied when the closure includes them.
      if (entry.isDirectory()) return entry.name === 'node_modules' || PRUNED_DIRS.has(entry.name) || entry.name === '.bin';
      return PRUNED_FILE.test(entry.name) && !KEEP_FILE.test(entry.name);
    });
  }
}

/** This machine's Node, stripped of its symbol table when `strip` is there (the dynamic symbols addons link stay). */
function copyNode() {
  const target = join(stage, 'node', 'bin', 'node');
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(process.execPath, target);
  chmodSync(target, 0o755);
  if (!values['no-strip'] && spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0) {
    run('strip', [target]);
    const check = spawnSync(target, ['-p', 'process.versions.napi'], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`the stripped node does not run: ${check.stderr}`);
  }
  const license = ['/usr/share/doc/nodejs/LICENSE', join(dirname(process.execPath), '..', 'share', 'doc', 'node', 'LICENSE')].find(existsSync);
  if (license) place(license, join(stage, 'node', 'LICENSE'));
}

function commit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: projectRoot, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+uncommitted` : head;
  } catch {
    return 'unknown';
  }
}

function readme() {
  return `# torch-gen offline bundle

Everything the GPU suite needs on a Linux x64 host without a package registry and without Node: Node ${process.version}
(node/bin/node), node_modules, dist/, the addon's sources, the exporter and the GPU tests and benchmark.
The host brings an NVIDIA driver, cmake, a C++17 compiler and a Python with torch and transformers.

## The one command

\`\`\`sh
tar -xJf ${NAME}-linux-x64.tar.xz && ${NAME}/scripts/gpu-suite.sh --out gpu-results
\`\`\`

It builds the addon against \`python3\`'s torch (another Python: \`TORCH_GEN_PYTHON=/path/to/python\`),
exports the test and benchmark models with it, runs the GPU tests and the benchmark on \`cuda\`
(\`TORCH_GEN_TEST_DEVICE=cuda:1\` for another GPU), and writes \`gpu-results/results.md\` and
\`results.json\` (plus the raw files and one log per step). \`scripts/gpu-suite.sh --help\` lists the steps
and settings. Models go to \`${NAME}/models/gpu-suite\` (about 35 GB with the 7B-class model).

A run cut short (a time limit) continues where it stopped when run again; or run it in parts:

\`\`\`sh
${NAME}/scripts/gpu-suite.sh --out gpu-results --steps build,device,fixtures,references,test
${NAME}/scripts/gpu-suite.sh --out gpu-results --steps models,bench,report --models gpt2-124m,qwen2-0.5b,tinyllama-1.1b
${NAME}/scripts/gpu-suite.sh --out gpu-results --steps models,bench,report --models llama2-7b
\`\`\`

The same suite on a machine without a GPU proves the plumbing only:
\`TORCH_GEN_TEST_DEVICE=cpu ${NAME}/scripts/gpu-suite.sh\` (toy-sized models; no GPU figures).

Made from commit ${commit()} on ${new Date().toISOString().slice(0, 10)}.
`;
}

function main() {
  if (!values['skip-tsc']) {
    console.error('bundle: compiling the TypeScript into dist/');
    run(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(projectRoot, 'tsconfig.json')]);
  }
  if (!existsSync(join(projectRoot, 'dist', 'index.js'))) throw new Error('dist/ is missing; run `npm run build:ts`');
  rmSync(stageRoot, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  for (const file of PROJECT_FILES) if (existsSync(join(projectRoot, file))) place(join(projectRoot, file), join(stage, file));
  for (const dir of PROJECT_DIRS) {
    copyTree(join(projectRoot, dir), join(stage, dir), (source) => SKIP_IN_PROJECT(relative(projectRoot, source)));
  }
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));
  const packages = packageClosure([...Object.keys(pkg.dependencies ?? {}), ...EXTRA_PACKAGES]);
  if (packages.some((dir) => dir.endsWith(join('node_modules', 'typescript')))) console.error('bundle: note: a package needs typescript; it is included');
  copyPackages(packages);
  copyNode();
  writeFileSync(join(stage, 'README-BUNDLE.md'), readme());
  writeFileSync(
    join(stage, 'BUNDLE.json'),
    `${JSON.stringify({ commit: commit(), made: new Date().toISOString(), node: process.version, platform: `${process.platform}-${process.arch}`, packages: packages.length }, null, 1)}\n`,
  );

  const out = join(projectRoot, values.out);
  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  // xz at its default level with all cores; zstd when xz is missing (the name then says .zst).
  const xz = spawnSync('xz', ['--version'], { stdio: 'ignore' }).status === 0;
  const archive = xz ? out : out.replace(/\.xz$/, '.zst');
  const compressor = xz ? 'xz -T0 -6' : 'zstd -19 -T0';
  console.error(`bundle: packing ${packages.length} packages and the project into ${relative(projectRoot, archive)} (${compressor})`);
  run('tar', ['--owner=0', '--group=0', '--numeric-owner', '--sort=name', `--use-compress-program=${compressor}`, '-cf', archive, '-C', stageRoot, NAME]);
  const mib = statSync(archive).size / 2 ** 20;
  console.error(`bundle: ${relative(projectRoot, archive)}: ${mib.toFixed(1)} MiB${mib > 60 ? ' (over the 60 MiB target)' : ''}`);
  console.log(archive);
}

try {
  main();
} catch (error) {
  console.error(`bundle: ${error.message}`);
  process.exit(1);
}
