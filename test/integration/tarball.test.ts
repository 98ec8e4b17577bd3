// The npm package as a user gets it, not the checkout: `npm pack` from a clean copy of the sources (no dist/,
// so prepack must build it), `npm install` of the tarball into a new project, whose install script builds
// the addon against the libtorch that TORCH_GEN_PYTHON names (the checkout's .venv, as the README's "bring
// your own libtorch" says, so the 900 MB wheel is not fetched again), then generation through the CLI and
// through an import. Slow, once: one pack and one install (an addon build) serve every test here.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess, type Finished } from '../child-process.js';
import { defaultModelDir } from '../helpers.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const PROMPT = 'The capital of France is';
const MAX_TOKENS = 8;

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

/**
 * The environment of the npm and node processes: the caller's, less what would make them use the
 * checkout instead of the installed package (npm_* set by `npm test`, an addon override, a skipped
 * install), plus the checkout's libtorch unless the caller names one.
 */
function packageEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || ['INIT_CWD', 'TORCH_GEN_ADDON', 'TORCH_GEN_SKIP_INSTALL', 'TORCH_GEN_RPATH'].includes(key)) continue;
    env[key] = value;
  }
  if (!env.TORCH_GEN_LIBTORCH && !env.TORCH_GEN_PYTHON) env.TORCH_GEN_PYTHON = join(repoRoot, '.venv', 'bin', 'python');
  return env;
}

/** Runs a command to completion; rejects with the end of its output when it fails. */
async function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Finished> {
  const result = await runProcess(command, args, { cwd, env: packageEnv(), timeoutMs });
  if (result.code === 0) return result;
  const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-40).join('\n');
  throw new Error(`\`${command} ${args.join(' ')}\` in ${cwd} failed (${result.signal ?? `exit ${result.code}`}):\n${tail}`);
}

/** The files a clean clone of the working tree has: tracked or not ignored, and present. */
function copySources(to: string): void {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' });
  for (const file of listed.split('\0').filter(Boolean)) {
    const from = join(repoRoot, file);
    if (!existsSync(from) || statSync(from).isDirectory()) continue;
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(from, join(to, file));
  }
}

/** `npx torch-gen generate` of PROMPT, greedy, in the new project; run once, shared by the tests. */
let cliResult: Promise<Finished> | undefined;
function cliGenerate(): Promise<Finished> {
  cliResult ??= run('npx', ['--no', 'torch-gen', 'generate', '-m', defaultModelDir, '-n', String(MAX_TOKENS), '-t', '0', PROMPT], app, 120_000);
  return cliResult;
}

let work: string;
let packed: PackResult;
let tarball: string;
let app: string;
let installed: string;

beforeAll(async () => {
  // The real path: Node reports resolved modules by it.
  work = realpathSync(mkdtempSync(join(tmpdir(), 'torch-gen-package-')));
  const sources = join(work, 'src');
  copySources(sources);
  // prepack compiles the TypeScript with the checkout's devDependencies; the tarball gets none of them.
  symlinkSync(join(repoRoot, 'node_modules'), join(sources, 'node_modules'), 'dir');
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], sources, 5 * 60_000);
  packed = (JSON.parse(pack.stdout) as PackResult[])[0] as PackResult;
  tarball = join(work, packed.filename);
}, 10 * 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm package › the tarball', () => {
  it('ships the compiled dist, the native sources, the install scripts and the exporter', () => {
    const paths = new Set(packed.files.map((f) => f.path));
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      main: string;
      types: string;
      bin: Record<string, string>;
      exports: Record<string, string | Record<string, string>>;
    };
    const entryPoints = [pkg.main, pkg.types, ...Object.values(pkg.bin), ...Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)))];
    // Every native source and header: the install compiles them all.
    const nativeFiles = (readdirSync(join(repoRoot, 'native'), { recursive: true }) as string[])
      .map((file) => join('native', file))
      .filter((file) => statSync(join(repoRoot, file)).isFile());
    const needed = [
      ...entryPoints.map((p) => p.replace(/^\.\//, '')),
      'dist/cli/main.js',
      'package.json',
      'README.md',
      'CMakeLists.txt',
      'binding.gyp',
      ...nativeFiles,
      'scripts/install.mjs',
      'scripts/setup-libtorch.mjs',
      'scripts/libtorch.mjs',
      'scripts/build-native.mjs',
      'scripts/gyp-config.mjs',
      'scripts/grammar-engine.mjs',
      'python/requirements.txt',
      'python/torch_gen_export/__main__.py',
    ];
    for (const path of needed) expect(paths.has(path), `the tarball lacks ${path}`).toBe(true);
  });

  it('ships no tests, fixtures, benchmarks, build outputs, models or deployment files', () => {
    const unwanted = /^(test|bench|build|models|deploy|\.venv|node_modules|\.ci)\/|fixtures|__pycache__|\.pyc$|\.node$|\.tgz$|^Dockerfile$|^vitest|^tsconfig/;
    expect(packed.files.map((f) => f.path).filter((path) => unwanted.test(path))).toEqual([]);
    // A few hundred kilobytes: dist and sources only. A jump means something heavy slipped in.
    expect(packed.size).toBeLessThan(1024 * 1024);
  });
});

describe('npm package › installed into a new project', () => {
  beforeAll(async () => {
    app = join(work, 'app');
    mkdirSync(app);
    // npm 11 lists dependencies whose install scripts no `allowScripts` entry covers, and a future npm (or
    // --strict-allow-scripts, used here) refuses them. A tarball's identity is its `file:` path; from the
    // registry it is the package (`npm install-scripts approve @org/torch-gen` writes the entry).
    const manifest = { name: 'torch-gen-package-test', private: true, type: 'module', allowScripts: { [`file:${tarball}`]: true } };
    writeFileSync(join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--strict-allow-scripts', tarball], app, 20 * 60_000);
    installed = join(app, 'node_modules', '@org', 'torch-gen');
  }, 25 * 60_000);

  it('its install script built the addon without TypeScript, which the package does not depend on', () => {
    expect(existsSync(join(installed, 'build', 'Release', 'torch_gen.node'))).toBe(true);
    expect(existsSync(join(installed, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false);
  });

  it('`npx torch-gen generate` generates from the installed package', async () => {
    const result = await cliGenerate();
    expect(result.stdout.trim().length).toBeGreaterThan(0);
    expect(result.stderr).toMatch(/\d+ prompt \+ [1-9]\d* generated tokens/);
  }, 180_000);

  it('`import { loadModel } from "@org/torch-gen"` resolves to the installed package and generates the same greedy text', async () => {
    const script = `import { loadModel, runtimeInfo } from '@org/torch-gen';
const [dir, prompt, maxTokens] = process.argv.slice(2);
const model = await loadModel(dir, { device: 'cpu' });
try {
  const { text, finishReason, usage } = await model.complete(prompt, { maxTokens: Number(maxTokens), temperature: 0 });
  console.log(JSON.stringify({ entry: import.meta.resolve('@org/torch-gen'), addon: runtimeInfo().addonPath, text, finishReason, usage }));
} finally {
  await model.dispose();
}
`;
    writeFileSync(join(app, 'generate.mjs'), script);
    const result = await run(process.execPath, ['generate.mjs', defaultModelDir, PROMPT, String(MAX_TOKENS)], app, 120_000);
    const out = JSON.parse(result.stdout) as { entry: string; addon: string; text: string; finishReason: string; usage: { completionTokens: number } };
    expect(out.entry).toBe(`file://${join(installed, 'dist', 'index.js')}`);
    expect(out.addon).toBe(join(installed, 'build', 'Release', 'torch_gen.node'));
    expect(out.usage.completionTokens).toBeGreaterThan(0);
    expect(out.text.length).toBeGreaterThan(0);
    // Greedy decoding of the same prompt: the library and the CLI must agree token for token.
    expect((await cliGenerate()).stdout.trimEnd()).toBe(out.text.trimEnd());
  }, 240_000);
});
