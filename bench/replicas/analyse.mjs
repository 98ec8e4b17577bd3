// The books of a replicas load test: who served what, what the kill cost, throughput and latency, and
// the checks that say whether the cluster behaved (each { name, ok, detail }).

/**
 * A response the replica had fully sent when the SIGKILL landed can still reach the client a moment
 * later (through the kernel's and nginx's buffers): it counts as finished before the kill.
 */
export const KILL_GRACE_MS = 100;

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (value, digits = 0) => (value === null ? null : Number(value.toFixed(digits)));

/**
 * `load`: what runLoad() resolved with. `replicas`: [{ index, address }]. `kill`: what killWhenBusy()
 * resolved with, or undefined for a run without a kill. `servedIds`: address -> the x-request-ids that
 * replica logged as answered with 200 (its own request log), to check nginx's attribution.
 */
export function analyse({ load, replicas, kill, servedIds }) {
  const { records, startedAt, endedAt } = load;
  const rel = (t) => t - startedAt;
  const killAt = kill?.at ?? Infinity;
  // A request sent to the victim before it was gone could be lost with it (see killWhenBusy in cluster.mjs);
  // one started after that must go to a survivor and succeed.
  const goneAt = kill?.gone ?? killAt;
  const startedWhileDying = (r) => r.start >= killAt && r.start < goneAt;
  const ok = records.filter((r) => r.ok);
  const failed = records.filter((r) => !r.ok);
  const victim = kill?.address;
  // On the victim when it died: sent there, started before it was gone, not finished when the kill landed.
  const inFlightOnVictim = records.filter((r) => victim && r.servedBy === victim && r.start < goneAt && (!r.ok || r.end > killAt));
  const finishedInGrace = inFlightOnVictim.filter((r) => r.ok && r.end <= killAt + KILL_GRACE_MS);
  const startedAfterKill = records.filter((r) => r.start >= goneAt);
  const movedByNginx = records.filter((r) => r.upstream?.includes(','));
  const known = new Set(replicas.map((r) => r.address));

  const perReplica = replicas.map(({ index, address }) => {
    const mine = records.filter((r) => r.servedBy === address);
    return {
      index,
      address,
      killed: address === victim,
      requests: mine.length,
      completed: mine.filter((r) => r.ok).length,
      failed: mine.filter((r) => !r.ok).length,
      startedBeforeKill: mine.filter((r) => r.start < killAt).length,
      startedWhileDying: mine.filter(startedWhileDying).length,
      startedAfterKill: mine.filter((r) => r.start >= goneAt).length,
    };
  });

  const wallSeconds = (endedAt - startedAt) / 1000;
  const tokens = ok.reduce((sum, r) => sum + r.completionTokens, 0);
  const latency = ok.map((r) => r.end - r.start);
  const ttft = ok.filter((r) => r.stream && r.firstToken !== undefined).map((r) => r.firstToken - r.start);
  const beforeKill = perReplica.map((r) => r.startedBeforeKill);
  const fairShare = beforeKill.reduce((a, b) => a + b, 0) / replicas.length;
  // A response finished as the kill landed may have died with its log line; it is not held against nginx.
  const unlogged = servedIds ? ok.filter((r) => !finishedInGrace.includes(r) && !servedIds.get(r.servedBy)?.has(r.requestId)) : [];

  const checks = [
    check('every replica served requests before the kill, at least half its fair share',
      beforeKill.every((n) => n >= Math.max(1, fairShare / 2)), `requests started before the kill, by replica: ${beforeKill.join(', ')}`),
    check('nginx named a known replica for every request',
      records.every((r) => known.has(r.servedBy)), `${records.filter((r) => !known.has(r.servedBy)).length} without one`),
    check('no request failed before the kill', failed.every((r) => r.end > killAt), `${failed.filter((r) => r.end <= killAt).length} failed before it`),
  ];
  if (kill) {
    checks.push(
      check('the killed replica had requests in flight', inFlightOnVictim.length > 0, `${inFlightOnVictim.length} in flight`),
      check('every failed request was in flight on the killed replica',
        failed.every((r) => inFlightOnVictim.includes(r)), `${failed.filter((r) => !inFlightOnVictim.includes(r)).length} failures elsewhere`),
      check('every request in flight on the killed replica failed (but responses already sent)',
        inFlightOnVictim.every((r) => !r.ok || finishedInGrace.includes(r)),
        `${inFlightOnVictim.length} in flight, ${failed.length} failed, ${finishedInGrace.length} already sent`),
      check('every request on a surviving replica succeeded',
        records.every((r) => r.servedBy === victim || r.ok), `${records.filter((r) => r.servedBy !== victim && !r.ok).length} failed`),
      check('every request started after the killed replica was gone succeeded on a survivor',
        startedAfterKill.length > 0 && startedAfterKill.every((r) => r.ok && r.servedBy !== victim),
        `${startedAfterKill.length} started after it was gone, ${startedAfterKill.filter((r) => !r.ok || r.servedBy === victim).length} not`),
    );
  }
  if (servedIds) {
    checks.push(check('each completed request is in the request log of the replica nginx named',
      unlogged.length === 0, `${unlogged.length} of ${ok.length} not found`));
  }

  return {
    requests: records.length,
    completed: ok.length,
    failed: failed.length,
    streamed: records.filter((r) => r.stream).length,
    perReplica,
    kill: kill && {
      replica: kill.index,
      address: victim,
      atSeconds: round(rel(killAt) / 1000, 2),
      goneAtSeconds: round(rel(goneAt) / 1000, 2),
      // Requests started between the signal and the exit: those nginx sent to the victim may be lost with it.
      startedWhileDying: records.filter(startedWhileDying).length,
      startedWhileDyingOnVictim: records.filter((r) => r.servedBy === victim && startedWhileDying(r)).length,
      inFlightReportedByReplica: kill.inFlightReported,
      inFlightOnReplica: inFlightOnVictim.length,
      failed: failed.length,
      failedStreamed: failed.filter((r) => r.stream).length,
      // A stream cut after its first events, as opposed to an answer nginx replaced with its own 502.
      failedMidStream: failed.filter((r) => r.responseStarted).length,
      failedNotStreamed: failed.filter((r) => !r.stream).length,
      finishedAsTheKillLanded: finishedInGrace.length,
      failureKinds: countBy(failed, (r) => (r.error.status ? `HTTP ${r.error.status}` : `${r.error.name}: ${r.error.message}`)),
      startedAfterKill: startedAfterKill.length,
      completedAfterKill: startedAfterKill.filter((r) => r.ok).length,
    },
    movedByNginxAfterRefusedConnection: movedByNginx.length,
    wallSeconds: round(wallSeconds, 2),
    completionTokens: tokens,
    tokensPerSecond: round(tokens / wallSeconds, 1),
    latencyMs: { p50: round(percentile(latency, 50)), p99: round(percentile(latency, 99)) },
    streamedTtftMs: { p50: round(percentile(ttft, 50)), p99: round(percentile(ttft, 99)) },
    failures: failed.map((r) => ({
      client: r.client, index: r.index, stream: r.stream, responseStarted: Boolean(r.responseStarted), servedBy: r.servedBy ?? null,
      startSeconds: round(rel(r.start) / 1000, 2), endSeconds: round(rel(r.end) / 1000, 2), error: r.error,
    })),
    checks,
    passed: checks.every((c) => c.ok),
  };
}

function check(name, ok, detail) {
  return { name, ok: Boolean(ok), detail };
}

export function countBy(items, key) {
  const counts = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
