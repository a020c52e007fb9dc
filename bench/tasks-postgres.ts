// The task queue at domain level on PostgreSQL, beside SQLite: the same drivers as bench/tasks.ts
// (batch create → pushed to W worker streams → BatchCompleteTasks; dispatch latency), over one
// engine on a PostgreSQL the script starts (fsync on, src/testing/postgres.ts), then over two
// engines on that database (two instances: the producers and the workers split between them;
// each instance's dispatcher serves its own streams). Asserts nothing.
// Run: `bun bench/tasks-postgres.ts` (BENCH_TASKS=10000 by default).
import { openPostgresDatabase } from "../src/db/open.ts";
import { createTaskEngine, type TaskEngine } from "../src/tasks/engine.ts";
import { startPostgres } from "../src/testing/postgres.ts";
import { dispatchLatency, domainPort, endToEnd, withDomainEngine, type Port } from "./tasks.ts";

const N = Number(process.env.BENCH_TASKS ?? 10_000);
const rows: string[] = [];
const row = (engine: string, what: string, value: string) => rows.push(`| ${engine} | ${what} | ${value} |`);

async function measure(engine: string, port: Port): Promise<void> {
  await endToEnd(port, "domain", 4, 2_000); // warm up
  for (const w of [1, 4]) row(engine, `end to end, ${w} worker(s), ${N} tasks`, `${(await endToEnd(port, "domain", w, N)).tasksPerSecond} tasks/s`);
  const l = await dispatchLatency(port, "domain", 300);
  row(engine, "enqueue → push to an idle worker", `p50 ${l.p50Ms.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms`);
}

await withDomainEngine((engine) => measure("sqlite", domainPort(engine)));

const pg = await startPostgres();
try {
  const url = await pg.createDatabase("bench");
  const a = await openPostgresDatabase(url);
  const b = await openPostgresDatabase(url);
  const engines: TaskEngine[] = [a, b].map((database) => createTaskEngine({ database, clock: database.pg.clock }));
  for (const e of engines) e.start();
  await measure("postgres, 1 instance", domainPort(engines[0]!));
  // Two instances: creates alternate between them, so do the worker streams.
  const [pa, pb] = engines.map(domainPort) as [Port, Port];
  let turn = 0;
  const split: Port = {
    createBatch: (n, offset) => (turn++ % 2 ? pa : pb).createBatch(n, offset),
    createOne: (id) => (turn++ % 2 ? pa : pb).createOne(id),
    worker: (id, credits, onAssigned) => (turn++ % 2 ? pa : pb).worker(id, credits, onAssigned),
    complete: (items) => pa.complete(items),
    claim: (id, workerId) => pa.claim(id, workerId),
    createIds: (ids) => pa.createIds(ids),
  };
  for (const w of [2, 4]) row("postgres, 2 instances", `end to end, ${w} workers, ${N} tasks`, `${(await endToEnd(split, "domain", w, N)).tasksPerSecond} tasks/s`);
  for (const e of engines) e.stop();
  await a.close();
  await b.close();
} finally {
  await pg.stop();
}

console.log(["| engine | measure | result |", "|---|---|---|", ...rows].join("\n"));
