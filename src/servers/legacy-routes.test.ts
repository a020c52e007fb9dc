import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { preparePython, runPython } from "../testing/python.ts";
import { startTestServer, type TestServer } from "../testing/server.ts";
import type { TasksModule } from "../tasks/module.ts";
import type { ServersModule } from "./module.ts";
import { waitFor } from "./testing.ts";

// The seed 001 document's server and load-balancer examples, and seed 003's worker routes,
// on a real server; then a Python worker that registers like runqy's and holds a stream.
let sy: TestServer;
const dir = mkdtempSync(join(tmpdir(), "switchyard-queues-"));
const yaml = join(dir, "queues.yaml");
writeFileSync(
  yaml,
  `queues:
  inference:
    priority: 6
    mode: long_running
    deployment:
      git_url: "https://github.com/example/repo.git"
      branch: main
      startup_cmd: "python main.py"
      startup_timeout_secs: 300
      requirements_file: requirements.txt
  pyq:
    priority: 2
`,
);

beforeAll(async () => {
  sy = await startTestServer({ SWITCHYARD_QUEUE_CONFIG: yaml, SWITCHYARD_HEALTH_CHECK_INTERVAL_MS: "60000" });
  await waitFor("queue configs loaded", async () => (await (sy.app.modules.tasks as TasksModule).engine.listQueueConfigs()).items.length === 2);
});
afterAll(async () => {
  await sy?.close();
});

const api = (path: string, init?: RequestInit) => fetch(`${sy.url}${path}`, { ...init, headers: { "content-type": "application/json", ...init?.headers } });
const send = async (method: string, path: string, body?: unknown) => {
  const r = await api(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as any };
};

describe("seed 001 server routes, with the document's examples", () => {
  it("registers, lists, heartbeats, sets maintenance, reads metrics and stats, and unregisters", async () => {
    const reg = await send("POST", "/api/servers", {
      name: "gpu-server-01",
      endpoints: { predict: "https://server1.example.com/predict", health: "https://server1.example.com/health", metrics: "https://server1.example.com/metrics" },
      apiKey: "server-api-key",
      maxConcurrent: 10,
      capabilities: ["video", "image"],
      groups: ["production"],
      priority: 1,
    });
    expect(reg.status).toBe(200);
    expect(reg.body).toEqual({ serverId: expect.stringMatching(/^srv_/), message: "Server registered successfully" });
    const id = reg.body.serverId as string;

    const hb = await send("POST", `/api/servers/${id}/heartbeat`, { status: "healthy", activeTasks: 3, metrics: { cpu: 45, memory: 60, gpu: 80 } });
    expect(hb.status).toBe(200);
    expect(hb.body).toMatchObject({ id, success: true, lastHeartbeat: expect.any(Number) });

    // Its health endpoint cannot be reached from here: the failing first probe makes it degraded.
    const servers = sy.app.modules.servers as ServersModule;
    await waitFor("first probe done", () => servers.domain.registry.entry("default", id).health.lastCheckTime !== undefined, 20_000);
    const list = await send("GET", "/api/servers?group=production");
    expect(list.status).toBe(200);
    const s = list.body.servers.find((x: any) => x.id === id);
    expect(s).toMatchObject({ id, name: "gpu-server-01", groups: ["production"], priority: 1, lastHeartbeat: hb.body.lastHeartbeat });
    expect(["online", "degraded"]).toContain(s.status);
    expect((await send("GET", `/api/servers?status=${s.status}`)).body.servers.map((x: any) => x.id)).toContain(id);
    for (const k of ["registeredAt", "uptime", "timeSinceLastHeartbeat"]) expect(typeof s[k]).toBe("number");
    expect(JSON.stringify(list.body)).not.toContain("server-api-key");
    expect(s.metrics).toMatchObject({ activeTasks: 3, cpu: 45, memory: 60, gpu: 80 });
    expect((await send("GET", "/api/servers?status=offline")).body.servers.find((x: any) => x.id === id)).toBeUndefined();
    expect((await send("GET", "/api/servers?status=busy")).status).toBe(400);

    const m = await send("POST", `/api/servers/${id}/maintenance`, { maintenance: true, reason: "Scheduled maintenance" });
    expect(m.body).toMatchObject({ serverId: id, maintenance: true, reason: "Scheduled maintenance" });
    expect((await send("GET", "/api/servers?status=maintenance")).body.servers.map((x: any) => x.id)).toContain(id);
    expect((await send("POST", `/api/servers/${id}/maintenance`, { maintenance: false })).body.maintenance).toBe(false);
    expect((await send("POST", `/api/servers/${id}/maintenance`, {})).status).toBe(400);

    const metrics = await send("GET", `/api/servers/${id}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toEqual({
      serverId: id,
      metrics: { uptime: expect.any(Number), tasksProcessed: 0, successCount: 0, failureCount: 0, averageProcessingTime: 0, currentLoad: 0, activeTasks: 0 },
    });
    const stats = await send("GET", `/api/stats/servers/${id}?date=${new Date().toISOString().slice(0, 10)}`);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ serverId: id, tasksProcessed: 0, successCount: 0, failureCount: 0, successRate: 0, averageProcessingTime: 0 });
    expect(stats.body.uptime).toBeGreaterThanOrEqual(0);
    expect(stats.body.uptime).toBeLessThanOrEqual(1);
    expect((await send("GET", `/api/stats/servers/${id}?date=2026-13-01`)).status).toBe(400);
    expect((await send("GET", `/api/stats/servers/${id}?date=2999-01-01`)).status).toBe(400);

    const lb = await send("GET", "/api/stats/load-balancer");
    expect(lb.status).toBe(200);
    expect(lb.body).toMatchObject({ algorithm: "weighted-round-robin", totalActiveTasks: 0, averageLoad: 0 });
    expect(lb.body.serverDistribution[id]).toMatchObject({ load: 0, activeTasks: 0, weight: 1 });

    const set = await send("POST", "/api/stats/load-balancer/algorithm", { algorithm: "least-connections" });
    expect(set.body).toMatchObject({ message: "Load balancer algorithm updated", algorithm: "least-connections" });
    expect((await send("GET", "/api/stats/load-balancer")).body.algorithm).toBe("least-connections");
    const badAlgo = await send("POST", "/api/stats/load-balancer/algorithm", { algorithm: "fastest" });
    expect(badAlgo.status).toBe(400);
    expect(badAlgo.body.error).toBe("Invalid request");
    expect((await send("POST", "/api/stats/load-balancer/algorithm", {})).body).toEqual({ error: "Invalid request", details: "Missing required field: algorithm" });

    const del = await send("DELETE", `/api/servers/${id}`);
    expect(del).toEqual({ status: 200, body: { message: "Server unregistered", serverId: id } });
    expect(await send("GET", `/api/servers/${id}/metrics`)).toEqual({ status: 404, body: { error: "Not found", details: `Server not found: ${id}` } });
    expect((await send("POST", `/api/servers/${id}/heartbeat`, { status: "healthy" })).status).toBe(404);
    expect((await send("DELETE", `/api/servers/${id}`)).status).toBe(404);
  });

  it("refuses bad registrations with 400 naming the field", async () => {
    expect((await send("POST", "/api/servers", { endpoints: { predict: "https://a.example.com/p" } })).body).toEqual({ error: "Invalid request", details: "Missing required field: name" });
    expect((await send("POST", "/api/servers", { name: "x" })).body.details).toBe("Missing required field: endpoints.predict");
    expect((await send("POST", "/api/servers", { name: "x", endpoints: { predict: "https://a.example.com/p" }, maxConcurrent: -1 })).body.details).toContain("maxConcurrent");
    expect((await send("POST", "/api/servers", { name: "bad name!", endpoints: { predict: "https://a.example.com/p" } })).status).toBe(400);
  });
});

describe("canonical REST of the servers API", () => {
  it("registers, picks and switches the algorithm over /v1 routes", async () => {
    const reg = await send("POST", "/v1/servers", { server: { name: "rest-1", kind: "SERVER_KIND_BACKEND", endpoints: { predict: "https://rest.example.com/p" }, capabilities: ["x"] }, apiKey: "k-rest-secret" });
    expect(reg.status).toBe(200);
    expect(reg.body.server).toMatchObject({ name: "rest-1", kind: "SERVER_KIND_BACKEND", status: "SERVER_STATUS_OFFLINE", has_api_key: true });
    expect(JSON.stringify(reg.body)).not.toContain("k-rest-secret");
    const id = reg.body.server.id as string;
    const none = await send("POST", "/v1/loadBalancer:pickServer", { capabilities: ["x"] });
    expect(none.body).toMatchObject({ no_server_reason: "NO_SERVER_REASON_NONE_AVAILABLE", candidate_count: 1 });
    expect((await send("POST", `/v1/servers/${id}:heartbeat`, { health: "REPORTED_HEALTH_HEALTHY" })).status).toBe(200);
    const picked = await send("POST", "/v1/loadBalancer:pickServer", { capabilities: ["x"] });
    expect(picked.body.server.id).toBe(id);
    expect((await send("POST", "/v1/loadBalancer:pickServer", { capabilities: ["y"] })).body.no_server_reason).toBe("NO_SERVER_REASON_NO_MATCH");
    const set = await send("POST", "/v1/loadBalancer:setAlgorithm", { algorithm: "LOAD_BALANCER_ALGORITHM_POWER_OF_TWO_CHOICES" });
    expect(set.body.algorithm).toBe("LOAD_BALANCER_ALGORITHM_POWER_OF_TWO_CHOICES");
    expect((await send("GET", "/api/stats/load-balancer")).body.algorithm).toBe("power-of-two-choices");
    expect((await send("POST", "/v1/loadBalancer:setAlgorithm", {})).status).toBe(400);
    expect((await send("DELETE", `/v1/servers/${id}`)).status).toBe(200);
    expect((await send("GET", `/v1/servers/${id}`)).status).toBe(404);
  });
});

describe("seed 003 worker routes", () => {
  it("answers /worker/register with the queue, its deployment block and an empty redis block, and lists the worker", async () => {
    const r = await send("POST", "/worker/register", { worker_id: "worker-abc123", queue: "inference" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      redis: { addr: "", password: "", db: 0 },
      queue: { name: "inference", priority: 6, mode: "long_running" },
      deployment: { git_url: "https://github.com/example/repo.git", branch: "main", startup_cmd: "python main.py", startup_timeout_secs: 300, requirements_file: "requirements.txt" },
      worker_id: "worker-abc123",
    });
    expect(await send("POST", "/worker/register", { worker_id: "w", queue: "nope" })).toEqual({ status: 404, body: { error: "queue 'nope' not found" } });
    expect(await send("POST", "/worker/register", { worker_id: "w" })).toEqual({ status: 400, body: { error: "queue name is required" } });
    const list = await send("GET", "/api/cli/workers");
    expect(list.body.count).toBeGreaterThanOrEqual(1);
    const w = list.body.workers.find((x: any) => x.worker_id === "worker-abc123");
    expect(w).toMatchObject({ worker_id: "worker-abc123", queues: "inference", status: "running", is_stale: false, concurrency: 1 });
    expect(typeof w.started_at).toBe("number");
    expect((await send("GET", "/api/cli/workers/worker-abc123")).body.worker_id).toBe("worker-abc123");
    expect(await send("GET", "/api/cli/workers/ghost")).toEqual({ status: 404, body: { errors: ["Worker not found"] } });
    // The seed 001 server list shows backends only.
    expect((await send("GET", "/api/servers")).body.servers.find((x: any) => x.name === "worker-abc123")).toBeUndefined();
  });

  it("serves a Python worker that registers like runqy's (no worker_id) and then holds a worker stream", async () => {
    const { python, stubs } = await preparePython();
    const engine = (sy.app.modules.tasks as TasksModule).engine;
    for (let n = 0; n < 3; n++) await engine.createTask({ queue: "pyq", type: "echo", payload: n });
    const out = await runPython(python, [join(import.meta.dir, "../../test/python/runqy_worker.py"), sy.url, `127.0.0.1:${sy.port}`, stubs, "pyq", "3"], 60_000);
    const reg = out.registered as Record<string, any>;
    expect(reg.worker_id).toBe("py-host-pyq");
    expect(reg.queue).toEqual({ name: "pyq", priority: 2, mode: "long_running" });
    expect(out.completed as string[]).toHaveLength(3);
    expect(out.listed).toMatchObject({ worker_id: "py-host-pyq", queues: "pyq", status: "running", is_stale: false });
    expect((out.listed as Record<string, any>).labels).toEqual({ hostname: "py-host", os: "linux", version: "1.2.3" });
    const stats = await send("GET", `/api/stats/servers/${(out.listed as Record<string, any>).id}`);
    expect(stats.body.tasksProcessed).toBe(3);
  }, 90_000);
});
