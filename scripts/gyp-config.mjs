// Prints one space-separated list for binding.gyp's `<!@(...)` expansions, so that node-gyp builds the
// same sources against the same libtorch, ABI and rpath as CMakeLists.txt.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLibtorch, projectRoot } from './libtorch.mjs';

const what = process.argv[2];
if (what === 'sources') {
  console.log(readFileSync(join(projectRoot, 'native', 'sources.txt'), 'utf8').trim().split(/\s+/).join(' '));
  process.exit(0);
}
let torch;
try {
  torch = findLibtorch();
} catch (error) {
  console.error(`torch-gen: ${error.message}`);
  process.exit(1);
}
const rpath = process.env.TORCH_GEN_RPATH || torch.libDir;
const libs = torch.hasCuda ? ['torch_cuda', 'c10_cuda', 'torch', 'torch_cpu', 'c10'] : ['torch', 'torch_cpu', 'c10'];
const lists = {
  cflags: [
    ...torch.includeDirs.flatMap((dir) => ['-isystem', dir]),
    `-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11Abi ? 1 : 0}`,
    // After node-gyp's own -std=gnu++17, so that a libtorch needing C++20 gets it (see libtorch.mjs).
    ...(torch.cxxStandard > 17 ? [`-std=gnu++${torch.cxxStandard}`] : []),
    // CUDA graphs and allocator statistics (see CMakeLists.txt).
    ...torch.cudaIncludes.flatMap((dir) => ['-isystem', dir]),
    ...(torch.cudaIncludes.length > 0 ? ['-DTORCH_GEN_CUDA=1'] : []),
  ],
  // See CMakeLists.txt: --no-as-needed keeps libtorch_cuda linked; the rpath finds libtorch at run time.
  ldflags: ['-Wl,--no-as-needed', `-Wl,-rpath,${rpath}`],
  libraries: [`-L${torch.libDir}`, ...libs.map((lib) => `-l${lib}`)],
};
if (!(what in lists)) {
  console.error(`gyp-config: unknown list '${what}'`);
  process.exit(1);
}
console.log(lists[what].join(' '));
