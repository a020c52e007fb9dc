// The path of an enqueue to a waiting worker (workload B of bench/peers), before and after, side
// by side in one run:
// 1. The claim statement: one `UPDATE … WHERE seq IN (SELECT ready … LIMIT n) RETURNING *` (before)
//    against a SELECT of the ready keys, then an UPDATE by key (one) or by a JSON list of keys
//    (several) (now), on one SQLite file holding PRELOAD finished tasks in the queue, with 0, 1,
//    10 and 1000 tasks ready. Inside one transaction, rolled back: µs per claim.
// 2. What a sync costs the JavaScript thread to issue: the WAL file's inode check through the
//    asynchronous node:fs `stat` (before) or `statSync` (now), and the `fdatasync` call itself.
// 3. B at domain level (a fresh engine and file per round): one worker with one credit, one
//    create at a time two loop turns after the last completion (a client's round trip), time until the worker has it, with the committer syncing every group
//    (before: a dispatch round that claimed nothing had a sync of its own, which the next
//    create's group waited behind) or only groups that changed something (now); syncs per task.
// Rounds interleaved, medians. `bun run bench claim-path`. Asserts nothing.
import { fdatasync, mkdtempSync, openSync, rmSync, stat, statSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/client.ts";
import { CAPS_OK, CLAIM_SET, S } from "../src/tasks/store.ts";
import { withDomainEngine } from "./tasks.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PRELOAD = Number(process.env.BENCH_PRELOAD ?? 20_000);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 2_000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[], digits = 1) => `${median(xs).toFixed(digits)} (${xs.map((x) => x.toFixed(digits)).join(" / ")})`;

const READY = `SELECT t.seq FROM tasks t WHERE t.tenant = ?7 AND t.queue = ?5 AND t.state = ${S.pending} AND t.run_at <= ?2 AND ${CAPS_OK} ORDER BY t.priority DESC, t.seq LIMIT ?6`;

/** µs per claim of `ready` tasks with each form; every claim must take exactly what is ready. */
function claimStatements(ready: number, reps: number): { before: number; now: number } {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-claim-"));
  const db = openDatabase(join(dir, "switchyard.db"), { sync: "in-commit" });
  try {
    const s = db.sqlite;
    const ins = s.prepare(`INSERT INTO tasks (tenant, id, queue, payload, run_at, max_attempts, state, created_at, updated_at) VALUES ('default', ?, 'q', '{"n":1}', 0, 3, ?, 0, 0)`);
    s.transaction(() => {
      for (let i = 0; i < PRELOAD; i++) ins.run(`done-${i}`, S.succeeded);
      for (let i = 0; i < ready * reps; i++) ins.run(`ready-${i}`, S.pending);
    })();
    const oneStatement = s.prepare(`UPDATE tasks SET ${CLAIM_SET} WHERE seq IN (${READY}) RETURNING *`);
    const select = s.prepare(READY);
    const bySeq = s.prepare(`UPDATE tasks SET ${CLAIM_SET} WHERE seq = ?5 AND state = ${S.pending} RETURNING *`);
    const bySeqs = s.prepare(`UPDATE tasks SET ${CLAIM_SET} WHERE seq IN (SELECT value FROM json_each(?5)) AND state = ${S.pending} RETURNING *`);
    const args = (n: number) => ["w", 1, 30_000, "[]", "q", n, "default"] as const;
    const forms = {
      before: () => (oneStatement.all(...args(Math.max(ready, 1))) as unknown[]).length,
      now: () => {
        const keys = select.all(...args(Math.max(ready, 1))) as { seq: number }[];
        if (keys.length === 0) return 0;
        if (keys.length === 1) return bySeq.get("w", 1, 30_000, null, keys[0]!.seq) ? 1 : 0;
        return (bySeqs.all("w", 1, 30_000, null, JSON.stringify(keys.map((k) => k.seq))) as unknown[]).length;
      },
    };
    const out = { before: 0, now: 0 };
    for (const form of ["before", "now"] as const) {
      s.exec("BEGIN IMMEDIATE");
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) {
        const got = forms[form]();
        if (got !== ready) throw new Error(`${form}: claimed ${got} of ${ready}`);
      }
      out[form] = ((performance.now() - t0) / reps) * 1000;
      s.exec("ROLLBACK");
    }
    return out;
  } finally {
    void db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** µs of this thread per call to issue each asynchronous operation (until the call returns). */
async function syncDispatch(reps: number): Promise<{ statAsync: number; statSync: number; fdatasync: number; statAsyncDone: number }> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-sync-"));
  const path = join(dir, "wal");
  const fd = openSync(path, "w");
  const page = Buffer.alloc(4096, 1);
  try {
    let a = 0, b = 0, c = 0, d = 0;
    for (let i = 0; i < reps; i++) {
      writeSync(fd, page);
      let t0 = performance.now();
      const synced = new Promise<void>((r, j) => fdatasync(fd, (e) => (e ? j(e) : r())));
      c += performance.now() - t0;
      t0 = performance.now();
      const statted = new Promise<void>((r) => stat(path, () => r()));
      a += performance.now() - t0;
      t0 = performance.now();
      statSync(path);
      b += performance.now() - t0;
      await Promise.all([synced, statted]);
      // The asynchronous check alone, from the call to its callback (a hop to the pool and back).
      t0 = performance.now();
      await new Promise<void>((r) => stat(path, () => r()));
      d += performance.now() - t0;
    }
    return { statAsync: (a / reps) * 1000, statSync: (b / reps) * 1000, fdatasync: (c / reps) * 1000, statAsyncDone: (d / reps) * 1000 };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * B at domain level with the gap a client's round trip leaves: after each completion the next
 * create comes two loop turns later, as over the network, so the dispatch round that the freed
 * credit starts (and finds nothing) is a group of its own, with its sync in flight when the create
 * arrives. Time from the create to the worker having the task.
 */
async function latency(syncUnchanged: boolean): Promise<{ p50: number; p99: number; syncsPerTask: number }> {
  return withDomainEngine(
    async (engine, database) => {
      let waiting: ((a: { id: string; token: number }) => void) | undefined;
      const session = engine.connectWorker({ workerId: "bench-b", queues: ["b"], credits: 1 }, (m) => {
        if (m.kind === "assigned") waiting?.({ id: m.assignment.task.id, token: m.assignment.lease.fencingToken });
      });
      const turn = () => new Promise((r) => setImmediate(r));
      const lat: number[] = [];
      let syncs0 = 0;
      for (let i = 0; i < SAMPLES + 100; i++) {
        if (i === 100) syncs0 = database.committer.stats.syncs;
        const got = new Promise<{ id: string; token: number }>((r) => (waiting = r));
        const t0 = performance.now();
        void engine.createTask({ queue: "b", payload: { n: i } });
        const a = await got;
        if (i >= 100) lat.push(performance.now() - t0);
        await engine.batchCompleteTasks([{ id: a.id, fencingToken: a.token, result: { ok: true } }]);
        await turn();
        await turn();
      }
      session.close();
      lat.sort((x, y) => x - y);
      return { p50: lat[Math.floor(lat.length / 2)]!, p99: lat[Math.floor(lat.length * 0.99)]!, syncsPerTask: (database.committer.stats.syncs - syncs0) / SAMPLES };
    },
    "off-loop",
    { syncUnchanged },
  );
}

export async function claimPathBench(): Promise<string> {
  const load0 = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  const readies = [0, 1, 10, 1000];
  const claims = new Map<number, { before: number[]; now: number[] }>(readies.map((r) => [r, { before: [], now: [] }]));
  const dispatch = { statAsync: [] as number[], statSync: [] as number[], fdatasync: [] as number[], statAsyncDone: [] as number[] };
  const lat = { before: { p50: [] as number[], p99: [] as number[], syncs: [] as number[] }, now: { p50: [] as number[], p99: [] as number[], syncs: [] as number[] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of readies) {
      const c = claimStatements(r, r >= 1000 ? 20 : 2000);
      claims.get(r)!.before.push(c.before);
      claims.get(r)!.now.push(c.now);
    }
    const d = await syncDispatch(1000);
    dispatch.statAsync.push(d.statAsync);
    dispatch.statSync.push(d.statSync);
    dispatch.fdatasync.push(d.fdatasync);
    dispatch.statAsyncDone.push(d.statAsyncDone);
    // Alternate which variant goes first.
    for (const v of round % 2 === 0 ? (["before", "now"] as const) : (["now", "before"] as const)) {
      const l = await latency(v === "before");
      lat[v].p50.push(l.p50 * 1000);
      lat[v].p99.push(l.p99 * 1000);
      lat[v].syncs.push(l.syncsPerTask);
    }
  }
  const load1 = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
  const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
  return [
    `${ROUNDS} interleaved rounds, medians with every round in brackets. Load average before → after: ${load0} → ${load1}.`,
    "",
    `## 1. The claim statement (µs per claim, one SQLite file with ${PRELOAD} finished tasks in the queue, inside one transaction)`,
    "",
    "| tasks ready | before: UPDATE … WHERE seq IN (SELECT …) RETURNING * | now: SELECT keys, then UPDATE by key | now ÷ before |",
    "|---:|---:|---:|---:|",
    ...readies.map((r) => `| ${r} | ${fmt(claims.get(r)!.before)} | ${fmt(claims.get(r)!.now)} | ${ratio(claims.get(r)!.now, claims.get(r)!.before)}× |`),
    "",
    "## 2. Issuing a sync: µs of the JavaScript thread per call (until it returns)",
    "",
    "| call | µs |",
    "|---|---:|",
    `| \`fs.stat(path, cb)\` (before: the WAL's inode check beside each sync) | ${fmt(dispatch.statAsync)} |`,
    `| \`fs.stat(path, cb)\`, from the call to its callback | ${fmt(dispatch.statAsyncDone)} |`,
    `| \`fs.statSync(path)\` (now), call to answer | ${fmt(dispatch.statSync)} |`,
    `| \`fs.fdatasync(fd, cb)\` (both) | ${fmt(dispatch.fdatasync)} |`,
    "",
    `## 3. B at domain level: one create at a time to one waiting worker, two loop turns after the last completion as a client's round trip leaves (${SAMPLES} samples after 100 warm-up, every answer after its fsync)`,
    "",
    "| committer | p50 µs | p99 µs | syncs per task |",
    "|---|---:|---:|---:|",
    `| before: every group synced (syncUnchanged) | ${fmt(lat.before.p50, 0)} | ${fmt(lat.before.p99, 0)} | ${fmt(lat.before.syncs, 2)} |`,
    `| now: only groups that changed something | ${fmt(lat.now.p50, 0)} | ${fmt(lat.now.p99, 0)} | ${fmt(lat.now.syncs, 2)} |`,
    `| now ÷ before | ${ratio(lat.now.p50, lat.before.p50)}× | ${ratio(lat.now.p99, lat.before.p99)}× | ${ratio(lat.now.syncs, lat.before.syncs)}× |`,
    "",
    "Section 3 runs the current claim statement in both rows; section 1 is the statement alone.",
  ].join("\n");
}
