// Three Switchyard instances as separate processes on one PostgreSQL and one nats-server (issue
// 17): claims spread over the instances take each task once per attempt; a task created on one
// instance reaches a worker stream on another; events reach watchers on every instance; an
// instance SIGKILLed under load loses nothing acknowledged.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startChildServer, type ChildServer } from "../../src/testing/child-server.ts";
import { startNatsServer, type NatsServer } from "../../src/testing/nats-server.ts";
import { freshPostgresUrl } from "../../src/testing/postgres.ts";
import { freePort } from "../../src/testing/server.ts";
import { taskApi, until, type TaskApi } from "../e2e/helpers/task-api.ts";

const SECRET = "ab".repeat(32);

let nats: NatsServer;
let dbUrl: string;
let dataDir: string;
let sql: SQL;
const instances: ChildServer[] = [];
const ports: number[] = [];

function env(): Record<string, string> {
  return {
    SWITCHYARD_DATABASE_URL: dbUrl,
    NATS_URL: nats.url,
    SWITCHYARD_SECRET_KEY: SECRET,
    SWITCHYARD_RATE_LIMITS: "off",
  };
}

async function start(i: number): Promise<ChildServer> {
  const s = await startChildServer(join(dataDir, `i${i}`), env(), ports[i]);
  instances[i] = s;
  return s;
}

beforeAll(async () => {
  nats = await startNatsServer();
  dbUrl = await freshPostgresUrl("fleet");
  dataDir = mkdtempSync(join(tmpdir(), "switchyard-fleet-"));
  for (let i = 0; i < 3; i++) ports.push(await freePort());
  // Started together: the migrations run once under the advisory lock.
  await Promise.all([0, 1, 2].map((i) => start(i)));
  sql = new SQL(dbUrl, { max: 2 });
}, 60_000);

afterAll(async () => {
  await Promise.all(instances.map((s) => s?.kill("SIGTERM").catch(() => {})));
  await sql?.close();
  await nats?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const api = (i: number): TaskApi => taskApi(instances[i]!.url, "grpc");

describe("three instances on one PostgreSQL", () => {
  it("starts every domain on PostgreSQL", async () => {
    for (const s of instances) {
      const { health } = await (await fetch(`${s.url}/v1/system/health`)).json();
      const byName = Object.fromEntries((health.components as { name: string; status: string; message: string }[]).map((c) => [c.name, c]));
      expect(byName.database?.status).toBe("operational");
      expect(byName.database?.message).toContain("postgres");
      expect(byName.modules).toMatchObject({ status: "operational" });
    }
  });

  it("32 claimers over three instances take each of 20,000 tasks once", async () => {
    const N = 20_000;
    const queue = "fleet-claims";
    // Created through all three instances, 500 per batch.
    const batches = Array.from({ length: N / 500 }, (_, b) => b);
    await Promise.all(
      [0, 1, 2].map(async (i) => {
        for (const b of batches.filter((b) => b % 3 === i)) {
          await api(i).tasks("batchCreateTasks", { requests: Array.from({ length: 500 }, (_, j) => ({ task: { id: `c-${b}-${j}`, queue, payload: { b, j } } })) });
        }
      }),
    );
    const claims = new Map<string, number>();
    let idle = 0;
    const claimer = async (k: number) => {
      const a = api(k % 3);
      while (idle < 96) {
        const { assignments } = await a.tasks("claimTasks", { worker_id: `w${k}`, queues: [queue], max_tasks: 25, lease_duration: "120s" });
        if (assignments.length === 0) {
          idle++;
          await Bun.sleep(20);
          continue;
        }
        for (const x of assignments) claims.set(x.task.id, (claims.get(x.task.id) ?? 0) + 1);
        const { results } = await a.tasks("batchCompleteTasks", { requests: assignments.map((x: any) => ({ id: x.task.id, fencing_token: x.lease.fencing_token, result: k })) });
        expect(results.every((r: any) => r.ok)).toBe(true);
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, k) => claimer(k)));
    expect(claims.size).toBe(N);
    expect([...claims.values()].filter((n) => n !== 1)).toEqual([]);
    const [row] = await sql`SELECT count(*)::int AS n, count(*) FILTER (WHERE state = 4)::int AS done, max(attempt)::int AS attempts FROM tasks WHERE queue = ${queue}`;
    expect(row).toEqual({ n: N, done: N, attempts: 1 });
  }, 180_000);

  it("dispatches a task created on one instance to a worker stream on another, and shows its events to watchers on a third", async () => {
    const queue = "fleet-push";
    const abort = new AbortController();
    const events: string[] = [];
    const watching = (async () => {
      for await (const m of api(2).stream("watchTaskEvents", { queues: [queue] }, abort.signal)) {
        if (m.event?.task?.id) events.push(`${m.event.kind}:${m.event.task.id}`);
      }
    })().catch(() => {});
    const received: { id: string; at: number }[] = [];
    const worker = (async () => {
      for await (const m of api(1).stream("connectWorker", { worker_id: "stream-1", queues: [queue], credits: 8 }, abort.signal)) {
        if (m.assigned) {
          received.push({ id: m.assigned.task.id, at: performance.now() });
          await api(1).tasks("completeTask", { id: m.assigned.task.id, fencing_token: m.assigned.lease.fencing_token });
        }
      }
    })().catch(() => {});
    await Bun.sleep(300); // the stream and the watcher are registered
    const sent = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const id = `push-${i}`;
      sent.set(id, performance.now());
      await api(0).tasks("createTask", { task: { id, queue } });
      await Bun.sleep(10);
    }
    await until("every task to reach the worker on the other instance", () => (received.length >= 20 ? true : undefined), 20_000, 20);
    await until("the watcher on the third instance to see them succeed", () => (events.filter((e) => e.startsWith("succeeded:") || e.startsWith("TASK_EVENT_KIND_SUCCEEDED")).length >= 20 ? true : undefined), 20_000, 20).catch(() => undefined);
    abort.abort();
    await Promise.all([watching, worker]);
    const latencies = received.map((r) => r.at - sent.get(r.id)!).sort((a, b) => a - b);
    console.log(`cross-instance dispatch latency over 20 tasks: p50 ${latencies[10]!.toFixed(1)} ms, max ${latencies[19]!.toFixed(1)} ms`);
    expect(new Set(received.map((r) => r.id)).size).toBe(20);
    expect(events.some((e) => e.includes("push-0"))).toBe(true);
    const created = events.filter((e) => /created/i.test(e)).length;
    expect(created).toBe(20);
  }, 60_000);

  it("loses no acknowledged create when an instance is SIGKILLed every few seconds, and finishes every task", async () => {
    const queue = "fleet-kill";
    const acked = new Set<string>();
    let stop = false;
    const alive = (i: number) => instances[i]?.proc.exitCode === null;
    const producer = async (i: number) => {
      for (let b = 0; !stop; b++) {
        if (!alive(i)) {
          await Bun.sleep(50);
          continue;
        }
        const ids = Array.from({ length: 50 }, (_, j) => `k-${i}-${b}-${j}`);
        try {
          await api(i).tasks("batchCreateTasks", { requests: ids.map((id) => ({ task: { id, queue, max_attempts: 10 } })) });
          for (const id of ids) acked.add(id);
        } catch {
          // not acknowledged: the instance died; its fate is unknown, not counted
        }
      }
    };
    const worker = async (k: number) => {
      while (!stop) {
        const i = k % 3;
        if (!alive(i)) {
          await Bun.sleep(50);
          continue;
        }
        try {
          const { assignments } = await api(i).tasks("claimTasks", { worker_id: `kw${k}`, queues: [queue], max_tasks: 20, lease_duration: "2s" });
          if (!assignments.length) await Bun.sleep(10);
          else await api(i).tasks("batchCompleteTasks", { requests: assignments.map((x: any) => ({ id: x.task.id, fencing_token: x.lease.fencing_token })) });
        } catch {
          await Bun.sleep(20);
        }
      }
    };
    const running = [0, 1, 2].map(producer).concat(Array.from({ length: 6 }, (_, k) => worker(k)));
    for (let round = 0; round < 4; round++) {
      await Bun.sleep(2500);
      const victim = round % 3;
      await instances[victim]!.kill("SIGKILL");
      await Bun.sleep(300);
      await start(victim);
    }
    stop = true;
    await Promise.all(running);
    expect(acked.size).toBeGreaterThan(500);
    // Every acknowledged create is in the database; every task is finished after the leases of
    // the killed instances' claims ran out.
    const a = api(0);
    await until(
      "every task of the kill test to finish",
      async () => {
        const { assignments } = await a.tasks("claimTasks", { worker_id: "drain", queues: [queue], max_tasks: 200, lease_duration: "30s" });
        if (assignments.length) await a.tasks("batchCompleteTasks", { requests: assignments.map((x: any) => ({ id: x.task.id, fencing_token: x.lease.fencing_token })) });
        const [r] = await sql`SELECT count(*) FILTER (WHERE state <> 4)::int AS open FROM tasks WHERE queue = ${queue}`;
        return r.open === 0 ? true : undefined;
      },
      60_000,
      200,
    );
    const rows = await sql`SELECT id FROM tasks WHERE queue = ${queue}`;
    const stored = new Set(rows.map((r: { id: string }) => r.id));
    expect([...acked].filter((id) => !stored.has(id))).toEqual([]);
  }, 120_000);
});
