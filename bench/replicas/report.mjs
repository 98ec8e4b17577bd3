// The markdown summary of a replicas run (bench/results/replicas.md), from its JSON report.

export function markdown(report) {
  const { cluster, load, kill } = report;
  const lines = [
    `Replicas behind nginx, ${report.date.slice(0, 10)}, commit ${report.commit}: ${cluster.replicas} replicas of ${report.model} ` +
      `(CPU, maxBatch ${cluster.maxBatch}, maxContext ${cluster.maxContext}, ${cluster.threads} libtorch thread${cluster.threads === 1 ? '' : 's'} each, ready in ${cluster.startSeconds} s) ` +
      `behind ${report.nginx} (least_conn, max_fails=1 fail_timeout=${cluster.failTimeoutSeconds}s); ${load.clients} openai clients for ${load.durationSeconds} s, ` +
      `${Math.round(load.streamShare * 100)}% streamed, max_tokens ${load.maxTokens}; replica ${kill.replica} SIGKILLed at ${kill.atSeconds} s${kill.goneAtSeconds === undefined ? '' : ` (gone at ${kill.goneAtSeconds} s)`}. ` +
      `Machine: ${report.machine.cores} x ${report.machine.cpu}, load average ${report.loadAverage.before[0]} before, ${report.loadAverage.after[0]} after.`,
    '',
    '| requests | completed | failed | aggregate tokens/s | latency p50 ms | latency p99 ms | streamed TTFT p50 ms | streamed TTFT p99 ms |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${report.requests} | ${report.completed} | ${report.failed} | ${report.tokensPerSecond} | ${report.latencyMs.p50} | ${report.latencyMs.p99} | ` +
      `${report.streamedTtftMs.p50} | ${report.streamedTtftMs.p99} |`,
    '',
    '| replica | requests | completed | failed | started before the kill | while it was torn down | after it was gone |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...report.perReplica.map(
      (r) =>
        `| ${r.index}${r.killed ? ' (killed)' : ''} | ${r.requests} | ${r.completed} | ${r.failed} | ${r.startedBeforeKill} | ` +
        `${r.startedWhileDying ?? ''} | ${r.startedAfterKill} |`,
    ),
    '',
    `The kill: replica ${kill.replica} reported ${kill.inFlightReportedByReplica} generation(s) in flight just before it; ` +
      `${kill.inFlightOnReplica} request(s) were in flight on it and ${kill.failed} failed (${kill.failedStreamed} streamed, ` +
      `${kill.failedNotStreamed} not; ${kill.failedMidStream} cut mid-stream, the rest answered by nginx; by error: ` +
      `${Object.entries(kill.failureKinds).map(([k, n]) => `${n} x ${k}`).join(', ') || 'none'})` +
      `${kill.finishedAsTheKillLanded > 0 ? `, ${kill.finishedAsTheKillLanded} had been sent in full` : ''}. ` +
      `${kill.completedAfterKill} of ${kill.startedAfterKill} requests started after the killed replica was gone completed` +
      `${kill.startedWhileDying ? ` (${kill.startedWhileDying} started while it was being torn down, ${kill.startedWhileDyingOnVictim} of them sent to it)` : ''}; nginx moved ` +
      `${report.movedByNginxAfterRefusedConnection} request(s) to a survivor after a refused connection. ` +
      `nginx's error log: ${report.nginxView.refusedConnections} refused connection(s), ${report.nginxView.prematureCloses} premature close(s).`,
    '',
    ...report.checks.map((c) => `- ${c.ok ? 'ok' : 'FAILED'}: ${c.name} (${c.detail})`),
    '',
  ];
  return lines.join('\n');
}
