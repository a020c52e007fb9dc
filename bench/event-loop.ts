// Event-loop blocking of the durable write path: the task engine over a real SQLite file in
// this process (no transport), durable end-to-end workload and dispatch latency, with the
// commit's fsync in COMMIT on the JavaScript thread (synchronous=FULL, "in-commit") and off it
// ("off-loop": WAL written by COMMIT, fdatasync on the thread pool, checkpoints on a worker).
// A 1 ms interval timer measures how late the loop gets to it; "blocked" is the sum of the
// lateness beyond 1 ms, as a share of the run. Rounds alternate the modes. Asserts nothing.
import { dispatchLatency, domainPort, endToEnd, payloadOf, withDomainEngine } from "./tasks.ts";

export interface LoopRow {
  mode: "in-commit" | "off-loop";
  round: number;
  tasksPerSecond: number;
  commitMsPerGroup: number;
  commitShare: number;
  lagP99Ms: number;
  lagMaxMs: number;
  blockedShare: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** 16 callers each awaiting single creates for 3 s. */
  singleCreatesPerSecond: number;
  singleCommitShare: number;
  singleOpsPerGroup: number;
}

function lagMonitor() {
  const gaps: number[] = [];
  let last = performance.now();
  const h = setInterval(() => {
    const t = performance.now();
    gaps.push(t - last);
    last = t;
  }, 1);
  const t0 = performance.now();
  return () => {
    clearInterval(h);
    const total = performance.now() - t0;
    const late = gaps.reduce((s, g) => s + Math.max(0, g - 1.2), 0);
    gaps.sort((a, b) => a - b);
    return { p99: gaps[Math.floor(gaps.length * 0.99)] ?? 0, max: gaps.at(-1) ?? 0, blockedShare: late / total };
  };
}

export async function eventLoopBench(rounds = Number(process.env.BENCH_ROUNDS ?? 3), n = Number(process.env.BENCH_TASKS ?? 40_000)): Promise<LoopRow[]> {
  const rows: LoopRow[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const mode of ["in-commit", "off-loop"] as const) {
      await withDomainEngine(async (engine, database) => {
        const port = domainPort(engine);
        await endToEnd(port, "domain", 4, 5_000); // warm up
        const before = { ...database.committer.stats };
        const e2e = await endToEnd(port, "domain", 4, n);
        const s = database.committer.stats;
        const commitMs = s.commitMs - before.commitMs;
        const stop = lagMonitor();
        const lat = await dispatchLatency(port, "domain", 1_000);
        const lag = stop();
        const s0 = { ...database.committer.stats };
        let count = 0;
        const t0 = performance.now();
        const end = t0 + 3_000;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (performance.now() < end) {
              await engine.createTask({ queue: "single", payload: payloadOf(count) });
              count++;
            }
          }),
        );
        const singleMs = performance.now() - t0;
        const s1 = database.committer.stats;
        rows.push({
          singleCreatesPerSecond: Math.round(count / (singleMs / 1000)),
          singleCommitShare: (s1.commitMs - s0.commitMs) / singleMs,
          singleOpsPerGroup: (s1.operations - s0.operations) / (s1.groups - s0.groups),
          mode,
          round,
          tasksPerSecond: e2e.tasksPerSecond,
          commitMsPerGroup: commitMs / (s.groups - before.groups),
          commitShare: commitMs / (e2e.seconds * 1000),
          lagP99Ms: lag.p99,
          lagMaxMs: lag.max,
          blockedShare: lag.blockedShare,
          latencyP50Ms: lat.p50Ms,
          latencyP99Ms: lat.p99Ms,
        });
        console.error(JSON.stringify(rows.at(-1)));
      }, mode);
    }
  }
  return rows;
}
