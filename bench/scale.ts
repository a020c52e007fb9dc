// Scale-out benchmark (issue 17): one, two and three Switchyard instances on one PostgreSQL and
// one nats-server, against one instance on its SQLite file. Same workloads as bench/tasks.ts
// (batched enqueue → worker streams → batched completes; enqueue → waiting worker latency), with
// producers and workers spread over the instances round robin and the latency's worker on a
// different instance from the creating client. CPU per task is read from /proc for each
// component (the instances, every PostgreSQL process, nats-server). Asserts nothing.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startChildServer, type ChildServer } from "../src/testing/child-server.ts";
import { startNatsServer } from "../src/testing/nats-server.ts";
import { startPostgres } from "../src/testing/postgres.ts";
import { freePort } from "../src/testing/server.ts";
import { dispatchLatency, endToEnd, grpcPort, type Port } from "./tasks.ts";

const N = Number(process.env.BENCH_TASKS ?? 20_000);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 500);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 16);
const TICKS = 100; // USER_HZ on Linux

export interface ScaleRow {
  setup: string;
  instances: number;
  tasksPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU µs per task of the end-to-end run, by component. */
  cpuUsPerTask: { switchyard: number; postgres: number; nats: number };
}

type Match = (cmdline: string, pid: number, ppid: number) => boolean;

/** utime + stime (seconds) of every process whose command line (or parent) matches. */
function cpuSeconds(match: Match): number {
  let ticks = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ");
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (!match(cmd, Number(name), Number(fields[1]))) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended between the listing and the read
    }
  }
  return ticks / TICKS;
}

/** One Port over several instances: batches and workers round robin, latency created on the first and served by the last. */
function spread(urls: string[]): Port {
  const ports = urls.map((u) => grpcPort(u));
  let turn = 0;
  let workerTurn = urls.length > 1 ? 1 : 0;
  return {
    createBatch: (n, offset) => ports[turn++ % ports.length]!.createBatch(n, offset),
    createOne: (id) => ports[0]!.createOne(id),
    worker: (id, credits, on) => ports[workerTurn++ % ports.length]!.worker(id, credits, on),
    complete: (items) => ports[turn++ % ports.length]!.complete(items),
    claim: (id, w) => ports[turn++ % ports.length]!.claim(id, w),
    createIds: (ids) => ports[0]!.createIds(ids),
  };
}

async function measure(setup: string, urls: string[], components: { switchyard: Match; postgres: Match; nats: Match }): Promise<ScaleRow> {
  const port = spread(urls);
  await endToEnd(port, "grpc", 4, 2_000); // warm up
  const before = { s: cpuSeconds(components.switchyard), p: cpuSeconds(components.postgres), n: cpuSeconds(components.nats) };
  const e2e = await endToEnd(port, "grpc", WORKERS, N);
  const after = { s: cpuSeconds(components.switchyard), p: cpuSeconds(components.postgres), n: cpuSeconds(components.nats) };
  // The latency's worker sits on the last instance; every other instance has none, so the task is
  // pushed across instances when there are several.
  const lat = await dispatchLatency(spread([urls[0]!, urls[urls.length - 1]!]), "grpc", SAMPLES);
  const us = (s: number) => Math.round((s * 1e6) / N);
  return {
    setup,
    instances: urls.length,
    tasksPerSecond: e2e.tasksPerSecond,
    p50Ms: lat.p50Ms,
    p99Ms: lat.p99Ms,
    cpuUsPerTask: { switchyard: us(after.s - before.s), postgres: us(after.p - before.p), nats: us(after.n - before.n) },
  };
}

export async function scaleBench(): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  const none = () => false;
  // One instance on SQLite.
  {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-scale-"));
    const s = await startChildServer(dir, { SWITCHYARD_RATE_LIMITS: "off" });
    try {
      rows.push(await measure("SQLite file", [s.url], { switchyard: (_c, p) => p === s.proc.pid, postgres: none, nats: none }));
    } finally {
      await s.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const pg = await startPostgres();
  const nats = await startNatsServer();
  let postmaster = 0;
  cpuSeconds((c, p) => (c.includes(pg.dataDir) && c.includes("postgres") ? ((postmaster = p), true) : false));
  try {
    for (const n of [1, 2, 3]) {
      const url = await pg.createDatabase(`scale${n}`);
      const dir = mkdtempSync(join(tmpdir(), "switchyard-scale-"));
      const servers: ChildServer[] = [];
      try {
        const env = { SWITCHYARD_DATABASE_URL: url, NATS_URL: nats.url, SWITCHYARD_SECRET_KEY: "ef".repeat(32), SWITCHYARD_RATE_LIMITS: "off" };
        for (let i = 0; i < n; i++) servers.push(await startChildServer(join(dir, `i${i}`), env, await freePort()));
        const pids = new Set(servers.map((s) => s.proc.pid));
        rows.push(
          await measure(`PostgreSQL + NATS`, servers.map((s) => s.url), {
            switchyard: (_c, p) => pids.has(p),
            // The postmaster (its command line names the data folder) and its children (backends, WAL writer…).
            postgres: (c, p, pp) => p === postmaster || pp === postmaster,
            nats: (c) => c.includes("nats-server") && c.includes(String(nats.port)),
          }),
        );
      } finally {
        await Promise.all(servers.map((s) => s.kill("SIGTERM")));
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await nats.stop();
    await pg.stop();
  }
  return rows;
}
