// The Dockerfile, checked statically (no Docker engine in CI): scripts/check-dockerfile.mjs against the real
// file, then against small broken inputs so that each rule is seen to fail with a message that says what to fix.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkDockerfile,
  checkProject,
  dockerignoreExcludes,
  MUST_IGNORE,
  parseDockerfile,
  parseInstructions,
  servePort,
  unpinnedReason,
  // @ts-expect-error: a plain .mjs script without types
} from '../../scripts/check-dockerfile.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const read = (name: string) => readFileSync(join(root, name), 'utf8');
const pkg = JSON.parse(read('package.json')) as { torchGen: Record<string, string> };

interface Stage {
  image: string;
  name: string | undefined;
  instructions: { keyword: string; args: string; line: number }[];
}
const parsed = parseDockerfile(read('Dockerfile')) as { stages: Stage[]; argDefaults: Map<string, { value: string }[]> };
const finalStage = parsed.stages.at(-1) as Stage;
const argDefault = (name: string) => parsed.argDefaults.get(name)?.map((d) => d.value);

describe('Dockerfile › the real one', () => {
  it('passes every static check', () => {
    expect(checkProject(root)).toEqual([]);
  });

  it('pins every base image to an exact version tag (no latest, no untagged)', () => {
    const stageNames = new Set(parsed.stages.map((s) => s.name));
    const images = parsed.stages.filter((s) => !stageNames.has(s.image)).map((s) => s.image);
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const image of images) expect(unpinnedReason(image), image).toBeNull();
    expect(images[0]).toMatch(/^nvidia\/cuda:\d+\.\d+\.\d+-cudnn-devel-ubuntu24\.04$/);
    expect(finalStage.image).toBe(images[0]?.replace('-devel-', '-runtime-'));
  });

  it('takes its Node, torch and CUDA versions from package.json "torchGen"', () => {
    expect(argDefault('NODE_VERSION')).toEqual([pkg.torchGen.nodeVersion]);
    expect(argDefault('TORCH_VERSION')).toEqual([pkg.torchGen.torchVersion]);
    expect(argDefault('CUDA_VERSION')).toEqual([pkg.torchGen.cudaVersion]);
    // An even major is an LTS line; 20 is the oldest the package supports.
    const major = Number(pkg.torchGen.nodeVersion?.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(20);
    expect(major % 2).toBe(0);
    expect(argDefault('NODE_SHA256')?.[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('runs the final stage as a non-root numeric user, never switching back to root', () => {
    const users = finalStage.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args.trim());
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).toMatch(/^[1-9]\d*(:\d+)?$/);
    const lastUser = finalStage.instructions.map((i) => i.keyword).lastIndexOf('USER');
    expect(finalStage.instructions.slice(lastUser + 1).filter((i) => i.keyword === 'USER')).toEqual([]);
  });

  it('exposes serve\'s documented port, and its HEALTHCHECK probes /health there', () => {
    const port = servePort(root) as number;
    expect(port).toBe(8000);
    expect(finalStage.instructions.filter((i) => i.keyword === 'EXPOSE').map((i) => i.args)).toEqual([String(port)]);
    const healthcheck = finalStage.instructions.find((i) => i.keyword === 'HEALTHCHECK');
    expect(healthcheck?.args).toContain(`http://127.0.0.1:${port}/health`);
    expect(read('DEPLOYMENT.md')).toContain(`-p ${port}:${port}`);
  });

  it('keeps node_modules, .venv, build, models and .git out of the build context', () => {
    const dockerignore = read('.dockerignore');
    for (const path of ['node_modules', '.venv', 'build', 'models', '.git', 'lib/x/node_modules/y', '.venv/lib/python3.12']) {
      expect(dockerignoreExcludes(dockerignore, path), path).toBe(true);
    }
    for (const path of ['package.json', 'package-lock.json', 'native/sources.txt', 'scripts/setup-libtorch.mjs', 'lib/index.ts', 'python/torch_gen_export']) {
      expect(dockerignoreExcludes(dockerignore, path), path).toBe(false);
    }
  });

  it('passes as a command, and fails on a broken copy with the problem on standard error', () => {
    const good = spawnSync(process.execPath, [join(root, 'scripts', 'check-dockerfile.mjs')], { encoding: 'utf8' });
    expect(good.stderr).toContain('pass the static checks');
    expect(good.status).toBe(0);

    const copy = mkdtempSync(join(tmpdir(), 'torch-gen-dockerfile-'));
    try {
      for (const file of ['Dockerfile', '.dockerignore', 'package.json', 'lib/cli/serve.ts']) cpSync(join(root, file), join(copy, file));
      writeFileSync(join(copy, 'Dockerfile'), `${read('Dockerfile')}\nUSER root\n`);
      const bad = spawnSync(process.execPath, [join(root, 'scripts', 'check-dockerfile.mjs'), '--root', copy], { encoding: 'utf8' });
      expect(bad.stderr).toContain('the final USER is root');
      expect(bad.status).toBe(1);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

// A small Dockerfile that passes; each case below breaks one thing in it.
const GOOD = `# syntax is irrelevant here
ARG CUDA_VERSION=12.8.1
ARG NODE_VERSION=24.11.1
ARG NODE_SHA256=${'a'.repeat(64)}
ARG TORCH_VERSION=2.9.1
FROM nvidia/cuda:\${CUDA_VERSION}-cudnn-devel-ubuntu24.04 AS build
ARG NODE_VERSION
RUN curl -fsSLo /tmp/node.tar.xz https://nodejs.org/dist/v\${NODE_VERSION}/node-v\${NODE_VERSION}-linux-x64.tar.xz \\
 && echo "\${NODE_SHA256}  /tmp/node.tar.xz" | sha256sum -c -
COPY scripts scripts
RUN node scripts/setup-libtorch.mjs
USER root
FROM nvidia/cuda:\${CUDA_VERSION}-cudnn-runtime-ubuntu24.04
COPY --from=build /opt /opt
USER 10001:10001
EXPOSE 8000
HEALTHCHECK CMD ["node", "-e", "fetch('http://127.0.0.1:8000/health')"]
ENTRYPOINT ["node", "/opt/torch-gen/bin/torch-gen.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
`;
const GOOD_IGNORE = '.git\nnode_modules\n.venv\nbuild/\nmodels\n';
const torchGen = { torchVersion: '2.9.1', nodeVersion: '24.11.1', cudaVersion: '12.8.1' };

function problems(dockerfile: string, dockerignore: string | null = GOOD_IGNORE): string[] {
  return checkDockerfile({ dockerfile, dockerignore, torchGen, port: 8000 }) as string[];
}

/** The problems of GOOD with `from` replaced by `to` (which must occur in it). */
function problemsWith(from: string, to: string): string[] {
  expect(GOOD).toContain(from);
  return problems(GOOD.replace(from, to));
}

describe('Dockerfile › the checker on broken inputs', () => {
  it('accepts the small good Dockerfile (so each case below fails for its own reason)', () => {
    expect(problems(GOOD)).toEqual([]);
  });

  it('refuses an image tagged latest, an untagged one, and a floating major', () => {
    expect(problemsWith('FROM nvidia/cuda:${CUDA_VERSION}-cudnn-devel-ubuntu24.04 AS build', 'FROM node:latest AS build').join('\n')).toContain(
      'base image node:latest uses the moving tag `latest`',
    );
    expect(problemsWith('FROM nvidia/cuda:${CUDA_VERSION}-cudnn-devel-ubuntu24.04 AS build', 'FROM ubuntu AS build').join('\n')).toContain(
      'base image ubuntu has no tag',
    );
    expect(problemsWith('FROM nvidia/cuda:${CUDA_VERSION}-cudnn-devel-ubuntu24.04 AS build', 'FROM node:24-slim AS build').join('\n')).toContain(
      'has the tag `24-slim`, not an exact major.minor.patch version',
    );
  });

  it('accepts a digest and a reference to an earlier stage', () => {
    expect(unpinnedReason(`ubuntu@sha256:${'0'.repeat(64)}`)).toBeNull();
    expect(problems(`${GOOD.replace('FROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime', 'FROM build AS mid\nFROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime')}`)).toEqual([]);
  });

  it('refuses a FROM variable without a default', () => {
    expect(problemsWith('ARG CUDA_VERSION=12.8.1', 'ARG CUDA_VERSION').join('\n')).toContain('FROM uses ${CUDA_VERSION} without a default');
  });

  it('refuses versions that differ from package.json', () => {
    expect(problemsWith('ARG NODE_VERSION=24.11.1', 'ARG NODE_VERSION=22.12.0')).toContain(
      'line 3: ARG NODE_VERSION=22.12.0 differs from package.json torchGen.nodeVersion (24.11.1)',
    );
    expect(problemsWith('ARG TORCH_VERSION=2.9.1', 'ARG TORCH_VERSION=2.8.0').join('\n')).toContain('torchGen.torchVersion (2.9.1)');
    expect(problemsWith('ARG TORCH_VERSION=2.9.1\n', '').join('\n')).toContain('no `ARG TORCH_VERSION=2.9.1`');
    expect(problemsWith('ARG CUDA_VERSION=12.8.1', 'ARG CUDA_VERSION=12.6.3').join('\n')).toContain('is not CUDA 12.8.1');
  });

  it('refuses torch installed other than by scripts/setup-libtorch.mjs', () => {
    const found = problemsWith('RUN node scripts/setup-libtorch.mjs', 'RUN pip install torch==2.8.0').join('\n');
    expect(found).toContain('libtorch is not installed by scripts/setup-libtorch.mjs');
    expect(found).toContain('installs torch with pip directly');
    expect(found).toContain('torch==2.8.0 differs from package.json');
  });

  it('refuses a Node download without a checksum', () => {
    expect(problemsWith(' \\\n && echo "${NODE_SHA256}  /tmp/node.tar.xz" | sha256sum -c -', '').join('\n')).toContain(
      'downloads Node without checking its sha256',
    );
  });

  it('refuses a single-stage image, and a final stage that is not the CUDA runtime image', () => {
    const single = GOOD.slice(0, GOOD.indexOf('FROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime')) + GOOD.slice(GOOD.indexOf('USER 10001'));
    expect(problems(single).join('\n')).toContain('one stage only');
    expect(problemsWith('-cudnn-runtime-ubuntu24.04', '-cudnn-devel-ubuntu24.04').join('\n')).toContain('use the nvidia/cuda -runtime- image');
    expect(problemsWith('-cudnn-runtime-ubuntu24.04', '-cudnn-runtime-ubuntu22.04').join('\n')).toContain('differ in more than devel/runtime');
  });

  it('refuses a final stage that runs as root: no USER, USER root last, or a user name', () => {
    expect(problemsWith('USER 10001:10001\n', '').join('\n')).toContain('no USER, so the server runs as root');
    expect(problemsWith('USER 10001:10001\n', 'USER 10001:10001\nUSER root\n').join('\n')).toContain('the final USER is root');
    expect(problemsWith('USER 10001:10001\n', 'USER 0:0\n').join('\n')).toContain('the final USER is root');
    expect(problemsWith('USER 10001:10001\n', 'USER node\n').join('\n')).toContain('use a numeric uid');
  });

  it('refuses a missing or disabled HEALTHCHECK, and one on another port or path', () => {
    const line = `HEALTHCHECK CMD ["node", "-e", "fetch('http://127.0.0.1:8000/health')"]\n`;
    expect(problemsWith(line, '').join('\n')).toContain('no HEALTHCHECK');
    expect(problemsWith(line, 'HEALTHCHECK NONE\n').join('\n')).toContain('no HEALTHCHECK');
    expect(problemsWith('8000/health', '9000/health').join('\n')).toContain('does not probe :8000/health');
    expect(problemsWith('8000/health', '8000/v1/models').join('\n')).toContain('does not probe :8000/health');
  });

  it('refuses an EXPOSE, a --port or a --host that does not serve the documented port to the outside', () => {
    expect(problemsWith('EXPOSE 8000', 'EXPOSE 9000')).toContain('final stage: EXPOSE 9000 does not include the documented port 8000');
    expect(problemsWith('"--port", "8000"', '"--port", "9000"').join('\n')).toContain('serve listens on 9000 but the documented port is 8000');
    expect(problemsWith('"--host", "0.0.0.0", ', '').join('\n')).toContain('serve needs `--host 0.0.0.0`');
    expect(problemsWith('CMD ["serve", ', 'CMD ["generate", ').join('\n')).toContain('is not `torch-gen serve`');
  });

  it('refuses a .dockerignore that is missing, lets a heavy path in, or excludes what the Dockerfile copies', () => {
    expect(problems(GOOD, null).join('\n')).toContain('.dockerignore is missing');
    for (const path of MUST_IGNORE as string[]) {
      const ignore = GOOD_IGNORE.split('\n').filter((line) => line.replace(/\/$/, '') !== path).join('\n');
      expect(problems(GOOD, ignore), path).toContain(`.dockerignore does not exclude ${path}`);
    }
    expect(problems(GOOD, `${GOOD_IGNORE}!models\n`)).toContain('.dockerignore does not exclude models');
    expect(problems(GOOD, `${GOOD_IGNORE}scripts\n`).join('\n')).toContain('COPY scripts, but .dockerignore excludes it');
  });

  it('reports a COPY source that does not exist when it can look', () => {
    const found = checkDockerfile({ dockerfile: GOOD, dockerignore: GOOD_IGNORE, torchGen, port: 8000, exists: () => false }) as string[];
    expect(found.join('\n')).toContain('COPY scripts, which does not exist');
  });

  it('names a missing package.json pin instead of comparing with undefined', () => {
    const found = checkDockerfile({ dockerfile: GOOD, dockerignore: GOOD_IGNORE, torchGen: { torchVersion: '2.9.1' }, port: 8000 }) as string[];
    expect(found).toContain('package.json: no torchGen.nodeVersion, the pin that ARG NODE_VERSION must repeat');
  });
});

describe('Dockerfile › parsing', () => {
  it('joins continuation lines, drops comments inside them, and upper-cases keywords', () => {
    const instructions = parseInstructions('from a:1.2.3\nRUN one \\\n# a comment\n  two\n\nrun three\n') as { keyword: string; args: string; line: number }[];
    expect(instructions).toEqual([
      { keyword: 'FROM', args: 'a:1.2.3', line: 1 },
      { keyword: 'RUN', args: 'one two', line: 2 },
      { keyword: 'RUN', args: 'three', line: 6 },
    ]);
  });

  it('matches .dockerignore rules as Docker does: parents, **, trailing slashes and ! exceptions', () => {
    expect(dockerignoreExcludes('node_modules', 'node_modules/x/y')).toBe(true);
    expect(dockerignoreExcludes('node_modules', 'lib/node_modules')).toBe(false);
    expect(dockerignoreExcludes('**/node_modules', 'node_modules')).toBe(true);
    expect(dockerignoreExcludes('**/node_modules', 'a/b/node_modules/c')).toBe(true);
    expect(dockerignoreExcludes('/build/', 'build')).toBe(true);
    expect(dockerignoreExcludes('*.tgz', 'pkg.tgz')).toBe(true);
    expect(dockerignoreExcludes('*.tgz', 'dir/pkg.tgz')).toBe(false);
    expect(dockerignoreExcludes('models\n!models/keep', 'models/keep')).toBe(false);
    expect(dockerignoreExcludes('models\n!models/keep', 'models/other')).toBe(true);
  });
});
