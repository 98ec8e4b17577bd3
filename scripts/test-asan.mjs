// npm run test:asan [-- vitest args]: the native tests against the AddressSanitizer build of the addon.
//
// Only the addon is instrumented (build/asan, TORCH_GEN_SANITIZE=address); node and libtorch are not, so
// g++'s libasan is preloaded into every process the tests start (vitest's forks, the CLI and lifecycle
// tests' child processes, the fixture builder's Python) and TORCH_GEN_ADDON points lib/native.ts at the
// instrumented addon. A report from any process is written under build/asan/reports and fails the run.
// RELIABILITY.md records the last result and explains each ASAN_OPTIONS setting.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './libtorch.mjs';
import { asanAddon, asanBuildDir } from './build-native.mjs';

// The native tier, less the node-gyp build test: it compiles a second, uninstrumented addon (minutes) and
// checks the build, not memory.
const DEFAULT_ARGS = ['test/native', '--exclude', 'test/native/node-gyp-build.test.ts'];

// Why each option (RELIABILITY.md has the same list):
//   detect_leaks=0            LeakSanitizer would report what node, V8 and libtorch keep until exit on
//                             purpose; their allocation stacks all pass through node's frames, so no
//                             suppression can tell them from ours. Leaks are the soak test's job (RSS).
//   allocator_may_return_null=1
//                             a too-large allocation returns null, as glibc's malloc does, and libtorch
//                             turns it into the OutOfMemoryError the tests expect; by default ASan aborts.
//   halt_on_error=1, exitcode=86
//                             the first report ends the process with a status nothing else uses.
//   log_path                  reports go to files, so none is lost in a child process's stderr.
//   symbolize=0               the report is written at once: symbolizing libtorch's frames takes seconds,
//                             and a process that is exiting cuts a slow report short. The addon's own
//                             frames are named afterwards, below, with addr2line.
const reports = join(asanBuildDir, 'reports');
const ASAN_OPTIONS = [
  'detect_leaks=0',
  'allocator_may_return_null=1',
  'halt_on_error=1',
  'exitcode=86',
  `log_path=${join(reports, 'asan')}`,
  'symbolize=0',
].join(':');

function libasan() {
  const result = spawnSync(process.env.CXX || 'g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' });
  const path = result.stdout?.trim();
  if (result.status !== 0 || !path || !existsSync(path)) {
    console.error('test:asan: libasan.so not found (`g++ -print-file-name=libasan.so`); install g++ (libasan comes with it)');
    process.exit(1);
  }
  return path;
}

const build = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'build-native.mjs'), '--if-needed'], {
  stdio: 'inherit',
  env: { ...process.env, TORCH_GEN_SANITIZE: 'address' },
});
if (build.status !== 0) process.exit(build.status ?? 1);

rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });
// libstdc++ right after libasan: ASan looks up the real __cxa_throw when it starts, and in a process whose
// binary does not link libstdc++ (Python building fixtures) it finds none, so the first C++ exception
// there kills the process ("CHECK failed ... real___cxa_throw").
const env = { ...process.env, LD_PRELOAD: `${libasan()} libstdc++.so.6`, ASAN_OPTIONS, TORCH_GEN_ADDON: asanAddon };

// A run that silently used the normal addon would prove nothing: check, in a process started the same way,
// that the library loads the instrumented addon and that the ASan runtime is in the process.
const preflight = spawnSync(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    "const { runtimeInfo } = await import('@org/torch-gen'); runtimeInfo();" +
      "const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');" +
      'console.log(JSON.stringify({ addon: maps.includes(process.env.TORCH_GEN_ADDON), asan: /libasan\\.so/.test(maps) }));',
  ],
  { cwd: projectRoot, encoding: 'utf8', env },
);
const loaded = JSON.parse(preflight.stdout.trim().split('\n').pop() || '{}');
if (!loaded.addon || !loaded.asan) {
  console.error(`test:asan: the instrumented addon did not load as expected (${preflight.stdout}${preflight.stderr}); run \`npm run build:ts\``);
  process.exit(1);
}

const args = process.argv.slice(2);
const vitest = join(projectRoot, 'node_modules', 'vitest', 'vitest.mjs');
const started = Date.now();
const result = spawnSync(process.execPath, [vitest, 'run', ...(args.length > 0 ? args : DEFAULT_ARGS)], {
  cwd: projectRoot,
  stdio: 'inherit',
  env,
});

/** The report with each frame in the addon named: `(…/torch_gen.node+0x1f2b)` gets `in Engine::Run() engine.cpp:135`. */
function symbolized(report) {
  const frame = /\(([^()\s]*torch_gen\.node)\+(0x[0-9a-f]+)\)/g;
  const offsets = [...new Set([...report.matchAll(frame)].map((match) => match[2]))];
  if (offsets.length === 0) return report;
  const lookup = spawnSync('addr2line', ['-f', '-C', '-e', asanAddon, ...offsets], { encoding: 'utf8' });
  if (lookup.status !== 0) return report;
  const lines = lookup.stdout.split('\n');
  const names = new Map(offsets.map((offset, i) => [offset, `${lines[2 * i]} ${lines[2 * i + 1]?.replace(`${projectRoot}/`, '')}`]));
  return report.replace(frame, (match, _module, offset) => `${match} in ${names.get(offset)}`);
}

// A log file holds errors or only warnings. "failed to allocate 0x... bytes" is the warning that
// allocator_may_return_null=1 gives for the out-of-memory tests' deliberate 4 TiB requests: expected, so it
// is shown but fails nothing. Any ERROR fails the run.
const logs = readdirSync(reports).map((file) => ({ file, text: readFileSync(join(reports, file), 'utf8') }));
const found = logs.filter((log) => /ERROR: \w+Sanitizer/.test(log.text));
for (const log of logs) {
  const kind = found.includes(log) ? 'report' : 'warnings only';
  console.error(`\ntest:asan: ${kind} ${join(reports, log.file)}\n${symbolized(log.text)}`);
}
const seconds = Math.round((Date.now() - started) / 1000);
console.error(
  `test:asan: vitest exited ${result.status ?? result.signal} after ${seconds} s; ` +
    `${found.length} AddressSanitizer error report(s), ${logs.length - found.length} log(s) of warnings only ` +
    `(addon ${asanAddon})`,
);
process.exit(found.length > 0 ? 1 : (result.status ?? 1));
