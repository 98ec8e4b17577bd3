// Scale-out: two `torch-gen serve` replicas behind nginx on loopback, under load from the openai client,
// one SIGKILLed halfway. The same harness as `npm run bench:replicas` (bench/replicas/), run short.
// Needs the system's nginx (Debian: `apt-get install -y nginx-light`); without it the tests fail and say so.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { analyse } from '../../bench/replicas/analyse.mjs';
// @ts-expect-error: a plain .mjs module without types
import { MODEL_NAME, startCluster } from '../../bench/replicas/cluster.mjs';
// @ts-expect-error: a plain .mjs module without types
import { runLoad } from '../../bench/replicas/load.mjs';
import { defaultModelDir } from '../helpers.js';

interface LoadRecord {
  stream: boolean;
  start: number;
  end: number;
  ok: boolean;
  responseStarted?: boolean;
  servedBy?: string;
  upstream?: string;
  error?: { status: number | null; name: string; message: string };
}
interface Check {
  name: string;
  ok: boolean;
  detail: string;
}
interface ReplicaBooks {
  index: number;
  address: string;
  requests: number;
  failed: number;
  startedBeforeKill: number;
  startedAfterKill: number;
}
interface Kill {
  at: number; // the SIGKILL sent
  gone: number; // the replica's exit seen (its sockets closed)
  address: string;
  index: number;
  inFlightReported: number | null;
}
interface Books {
  requests: number;
  completed: number;
  failed: number;
  perReplica: ReplicaBooks[];
  kill: { inFlightOnReplica: number; failed: number; finishedAsTheKillLanded: number; completedAfterKill: number; startedAfterKill: number };
  checks: Check[];
}
interface ChildLike {
  pid?: number;
  exitCode: number | null;
  signalCode: string | null;
}
interface Cluster {
  url: string;
  replicas: { address: string; child: ChildLike }[];
  nginx: { child: ChildLike };
  killWhenBusy: (index: number) => Promise<Kill>;
  servedIds: (records: LoadRecord[]) => Promise<Map<string, Set<string>>>;
  stop: () => Promise<{ nginx: { code: number | null; signal: string | null }; replicas: { code: number | null; signal: string | null }[] }>;
}

const LOAD = { clients: 6, durationMs: 20_000, maxTokens: 24, streamShare: 0.5 };
const KILL_AFTER_MS = 9_000;
const VICTIM = 0;

let cluster: Cluster | undefined;
let records: LoadRecord[] = [];
let kill: Kill;
let books: Books;

const checkNamed = (name: string): Check => {
  const found = books.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no check named "${name}"`);
  return found;
};

beforeAll(async () => {
  cluster = (await startCluster({ replicas: 2, model: defaultModelDir, maxBatch: 4, maxContext: 256 })) as Cluster;
  const result = await runLoad({
    url: cluster.url,
    model: MODEL_NAME,
    ...LOAD,
    at: [{ afterMs: KILL_AFTER_MS, run: () => cluster!.killWhenBusy(VICTIM) }],
  });
  records = result.records;
  kill = result.actions[0];
  books = analyse({ load: result, replicas: cluster.replicas.map((r, index) => ({ index, address: r.address })), kill, servedIds: await cluster.servedIds(records) });
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('two replicas behind nginx, one SIGKILLed under load', () => {
  test('nginx spreads the requests over both replicas', () => {
    const before = books.perReplica.map((r) => r.startedBeforeKill);
    expect(before.every((n) => n >= 2), `requests started before the kill, by replica: ${before.join(', ')}`).toBe(true);
    expect(checkNamed('every replica served requests before the kill, at least half its fair share')).toMatchObject({ ok: true });
    expect(checkNamed('nginx named a known replica for every request')).toMatchObject({ ok: true });
  });

  test('only the requests in flight on the killed replica fail, each as a 502 or a cut stream', () => {
    const failed = records.filter((r) => !r.ok);
    expect(failed.length, 'the killed replica had requests in flight').toBeGreaterThan(0);
    for (const r of failed) {
      expect(r.servedBy).toBe(kill.address);
      // Sent before the replica was gone (a connection made while it was being torn down is lost with it).
      expect(r.start).toBeLessThan(kill.gone);
      expect(r.end).toBeGreaterThan(kill.at);
      // nginx does not run a sent POST again elsewhere: the client sees the failure, as nginx's 502 when
      // no response had begun, else as a stream cut short.
      expect(r.responseStarted ? r.stream : r.error?.status === 502, JSON.stringify(r)).toBe(true);
    }
    expect(books.kill.failed).toBe(books.kill.inFlightOnReplica - books.kill.finishedAsTheKillLanded);
    for (const name of [
      'no request failed before the kill',
      'every failed request was in flight on the killed replica',
      'every request in flight on the killed replica failed (but responses already sent)',
      'every request on a surviving replica succeeded',
    ]) {
      const check = checkNamed(name);
      expect(check.ok, `${check.name}: ${check.detail}`).toBe(true);
    }
  });

  test('every request started after the killed replica was gone goes to the survivor and succeeds', () => {
    const after = records.filter((r) => r.start >= kill.gone);
    // The kill's window is the teardown of one process (200-300 ms measured), not a stall of the harness.
    expect(kill.gone - kill.at).toBeLessThan(5_000);
    expect(after.length).toBeGreaterThan(0);
    const survivor = cluster!.replicas[1 - VICTIM]!.address;
    for (const r of after) expect(r, JSON.stringify(r)).toMatchObject({ ok: true, servedBy: survivor });
  });

  test("nginx's X-Upstream-Addr agrees with the replicas' own request logs", () => {
    const check = checkNamed('each completed request is in the request log of the replica nginx named');
    expect(check.ok, check.detail).toBe(true);
  });

  test('stop() ends nginx and the surviving replica cleanly; no process is left', async () => {
    const exits = await cluster!.stop();
    expect(exits.nginx).toMatchObject({ code: 0 });
    expect(exits.replicas[VICTIM]).toMatchObject({ signal: 'SIGKILL' });
    expect(exits.replicas[1 - VICTIM]).toMatchObject({ code: 0 });
    for (const child of [cluster!.nginx.child, ...cluster!.replicas.map((r) => r.child)]) {
      expect(() => process.kill(child.pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    }
  });
});
