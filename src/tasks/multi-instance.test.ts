import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createManualClock } from "../core/clock.ts";
import { openPostgresDatabase, type PgDatabase } from "../db/open.ts";
import { freshPostgresUrl } from "../testing/postgres.ts";
import { createTaskEngine, type TaskEngine } from "./engine.ts";
import type { TaskEvent, WorkerMessage } from "./types.ts";

/**
 * Several instances on one PostgreSQL database: two engines, each over its own
 * `openPostgresDatabase` (its own pool and writer connection, as two servers), racing for the
 * same rows. Run with the PostgreSQL dialect only.
 */
const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");

interface Instance {
  db: PgDatabase;
  clock: ReturnType<typeof createManualClock>;
  engine: TaskEngine;
  events: TaskEvent[];
}

describe.skipIf(!wanted)("tasks on several instances [postgres]", () => {
  let url: string;
  const all: Instance[] = [];
  async function instance(): Promise<Instance> {
    const db = await openPostgresDatabase(url);
    const clock = createManualClock(1_800_000_000_000);
    const events: TaskEvent[] = [];
    const engine = createTaskEngine({ database: db, clock, events: (e) => events.push(e), random: () => 0.5 });
    const i = { db, clock, engine, events };
    all.push(i);
    return i;
  }
  let a: Instance;
  let b: Instance;
  const tenant = (n: string) => [a.engine.scoped(n), b.engine.scoped(n)] as const;

  beforeAll(async () => {
    url = await freshPostgresUrl("multi");
    a = await instance();
    b = await instance();
  });
  afterAll(async () => {
    for (const i of all) {
      i.engine.stop();
      await i.db.close();
    }
  });

  it("claims every task of one queue exactly once when two instances claim at once", async () => {
    const [ea, eb] = tenant("claims");
    const N = 400;
    for (let i = 0; i < N; i += 200) await ea.batchCreateTasks(Array.from({ length: 200 }, (_, k) => ({ queue: "q", id: `c${i + k}`, priority: (i + k) % 3 })));
    const claimed: string[] = [];
    const claimer = async (e: typeof ea, worker: string) => {
      for (;;) {
        const got = await e.claimTasks({ workerId: worker, queues: ["q"], maxTasks: 7, leaseMs: 60_000 });
        if (got.length === 0) return;
        for (const g of got) claimed.push(g.task.id);
      }
    };
    await Promise.all([claimer(ea, "a1"), claimer(ea, "a2"), claimer(eb, "b1"), claimer(eb, "b2"), claimer(eb, "b3")]);
    expect(claimed.length).toBe(N);
    expect(new Set(claimed).size).toBe(N);
    const running = await ea.listTasks({ states: ["running"], pageSize: 1000 });
    expect(running.items).toHaveLength(N);
    expect(running.items.every((t) => t.attempt === 1 && t.lease?.fencingToken === 1)).toBe(true);
  }, 60_000);

  it("reaps an expired lease once, counting its attempt once, when every instance's reaper runs at once", async () => {
    const [ea] = tenant("reap");
    const N = 300;
    await ea.batchCreateTasks(Array.from({ length: N }, (_, k) => ({ queue: "r", id: `r${k}`, maxAttempts: 5 })));
    let held = 0;
    while (held < N) held += (await ea.claimTasks({ workerId: "w", queues: ["r"], maxTasks: 100, leaseMs: 1000 })).length;
    for (const i of [a, b]) i.clock.advance(5000);
    const before = [a.events.length, b.events.length];
    const ticks = await Promise.all([a.engine.tick(), b.engine.tick(), a.engine.tick(), b.engine.tick()]);
    expect(ticks.reduce((n, t) => n + t.expired, 0)).toBe(N);
    const reaped = [...a.events.slice(before[0]), ...b.events.slice(before[1])].filter((e) => e.kind === "lease_expired");
    expect(reaped).toHaveLength(N);
    expect(new Set(reaped.map((e) => e.task.id)).size).toBe(N);
    const tasks = (await ea.listTasks({ queues: ["r"], pageSize: 1000 })).items;
    expect(tasks).toHaveLength(N);
    expect(tasks.every((t) => t.state === "pending" && t.attempt === 1 && t.retryCount === 1)).toBe(true);
  }, 60_000);

  it("creates one task when two instances create with the same request id at once; the other call is the replay", async () => {
    const [ea, eb] = tenant("idem");
    const K = 40;
    const pairs = await Promise.all(Array.from({ length: K }, (_, k) => Promise.all([ea.createTask({ queue: "i", requestId: `req-${k}` }), eb.createTask({ queue: "i", requestId: `req-${k}` })])));
    for (const [x, y] of pairs) {
      expect(x.task.id).toBe(y.task.id);
      expect([x.replayed, y.replayed].sort()).toEqual([false, true]);
    }
    expect((await eb.listTasks({ queues: ["i"], pageSize: 1000 })).items).toHaveLength(K);
  }, 60_000);

  it("refuses the same explicit id created on two instances at once: one task, one TASK_ALREADY_EXISTS", async () => {
    const [ea, eb] = tenant("ids");
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        Promise.allSettled([ea.createTask({ queue: "i", id: `same-${k}` }), eb.createTask({ queue: "i", id: `same-${k}` })]).then((r) =>
          r.map((x) => (x.status === "fulfilled" ? "ok" : (x.reason as { reason?: string }).reason)).sort(),
        ),
      ),
    );
    for (const o of outcomes) expect(o).toEqual(["TASK_ALREADY_EXISTS", "ok"]);
  }, 60_000);

  it("unblocks a dependent when its two dependencies complete on two instances at once", async () => {
    const [ea, eb] = tenant("deps");
    for (let k = 0; k < 15; k++) {
      await ea.batchCreateTasks([{ queue: "d", id: `x${k}` }, { queue: "d", id: `y${k}` }, { queue: "d", id: `z${k}`, dependsOn: [`x${k}`, `y${k}`] }]);
      const x = await ea.claimTask({ id: `x${k}`, workerId: "wa" });
      const y = await eb.claimTask({ id: `y${k}`, workerId: "wb" });
      await Promise.all([ea.completeTask({ id: `x${k}`, fencingToken: x.lease.fencingToken }), eb.completeTask({ id: `y${k}`, fencingToken: y.lease.fencingToken })]);
      expect((await eb.getTask(`z${k}`)).state).toBe("pending");
    }
  }, 60_000);

  it("holds a queue's concurrency limit across instances", async () => {
    const [ea, eb] = tenant("limits");
    await ea.createQueueConfig({ name: "lim", concurrencyLimit: 3 });
    await ea.batchCreateTasks(Array.from({ length: 30 }, (_, k) => ({ queue: "lim", id: `l${k}` })));
    const got = await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => ea.claimTasks({ workerId: `a${i}`, queues: ["lim"], maxTasks: 2 })),
      ...Array.from({ length: 4 }, (_, i) => eb.claimTasks({ workerId: `b${i}`, queues: ["lim"], maxTasks: 2 })),
    ]);
    expect(got.flat()).toHaveLength(3);
    expect((await eb.getQueue("lim")).counts.running).toBe(3);
  }, 60_000);
  it("pushes a task created on another instance to a stream here once kicked for its tenant and queue; ends it here when it ended there", async () => {
    const [ea, eb] = tenant("wake");
    const got: WorkerMessage[] = [];
    ea.connectWorker({ workerId: "stream", queues: ["push"], credits: 2 }, (m) => got.push(m));
    const assigned = () => got.flatMap((m) => (m.kind === "assigned" ? [m.assignment] : []));
    await a.db.write(function* () {}); // the round the connection started found nothing
    const { task } = await eb.createTask({ queue: "push" });
    // Nothing wakes instance a's dispatcher by itself (that is the fleet's signal), and a kick for
    // a queue no stream here serves does nothing.
    a.engine.kick("wake", "other");
    await a.db.write(function* () {});
    expect(assigned()).toHaveLength(0);
    a.engine.kick("wake", "push");
    const deadline = Date.now() + 10_000;
    while (assigned().length === 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(assigned().map((x) => x.task.id)).toEqual([task.id]);
    const token = assigned()[0]!.lease.fencingToken;
    await eb.cancelTask({ id: task.id });
    a.engine.remoteTaskEnded(task.id, token, "cancelled");
    expect(got.at(-1)).toMatchObject({ kind: "cancel", taskId: task.id, fencingToken: token, reason: "cancelled" });
    expect(a.engine.dispatcherState().sessions[0]!.credits).toBe(2);
  }, 60_000);
  it("stops claims for a holder in maintenance on every instance, and resumes them", async () => {
    const [ea, eb] = tenant("drain");
    await ea.batchCreateTasks([{ queue: "m", id: "m1" }, { queue: "m", id: "m2" }]);
    ea.setHolderDrained("srv", true);
    expect((await ea.claimTasks({ workerId: "srv", queues: ["m"] })).length).toBe(0);
    await a.db.write(function* () {}); // the drain is committed
    expect((await eb.claimTasks({ workerId: "srv", queues: ["m"] })).length).toBe(0);
    let refused = "";
    await eb.claimTask({ id: "m1", workerId: "srv" }).catch((e) => (refused = e.reason));
    expect(refused).toBe("HOLDER_DRAINED");
    expect((await eb.claimTasks({ workerId: "other", queues: ["m"] })).map((x) => x.task.id)).toEqual(["m1"]);
    eb.setHolderDrained("srv", false);
    await b.db.write(function* () {});
    expect((await ea.claimTasks({ workerId: "srv", queues: ["m"] })).map((x) => x.task.id)).toEqual(["m2"]);
  }, 60_000);
  it("settles a holder's and an operator's calls racing on two instances into one consistent outcome", async () => {
    const [ea, eb] = tenant("race");
    const expected = new Set(["ok", "LEASE_LOST", "TASK_CANCELLED", "TASK_ALREADY_FINISHED", "TASK_NOT_RUNNING", "TASK_NOT_PENDING", "INVALID_TRANSITION"]);
    for (let k = 0; k < 20; k++) {
      const id = `race${k}`;
      await ea.createTask({ queue: "race", id, maxAttempts: 3 });
      const held = await ea.claimTask({ id, workerId: "w", leaseMs: 60_000 });
      const token = held.lease.fencingToken;
      const outcome = (p: Promise<unknown>) => p.then(() => "ok", (e) => (e as { reason?: string }).reason ?? String(e));
      const [cancel, fail, update, beat, release] = await Promise.all([
        outcome(eb.cancelTask({ id })),
        outcome(ea.failTask({ id, fencingToken: token, error: { message: "x", retryable: true } })),
        outcome(eb.updateTask({ id, progress: 50, fencingToken: token })),
        outcome(ea.heartbeat({ id, fencingToken: token })),
        outcome(eb.releaseTask({ id })),
      ]);
      for (const o of [cancel, fail, update, beat, release]) expect(expected.has(o)).toBe(true);
      const task = await eb.getTask(id);
      expect(task.attempt).toBeLessThanOrEqual(1);
      // The cancel, when it went through, is the last word: nothing moves a cancelled task.
      if (cancel === "ok") expect(task.state).toBe("cancelled");
      else expect(["pending", "running"]).toContain(task.state);
    }
    // Operations retried after a conflict emitted their events once: one event per change.
    const events = [...a.events, ...b.events].filter((e) => e.task.tenant === "race");
    for (const kind of ["created", "claimed", "cancelled", "retry_scheduled", "released"] as const) {
      const ids = events.filter((e) => e.kind === kind).map((e) => e.task.id);
      expect(ids.length).toBe(new Set(ids).size);
    }
  }, 60_000);
  it("emits one created event per task when crossed batches with the same request ids deadlock and are retried", async () => {
    const [ea, eb] = tenant("crossed");
    const K = 25;
    const retries0 = a.db.pg.stats.retries + b.db.pg.stats.retries;
    const before = [a.events.length, b.events.length];
    const answers = await Promise.all(
      Array.from({ length: K }, (_, k) =>
        Promise.all([
          ea.batchCreateTasks([{ queue: "x", requestId: `x${k}` }, { queue: "x", requestId: `y${k}` }]),
          eb.batchCreateTasks([{ queue: "x", requestId: `y${k}` }, { queue: "x", requestId: `x${k}` }]),
        ]),
      ),
    );
    const stored = new Map((await ea.listTasks({ queues: ["x"], pageSize: 1000 })).items.map((t) => [t.requestId!, t.id]));
    expect(stored.size).toBe(2 * K);
    for (const [k, [fromA, fromB]] of answers.entries()) {
      expect([fromA[0]!.id, fromA[1]!.id]).toEqual([stored.get(`x${k}`)!, stored.get(`y${k}`)!]);
      expect([fromB[0]!.id, fromB[1]!.id]).toEqual([stored.get(`y${k}`)!, stored.get(`x${k}`)!]);
    }
    // Every created event names a stored task, once: a retried operation's first run left none behind.
    const created = [...a.events.slice(before[0]), ...b.events.slice(before[1])].filter((e) => e.kind === "created");
    expect(created.map((e) => e.task.id).sort()).toEqual([...stored.values()].sort());
    if (process.env.SHOW_RETRIES) console.log("retries", a.db.pg.stats.retries + b.db.pg.stats.retries - retries0);
  }, 60_000);
});
