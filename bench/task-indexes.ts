// The tasks table's indexes (migration 0002), before and after, side by side in one run:
// - "before": the reaper's index on (state, lease_expires_at), which every state change writes
//   (an entry at create, a delete and an insert at claim and at completion);
// - "now": the partial index on lease_expires_at WHERE state = running, which only claims and
//   completions write.
// Each round, interleaved: a fresh engine over a fresh SQLite file holding PRELOAD finished
// tasks (so the indexes have a realistic depth), then workload A at domain level (batch create →
// one worker stream → batch complete, every acknowledgement after its fsync). Figures: tasks/s,
// this process's CPU per task, bytes this process wrote per task (/proc/self/io wchar: the WAL
// and the checkpoint), then the dashboard's list by state (50 newest of one state, no queue
// filter) with each variant's query. `bun run bench task-indexes`. Asserts nothing.
import { readFileSync } from "node:fs";
import type { Database } from "../src/db/client.ts";
import { tenantQueues } from "../src/tasks/store.ts";
import { STATE_CODES } from "../src/tasks/types.ts";
import { domainPort, endToEnd, withDomainEngine } from "./tasks.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_TASKS ?? 50_000);
const PRELOAD = Number(process.env.BENCH_PRELOAD ?? 200_000);
const S = STATE_CODES;

type Variant = "before" | "now";
interface Row {
  variant: Variant;
  round: number;
  tasksPerSecond: number;
  cpuUsPerTask: number;
  bytesPerTask: number;
  listMs: Record<string, number>;
}

const wchar = () => Number(/wchar:\s+(\d+)/.exec(readFileSync("/proc/self/io", "utf8"))![1]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sqliteOf = (db: Database) => (db as unknown as { sqlite: import("bun:sqlite").Database }).sqlite;

function preload(db: Database): void {
  const s = sqliteOf(db);
  const ins = s.prepare(`INSERT INTO tasks (tenant, id, queue, payload, run_at, max_attempts, state, created_at, updated_at, finished_at, result)
    VALUES ('default', ?, ?, '{"n":1,"kind":"bench","text":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}', 0, 3, ?, ?, ?, ?, '{"ok":true}')`);
  s.transaction(() => {
    for (let i = 0; i < PRELOAD; i++) {
      // Mostly finished work across five queues; one in 1,000 still pending, one in 2,000 running.
      const state = i % 2000 === 0 ? S.running : i % 1000 === 1 ? S.pending : S.succeeded;
      ins.run(`pre-${i}`, `old-${i % 5}`, state, i, i, state === S.succeeded ? i : null);
    }
  })();
  s.exec(`UPDATE tasks SET lease_expires_at = 9e15, worker_id = 'gone' WHERE state = ${S.running}`);
}

/** The 50 newest tasks of `states`, as each variant's store asks for them. */
function listMs(db: Database, variant: Variant, states: number[]): number {
  const s = sqliteOf(db);
  const sql =
    variant === "before"
      ? `SELECT * FROM tasks WHERE tenant = ? AND state IN (${states.join(",")}) ORDER BY seq DESC LIMIT 50`
      : `SELECT * FROM tasks WHERE tenant = ? AND state IN (${states.join(",")}) AND queue IN ${tenantQueues(() => "?")} ORDER BY seq DESC LIMIT 50`;
  const q = s.prepare(sql);
  const args = variant === "before" ? ["default"] : ["default", "default", "default"];
  q.all(...args);
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    q.all(...args);
    times.push(performance.now() - t0);
  }
  return median(times);
}

const LISTINGS: [string, number[]][] = [
  ["running", [S.running]],
  ["pending", [S.pending]],
  ["pending + running", [S.pending, S.running]],
  ["succeeded", [S.succeeded]],
];

async function once(variant: Variant, round: number): Promise<Row> {
  return withDomainEngine(async (engine, db) => {
    if (variant === "before") {
      sqliteOf(db).exec(`DROP INDEX tasks_running_lease_idx; CREATE INDEX tasks_state_lease_idx ON tasks (state, lease_expires_at)`);
    }
    preload(db);
    const port = domainPort(engine);
    await endToEnd(port, "domain", 1, 2_000); // warm up
    Bun.gc(true);
    const c0 = process.cpuUsage();
    const w0 = wchar();
    const r = await endToEnd(port, "domain", 1, N);
    const cpu = process.cpuUsage(c0);
    const bytes = wchar() - w0;
    const list: Record<string, number> = {};
    for (const [name, states] of LISTINGS) list[name] = listMs(db, variant, states);
    return { variant, round, tasksPerSecond: r.tasksPerSecond, cpuUsPerTask: (cpu.user + cpu.system) / N, bytesPerTask: bytes / N, listMs: list };
  });
}

export async function taskIndexesBench(): Promise<string> {
  const rows: Row[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const variant of (round % 2 ? ["before", "now"] : ["now", "before"]) as Variant[]) {
      const r = await once(variant, round);
      rows.push(r);
      console.error(`round ${round} ${variant}: ${r.tasksPerSecond} tasks/s, ${r.cpuUsPerTask.toFixed(1)} µs CPU/task, ${Math.round(r.bytesPerTask)} B/task`);
    }
  }
  const of = (v: Variant) => rows.filter((r) => r.variant === v);
  const med = (v: Variant, f: (r: Row) => number) => median(of(v).map(f));
  const line = (name: string, f: (r: Row) => number, digits: number, lowerBetter: boolean) => {
    const b = med("before", f);
    const n = med("now", f);
    return `| ${name} | ${b.toFixed(digits)} | ${n.toFixed(digits)} | ${(n / b).toFixed(2)}×${lowerBetter ? " (lower is better)" : ""} |`;
  };
  const table = [
    "| measure (median of rounds) | before: (state, lease) index | now: partial running-lease index | now ÷ before |",
    "|---|---:|---:|---:|",
    line("A at domain level, W=1 (tasks/s)", (r) => r.tasksPerSecond, 0, false),
    line("CPU per task, this process (µs)", (r) => r.cpuUsPerTask, 1, true),
    line("bytes written per task (WAL + checkpoint)", (r) => r.bytesPerTask, 0, true),
    ...LISTINGS.map(([name]) => line(`list 50 newest, state ${name}, no queue filter (ms)`, (r) => r.listMs[name]!, 3, true)),
  ].join("\n");
  const every = [
    "| variant | round | tasks/s | µs CPU/task | B/task |",
    "|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.variant} | ${r.round} | ${r.tasksPerSecond} | ${r.cpuUsPerTask.toFixed(1)} | ${Math.round(r.bytesPerTask)} |`),
  ].join("\n");
  return (
    `${N} tasks per run (~100-byte JSON) over a SQLite file preloaded with ${PRELOAD} tasks (mostly succeeded, in five queues), ` +
    `${ROUNDS} rounds, variants interleaved. "before" is the current schema with migration 0002 undone ` +
    `(the partial index dropped, (state, lease_expires_at) created) and the store's old state-listing query; "now" is as shipped.\n\n${table}\n\n## Every round\n\n${every}`
  );
}
