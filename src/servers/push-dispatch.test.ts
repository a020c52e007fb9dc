import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startTestServer, type TestServer } from "../testing/server.ts";
import type { ServersModule } from "./module.ts";
import { startBackend, waitFor, type TestBackend } from "./testing.ts";

// Push dispatch end to end: a real Switchyard pushing seed 001 tasks to real HTTP backends.
let sy: TestServer;
let fast: TestBackend; // answers sync, accepts async tasks and calls back
let failing: TestBackend; // answers 500 to every task: ejected
let slow: TestBackend; // answers after the dispatch timeout: the task is retried elsewhere
const callbacks: Promise<unknown>[] = [];

const api = (path: string, init?: RequestInit) => fetch(`${sy.url}${path}`, { ...init, headers: { "content-type": "application/json", ...init?.headers } });
const post = (path: string, body: unknown) => api(path, { method: "POST", body: JSON.stringify(body) });
const task = async (id: string) => (await (await api(`/api/task/${id}`)).json()) as Record<string, any>;

beforeAll(async () => {
  fast = startBackend((body) => {
    if (body.async) {
      // Seed 001's async shape: accept now, PUT the result to the callback URL later.
      callbacks.push(
        (async () => {
          await Bun.sleep(30);
          await fetch(body.callback_url, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: "PROCESSING", progress: 50 }) });
          await fetch(body.callback_url, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: "COMPLETED", result: { via: "callback", n: body.payload.n } }) });
        })(),
      );
      return Response.json({ status: "accepted", message: "Task queued for processing" });
    }
    return Response.json({ status: "success", result: { via: "sync", n: body.payload?.n ?? null, type: body.type } });
  });
  failing = startBackend(() => new Response("boom", { status: 500 }));
  slow = startBackend(async (body) => {
    await Bun.sleep(2500);
    return Response.json({ status: "success", result: { via: "slow", n: body.payload?.n ?? null } });
  });
  sy = await startTestServer({
    SWITCHYARD_BACKEND_ALLOW: "127.0.0.1",
    SWITCHYARD_DISPATCH_TIMEOUT_MS: "1000",
    // The test polls seed 001 routes; their default rate limits (100/min) are not under test here.
    SWITCHYARD_RATE_LIMITS: "seed-001=off;seed-001-task-create=off;seed-001-server-register=off",
    SWITCHYARD_HEALTH_CHECK_INTERVAL_MS: "60000",
    SWITCHYARD_HEARTBEAT_TIMEOUT_MS: "60000",
  });
});

afterAll(async () => {
  await Promise.allSettled(callbacks);
  await sy?.close();
  for (const b of [fast, failing, slow]) b?.stop();
});

describe("push dispatch to HTTP backends", () => {
  it("pushes tasks to registered backends: sync answers, async callbacks, a failing backend ejected, a slow one timed out and retried elsewhere", async () => {
    const ids: Record<string, string> = {};
    for (const [name, b] of [["fast", fast], ["failing", failing], ["slow", slow]] as const) {
      const r = await post("/api/servers", {
        name,
        endpoints: { predict: `${b.url}/predict`, health: `${b.url}/health` },
        apiKey: `key-${name}`,
        maxConcurrent: 10,
        capabilities: ["video"],
        priority: 1,
      });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { serverId: string; message: string };
      expect(body.message).toBe("Server registered successfully");
      ids[name] = body.serverId;
    }
    // Backends with a health endpoint come online on their first passing probe.
    await waitFor("all three online", async () => {
      const list = (await (await api("/api/servers?status=online")).json()) as { servers: unknown[] };
      return list.servers.length === 3;
    });
    const algo = await post("/api/stats/load-balancer/algorithm", { algorithm: "round-robin" });
    expect(algo.status).toBe(200);

    const created: string[] = [];
    for (let n = 0; n < 9; n++) {
      const r = await post("/api/task", { type: "video-processing", priority: 1, payload: { n }, capabilities: ["video"] });
      expect(r.status).toBe(200); // the original system answers 200 (seed 001 fidelity)
      created.push(((await r.json()) as { id: string }).id);
    }
    const asyncRes = await post("/api/task", { type: "video-processing", priority: 1, payload: { n: 99 }, async: true, capabilities: ["video"] });
    const asyncId = ((await asyncRes.json()) as { id: string }).id;

    // Every task ends COMPLETED on the fast backend: failures and timeouts were retried there.
    for (const id of created) {
      const t = await waitFor(`task ${id} completed`, async () => {
        const t = await task(id);
        return t.status === "COMPLETED" ? t : undefined;
      }, 30_000);
      expect(t.serverId).toBe(ids.fast!);
      expect(["sync"]).toContain(t.result.via);
    }
    const a = await waitFor("async task completed by callback", async () => {
      const t = await task(asyncId);
      return t.status === "COMPLETED" ? t : undefined;
    }, 30_000);
    expect(a.result).toEqual({ via: "callback", n: 99 });

    // The backend saw the seed 001 request shape and its own API key.
    const sent = fast.received.find((b) => b.id === created[0]) ?? fast.received[0]!;
    expect(sent.task_id).toBe(sent.id);
    expect(sent.request.type).toBe("video-processing");
    expect(sent.callback_url).toBe(`${sy.url}/api/task/${sent.id}`);
    expect(fast.auth).toContain("Bearer key-fast");

    // The failing backend got tasks until it was ejected (3 failures in a row), then none.
    expect(failing.received.length).toBeGreaterThanOrEqual(3);
    const lb = (await (await api("/api/stats/load-balancer")).json()) as { serverDistribution: Record<string, { available: boolean; status: string }> };
    expect(lb.serverDistribution[ids.failing!]!.status).toBe("offline");
    expect(lb.serverDistribution[ids.failing!]!.available).toBe(false);
    // The slow backend was tried and timed out: the retried attempt counts.
    expect(slow.received.length).toBeGreaterThanOrEqual(1);
    const retried = [...failing.received, ...slow.received].map((b) => b.id as string);
    const again = await task(retried[0]!);
    expect(again.attempts).toBeGreaterThanOrEqual(2);

    // Metrics of the fast backend come from the task records.
    const m = (await (await api(`/api/servers/${ids.fast}/metrics`)).json()) as { metrics: { tasksProcessed: number; successCount: number } };
    expect(m.metrics.tasksProcessed).toBeGreaterThanOrEqual(10);
    expect(m.metrics.successCount).toBe(m.metrics.tasksProcessed);
    // The engine records an attempt retried elsewhere only by its final outcome: the failing
    // backend finished nothing.
    const f = (await (await api(`/api/stats/servers/${ids.failing}`)).json()) as { tasksProcessed: number; successRate: number; uptime: number };
    expect(f.tasksProcessed).toBe(0);
    expect(f.successRate).toBe(0);
  }, 60_000);

  it("ejects a backend after consecutive failed health probes and brings it back after passing ones", async () => {
    let healthy = false;
    const flaky = startBackend(
      () => Response.json({ result: "ok" }),
      () => (healthy ? Response.json({ status: "healthy" }) : new Response("down", { status: 503 })),
    );
    try {
      const mod = sy.app.modules.servers as ServersModule;
      const v = await mod.domain.register("default", { name: "flaky", kind: "backend", endpoints: { predict: `${flaky.url}/predict`, health: `${flaky.url}/health` } });
      const e = mod.domain.registry.entry("default", v.id);
      // Three rounds of the checker (every backend probed, at most 64 at once).
      for (let i = 0; i < 3; i++) await mod.domain.health.round();
      expect(flaky.healthChecks).toBeGreaterThanOrEqual(3);
      expect((await mod.domain.registry.get("default", v.id)).status).toBe("offline");
      expect(e.health.ejected).toBe(true);
      healthy = true;
      await mod.domain.health.probe(e);
      expect(e.health.ejected).toBe(true); // one pass is not enough
      await mod.domain.health.probe(e);
      expect(e.health.ejected).toBe(false);
      expect((await mod.domain.registry.get("default", v.id)).status).toBe("online");
      await mod.domain.unregister("default", v.id);
    } finally {
      flaky.stop();
    }
  });
});
