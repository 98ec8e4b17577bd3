// Finds the libtorch that the addon builds against and loads at run time.
//
// Order: TORCH_GEN_LIBTORCH (a directory with include/, lib/ and share/cmake: an unpacked libtorch zip or a
// torch package directory), then TORCH_GEN_PYTHON (a Python whose `import torch` gives the libtorch, for
// example a system torch on a GPU host), then the project's own virtualenv (.venv, made by
// `npm run setup:libtorch`).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const venvDir = join(projectRoot, '.venv');
export const venvPython = join(venvDir, 'bin', 'python');

/** The Python that owns the libtorch, or null when TORCH_GEN_LIBTORCH names a bare directory. */
export function torchPython() {
  if (process.env.TORCH_GEN_LIBTORCH) return null;
  if (process.env.TORCH_GEN_PYTHON) return process.env.TORCH_GEN_PYTHON;
  return venvPython;
}

export class LibtorchNotFound extends Error {}

/**
 * Returns { dir, includeDirs, libDir, version, cxx11Abi, hasCuda, cudaIncludes, cxxStandard, source }. Throws LibtorchNotFound.
 */
export function findLibtorch() {
  let dir;
  let source;
  if (process.env.TORCH_GEN_LIBTORCH) {
    dir = resolve(process.env.TORCH_GEN_LIBTORCH);
    source = 'TORCH_GEN_LIBTORCH';
  } else {
    const python = torchPython();
    if (!existsSync(python) && !process.env.TORCH_GEN_PYTHON) {
      throw new LibtorchNotFound(
        `no libtorch found: ${python} does not exist. Run \`npm run setup:libtorch\` to install torch into ` +
          '.venv, or set TORCH_GEN_LIBTORCH to an unpacked libtorch directory.',
      );
    }
    try {
      dir = execFileSync(python, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
    } catch (error) {
      throw new LibtorchNotFound(
        `no libtorch found: \`${python} -c "import torch"\` failed (${String(error.stderr || error.message).trim().split('\n').pop()}). ` +
          'Run `npm run setup:libtorch`, or set TORCH_GEN_LIBTORCH.',
      );
    }
    source = process.env.TORCH_GEN_PYTHON ? 'TORCH_GEN_PYTHON' : '.venv';
  }
  const libDir = join(dir, 'lib');
  const include = join(dir, 'include');
  for (const needed of [join(include, 'torch', 'script.h'), join(libDir, 'libtorch.so'), join(libDir, 'libc10.so')]) {
    if (!existsSync(needed)) {
      throw new LibtorchNotFound(`${dir} is not a libtorch: ${needed} is missing (from ${source}).`);
    }
  }
  return {
    dir,
    source,
    libDir,
    includeDirs: [include, join(include, 'torch', 'csrc', 'api', 'include')],
    version: readVersion(include),
    cxx11Abi: usesCxx11Abi(join(libDir, 'libc10.so')),
    hasCuda: existsSync(join(libDir, 'libtorch_cuda.so')),
    cudaIncludes: requiredCudaIncludes(dir, libDir),
    cxxStandard: cxxStandard(include),
  };
}

// TORCH_GEN_REQUIRE_CUDA_GRAPHS=1 (the GPU first-run kit sets it) makes a CUDA libtorch without the CUDA headers
// an error instead of a warning: a GPU run of an addon built without CUDA graphs would measure the wrong thing.
function requiredCudaIncludes(dir, libDir) {
  const found = findCudaIncludes(dir, libDir);
  if (found.length === 0 && process.env.TORCH_GEN_REQUIRE_CUDA_GRAPHS === '1' && existsSync(join(libDir, 'libtorch_cuda.so'))) {
    throw new LibtorchNotFound(
      `${dir} is a CUDA libtorch but no CUDA runtime headers were found (cuda_runtime_api.h and crt/host_defines.h ` +
        'in the nvidia-cuda-runtime/nvidia-cuda-crt wheels, CUDA_HOME, the nvcc on PATH, or /usr/local/cuda); ' +
        'set TORCH_GEN_CUDA_INCLUDE to their directories, or unset TORCH_GEN_REQUIRE_CUDA_GRAPHS to build without CUDA graphs',
    );
  }
  return found;
}

/**
 * A warning when the libtorch is not the version this package is tested with (package.json
 * torchGen.torchVersion), or null. Not an error: another 2.x (a GPU host's own torch) usually builds and runs,
 * and the GPU suite exists to check exactly that.
 */
export function versionWarning(info) {
  const tested = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).torchGen?.torchVersion;
  if (!tested || info.version === tested) return null;
  return (
    `torch-gen: warning: building against libtorch ${info.version} (${info.source}), not ${tested}, the version ` +
    'torch-gen is tested with; the build follows its C++ ABI and standard, but run the tests on it ' +
    '(scripts/gpu-suite.sh on a GPU host)'
  );
}

// The CUDA headers that the addon's CUDA graphs and allocator statistics compile against: libtorch's own
// headers include them, but a libtorch does not carry them. The wheel's nvidia-cuda-runtime package (a
// sibling of torch/ in site-packages) has the runtime API and nvidia-cuda-nvcc the crt/ headers it
// includes (`npm run setup:libtorch` installs the latter); a CUDA toolkit has both. Returns the include
// directories, or [] when none are complete or the libtorch has no CUDA: the addon then builds without
// those features and runs CUDA models eagerly.
function findCudaIncludes(dir, libDir) {
  if (!existsSync(join(libDir, 'libtorch_cuda.so'))) return [];
  const nvidia = join(dir, '..', 'nvidia');
  const candidates = [
    (process.env.TORCH_GEN_CUDA_INCLUDE || '').split(':').filter(Boolean),
    [join(nvidia, 'cuda_runtime', 'include'), join(nvidia, 'cuda_nvcc', 'include')],
    [join(nvidia, 'cu13', 'include')],
    process.env.CUDA_HOME ? [join(process.env.CUDA_HOME, 'include')] : [],
    nvccIncludes(),
    ['/usr/local/cuda/include'],
  ];
  // A CUDA 13 wheel set keeps the runtime API in nvidia/cu13/include and the crt/ headers in a package of their
  // own (nvidia-cuda-crt); a toolkit's include directory can stand in for whichever is missing.
  for (const toolkit of candidates.slice(3)) {
    if (toolkit.length > 0) candidates.push([join(nvidia, 'cu13', 'include'), ...toolkit]);
  }
  const complete = (dirs) =>
    dirs.length > 0 &&
    ['cuda_runtime_api.h', join('crt', 'host_defines.h')].every((header) => dirs.some((d) => existsSync(join(d, header))));
  const found = candidates.find(complete);
  return found ? found.map((d) => resolve(d)) : [];
}

// The include directory of the CUDA toolkit whose nvcc is on PATH ([] when there is none).
function nvccIncludes() {
  for (const dir of (process.env.PATH || '').split(':').filter(Boolean)) {
    if (existsSync(join(dir, 'nvcc'))) return [join(dir, '..', 'include')];
  }
  return [];
}

// The C++ standard to build with: ours is 17, but a newer libtorch may need more, and its headers say so
// with an #error naming the standard ("C++20 or later compatible compiler is required"); follow them
// rather than fail there. CMakeLists.txt and binding.gyp both ask here.
function cxxStandard(include) {
  const headers = [join(include, 'ATen', 'ATen.h'), join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'all.h')];
  const needs20 = headers.some((header) => existsSync(header) && readFileSync(header, 'utf8').includes('C++20 or later'));
  return needs20 ? 20 : 17;
}

function readVersion(include) {
  // torch 2.10 moved the numbers to a header-only file that the old one includes.
  const header = [join(include, 'torch', 'headeronly', 'version.h'), join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h')].find(
    (path) => existsSync(path) && readFileSync(path, 'utf8').includes('#define TORCH_VERSION_MAJOR'),
  );
  if (!header) return 'unknown';
  const text = readFileSync(header, 'utf8');
  const part = (name) => (text.match(new RegExp(`#define TORCH_VERSION_${name} (\\d+)`)) || [])[1];
  return [part('MAJOR'), part('MINOR'), part('PATCH')].join('.');
}

// The addon must use the C++ ABI libtorch was built with, or std::string arguments crash at run time.
// The new ABI mangles std::string as std::__cxx11::basic_string, so its name appears in libc10's symbols.
function usesCxx11Abi(libc10) {
  return readFileSync(libc10).includes('__cxx11');
}

/**
 * The probe's result as CMake settings, for CMakeLists.txt to include(): the libtorch, its C++ ABI and
 * standard, its CUDA headers, and node-addon-api's headers. One probe per configure, for the directory
 * actually used.
 */
export function cmakeSettings(info) {
  const quoted = (text) => `"${String(text).replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
  const nodeAddonApi = resolve(createRequire(import.meta.url)('node-addon-api').include_dir);
  return [
    '# Written by scripts/libtorch.mjs when CMake configures; do not edit.',
    `set(LIBTORCH_DIR ${quoted(info.dir)})`,
    `set(TORCH_GEN_TORCH_VERSION ${quoted(info.version)})`,
    `set(TORCH_CXX11_ABI ${info.cxx11Abi ? 1 : 0})`,
    `set(TORCH_GEN_CXX_STANDARD ${info.cxxStandard})`,
    `set(TORCH_GEN_HAS_CUDA ${info.hasCuda ? 'ON' : 'OFF'})`,
    `set(TORCH_GEN_CUDA_INCLUDE ${info.cudaIncludes.map(quoted).join(' ')})`,
    `set(NODE_ADDON_API_DIR ${quoted(nodeAddonApi)})`,
    '',
  ].join('\n');
}

// `node scripts/libtorch.mjs` prints what it finds as JSON; `node scripts/libtorch.mjs cmake FILE` writes
// the CMake settings (CMakeLists.txt runs it, with TORCH_GEN_LIBTORCH set to a LIBTORCH_DIR given by hand).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const info = findLibtorch();
    if (process.argv[2] === 'cmake') writeFileSync(process.argv[3], cmakeSettings(info));
    else console.log(JSON.stringify(info, null, 2));
  } catch (error) {
    console.error(`torch-gen: ${error.message}`);
    process.exit(1);
  }
}
