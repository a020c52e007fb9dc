import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import type { Database } from "../db/client.ts";
import { openPostgresDatabase, type PgDatabase } from "../db/open.ts";
import { freshPostgresUrl } from "../testing/postgres.ts";
import type { ServersDomain } from "./servers.ts";
import type { TaskPort } from "./task-port.ts";
import { idleTaskPort, openServersDomain, startBackend, waitFor } from "./testing.ts";

type IdlePort = ReturnType<typeof idleTaskPort>;

/**
 * Two instances of the servers domain on one PostgreSQL database (two connections pools, two
 * group committers, two caches), as two Switchyard processes behind a load balancer would be.
 * One manual clock stands for the database's clock both instances follow.
 */
const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");
const REFRESH_MS = 200;

const backend = (name: string, extra: Record<string, unknown> = {}) => ({ name, kind: "backend" as const, endpoints: { predict: "http://127.0.0.1:9/predict" }, ...extra });

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    return e as AppError;
  }
  throw new Error("expected a failure");
}

describe.if(wanted)("servers across two instances [postgres]", () => {
  const clock = createManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
  let dbA: PgDatabase;
  let dbB: PgDatabase;
  let a: ServersDomain;
  let b: ServersDomain;
  let portA: TaskPort;
  let portB: TaskPort;

  beforeAll(async () => {
    const url = await freshPostgresUrl("servers-multi");
    dbA = await openPostgresDatabase(url);
    dbB = await openPostgresDatabase(url);
    ({ domain: a, tasks: portA } = await openServersDomain(dbA as Database, clock, { refreshMs: REFRESH_MS, heartbeatTimeoutMs: 30_000 }));
    ({ domain: b, tasks: portB } = await openServersDomain(dbB as Database, clock, { refreshMs: REFRESH_MS, heartbeatTimeoutMs: 30_000 }));
    // The refresh timers run (health probes and push dispatch have nothing to do here).
    a.start();
    b.start();
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await dbA?.close();
    await dbB?.close();
  }, 30_000);

  it("a server registered and heartbeating through one is online for the other, and offline for both after the timeout", async () => {
    const v = await a.register("t1", backend("shared-1"));
    // B reads through: found at once, before any refresh; a heartbeat through B finds it too.
    expect((await b.registry.get("t1", v.id)).status).toBe("offline");
    await a.registry.heartbeat("t1", v.id, "healthy", { activeTasks: 1, custom: {} });
    expect(await b.registry.get("t1", v.id)).toMatchObject({ status: "online", lastHeartbeatTime: clock.now(), lastLoad: { activeTasks: 1 } });
    expect((await b.registry.list("t1", { status: "online" })).items.map((s) => s.id)).toEqual([v.id]);
    // B's balancer sees it after one refresh (deterministic), and its timer does the same on its own.
    await b.refresh();
    expect(b.balancer.pick("t1").server?.id).toBe(v.id);

    clock.advance(20_000);
    // The heartbeat reaches the other instance now: both count from it.
    await b.registry.heartbeat("t1", v.id, "healthy", undefined);
    clock.advance(20_000);
    expect((await a.registry.get("t1", v.id)).status).toBe("online"); // 20 s after B heard it
    expect(a.balancer.pick("t1").server?.id).toBe(v.id);
    clock.advance(10_001);
    for (const d of [a, b]) {
      expect((await d.registry.get("t1", v.id)).status).toBe("offline");
      await d.refresh();
      expect(d.balancer.pick("t1").reason).toBe("none_available");
    }
    await b.unregister("t1", v.id);
  }, 30_000);

  it("maintenance set on one is respected by the other's balancer within one refresh period", async () => {
    const v = await a.register("t1", backend("maint-1"));
    const w = await a.register("t1", backend("maint-2"));
    await a.registry.heartbeat("t1", v.id, "healthy", undefined);
    await a.registry.heartbeat("t1", w.id, "healthy", undefined);
    await waitFor("B's balancer to see both", () => {
      const s = b.balancer.status("t1");
      return s.availableCount === 2;
    }, 20 * REFRESH_MS + 10_000);

    await a.registry.setMaintenance("t1", v.id, true, "disk swap", "ops");
    const t0 = performance.now();
    // The timer alone brings it to B (bound: REFRESH_MS plus one read; waited for generously under CPU load).
    await waitFor("B's balancer to skip the server in maintenance", () => b.balancer.status("t1").servers.find((s) => s.serverId === v.id)?.status === "maintenance", 20 * REFRESH_MS + 10_000);
    const seenAfterMs = performance.now() - t0;
    for (let i = 0; i < 20; i++) expect(b.balancer.pick("t1").server?.id).toBe(w.id);
    // And one refresh is enough, whatever the timers did.
    await a.registry.setMaintenance("t1", v.id, false, "", "");
    await b.refresh();
    expect(b.balancer.status("t1").availableCount).toBe(2);
    await a.registry.setMaintenance("t1", w.id, true, "", "");
    await b.refresh();
    for (let i = 0; i < 20; i++) expect(b.balancer.pick("t1").server?.id).toBe(v.id);
    console.log(`maintenance seen by the other instance after ${seenAfterMs.toFixed(0)} ms (refresh period ${REFRESH_MS} ms)`);
    // Removal on A: B's heartbeat is refused and B's balancer drops it after a refresh.
    await a.unregister("t1", v.id);
    expect((await failure(b.registry.heartbeat("t1", v.id, undefined, undefined))).reason).toBe("SERVER_NOT_FOUND");
    await a.registry.heartbeat("t1", w.id, "healthy", undefined);
    await b.refresh();
    expect(b.balancer.status("t1").servers.map((s) => s.serverId)).toEqual([w.id]);
    await a.unregister("t1", w.id);
  }, 30_000);

  it("one name at a time across instances; the algorithm switched on one is used by the other", async () => {
    const results = await Promise.allSettled([a.register("t1", backend("race")), b.register("t1", backend("race"))]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect((lost.reason as AppError).reason).toBe("SERVER_NAME_TAKEN");
    // A retried registration (same request id) through the other instance answers the first.
    const first = await a.register("t1", backend("retry-me", { requestId: "rq-9" }));
    expect((await b.register("t1", backend("retry-me", { requestId: "rq-9" }))).id).toBe(first.id);
    await a.balancer.setAlgorithm("t1", "least-connections");
    await b.refresh();
    expect(b.balancer.algorithmOf("t1")).toBe("least-connections");
    expect(b.balancer.status("t1").algorithmUpdateTime).toBe(clock.now());
  }, 30_000);

  it("heartbeats from both instances never move the last heartbeat back, and the status log is written once", async () => {
    const v = await a.register("t1", backend("both-sides"));
    const later = clock.now() + 5;
    // B hears the later heartbeat first; A's older one arrives after it.
    clock.set(later);
    await b.registry.heartbeat("t1", v.id, "healthy", { activeTasks: 7, custom: {} });
    clock.set(later - 5);
    // A's answer is the later heartbeat B stored, not its own older one.
    expect(await a.registry.heartbeat("t1", v.id, "degraded", { activeTasks: 1, custom: {} })).toMatchObject({ lastHeartbeatTime: later, reportedHealth: "healthy" });
    clock.set(later);
    expect(await b.registry.get("t1", v.id)).toMatchObject({ lastHeartbeatTime: later, reportedHealth: "healthy", lastLoad: { activeTasks: 7 } });
    // Both instances sweep the same change: one status row, not two.
    await Promise.all([a.registry.sweep(), b.registry.sweep()]);
    clock.advance(1);
    await Promise.all([a.registry.sweep(), b.registry.sweep()]);
    const rows = ((await dbA.pg.sql`SELECT status FROM server_status_log WHERE server_id = ${v.id} ORDER BY time`) as { status: string }[]).map((r) => r.status);
    // (The sweep timers may have logged "offline" before the first heartbeat.)
    expect(rows.filter((s) => s === "online")).toHaveLength(1);
    expect(rows.at(-1)).toBe("online");
    for (let i = 1; i < rows.length; i++) expect(rows[i]).not.toBe(rows[i - 1]!);
  }, 30_000);

  it("a worker streaming to one instance is online for the other; tasks held through one count on the other's balancer", async () => {
    // The task engine is not on PostgreSQL yet here: the instances' task ports stand for it.
    if (!("streams" in portA)) return;
    const streamsA = (portA as IdlePort).streams;
    const runningB = (portB as IdlePort).running;
    const server = await a.register("t1", { name: "streamer-x", kind: "worker" });
    clock.advance(31_000);
    expect((await b.registry.get("t1", server.id)).status).toBe("offline");
    streamsA.add("streamer-x");
    await a.registry.sweep();
    expect((await b.registry.get("t1", server.id)).status).toBe("online");
    streamsA.delete("streamer-x");

    const x = await a.register("t1", backend("busy-x", { maxConcurrent: 1 }));
    await a.registry.heartbeat("t1", x.id, "healthy", undefined);
    await b.refresh();
    expect(b.balancer.pick("t1").server?.id).toBe(x.id);
    // A task claimed for x (through the engine of either instance) is read back by B's refresh.
    runningB.push({ taskId: "task-1", holder: x.id });
    await b.refresh();
    expect(b.balancer.pick("t1").reason).toBe("all_at_capacity");
    runningB.length = 0;
    await b.refresh();
    expect(b.balancer.pick("t1").server?.id).toBe(x.id);
  }, 30_000);

  it("a backend is probed once per interval by the fleet, and an ejection by either instance holds for both", async () => {
    let healthy = true;
    const target = startBackend(() => Response.json({ status: "success" }), () => (healthy ? Response.json({ status: "healthy" }) : new Response("down", { status: 503 })));
    try {
      const v = await a.register("t2", { name: "probed", kind: "backend", endpoints: { predict: `${target.url}/predict`, health: `${target.url}/health` } });
      await waitFor("the registration probe", async () => target.healthChecks === 1 && (await b.registry.get("t2", v.id)).status === "online");
      // Just probed: neither instance's round probes it again within the interval.
      await Promise.all([a.health.round(), b.health.round()]);
      expect(target.healthChecks).toBe(1);
      // Both instances run a round at once, twice, after one interval (openServersDomain: 60 s): one probe.
      clock.advance(60_001);
      await Promise.all([a.health.round(), b.health.round()]);
      await Promise.all([a.health.round(), b.health.round()]);
      expect(target.healthChecks).toBe(2);
      clock.advance(60_001);
      await Promise.all([a.health.round(), b.health.round()]);
      expect(target.healthChecks).toBe(3);
      // Three failed probes in a row, whichever instance ran them, eject it for both.
      healthy = false;
      for (const d of [b, a, b]) {
        clock.advance(60_001);
        await Promise.all([d.health.round(), (d === a ? b : a).health.round()]);
      }
      expect(target.healthChecks).toBe(6);
      for (const d of [a, b]) {
        await d.refresh();
        expect((await d.registry.get("t2", v.id)).status).toBe("offline");
        expect(d.registry.entry("t2", v.id).health).toMatchObject({ ejected: true, consecutiveFailures: 3, lastResult: "failing", lastHttpStatus: 503 });
      }
      await a.unregister("t2", v.id);

      // Dispatch failures count the same way: two through B, one through A.
      const w = await a.register("t2", backend("dispatch-only"));
      await b.refresh();
      await b.health.dispatchFailed(b.registry.entry("t2", w.id), "boom");
      await b.health.dispatchFailed(b.registry.entry("t2", w.id), "boom");
      await a.health.dispatchFailed(a.registry.entry("t2", w.id), "boom");
      expect(a.registry.entry("t2", w.id).health.ejected).toBe(true);
      await b.refresh();
      expect(b.registry.entry("t2", w.id).health.ejected).toBe(true);
      await a.unregister("t2", w.id);
    } finally {
      target.stop();
    }
  }, 30_000);
});
