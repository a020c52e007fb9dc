import { expect, it } from "bun:test";
import { createManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { openDatabase } from "../db/client.ts";
import { openPostgresDatabase, type PgDatabase } from "../db/open.ts";
import { describeDialects } from "../testing/dialects.ts";
import { openServersDomain } from "./testing.ts";

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    return e as AppError;
  }
  throw new Error("expected a failure");
}

const backend = (name: string, extra: Record<string, unknown> = {}) => ({ name, kind: "backend" as const, endpoints: { predict: "http://127.0.0.1:9/predict" }, ...extra });

/** The servers domain's rules over its store, on SQLite and on PostgreSQL. */
describeDialects("servers store", (open, dialect) => {
  it("registers, lists in name order with filters and pages, refuses a taken name, answers a retried request once", async () => {
    const clock = createManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
    const { domain } = await openServersDomain(await open(), clock);
    const r = domain.registry;
    const b = await domain.register("t1", backend("b-one", { capabilities: ["gpu"], groups: ["prod"], weight: 3, labels: { zone: "a" }, apiKey: "k-1" }));
    await domain.register("t1", backend("a-two", { groups: ["prod"] }));
    await domain.register("t1", { name: "c-worker", kind: "worker" });
    expect((await failure(domain.register("t1", backend("b-one")))).reason).toBe("SERVER_NAME_TAKEN");
    const first = await domain.register("t1", backend("retried", { requestId: "req-1" }));
    const again = await domain.register("t1", backend("retried-other-name", { requestId: "req-1" }));
    expect(again.id).toBe(first.id);

    expect((await r.list("t1")).items.map((s) => s.name)).toEqual(["a-two", "b-one", "c-worker", "retried"]);
    expect((await r.list("t1", { group: "prod", capability: "gpu" })).items.map((s) => s.id)).toEqual([b.id]);
    expect((await r.list("t1", { kind: "worker" })).items.map((s) => s.name)).toEqual(["c-worker"]);
    const p1 = await r.list("t1", { pageSize: 2 });
    const p2 = await r.list("t1", { pageSize: 2, pageToken: p1.nextPageToken });
    expect([...p1.items, ...p2.items].map((s) => s.name)).toEqual(["a-two", "b-one", "c-worker", "retried"]);
    expect(p2.nextPageToken).toBe("");

    const got = await r.get("t1", b.id);
    expect(got).toMatchObject({ name: "b-one", weight: 3, labels: { zone: "a" }, capabilities: ["gpu"], status: "offline" });
    expect(got.apiKeySealed).toStartWith("v1:");
    expect(await r.apiKey(r.entry("t1", b.id))).toBe("k-1");
    // Another tenant's server is not found; the same name is free there.
    expect((await failure(r.get("t2", b.id))).reason).toBe("SERVER_NOT_FOUND");
    expect((await r.list("t2")).items).toEqual([]);
    await domain.register("t2", backend("b-one"));
    await domain.stop();
  }, 30_000);

  it("heartbeats (batched) bring a server online, the timeout takes it offline, a removed one is not found", async () => {
    const clock = createManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
    const db = await open();
    const { domain } = await openServersDomain(db, clock, { heartbeatTimeoutMs: 30_000 });
    const r = domain.registry;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await domain.register("t1", backend(`hb-${i}`))).id);
    const groups = () => ((db as Partial<PgDatabase>).pg?.stats ?? db.committer.stats).groups;
    const before = groups();
    const views = await Promise.all(ids.map((id, i) => r.heartbeat("t1", id, i === 0 ? "degraded" : "healthy", { activeTasks: i, cpuPercent: 12.5, custom: { q: i } })));
    expect(views.map((v) => v.status)).toEqual(["degraded", ...Array(19).fill("online")]);
    // Twenty heartbeats at once share a batch (one or two commits, not twenty).
    expect(groups() - before).toBeLessThanOrEqual(3);
    expect(await r.get("t1", ids[3]!)).toMatchObject({ lastHeartbeatTime: clock.now(), lastLoad: { activeTasks: 3, cpuPercent: 12.5, custom: { q: 3 } } });
    expect(domain.balancer.pick("t1").server).toBeDefined();
    clock.advance(30_001);
    expect((await r.get("t1", ids[3]!)).status).toBe("offline");
    expect(domain.balancer.pick("t1").reason).toBe("none_available");
    expect((await r.heartbeat("t1", ids[3]!, undefined, undefined)).status).toBe("online");
    expect((await failure(r.heartbeat("t2", ids[3]!, undefined, undefined))).reason).toBe("SERVER_NOT_FOUND");
    await domain.unregister("t1", ids[3]!);
    expect((await failure(r.heartbeat("t1", ids[3]!, undefined, undefined))).reason).toBe("SERVER_NOT_FOUND");
    expect((await failure(domain.unregister("t1", ids[3]!))).reason).toBe("SERVER_NOT_FOUND");
    await domain.stop();
  }, 30_000);

  it("keeps servers, heartbeats, maintenance and the algorithm across a restart", async () => {
    const clock = createManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
    const db = await open();
    const a = await openServersDomain(db, clock);
    const v = await a.domain.register("t1", backend("keep-me", { apiKey: "the-key", weight: 4 }));
    await a.domain.registry.heartbeat("t1", v.id, "degraded", { activeTasks: 2, custom: {} });
    await a.domain.registry.setMaintenance("t1", v.id, true, "disk swap", "ops");
    await a.domain.balancer.setAlgorithm("t1", "power-of-two-choices");
    expect((await a.domain.balancer.setAlgorithm("t1", "power-of-two-choices")).previous).toBe("power-of-two-choices");
    await a.domain.stop();
    // Reopen the same database (a restart of the process).
    let again: typeof db;
    if (dialect === "sqlite") {
      await db.close();
      again = openDatabase(db.path);
    } else again = await openPostgresDatabase((db as PgDatabase).pg.url);
    try {
      const b = await openServersDomain(again, clock);
      const e = await b.domain.registry.get("t1", v.id);
      expect(e).toMatchObject({ name: "keep-me", weight: 4, reportedHealth: "degraded", status: "maintenance", lastHeartbeatTime: clock.now() });
      expect(e.maintenance).toMatchObject({ reason: "disk swap", setBy: "ops" });
      expect(await b.domain.registry.apiKey(b.domain.registry.entry("t1", v.id))).toBe("the-key");
      expect(b.domain.balancer.algorithmOf("t1")).toBe("power-of-two-choices");
      expect(b.domain.balancer.algorithmOf("t2")).toBe("weighted-round-robin");
      expect(b.domain.balancer.status("t1").algorithmUpdateTime).toBe(clock.now());
      await b.domain.stop();
    } finally {
      await again.close();
    }
  }, 30_000);

  it("skips servers in maintenance and picks by capability and group", async () => {
    const clock = createManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
    const { domain } = await openServersDomain(await open(), clock);
    const r = domain.registry;
    const gpu = await domain.register("t1", backend("gpu-1", { capabilities: ["gpu"], groups: ["g"] }));
    const cpu = await domain.register("t1", backend("cpu-1"));
    for (const id of [gpu.id, cpu.id]) await r.heartbeat("t1", id, "healthy", undefined);
    expect(domain.balancer.pick("t1", { capabilities: ["gpu"] }).server?.id).toBe(gpu.id);
    expect(domain.balancer.pick("t1", { group: "g" }).server?.id).toBe(gpu.id);
    expect(domain.balancer.pick("t1", { capabilities: ["tpu"] }).reason).toBe("no_match");
    await r.setMaintenance("t1", gpu.id, true, "swap", "ops");
    expect(domain.balancer.pick("t1", { capabilities: ["gpu"] }).reason).toBe("none_available");
    expect(domain.balancer.pick("t1").server?.id).toBe(cpu.id);
    expect((await r.list("t1", { status: "maintenance" })).items.map((s) => s.id)).toEqual([gpu.id]);
    expect((await failure(r.setMaintenance("t1", gpu.id, true, "x".repeat(513), ""))).metadata.field).toBe("reason");
    await r.setMaintenance("t1", gpu.id, false, "", "");
    expect(domain.balancer.pick("t1", { capabilities: ["gpu"] }).server?.id).toBe(gpu.id);
    expect(domain.balancer.status("t1")).toMatchObject({ availableCount: 2, totalCapacity: 2 });
    await domain.stop();
  }, 30_000);

  it("logs status changes once and answers the day's uptime ratio, maintenance left out", async () => {
    const clock = createManualClock(Date.UTC(2026, 11, 3, 0, 0, 0));
    const { domain } = await openServersDomain(await open(), clock);
    const d = domain;
    const v = await d.register("t1", backend("uptime-1"));
    await d.registry.sweep(); // offline from midnight
    clock.advance(3_600_000);
    await d.registry.heartbeat("t1", v.id, "healthy", undefined);
    expect(await d.registry.sweep()).toBe(1); // online from 01:00
    expect(await d.registry.sweep()).toBe(0); // nothing changed
    clock.advance(3_600_000);
    await d.registry.setMaintenance("t1", v.id, true, "patching", "");
    await d.registry.sweep(); // maintenance 02:00–03:00
    clock.advance(3_600_000);
    await d.registry.setMaintenance("t1", v.id, false, "", "");
    await d.registry.heartbeat("t1", v.id, "healthy", undefined);
    await d.registry.sweep(); // online from 03:00
    clock.advance(3_600_000);
    await d.registry.sweep(); // offline at 04:00
    const day = await d.stats.day("t1", v.id, "2026-12-03");
    expect(day.uptimeRatio).toBeCloseTo(2 / 3, 5);
    expect((await failure(d.stats.day("t1", v.id, "2026-12-04"))).metadata.field).toBe("date");
    expect((await failure(d.stats.day("t2", v.id, "2026-12-03"))).reason).toBe("SERVER_NOT_FOUND");
    expect(await d.stats.metrics("t1", v.id)).toMatchObject({ serverId: v.id, tasksProcessed: 0, activeTasks: 0 });
    await d.stop();
  }, 30_000);
});
