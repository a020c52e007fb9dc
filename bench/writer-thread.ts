// Would a writer thread pay? The issue's first lead puts the SQLite writer (its transactions,
// not only the fsync, which is already off the loop) on a worker thread, so that the thread that
// serves calls does less per task. This measures the trade on the tasks table Switchyard really
// has (its migrations, the task store's statements): the A workload's transactions (create a
// batch, claim it, complete it; 500 tasks per batch) and C's (groups of 8 single creates), run
// (1) on the main thread, as the server does, and (2) on a worker thread, the main thread
// posting each batch and taking its rows back by postMessage (structured clone). Reported: CPU
// of the main thread per task (what the serving thread would gain or lose), CPU of every thread
// per task (what the machine pays), wall time per task. WAL, synchronous = NORMAL (the fsync,
// off the loop in both, is left out: it does not change with the thread the SQL runs on).
// 3 rounds, modes interleaved. `bun run bench writer-thread`. Asserts nothing.
import { Database as Sqlite } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { openDatabase } from "../src/db/client.ts";
import { runSync } from "../src/db/op.ts";
import { newId } from "../src/core/ids.ts";
import { S, createSqliteTaskStore, type TaskRow } from "../src/tasks/store.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TASKS = Number(process.env.BENCH_WRITER_TASKS ?? 20_000);

export type Batch = { kind: "create"; ids: string[]; payload: string } | { kind: "claim"; n: number } | { kind: "complete"; items: [string, number][] };

/** Runs one batch as one transaction on `sqlite` with the task store's statements; answers the rows. */
export function runBatch(sqlite: Sqlite): (batch: Batch) => TaskRow[] {
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA temp_store = MEMORY");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  const store = createSqliteTaskStore(sqlite);
  const begin = sqlite.prepare("BEGIN IMMEDIATE");
  const commit = sqlite.prepare("COMMIT");
  const tx = undefined as never;
  return (batch) => {
    const now = Date.now();
    begin.run();
    let rows: TaskRow[];
    if (batch.kind === "create") {
      rows = batch.ids.map((id) =>
        runSync(store.insert(tx, ["default", id, "bench", "", 0, batch.payload, null, now, null, 3, null, S.pending, null, now, now, null, "", "", null, null, null] as never))!,
      );
    } else if (batch.kind === "claim") {
      rows = runSync(store.claimFromQueue(tx, "default", "bench", "[]", batch.n, "w1", now, 60_000));
    } else {
      rows = batch.items.map(([id, token]) => runSync(store.complete(tx, "default", id, token, '{"ok":true}', now))!);
    }
    commit.run();
    return rows;
  };
}

function cpuUs(tid?: number): number {
  const f = readFileSync(tid === undefined ? "/proc/self/stat" : `/proc/self/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

type Mode = "main thread" | "worker thread";
type Workload = "A: create 500 → claim 500 → complete 500" | "C: groups of 8 single creates";
interface Row {
  mode: Mode;
  workload: Workload;
  mainUs: number;
  allUs: number;
  wallUs: number;
}

async function once(mode: Mode, workload: Workload): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-writer-"));
  const path = join(dir, "switchyard.db");
  const migrated = openDatabase(path, { sync: "in-commit" }); // the schema, every migration
  await migrated.close();
  const sqlite = new Sqlite(path, { strict: true });
  const local = mode === "main thread" ? runBatch(sqlite) : undefined;
  const worker = mode === "worker thread" ? new Worker(join(import.meta.dir, "writer-thread-worker.ts"), { workerData: { path } }) : undefined;
  const call = (b: Batch): Promise<TaskRow[]> =>
    local ? Promise.resolve(local(b)) : new Promise((resolve) => {
      worker!.once("message", resolve);
      worker!.postMessage(b);
    });
  const payload = JSON.stringify({ n: 1, kind: "bench", text: "x".repeat(60) });
  const batchA = 500;
  const cycle = async () => {
    if (workload.startsWith("A")) {
      await call({ kind: "create", ids: Array.from({ length: batchA }, () => newId("task")), payload });
      const claimed = await call({ kind: "claim", n: batchA });
      await call({ kind: "complete", items: claimed.map((r) => [r.id, r.fencing_token]) });
      return batchA;
    }
    await call({ kind: "create", ids: Array.from({ length: 8 }, () => newId("task")), payload });
    return 8;
  };
  try {
    for (let n = 0; n < 2000; ) n += await cycle(); // warm up
    const pid = process.pid;
    const m0 = cpuUs(pid);
    const a0 = cpuUs();
    const t0 = performance.now();
    let n = 0;
    while (n < TASKS) n += await cycle();
    const wall = performance.now() - t0;
    return { mode, workload, mainUs: (cpuUs(pid) - m0) / n, allUs: (cpuUs() - a0) / n, wallUs: (wall * 1000) / n };
  } finally {
    await worker?.terminate();
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function writerThreadBench(): Promise<string> {
  const rows: Row[] = [];
  const loads: string[] = [];
  const workloads: Workload[] = ["A: create 500 → claim 500 → complete 500", "C: groups of 8 single creates"];
  for (let r = 1; r <= ROUNDS; r++) {
    const before = loadavg().map((l) => l.toFixed(2)).join(" ");
    const modes: Mode[] = r % 2 ? ["main thread", "worker thread"] : ["worker thread", "main thread"];
    for (const w of workloads) for (const m of modes) rows.push(await once(m, w));
    loads.push(`round ${r}: ${before} → ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  }
  const f = (x: number) => x.toFixed(1);
  const table = [
    "| workload | where the SQL runs | main thread CPU µs per task | all threads CPU µs per task | wall µs per task | every round (main / all / wall) |",
    "|---|---|---:|---:|---:|---|",
  ];
  const ratios = ["| workload | main thread CPU: worker ÷ main | all threads CPU: worker ÷ main | wall: worker ÷ main |", "|---|---:|---:|---:|"];
  for (const w of workloads) {
    const med: Record<string, { main: number; all: number; wall: number }> = {};
    for (const m of ["main thread", "worker thread"] as Mode[]) {
      const rs = rows.filter((x) => x.workload === w && x.mode === m);
      med[m] = { main: median(rs.map((x) => x.mainUs)), all: median(rs.map((x) => x.allUs)), wall: median(rs.map((x) => x.wallUs)) };
      table.push(`| ${w} | ${m} | ${f(med[m]!.main)} | ${f(med[m]!.all)} | ${f(med[m]!.wall)} | ${rs.map((x) => `${f(x.mainUs)} / ${f(x.allUs)} / ${f(x.wallUs)}`).join("; ")} |`);
    }
    const [a, b] = [med["main thread"]!, med["worker thread"]!];
    ratios.push(`| ${w} | ${(b.main / a.main).toFixed(2)}× | ${(b.all / a.all).toFixed(2)}× | ${(b.wall / a.wall).toFixed(2)}× |`);
  }
  return `${ROUNDS} rounds, modes interleaved (the order flips every round); ${TASKS} tasks per row after 2,000 warm-up. ` +
    `Load average (1/5/15 min) before → after: ${loads.join("; ")}.\n\n${table.join("\n")}\n\n${ratios.join("\n")}`;
}
