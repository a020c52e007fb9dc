// Task queue benchmark: durable end-to-end throughput (batch create → pushed to W worker
// streams → BatchCompleteTasks), dispatch latency from enqueue to an idle waiting worker, and
// claims by id under contention. Measured twice where it makes sense: at domain level (the
// engine over a real SQLite file, no transport) and through a real server process with gRPC
// clients in this process, so the transport's share is visible. Used by bench/run.ts; asserts
// nothing. Every acknowledgement measured here comes after its commit is on disk (src/db/README.md).
import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskService } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { systemClock } from "../src/core/clock.ts";
import { openDatabase, type Database } from "../src/db/client.ts";
import { createTaskEngine, type TaskEngine } from "../src/tasks/engine.ts";
import type { Assignment, NewTask } from "../src/tasks/types.ts";
import { createTaskEventHub } from "../src/tasks/watch.ts";
import { clientFor } from "../src/testing/clients.ts";
import { createH2GrpcTransport } from "../sdk/typescript/src/h2-transport.ts";
import { freePort, repoRoot, waitForHttp } from "../src/testing/server.ts";

export interface E2ERow {
  level: "domain" | "grpc";
  workers: number;
  tasks: number;
  seconds: number;
  tasksPerSecond: number;
}
export interface LatencyRow {
  level: "domain" | "grpc";
  samples: number;
  p50Ms: number;
  p99Ms: number;
}
export interface ClaimRow {
  level: "domain" | "grpc";
  claimers: number;
  tasks: number;
  attempts: number;
  claimed: number;
  claimsPerSecond: number;
  attemptsPerSecond: number;
}
export interface TasksBench {
  e2e: E2ERow[];
  latency: LatencyRow[];
  claims: ClaimRow[];
  settings: string;
}

/** Knobs, overridable from the environment for quick runs (BENCH_TASKS=20000 …). */
const N = Number(process.env.BENCH_TASKS ?? 40_000);
const BATCH = 500;
const PRODUCERS = 4;
const CREDITS = 1_000;
const COMPLETE_BATCH = 500;
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 2_000);
const CLAIM_TASKS = Number(process.env.BENCH_CLAIM_TASKS ?? 5_000);
const CLAIMERS = 16;
const WORKER_COUNTS = [1, 4, 16];
const QUEUE = "bench";

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;

// ------------------------------------------------------------------ shared drivers

/** What a producer, a worker and a claimer need, at either level. */
export interface Port {
  createBatch(n: number, offset: number): Promise<void>;
  createOne(id: string): Promise<void>;
  /** Opens a worker stream; `onAssigned` gets each pushed assignment. Answers a closer. */
  worker(id: string, credits: number, onAssigned: (id: string, token: number) => void): Promise<() => void>;
  complete(items: { id: string; fencingToken: number }[]): Promise<number>;
  /** Claims one task by id: true if this caller got it, false if someone else did. */
  claim(id: string, workerId: string): Promise<boolean>;
  createIds(ids: string[]): Promise<void>;
}

/** Enqueue N tasks in batches from PRODUCERS concurrent producers; W stream workers complete them in batches. */
export async function endToEnd(port: Port, level: "domain" | "grpc", workers: number, n: number): Promise<E2ERow> {
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const closers: (() => void)[] = [];
  for (let w = 0; w < workers; w++) {
    const pending: { id: string; fencingToken: number }[] = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      while (pending.length > 0) {
        const items = pending.splice(0, COMPLETE_BATCH);
        void port.complete(items).then((ok) => {
          done += ok;
          if (done >= n) finish();
        });
      }
    };
    closers.push(
      await port.worker(`bench-${level}-${workers}-${w}`, CREDITS, (id, fencingToken) => {
        pending.push({ id, fencingToken });
        // Like a real worker: whatever arrived in this turn of the loop is completed in one call.
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      }),
    );
  }
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (next < n) {
        const offset = next;
        const count = Math.min(BATCH, n - offset);
        next += count;
        await port.createBatch(count, offset);
      }
    }),
  );
  await all;
  const seconds = (performance.now() - t0) / 1000;
  for (const c of closers) c();
  return { level, workers, tasks: n, seconds, tasksPerSecond: Math.round(n / seconds) };
}

/** One idle worker waiting; enqueue one task at a time; time from the enqueue call to the push. */
export async function dispatchLatency(port: Port, level: "domain" | "grpc", samples: number): Promise<LatencyRow> {
  let waiting: ((v: { id: string; token: number }) => void) | undefined;
  const close = await port.worker(`bench-latency-${level}`, 1, (id, token) => waiting?.({ id, token }));
  const latencies: number[] = [];
  for (let i = 0; i < samples + 100; i++) {
    const got = new Promise<{ id: string; token: number }>((r) => (waiting = r));
    const t0 = performance.now();
    void port.createOne(`lat-${level}-${i}`);
    const a = await got;
    if (i >= 100) latencies.push(performance.now() - t0); // the first 100 warm up
    await port.complete([{ id: a.id, fencingToken: a.token }]);
  }
  close();
  latencies.sort((a, b) => a - b);
  return { level, samples, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) };
}

/** CLAIMERS callers walk the same ids in the same order, each claiming every id: one wins each. */
async function claimRace(port: Port, level: "domain" | "grpc", tasks: number, claimers: number): Promise<ClaimRow> {
  const ids = Array.from({ length: tasks }, (_, i) => `claim-${level}-${i}`);
  for (let i = 0; i < ids.length; i += 1000) await port.createIds(ids.slice(i, i + 1000));
  let attempts = 0;
  let claimed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: claimers }, async (_, c) => {
      for (const id of ids) {
        attempts++;
        if (await port.claim(id, `claimer-${c}`)) claimed++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (claimed !== tasks) throw new Error(`claim race: ${claimed} claims for ${tasks} tasks`);
  return { level, claimers, tasks, attempts, claimed, claimsPerSecond: Math.round(claimed / seconds), attemptsPerSecond: Math.round(attempts / seconds) };
}

// ------------------------------------------------------------------ domain level

// ~100 bytes of JSON, the same as bench/peers gives BullMQ.
export const payloadOf = (i: number) => ({ n: i, kind: "bench", text: "x".repeat(60) });

export function domainPort(engine: TaskEngine): Port {
  return {
    async createBatch(n, offset) {
      const batch: NewTask[] = Array.from({ length: n }, (_, i) => ({ queue: QUEUE, payload: payloadOf(offset + i) }));
      await engine.batchCreateTasks(batch);
    },
    async createOne(id) {
      await engine.createTask({ queue: QUEUE, id, payload: payloadOf(0) });
    },
    async worker(id, credits, onAssigned) {
      const session = engine.connectWorker({ workerId: id, queues: [QUEUE], credits }, (m) => {
        if (m.kind === "assigned") onAssigned(m.assignment.task.id, m.assignment.lease.fencingToken);
      });
      return () => session.close();
    },
    async complete(items) {
      const results = await engine.batchCompleteTasks(items.map((it) => ({ ...it, result: { ok: true } })));
      return results.filter((r) => r.ok).length;
    },
    async claim(id, workerId) {
      try {
        await engine.claimTask({ id, workerId });
        return true;
      } catch (e) {
        if ((e as { reason?: string }).reason === "TASK_NOT_CLAIMABLE") return false;
        throw e;
      }
    },
    async createIds(ids) {
      await engine.batchCreateTasks(ids.map((id) => ({ queue: "claims", id })));
    },
  };
}

/** A fresh engine over a fresh SQLite file, composed as the tasks module does (event hub, no watcher). */
export async function withDomainEngine<T>(fn: (engine: TaskEngine, database: Database) => Promise<T>, sync?: "off-loop" | "in-commit", options: { syncUnchanged?: boolean } = {}): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-tasks-"));
  const database = openDatabase(join(dir, "switchyard.db"), { sync, ...options });
  const hub = createTaskEventHub();
  const engine = createTaskEngine({ database, clock: systemClock, events: (e) => hub.publish(e) });
  engine.start();
  try {
    return await fn(engine, database);
  } finally {
    engine.stop();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ gRPC level

/** Starts `src/main.ts` on a fresh data dir; BENCH_SERVER_PROFILE=<dir> adds --cpu-prof. */
export async function withServer<T>(fn: (url: string, pid: number) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-bench-server-"));
  const prof = process.env.BENCH_SERVER_PROFILE;
  const args = prof ? ["bun", "--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${prof}`, join(repoRoot, "src/main.ts")] : ["bun", join(repoRoot, "src/main.ts")];
  const server = Bun.spawn(args, {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LOG_LEVEL: "warn", ...env },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/healthz`);
    return await fn(url, server.pid);
  } finally {
    server.kill("SIGTERM");
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Which TypeScript gRPC client the gRPC-level drivers use. */
export type ClientKind = "connect-node" | "sdk";
/** A TaskService client over gRPC: @connectrpc/connect-node's transport, or the SDK's own (sdk/typescript/src/h2-transport.ts). */
export const taskClient = (url: string, kind: ClientKind = "connect-node") =>
  kind === "sdk" ? createClient(TaskService, createH2GrpcTransport({ baseUrl: url })) : clientFor(TaskService, url, "grpc");

export function grpcPort(url: string, kind: ClientKind = "connect-node"): Port {
  // Producers and claimers share a few connections; each worker has its own, like a process of its own.
  const shared = Array.from({ length: 4 }, () => taskClient(url, kind));
  let turn = 0;
  const client = () => shared[turn++ % shared.length]!;
  const payload = (i: number) => fromJson(ValueSchema, payloadOf(i));
  const okResult = fromJson(ValueSchema, { ok: true });
  return {
    async createBatch(n, offset) {
      await client().batchCreateTasks({ requests: Array.from({ length: n }, (_, i) => ({ task: { queue: QUEUE, payload: payload(offset + i) } })) });
    },
    async createOne(id) {
      await shared[0]!.createTask({ task: { queue: QUEUE, id, payload: payload(0) } });
    },
    async worker(id, credits, onAssigned) {
      const own = taskClient(url, kind);
      const abort = new AbortController();
      let ready!: () => void;
      const opened = new Promise<void>((r) => (ready = r));
      void (async () => {
        try {
          for await (const m of own.connectWorker({ workerId: id, queues: [QUEUE], credits }, { signal: abort.signal })) {
            if (m.message.case === "session") ready();
            else if (m.message.case === "assigned") {
              const a = m.message.value;
              onAssigned(a.task!.id, Number(a.lease!.fencingToken));
            }
          }
        } catch (e) {
          if (!abort.signal.aborted) console.error(`worker ${id}:`, e);
        }
      })();
      await opened;
      return () => abort.abort();
    },
    async complete(items) {
      const res = await client().batchCompleteTasks({ requests: items.map((it) => ({ id: it.id, fencingToken: BigInt(it.fencingToken), result: okResult })) });
      return res.results.filter((r) => r.ok).length;
    },
    async claim(id, workerId) {
      try {
        await client().claimTask({ id, workerId });
        return true;
      } catch (e) {
        // The loser of a race is told TASK_NOT_CLAIMABLE (failed_precondition).
        if (ConnectError.from(e).code === Code.FailedPrecondition) return false;
        throw e;
      }
    },
    async createIds(ids) {
      await client().batchCreateTasks({ requests: ids.map((id) => ({ task: { queue: "claims", id } })) });
    },
  };
}

// ------------------------------------------------------------------ the run

export async function tasksBench(): Promise<TasksBench> {
  const e2e: E2ERow[] = [];
  const latency: LatencyRow[] = [];
  const claims: ClaimRow[] = [];
  const only = process.env.BENCH_LEVEL; // "domain" or "grpc" to run one level
  const parts = (process.env.BENCH_PARTS ?? "e2e,latency,claims").split(","); // for profiling one part
  if (only !== "grpc") {
    await withDomainEngine(async (engine) => {
      const port = domainPort(engine);
      await endToEnd(port, "domain", 4, 5_000); // warm up
      if (parts.includes("e2e")) for (const w of WORKER_COUNTS) e2e.push(await endToEnd(port, "domain", w, N));
      if (parts.includes("latency")) latency.push(await dispatchLatency(port, "domain", LATENCY_SAMPLES));
      if (parts.includes("claims")) claims.push(await claimRace(port, "domain", CLAIM_TASKS, CLAIMERS));
    });
  }
  if (only !== "domain") {
    await withServer(async (url) => {
      const port = grpcPort(url);
      await endToEnd(port, "grpc", 4, 5_000); // warm up
      if (parts.includes("e2e")) for (const w of WORKER_COUNTS) e2e.push(await endToEnd(port, "grpc", w, N));
      if (parts.includes("latency")) latency.push(await dispatchLatency(port, "grpc", LATENCY_SAMPLES));
      if (parts.includes("claims")) claims.push(await claimRace(port, "grpc", CLAIM_TASKS, CLAIMERS));
    });
  }
  const settings =
    `${N} tasks per run, enqueued by ${PRODUCERS} concurrent producers in batches of ${BATCH} (small JSON payload); ` +
    `each worker stream grants ${CREDITS} credits and completes what arrived in one turn of its loop with BatchCompleteTasks (≤ ${COMPLETE_BATCH}); ` +
    `latency: one idle worker, ${LATENCY_SAMPLES} single CreateTask calls one after another (after 100 warm-up), time from the call to the push; ` +
    `claims: ${CLAIMERS} claimers walk the same ${CLAIM_TASKS} ids in the same order calling ClaimTask, exactly one wins each id.`;
  return { e2e, latency, claims, settings };
}
