import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

// Seed 000 (Jetpack worker API) task routes on a real server over a real SQLite file.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function api(method: string, path: string, body?: unknown, raw?: string) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined && raw === undefined ? {} : { "content-type": "application/json" },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, body: await res.json() };
}

const create = async (body: Record<string, unknown>) => {
  const r = await api("POST", "/api/tasks", body);
  expect(r.status).toBe(201);
  return r.body;
};

describe("seed 000 /api/tasks", () => {
  it("POST /api/tasks creates a task and answers it in the Jetpack Task shape with 201", async () => {
    const r = await api("POST", "/api/tasks", {
      title: "Write the parser",
      description: "tokens then AST",
      priority: "high",
      requiredSkills: ["typescript"],
      tags: ["parser"],
      estimatedMinutes: 30,
      branch: "feature/parser",
      metadata: { owner: "ana" },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      title: "Write the parser",
      description: "tokens then AST",
      status: "pending",
      priority: "high",
      dependencies: [],
      blockers: [],
      requiredSkills: ["typescript"],
      tags: ["parser"],
      retryCount: 0,
      maxRetries: 2,
      estimatedMinutes: 30,
      branch: "feature/parser",
      targetBranches: [],
      metadata: { owner: "ana" },
      queue: "jetpack",
    });
    expect(r.body.id).toBeString();
    expect(r.body.createdAt).toMatch(ISO);
    expect(r.body.updatedAt).toMatch(ISO);
    expect(r.body.assignedAgent).toBeUndefined();
  });

  it("GET /api/tasks/:id answers the task, and 404 {error:'Task not found'} when missing", async () => {
    const t = await create({ title: "get me" });
    const got = await api("GET", `/api/tasks/${t.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: t.id, title: "get me", status: "pending", priority: "medium" });
    const missing = await api("GET", "/api/tasks/task_nope");
    expect(missing).toEqual({ status: 404, body: { error: "Task not found" } });
  });

  it("claim is atomic: the first agent gets the task, the second 404 'Task not found or not claimable'", async () => {
    const t = await create({ title: "claim me", priority: "critical" });
    const [a, b] = await Promise.all([
      api("POST", `/api/tasks/${t.id}/claim`, { agentId: "agent-a" }),
      api("POST", `/api/tasks/${t.id}/claim`, { agentId: "agent-b" }),
    ]);
    const wins = [a, b].filter((r) => r.status === 200);
    const losses = [a, b].filter((r) => r.status === 404);
    expect(wins).toHaveLength(1);
    expect(losses).toHaveLength(1);
    expect(losses[0]!.body).toEqual({ error: "Task not found or not claimable" });
    expect(wins[0]!.body).toMatchObject({ id: t.id, status: "claimed", assignedAgent: expect.stringMatching(/^agent-[ab]$/), fencingToken: 1 });
    expect(wins[0]!.body.leaseExpiresAt).toMatch(ISO);
    expect(wins[0]!.body.lastAttemptAt).toMatch(ISO);
    expect(await api("POST", "/api/tasks/task_missing/claim", { agentId: "x" })).toEqual({ status: 404, body: { error: "Task not found or not claimable" } });
  });

  it("claim without agentId answers 400 {error:'agentId is required'}", async () => {
    const t = await create({ title: "no agent" });
    expect(await api("POST", `/api/tasks/${t.id}/claim`, {})).toEqual({ status: 400, body: { error: "agentId is required" } });
    expect(await api("POST", `/api/tasks/${t.id}/claim`, { agentId: 7 })).toEqual({ status: 400, body: { error: "agentId is required" } });
    expect((await api("GET", `/api/tasks/${t.id}`)).body.status).toBe("pending");
  });

  it("release answers {released:true} and puts the claimed task back in the ready set", async () => {
    const t = await create({ title: "release me" });
    await api("POST", `/api/tasks/${t.id}/claim`, { agentId: "agent-r" });
    let ready = await api("GET", "/api/tasks/ready");
    expect(ready.body.map((x: { id: string }) => x.id)).not.toContain(t.id);
    expect(await api("POST", `/api/tasks/${t.id}/release`)).toEqual({ status: 200, body: { released: true } });
    // As Jetpack's releaseTask: status `ready`, assigned agent cleared.
    const after = (await api("GET", `/api/tasks/${t.id}`)).body;
    expect(after.status).toBe("ready");
    expect(after.assignedAgent).toBeUndefined();
    ready = await api("GET", "/api/tasks/ready");
    expect(ready.body.map((x: { id: string }) => x.id)).toContain(t.id);
    expect(await api("POST", "/api/tasks/task_none/release")).toEqual({ status: 404, body: { error: "Task not found" } });
  });

  it("PATCH updates fields, reports in_progress and completed, and answers the task", async () => {
    const t = await create({ title: "patch me", priority: "low" });
    let r = await api("PATCH", `/api/tasks/${t.id}`, { title: "patched", priority: "high", tags: ["x", "y"], actualMinutes: 12 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: t.id, title: "patched", priority: "high", tags: ["x", "y"], actualMinutes: 12, status: "pending" });
    r = await api("PATCH", `/api/tasks/${t.id}`, { status: "in_progress", assignedAgent: "agent-p" });
    expect(r.body).toMatchObject({ status: "in_progress", assignedAgent: "agent-p" });
    r = await api("PATCH", `/api/tasks/${t.id}`, { progress: 40 });
    expect(r.body.status).toBe("in_progress");
    r = await api("PATCH", `/api/tasks/${t.id}`, { status: "completed", result: { ok: true } });
    expect(r.body.status).toBe("completed");
    expect(r.body.completedAt).toMatch(ISO);
  });

  it("PATCH status failed records lastError; status pending retries it", async () => {
    const t = await create({ title: "fail me" });
    await api("POST", `/api/tasks/${t.id}/claim`, { agentId: "agent-f" });
    let r = await api("PATCH", `/api/tasks/${t.id}`, { status: "failed", lastError: "tests red" });
    expect(r.body).toMatchObject({ status: "failed", lastError: "tests red", failureType: "error" });
    r = await api("PATCH", `/api/tasks/${t.id}`, { status: "pending" });
    expect(r.body).toMatchObject({ status: "pending", retryCount: 1 });
  });

  it("DELETE answers {deleted:true}, then the task is gone", async () => {
    const t = await create({ title: "delete me" });
    expect(await api("DELETE", `/api/tasks/${t.id}`)).toEqual({ status: 200, body: { deleted: true } });
    expect((await api("GET", `/api/tasks/${t.id}`)).status).toBe(404);
    expect(await api("DELETE", `/api/tasks/${t.id}`)).toEqual({ status: 404, body: { error: "Task not found" } });
  });

  it("dependencies: a dependent is blocked, then ready when its dependency completes", async () => {
    const dep = await create({ title: "first" });
    const after = await create({ title: "second", dependencies: [dep.id] });
    expect(after).toMatchObject({ status: "blocked", dependencies: [dep.id] });
    let ready = (await api("GET", "/api/tasks/ready")).body.map((x: { id: string }) => x.id);
    expect(ready).not.toContain(after.id);
    await api("POST", `/api/tasks/${dep.id}/claim`, { agentId: "a" });
    await api("PATCH", `/api/tasks/${dep.id}`, { status: "completed" });
    ready = (await api("GET", "/api/tasks/ready")).body.map((x: { id: string }) => x.id);
    expect(ready).toContain(after.id);
  });

  it("claims a task whose dependencies are unfinished, as Jetpack's claim checks only the status", async () => {
    const dep = await create({ title: "unfinished" });
    const waiting = await create({ title: "waits for it", dependencies: [dep.id] });
    expect(waiting.status).toBe("blocked");
    expect((await api("GET", "/api/tasks/ready")).body.map((x: { id: string }) => x.id)).not.toContain(waiting.id);
    const claimed = await api("POST", `/api/tasks/${waiting.id}/claim`, { agentId: "eager" });
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({ id: waiting.id, status: "claimed", assignedAgent: "eager" });
    // The dependency finishing later changes nothing for the task already running.
    await api("POST", `/api/tasks/${dep.id}/claim`, { agentId: "a" });
    await api("PATCH", `/api/tasks/${dep.id}`, { status: "completed" });
    expect((await api("GET", `/api/tasks/${waiting.id}`)).body).toMatchObject({ status: "claimed", assignedAgent: "eager" });
  });

  it("GET /api/tasks lists an array newest first, filtered by status, priority, assignedAgent and limit", async () => {
    const q = `list-${Date.now()}`;
    const a = await create({ title: "a", queue: q, priority: "low" });
    const b = await create({ title: "b", queue: q, priority: "critical" });
    const c = await create({ title: "c", queue: q, priority: "critical" });
    await api("POST", `/api/tasks/${c.id}/claim`, { agentId: "lister" });
    let r = await api("GET", `/api/tasks?queue=${q}`);
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body)).toBe(true);
    expect(r.body.map((t: { id: string }) => t.id)).toEqual([c.id, b.id, a.id]);
    r = await api("GET", `/api/tasks?queue=${q}&status=pending&priority=critical`);
    expect(r.body.map((t: { id: string }) => t.id)).toEqual([b.id]);
    r = await api("GET", `/api/tasks?queue=${q}&assignedAgent=lister`);
    expect(r.body.map((t: { id: string }) => t.id)).toEqual([c.id]);
    r = await api("GET", `/api/tasks?queue=${q}&status=claimed`);
    expect(r.body.map((t: { id: string }) => t.id)).toEqual([c.id]);
    r = await api("GET", `/api/tasks?queue=${q}&limit=2`);
    expect(r.body).toHaveLength(2);
  });

  it("GET /api/tasks/ready answers an array in claim order (priority, then FIFO)", async () => {
    const q = `ready-${Date.now()}`;
    const low = await create({ title: "low", queue: q, priority: "low" });
    const hi1 = await create({ title: "hi1", queue: q, priority: "high" });
    const hi2 = await create({ title: "hi2", queue: q, priority: "high" });
    const r = await api("GET", `/api/tasks/ready?queue=${q}`);
    expect(r.body.map((t: { id: string }) => t.id)).toEqual([hi1.id, hi2.id, low.id]);
  });

  it("GET /api/tasks/stats answers total, byStatus and byPriority", async () => {
    const before = (await api("GET", "/api/tasks/stats")).body;
    expect(Object.keys(before.byStatus).sort()).toEqual(["blocked", "claimed", "completed", "failed", "in_progress", "pending", "ready"]);
    expect(Object.keys(before.byPriority).sort()).toEqual(["critical", "high", "low", "medium"]);
    await create({ title: "stat", priority: "critical" });
    const after = (await api("GET", "/api/tasks/stats")).body;
    expect(after.total).toBe(before.total + 1);
    expect(after.byStatus.pending).toBe(before.byStatus.pending + 1);
    expect(after.byPriority.critical).toBe(before.byPriority.critical + 1);
  });

  const badCases: { name: string; method: string; path: string; body?: unknown; raw?: string; field: string }[] = [
    { name: "create without title", method: "POST", path: "/api/tasks", body: {}, field: "title" },
    { name: "create with a numeric title", method: "POST", path: "/api/tasks", body: { title: 5 }, field: "title" },
    { name: "create with an unknown priority", method: "POST", path: "/api/tasks", body: { title: "t", priority: "urgent" }, field: "priority" },
    { name: "create with dependencies not a list", method: "POST", path: "/api/tasks", body: { title: "t", dependencies: "x" }, field: "dependencies" },
    { name: "create with a negative maxRetries", method: "POST", path: "/api/tasks", body: { title: "t", maxRetries: -1 }, field: "maxRetries" },
    { name: "create with metadata not an object", method: "POST", path: "/api/tasks", body: { title: "t", metadata: [1] }, field: "metadata" },
    { name: "create in status completed", method: "POST", path: "/api/tasks", body: { title: "t", status: "completed" }, field: "status" },
    { name: "create with a bad queue name", method: "POST", path: "/api/tasks", body: { title: "t", queue: "no spaces" }, field: "queue" },
    { name: "create with a body that is not JSON", method: "POST", path: "/api/tasks", raw: "{nope", field: "not JSON" },
    { name: "create with an array body", method: "POST", path: "/api/tasks", body: [1], field: "body" },
    { name: "list with an unknown status", method: "GET", path: "/api/tasks?status=done", field: "status" },
    { name: "list with a bad limit", method: "GET", path: "/api/tasks?limit=zero", field: "limit" },
    { name: "ready with a bad limit", method: "GET", path: "/api/tasks/ready?limit=-4", field: "limit" },
    { name: "patch with status blocked", method: "PATCH", path: "/api/tasks/x1", body: { status: "blocked" }, field: "status" },
    { name: "patch with progress 101", method: "PATCH", path: "/api/tasks/x1", body: { progress: 101 }, field: "progress" },
    { name: "claim with a lease too long", method: "POST", path: "/api/tasks/x1/claim", body: { agentId: "a", leaseMs: 99_999_999 }, field: "leaseMs" },
  ];
  for (const c of badCases) {
    it(`answers 400 {error} naming the field: ${c.name}`, async () => {
      const r = await api(c.method, c.path, c.body, c.raw);
      expect(r.status).toBe(400);
      expect(Object.keys(r.body)).toEqual(["error"]);
      expect(r.body.error).toContain(c.field);
    });
  }

  it("answers a wrong method in the Jetpack error body", async () => {
    const r = await api("PUT", "/api/tasks/x1", {});
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("PUT is not allowed");
  });
});

describe("seed 000 /api/tasks with SWITCHYARD_API_TOKEN", () => {
  it("refuses a missing or wrong token with 401 {error:'Unauthorized'} and accepts the right one", async () => {
    const token = "jetpack-token-0123456789";
    const secured = await startTestServer({ SWITCHYARD_API_TOKEN: token });
    try {
      for (const [method, path] of [
        ["GET", "/api/tasks"],
        ["POST", "/api/tasks"],
        ["GET", "/api/tasks/ready"],
        ["GET", "/api/tasks/stats"],
        ["POST", "/api/tasks/x/claim"],
      ] as const) {
        const res = await fetch(`${secured.url}${path}`, { method, headers: { "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({ error: "Unauthorized" });
      }
      const wrong = await fetch(`${secured.url}/api/tasks`, { headers: { authorization: "Bearer nope-nope-nope-nope" } });
      expect(wrong.status).toBe(401);
      const ok = await fetch(`${secured.url}/api/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ title: "with token" }),
      });
      expect(ok.status).toBe(201);
    } finally {
      await secured.close();
    }
  });
});

describe("seed 000 as Jetpack's HTTP adapters call it", () => {
  it("GET / answers 200 { service, version, status } for HttpTaskStore.initialize()", async () => {
    const r = await api("GET", "/");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ service: "switchyard", version: expect.any(String), status: "healthy" });
  });

  it("a claim by id ignores requiredSkills, as the worker API checks only the status", async () => {
    const t = await create({ title: "needs rust", requiredSkills: ["rust", "wasm"] });
    const r = await api("POST", `/api/tasks/${t.id}/claim`, { agentId: "agent-no-skills" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: t.id, status: "claimed", assignedAgent: "agent-no-skills" });
  });

  it("PATCH status in_progress on a claimed task moves it to in_progress", async () => {
    const t = await create({ title: "start me" });
    await api("POST", `/api/tasks/${t.id}/claim`, { agentId: "agent-s" });
    const r = await api("PATCH", `/api/tasks/${t.id}`, { status: "in_progress" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "in_progress", assignedAgent: "agent-s" });
    expect((await api("GET", `/api/tasks?status=in_progress`)).body.map((x: { id: string }) => x.id)).toContain(t.id);
    expect((await api("GET", `/api/tasks/${t.id}`)).body.metadata).toBeUndefined();
  });

  it("release of an in_progress task answers ready with no agent; ready is a status filter of its own", async () => {
    const t = await create({ title: "give back" });
    await api("POST", `/api/tasks/${t.id}/claim`, { agentId: "agent-g" });
    await api("PATCH", `/api/tasks/${t.id}`, { status: "in_progress" });
    expect((await api("POST", `/api/tasks/${t.id}/release`)).body).toEqual({ released: true });
    expect((await api("GET", `/api/tasks/${t.id}`)).body).toMatchObject({ status: "ready" });
    const ready = (await api("GET", "/api/tasks?status=ready")).body.map((x: { id: string }) => x.id);
    const pending = (await api("GET", "/api/tasks?status=pending")).body.map((x: { id: string }) => x.id);
    expect(ready).toContain(t.id);
    expect(pending).not.toContain(t.id);
  });
});
