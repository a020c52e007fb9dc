import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { toJsonString } from "@bufbuild/protobuf";
import { ReportedHealth, ServerKind, ServerSchema, ServerStatus } from "../../gen/switchyard/servers/v1/servers_pb.js";
import { ServerService } from "../../gen/switchyard/servers/v1/servers_service_pb.js";
import { createManualClock } from "../core/clock.ts";
import { clientFor } from "../testing/clients.ts";
import { rejection } from "../testing/async.ts";
import { startTestServer, type TestServer } from "../testing/server.ts";
import type { TasksModule } from "../tasks/module.ts";
import type { ServersModule } from "./module.ts";
import { startBackend, waitFor, type TestBackend } from "./testing.ts";

const clock = createManualClock(Date.UTC(2026, 11, 2, 12, 0, 0));
let sy: TestServer;
let servers: ServersModule;
let tasks: TasksModule;
let gate: TestBackend;
let release: (() => void)[] = [];

beforeAll(async () => {
  sy = await startTestServer({ SWITCHYARD_BACKEND_ALLOW: "127.0.0.1", SWITCHYARD_HEARTBEAT_TIMEOUT_MS: "30000", SWITCHYARD_HEALTH_CHECK_INTERVAL_MS: "60000" }, { clock });
  servers = sy.app.modules.servers as ServersModule;
  tasks = sy.app.modules.tasks as TasksModule;
  // A backend that answers only when the test lets it: tasks stay in flight meanwhile.
  gate = startBackend((body) => new Promise<Response>((resolve) => release.push(() => resolve(Response.json({ status: "success", result: { n: body.payload?.n } })))));
});
afterAll(async () => {
  for (const r of release) r();
  await sy?.close();
  gate?.stop();
});

const api = (path: string, init?: RequestInit) => fetch(`${sy.url}${path}`, { ...init, headers: { "content-type": "application/json", ...init?.headers } });
const post = (path: string, body: unknown) => api(path, { method: "POST", body: JSON.stringify(body) });
const task = async (id: string) => (await (await api(`/api/task/${id}`)).json()) as Record<string, any>;

describe("registry: registration, heartbeats and status by the server clock", () => {
  it("starts offline, comes online with a heartbeat, degrades on report, goes offline past the timeout and back", async () => {
    const client = clientFor(ServerService, sy.url, "connect");
    const reg = await client.registerServer({
      server: { name: "hb-1", kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` }, maxConcurrent: 4, capabilities: ["gpu"], groups: ["production"] },
      apiKey: "s3cret-backend-key",
    });
    const id = reg.server!.id;
    expect(id).toStartWith("srv_");
    expect(reg.server!.status).toBe(ServerStatus.OFFLINE);
    expect(reg.server!.hasApiKey).toBe(true);
    expect(toJsonString(ServerSchema, reg.server!)).not.toContain("s3cret");
    // At rest the key is sealed.
    const db = new Database(sy.config.databasePath, { readonly: true });
    const sealed = db.query("SELECT api_key FROM servers WHERE id = ?").get(id) as { api_key: string };
    expect(sealed.api_key).toStartWith("v1:");
    expect(sealed.api_key).not.toContain("s3cret");

    const hb = await client.heartbeat({ id, health: ReportedHealth.HEALTHY, load: { activeTasks: 3, cpuPercent: 45, memoryPercent: 60, gpuPercent: 80, custom: { vram: 12 } } });
    expect(hb.server!.status).toBe(ServerStatus.ONLINE);
    expect(hb.server!.lastLoad!.gpuPercent).toBe(80);
    const hbRow = db.query("SELECT last_heartbeat_time FROM servers WHERE id = ?").get(id) as { last_heartbeat_time: number };
    expect(hbRow.last_heartbeat_time).toBe(clock.now());

    clock.advance(5000);
    const seen = await client.getServer({ id });
    expect(Number(seen.server!.timeSinceLastHeartbeat!.seconds)).toBe(5);
    expect(Number(seen.server!.uptime!.seconds)).toBe(5);

    expect((await client.heartbeat({ id, health: ReportedHealth.DEGRADED })).server!.status).toBe(ServerStatus.DEGRADED);
    clock.advance(30_001);
    expect((await client.getServer({ id })).server!.status).toBe(ServerStatus.OFFLINE);
    expect((await client.listServers({ status: ServerStatus.OFFLINE, group: "production" })).servers.map((s) => s.id)).toContain(id);
    expect((await client.heartbeat({ id })).server!.status).toBe(ServerStatus.ONLINE);
    db.close();

    // Seed 001 view of the same server: ms durations, lower-case status.
    const list = (await (await api("/api/servers?group=production")).json()) as { servers: Record<string, any>[] };
    const v = list.servers.find((s) => s.id === id)!;
    expect(v).toMatchObject({ name: "hb-1", status: "online", groups: ["production"], timeSinceLastHeartbeat: 0, uptime: 35_001 });
    await client.unregisterServer({ id });
  });

  it("absorbs concurrent heartbeats in shared commits", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await servers.domain.register("default", { name: `batch-${i}`, kind: "backend", endpoints: { predict: `${gate.url}/predict` } })).id);
    const groupsBefore = servers.committerStats().groups;
    await Promise.all(ids.map((id) => servers.domain.registry.heartbeat("default", id, "healthy", { activeTasks: 1, custom: {} })));
    const groups = servers.committerStats().groups - groupsBefore;
    expect(groups).toBeLessThan(10);
    for (const id of ids) expect(servers.domain.registry.get("default", id).status).toBe("online");
    for (const id of ids) await servers.domain.unregister("default", id);
  });

  it("counts a worker holding a ConnectWorker stream as heartbeating while the stream lives", async () => {
    await tasks.engine.createQueueConfig({ name: "stream-q", priority: 3, mode: "long_running" });
    const { server } = await servers.domain.registerWorker("default", { workerId: "streamer-1", queue: "stream-q" });
    expect(server.status).toBe("online");
    clock.advance(31_000);
    expect(servers.domain.registry.get("default", server.id).status).toBe("offline");
    const session = tasks.engine.connectWorker({ workerId: "streamer-1", queues: ["stream-q"], credits: 1 }, () => {});
    servers.domain.registry.refreshStreaming();
    expect(servers.domain.registry.get("default", server.id).status).toBe("online");
    session.close();
    servers.domain.registry.refreshStreaming();
    expect(servers.domain.registry.get("default", server.id).status).toBe("offline");
    await servers.domain.unregister("default", server.id);
  });

  it("serves the registry over gRPC and gRPC-Web too", async () => {
    for (const protocol of ["grpc", "grpc-web"] as const) {
      const client = clientFor(ServerService, sy.url, protocol);
      const r = await client.registerServer({ server: { name: `proto-${protocol}`, kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` }, weight: 3 } });
      expect(r.server!.weight).toBe(3);
      expect(Number(r.heartbeatInterval!.seconds)).toBe(10);
      const listed = await client.listServers({ name: `proto-${protocol}` });
      expect(listed.servers.map((s) => s.id)).toEqual([r.server!.id]);
      const e = await rejection(client.heartbeat({ id: "srv_missing" }));
      expect(e.code).toBe(5); // not_found
      await client.unregisterServer({ id: r.server!.id });
    }
  });

  it("answers SERVER_NOT_FOUND for unknown servers and SERVER_NAME_TAKEN for a second registration of a name", async () => {
    const client = clientFor(ServerService, sy.url, "connect");
    const e = await rejection(client.getServer({ id: "srv_nope" }));
    expect(e.rawMessage).toContain("srv_nope");
    await client.registerServer({ server: { name: "dup", kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` } }, requestId: "r-1" });
    const again = await client.registerServer({ server: { name: "dup", kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` } }, requestId: "r-1" });
    expect(again.server!.name).toBe("dup");
    const taken = await rejection(client.registerServer({ server: { name: "dup", kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` } } }));
    expect(taken.code).toBe(6); // already_exists
    const noPredict = await rejection(client.registerServer({ server: { name: "np", kind: ServerKind.BACKEND } }));
    expect(noPredict.rawMessage).toContain("endpoints.predict");
    await client.unregisterServer({ id: again.server!.id });
  });
});

describe("maintenance and unregistering with tasks in flight", () => {
  it("drains on maintenance: running tasks finish, new ones wait, leaving maintenance brings it back", async () => {
    const client = clientFor(ServerService, sy.url, "connect");
    const id = (await client.registerServer({ server: { name: "drain-1", kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` }, maxConcurrent: 5 } })).server!.id;
    await client.heartbeat({ id });
    release = [];
    const t1 = ((await (await post("/api/task", { type: "x", priority: 1, payload: { n: 1 } })).json()) as { id: string }).id;
    const t2 = ((await (await post("/api/task", { type: "x", priority: 1, payload: { n: 2 } })).json()) as { id: string }).id;
    await waitFor("two tasks in flight", () => release.length === 2);
    expect((await task(t1)).status).toBe("PROCESSING");

    const m = await post(`/api/servers/${id}/maintenance`, { maintenance: true, reason: "Scheduled maintenance" });
    expect(m.status).toBe(200);
    expect(await m.json()).toMatchObject({ serverId: id, maintenance: true, reason: "Scheduled maintenance", status: "maintenance" });
    const t3 = ((await (await post("/api/task", { type: "x", priority: 1, payload: { n: 3 } })).json()) as { id: string }).id;
    await Bun.sleep(300);
    expect((await task(t3)).status).toBe("PENDING");
    expect(release.length).toBe(2);

    for (const r of release.splice(0)) r();
    await waitFor("in-flight tasks finished", async () => (await task(t1)).status === "COMPLETED" && (await task(t2)).status === "COMPLETED");
    expect((await task(t3)).status).toBe("PENDING");

    const off = await post(`/api/servers/${id}/maintenance`, { maintenance: false });
    expect(((await off.json()) as { maintenance: boolean }).maintenance).toBe(false);
    await waitFor("task 3 dispatched after maintenance", () => release.length === 1);
    for (const r of release.splice(0)) r();
    await waitFor("task 3 finished", async () => (await task(t3)).status === "COMPLETED");
    await client.unregisterServer({ id });
  });

  it("puts the tasks of an unregistered server back in their queue without counting the attempt", async () => {
    const client = clientFor(ServerService, sy.url, "connect");
    const id = (await client.registerServer({ server: { name: "leaver", kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` } } })).server!.id;
    await client.heartbeat({ id });
    release = [];
    const t = ((await (await post("/api/task", { type: "x", priority: 1, payload: { n: 9 } })).json()) as { id: string }).id;
    await waitFor("task in flight", () => release.length === 1);
    expect((await task(t)).attempts).toBe(1);
    const del = await api(`/api/servers/${id}`, { method: "DELETE" });
    expect(await del.json()).toEqual({ message: "Server unregistered", serverId: id });
    const back = await task(t);
    expect(back.status).toBe("PENDING");
    expect(back.attempts).toBe(0);
    // Its late answer is refused: the task stays where it is.
    for (const r of release.splice(0)) r();
    await Bun.sleep(100);
    expect((await task(t)).status).toBe("PENDING");
    expect((await api(`/api/servers/${id}`)).status).toBe(404);
    await tasks.engine.cancelTask({ id: t });
  });
});

describe("lists, probes and daily statistics", () => {
  it("pages through servers by name with filters", async () => {
    const client = clientFor(ServerService, sy.url, "connect");
    const ids: string[] = [];
    for (const n of ["pg-c", "pg-a", "pg-e", "pg-b", "pg-d"]) {
      ids.push((await client.registerServer({ server: { name: n, kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` }, groups: ["paged"], capabilities: n === "pg-d" ? ["rare"] : [] } })).server!.id);
    }
    const names: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await client.listServers({ group: "paged", pageSize: 2, pageToken: token });
      names.push(...page.servers.map((s) => s.name));
      token = page.nextPageToken;
      pages++;
    } while (token);
    expect(names).toEqual(["pg-a", "pg-b", "pg-c", "pg-d", "pg-e"]);
    expect(pages).toBe(3);
    expect((await client.listServers({ capability: "rare" })).servers.map((s) => s.name)).toEqual(["pg-d"]);
    expect((await client.listServers({ kind: ServerKind.WORKER, group: "paged" })).servers).toHaveLength(0);
    expect((await rejection(client.listServers({ pageToken: "garbage" }))).rawMessage).toContain("page_token");
    expect((await rejection(client.listServers({ pageSize: 1001 }))).rawMessage).toContain("page_size");
    for (const id of ids) await client.unregisterServer({ id });
  });

  it("probes on demand, and refuses a probe without a health endpoint", async () => {
    const client = clientFor(ServerService, sy.url, "connect");
    const id = (await client.registerServer({ server: { name: "probe-me", kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict`, health: `${gate.url}/health` } } })).server!.id;
    const r = await client.checkServerHealth({ id });
    expect(r.server!.healthCheck!.lastResult).toBe(1); // PASSING
    expect(r.server!.healthCheck!.lastHttpStatus).toBe(200);
    expect(r.server!.status).toBe(ServerStatus.ONLINE);
    const none = (await client.registerServer({ server: { name: "no-probe", kind: ServerKind.BACKEND, endpoints: { predict: `${gate.url}/predict` } } })).server!.id;
    const e = await rejection(client.checkServerHealth({ id: none }));
    expect(e.code).toBe(9); // failed_precondition
    await client.unregisterServer({ id });
    await client.unregisterServer({ id: none });
  });

  it("counts the share of the day a server was up, leaving maintenance out", async () => {
    const d = servers.domain;
    clock.set(Date.UTC(2026, 11, 3, 0, 0, 0));
    const v = await d.register("default", { name: "uptime-1", kind: "backend", endpoints: { predict: `${gate.url}/predict` } });
    await d.registry.sweep(); // offline from midnight: no heartbeat yet
    clock.advance(3_600_000);
    await d.registry.heartbeat("default", v.id, "healthy", undefined);
    await d.registry.sweep(); // online from 01:00
    clock.advance(3_600_000);
    await d.registry.setMaintenance("default", v.id, true, "patching", "");
    await d.registry.sweep(); // maintenance 02:00–03:00
    clock.advance(3_600_000);
    await d.registry.setMaintenance("default", v.id, false, "", "");
    await d.registry.heartbeat("default", v.id, "healthy", undefined);
    await d.registry.sweep(); // online from 03:00
    clock.advance(3_600_000); // 04:00 now; silent since 03:00, offline since 03:00:30
    await d.registry.sweep();
    const day = await d.stats.day("default", v.id, "2026-12-03");
    // Observed 00:00–04:00 minus one hour of maintenance = 3 h; up 01:00–02:00 and 03:00–04:00 (the
    // sweep saw it offline only at 04:00) = 2 h.
    expect(day.uptimeRatio).toBeCloseTo(2 / 3, 5);
    await expect(d.stats.day("default", v.id, "2026-12-04")).rejects.toThrow("future");
    await d.unregister("default", v.id);
  });
});

describe("pull workers and the balancer", () => {
  it("serves the least busy worker stream first under least-connections", async () => {
    await tasks.engine.createQueueConfig({ name: "pull-q", priority: 1 });
    await servers.domain.registerWorker("default", { workerId: "pull-a", queue: "pull-q", maxConcurrent: 10 });
    await servers.domain.registerWorker("default", { workerId: "pull-b", queue: "pull-q", maxConcurrent: 10 });
    await servers.domain.balancer.setAlgorithm("default", "least-connections");
    // pull-a already runs two tasks (claimed by a unary call, not finished).
    for (let n = 0; n < 2; n++) await tasks.engine.createTask({ queue: "pull-q", type: "t", payload: n });
    expect(await tasks.engine.claimTasks({ workerId: "pull-a", queues: ["pull-q"], maxTasks: 2 })).toHaveLength(2);
    const got: string[] = [];
    const sa = tasks.engine.connectWorker({ workerId: "pull-a", queues: ["pull-q"], credits: 10 }, (m) => m.kind === "assigned" && got.push("pull-a"));
    const sb = tasks.engine.connectWorker({ workerId: "pull-b", queues: ["pull-q"], credits: 10 }, (m) => m.kind === "assigned" && got.push("pull-b"));
    try {
      for (let n = 0; n < 6; n++) {
        await tasks.engine.createTask({ queue: "pull-q", type: "t", payload: 10 + n });
        await waitFor(`task ${n} pushed`, () => got.length === n + 1);
      }
      // b catches up first (0→2), then they alternate from a tie; a is never served while busier.
      expect(got.slice(0, 2)).toEqual(["pull-b", "pull-b"]);
      expect(got.filter((w) => w === "pull-a")).toHaveLength(2);
      expect(got.filter((w) => w === "pull-b")).toHaveLength(4);
    } finally {
      sa.close();
      sb.close();
      await servers.domain.balancer.setAlgorithm("default", "weighted-round-robin");
    }
  });
});

describe("tenancy", () => {
  it("keeps each tenant's servers, picks and algorithm apart", async () => {
    const d = servers.domain;
    const a = await d.register("tenant-a", { name: "same-name", kind: "backend", endpoints: { predict: `${gate.url}/predict` } });
    const b = await d.register("tenant-b", { name: "same-name", kind: "backend", endpoints: { predict: `${gate.url}/predict` } });
    await d.registry.heartbeat("tenant-a", a.id, "healthy", undefined);
    expect(() => d.registry.get("tenant-b", a.id)).toThrow("server not found");
    await expect(d.registry.heartbeat("tenant-b", a.id, "healthy", undefined)).rejects.toThrow("server not found");
    await expect(d.unregister("tenant-b", a.id)).rejects.toThrow("server not found");
    expect(d.registry.list("tenant-b").items.map((s) => s.id)).toEqual([b.id]);
    expect(d.balancer.pick("tenant-a").server?.id).toBe(a.id);
    expect(d.balancer.pick("tenant-b").server).toBeUndefined(); // b's only server never heartbeat
    expect(d.balancer.pick("tenant-b").reason).toBe("none_available");
    await d.balancer.setAlgorithm("tenant-a", "random");
    expect(d.balancer.algorithmOf("tenant-a")).toBe("random");
    expect(d.balancer.algorithmOf("tenant-b")).toBe("weighted-round-robin");
    await d.unregister("tenant-a", a.id);
    await d.unregister("tenant-b", b.id);
  });
});

