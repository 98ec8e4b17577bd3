// Builds the test fixtures (random-weight models with reference outputs) into test/fixtures/models.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './libtorch.mjs';

export const fixturesRoot = join(projectRoot, 'test', 'fixtures', 'models');

export function makeFixtures(only) {
  const args = [join(projectRoot, 'scripts', 'run-python.mjs'), join(projectRoot, 'python', 'make_fixtures.py'), fixturesRoot];
  if (only) args.push('--only', only);
  const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`building the test fixtures failed (exit ${result.status})`);
}

if (import.meta.url === `file://${process.argv[1]}`) makeFixtures(process.argv[2]);
