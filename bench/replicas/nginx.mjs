// nginx (the system's, e.g. Debian's nginx-light) as a child process in front of the replicas: config
// from nginx.conf.template, everything it writes in one temporary directory.
import { accessSync, constants, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { isRunning, spawnOwned, stopChild } from './processes.mjs';

const TEMPLATE = join(import.meta.dirname, 'nginx.conf.template');
const INSTALL_HINT = 'install it with `apt-get install -y nginx-light` (Debian; or `nginx`), or point $NGINX at the binary';

/** The nginx binary: $NGINX, else the first on PATH or in the sbin directories (root's PATH is not everyone's). */
export function findNginx() {
  if (process.env.NGINX) {
    if (!isExecutable(process.env.NGINX)) throw new Error(`$NGINX is ${process.env.NGINX}, which is not an executable file; ${INSTALL_HINT}`);
    return process.env.NGINX;
  }
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  const found = dirs.filter(Boolean).map((dir) => join(dir, 'nginx')).find(isExecutable);
  if (!found) throw new Error(`nginx is not installed (not on PATH, nor in /usr/sbin, /usr/local/sbin or /sbin); ${INSTALL_HINT}`);
  return found;
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The config for `upstreams` (host:port each), listening on 127.0.0.1:port, writing under `dir`. */
export function renderConfig({ dir, port, upstreams, failTimeoutSeconds }) {
  const servers = upstreams.map((address) => `        server ${address} max_fails=1 fail_timeout=${failTimeoutSeconds}s;`).join('\n');
  const values = { DIR: dir, PORT: String(port), SERVERS: servers, TRIES: String(upstreams.length) };
  return readFileSync(TEMPLATE, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, name) => {
    if (!(name in values)) throw new Error(`nginx.conf.template: unknown placeholder {{${name}}}`);
    return values[name];
  });
}

/** A port nobody listens on now (nginx binds it a moment later; a lost race is retried). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Writes the config into `dir`, checks it with `nginx -t`, starts nginx in the foreground and resolves
 * once it proxies /health to a replica with 200.
 */
export async function startNginx({ binary, dir, upstreams, failTimeoutSeconds = 10 }) {
  const conf = join(dir, 'nginx.conf');
  const errorLog = join(dir, 'error.log');
  // -e: the error log before the config is read (the compiled-in one may be a root path).
  const base = ['-p', dir, '-c', conf, '-e', errorLog];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(conf, renderConfig({ dir, port, upstreams, failTimeoutSeconds }));
    const check = spawnSync(binary, [...base, '-t', '-q'], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`nginx -t refused ${conf}:\n${check.stderr}${readLog(errorLog)}`);
    const child = spawnOwned(binary, [...base, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data) => (stderr += data.toString('utf8')));
    const url = `http://127.0.0.1:${port}`;
    const up = await waitUntilProxying(child, url);
    if (up) {
      return {
        url,
        port,
        child,
        conf,
        /** nginx's access log: one object per request (see log_format in the template). */
        accessLog: () => readLog(join(dir, 'access.log')).split('\n').filter(Boolean).map((line) => JSON.parse(line)),
        errorLog: () => readLog(errorLog),
        stop: () => stopChild(child, 'SIGTERM'),
      };
    }
    await stopChild(child, 'SIGKILL');
    const log = readLog(errorLog);
    if (attempt < 3 && /Address already in use/.test(log)) continue;
    throw new Error(`nginx did not start proxying on ${url}:\n${stderr}${log}`);
  }
}

async function waitUntilProxying(child, url, timeoutMs = 10_000) {
  const begin = performance.now();
  while (isRunning(child) && performance.now() - begin < timeoutMs) {
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  return false;
}

const readLog = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
