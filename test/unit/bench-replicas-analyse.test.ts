// bench/replicas/analyse.mjs on records shaped as the load generator writes them: which failures the kill
// of a replica excuses. A replica is torn down for a while after its SIGKILL (its listening socket still
// open), so a request nginx sends it then is lost with it; only one started after its exit must succeed.
// No process runs here; test/integration/replicas.test.ts runs the real cluster.
import { describe, expect, test } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { analyse } from '../../bench/replicas/analyse.mjs';

const VICTIM = '127.0.0.1:1001';
const SURVIVOR = '127.0.0.1:1002';
const replicas = [
  { index: 0, address: VICTIM },
  { index: 1, address: SURVIVOR },
];
const kill = { at: 1000, gone: 1300, address: VICTIM, index: 0, inFlightReported: 1 };

let nextId = 0;
function record(servedBy: string, start: number, end: number, ok: boolean, status?: number) {
  return {
    requestId: `r${nextId++}`,
    servedBy,
    start,
    end,
    ok,
    stream: false,
    responseStarted: false,
    completionTokens: ok ? 8 : 0,
    ...(ok ? {} : { error: { status: status ?? 502, name: 'InternalServerError', message: '502' } }),
  };
}

// Two requests before the kill on each replica, one in flight on the victim when it is killed.
const base = () => [
  record(VICTIM, 100, 400, true),
  record(VICTIM, 200, 500, true),
  record(SURVIVOR, 150, 450, true),
  record(SURVIVOR, 250, 600, true),
  record(VICTIM, 700, 1310, false),
];

function books(records: ReturnType<typeof record>[]) {
  return analyse({ load: { records, startedAt: 0, endedAt: 2000 }, replicas, kill });
}
const failedChecks = (b: { checks: { name: string; ok: boolean }[] }) => b.checks.filter((c) => !c.ok).map((c) => c.name);

describe('bench/replicas analyse: the kill window', () => {
  test('a request sent to the victim while it was being torn down is lost with it, not held against nginx', () => {
    const b = books([...base(), record(VICTIM, 1100, 1310, false), record(SURVIVOR, 1400, 1700, true)]);
    expect(failedChecks(b)).toEqual([]);
    expect(b.kill).toMatchObject({ inFlightOnReplica: 2, failed: 2, startedWhileDying: 1, startedAfterKill: 1, completedAfterKill: 1, goneAtSeconds: 1.3 });
  });

  test('a request started after the victim was gone must succeed on a survivor', () => {
    const b = books([...base(), record(SURVIVOR, 1400, 1500, false)]);
    expect(failedChecks(b)).toEqual([
      'every failed request was in flight on the killed replica',
      'every request on a surviving replica succeeded',
      'every request started after the killed replica was gone succeeded on a survivor',
    ]);
  });

  test('a failure on the survivor while the victim was dying is still a failure', () => {
    const b = books([...base(), record(SURVIVOR, 1100, 1200, false), record(SURVIVOR, 1400, 1700, true)]);
    expect(failedChecks(b)).toEqual(['every failed request was in flight on the killed replica', 'every request on a surviving replica succeeded']);
  });

  test('without the exit time (an older harness), the signal is the boundary', () => {
    const { gone: _gone, ...signalOnly } = kill;
    const records = [...base(), record(VICTIM, 1100, 1310, false), record(SURVIVOR, 1400, 1700, true)];
    const b = analyse({ load: { records, startedAt: 0, endedAt: 2000 }, replicas, kill: signalOnly });
    expect(failedChecks(b)).toEqual([
      'every failed request was in flight on the killed replica',
      'every request started after the killed replica was gone succeeded on a survivor',
    ]);
  });

  test('each replica counts its requests before the kill, while the victim was torn down, and after', () => {
    const b = books([...base(), record(VICTIM, 1100, 1310, false), record(SURVIVOR, 1200, 1500, true), record(SURVIVOR, 1400, 1700, true)]);
    expect(b.perReplica.map((r: { startedBeforeKill: number; startedWhileDying: number; startedAfterKill: number; requests: number }) => [r.startedBeforeKill, r.startedWhileDying, r.startedAfterKill, r.requests])).toEqual([
      [3, 1, 0, 4],
      [2, 1, 1, 4],
    ]);
    expect(b.kill).toMatchObject({ startedWhileDying: 2, startedWhileDyingOnVictim: 1 });
  });
});
