// Builds and runs the core's unit tests (native/tests: GoogleTest, no addon, no model).
//   node scripts/test-core.mjs [gtest flags, e.g. --gtest_filter=Scheduler.*]
// Configures TORCH_GEN_CORE_TESTS=ON in the addon's cmake-js build directory (build/), so that the test
// target sees the same libtorch, and builds only that target. Needs GoogleTest (Debian: libgtest-dev).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './libtorch.mjs';

const buildDir = join(projectRoot, 'build');

function run(command, args) {
  const result = spawnSync(command, args, { cwd: projectRoot, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`torch-gen: \`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

if (!existsSync(join(buildDir, 'CMakeCache.txt'))) {
  console.error('torch-gen: no cmake-js build directory (build/CMakeCache.txt): run `npm run build:native` first');
  process.exit(1);
}
run('cmake', ['-S', projectRoot, '-B', buildDir, '-DTORCH_GEN_CORE_TESTS=ON']);
run('cmake', ['--build', buildDir, '--target', 'torch_gen_core_tests', '--parallel', String(cpus().length)]);
const binary = [join(buildDir, 'torch_gen_core_tests'), join(buildDir, 'Release', 'torch_gen_core_tests')].find(existsSync);
if (!binary) {
  console.error('torch-gen: the core tests were built but their binary is not in build/ or build/Release/');
  process.exit(1);
}
run(binary, process.argv.slice(2));
