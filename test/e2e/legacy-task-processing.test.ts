import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import WebSocket from "ws";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

// Seed 001 (task processing system): /api/task…, /api/stats/… and the /ws WebSocket.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function api(method: string, path: string, body?: unknown, raw?: string, base = server.url, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined && raw === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, body: await res.json() };
}

// The seed's own example request body.
const EXAMPLE = {
  type: "video-processing",
  priority: 1,
  payload: {
    mimeType: "video/mp4",
    model: "standard",
    video_quality: "1080p",
    video_url: "https://example.com/video.mp4",
    enable_upscale: false,
  },
  capabilities: ["video"],
  async: true,
};

const create = async (body: Record<string, unknown> = EXAMPLE) => {
  const r = await api("POST", "/api/task", body);
  expect(r.status).toBe(200);
  return r.body as { id: string; status: string; createdAt: number; updatedAt: number };
};

/** Claims the task through TaskService REST so a worker holds it. */
async function claim(id: string, worker = "server_xyz789") {
  const res = await fetch(`${server.url}/v1/tasks/${id}:claim`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ workerId: worker, capabilities: ["video"] }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { lease: { fencingToken: string } };
}

describe("seed 001 /api/task", () => {
  it("POST /api/task with the seed's example body answers {id, status:PENDING, createdAt, updatedAt} in epoch ms", async () => {
    const before = Date.now();
    const r = await api("POST", "/api/task", EXAMPLE);
    expect(r.status).toBe(200); // the original answers 200
    expect(Object.keys(r.body).sort()).toEqual(["createdAt", "id", "status", "updatedAt"]);
    expect(r.body.id).toMatch(/^task_/);
    expect(r.body.status).toBe("PENDING");
    expect(typeof r.body.createdAt).toBe("number");
    expect(r.body.createdAt).toBeGreaterThanOrEqual(before - 1000);
    expect(r.body.updatedAt).toBe(r.body.createdAt);
  });

  it("accepts the SDK examples' smaller body (type, priority, payload)", async () => {
    const t = await create({ type: "video-processing", priority: 1, payload: { video_url: "https://example.com/video.mp4" } });
    const got = await api("GET", `/api/task/${t.id}`);
    expect(got.body).toMatchObject({ id: t.id, status: "PENDING", type: "video-processing", priority: 1, payload: { video_url: "https://example.com/video.mp4" } });
  });

  it("GET /api/task/:id answers {id, status:PROCESSING, progress, serverId, createdAt, updatedAt} while a server works on it", async () => {
    const t = await create();
    await claim(t.id);
    await api("PUT", `/api/task/${t.id}`, { progress: 45 });
    const r = await api("GET", `/api/task/${t.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: t.id, status: "PROCESSING", progress: 45, serverId: "server_xyz789", createdAt: t.createdAt, capabilities: ["video"], payload: EXAMPLE.payload });
    expect(r.body.updatedAt).toBeGreaterThanOrEqual(t.createdAt);
  });

  it("PUT /api/task/:id with the seed's example body completes the task with its result", async () => {
    const t = await create();
    await api("PUT", `/api/task/${t.id}`, { status: "PROCESSING", serverId: "server_xyz789" });
    expect((await api("GET", `/api/task/${t.id}`)).body).toMatchObject({ status: "PROCESSING", serverId: "server_xyz789" });
    const r = await api("PUT", `/api/task/${t.id}`, { status: "COMPLETED", result: { output_url: "https://example.com/processed.mp4", duration: 120 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ message: "Task updated", id: t.id, status: "COMPLETED", progress: 100, result: { output_url: "https://example.com/processed.mp4", duration: 120 } });
    expect(typeof r.body.updatedAt).toBe("number");
    expect(typeof r.body.completedAt).toBe("number");
  });

  it("PUT status FAILED stores the error; retry answers {message:'Task queued for retry', taskId}", async () => {
    const t = await create();
    await claim(t.id);
    const failed = await api("PUT", `/api/task/${t.id}`, { status: "FAILED", error: "GPU out of memory" });
    expect(failed.body).toMatchObject({ status: "FAILED", error: "GPU out of memory" });
    const r = await api("POST", `/api/task/${t.id}/retry`);
    expect(r).toEqual({ status: 200, body: { message: "Task queued for retry", taskId: t.id } });
    expect((await api("GET", `/api/task/${t.id}`)).body).toMatchObject({ status: "PENDING", retryCount: 1 });
  });

  it("POST /api/task/:id/cancel answers {message:'Task cancelled', taskId} for a pending and a processing task", async () => {
    const pending = await create();
    expect(await api("POST", `/api/task/${pending.id}/cancel`)).toEqual({ status: 200, body: { message: "Task cancelled", taskId: pending.id } });
    expect((await api("GET", `/api/task/${pending.id}`)).body.status).toBe("CANCELLED");
    const processing = await create();
    await claim(processing.id);
    expect(await api("POST", `/api/task/${processing.id}/cancel`)).toEqual({ status: 200, body: { message: "Task cancelled", taskId: processing.id } });
    // A cancelled task can be retried, as the seed says for failed or timed out ones.
    expect((await api("POST", `/api/task/${processing.id}/retry`)).body).toEqual({ message: "Task queued for retry", taskId: processing.id });
  });

  it("a task past its timeout reads TIMEOUT and can be retried", async () => {
    const res = await fetch(`${server.url}/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ task: { queue: "default", type: "quick", timeout: "1s" } }),
    });
    const { task } = (await res.json()) as { task: { id: string } };
    await claim(task.id);
    const deadline = Date.now() + 10_000;
    let status = "";
    while (Date.now() < deadline) {
      status = (await api("GET", `/api/task/${task.id}`)).body.status;
      if (status === "TIMEOUT") break;
      await Bun.sleep(100);
    }
    expect(status).toBe("TIMEOUT");
    expect((await api("POST", `/api/task/${task.id}/retry`)).body.message).toBe("Task queued for retry");
  });

  it("answers 404 {error:'Not found', details:'Task not found: <id>'}", async () => {
    for (const [method, path] of [
      ["GET", "/api/task/task_abc123"],
      ["POST", "/api/task/task_abc123/retry"],
      ["POST", "/api/task/task_abc123/cancel"],
      ["PUT", "/api/task/task_abc123"],
    ] as const) {
      const r = await api(method, path, method === "PUT" ? { progress: 1 } : undefined);
      expect(r).toEqual({ status: 404, body: { error: "Not found", details: "Task not found: task_abc123" } });
    }
  });

  it("retrying a completed task is refused in the seed's error body", async () => {
    const t = await create();
    await api("PUT", `/api/task/${t.id}`, { status: "COMPLETED" });
    const r = await api("POST", `/api/task/${t.id}/retry`);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("Invalid request");
    expect(r.body.details).toContain("succeeded");
  });

  const badCases: { name: string; method: string; path: string; body?: unknown; raw?: string; details: string }[] = [
    { name: "create without priority", method: "POST", path: "/api/task", body: { type: "video-processing" }, details: "Missing required field: priority" },
    { name: "create without type", method: "POST", path: "/api/task", body: { priority: 1 }, details: "Missing required field: type" },
    { name: "create with a string priority", method: "POST", path: "/api/task", body: { type: "v", priority: "high" }, details: "priority" },
    { name: "create with a priority above the range", method: "POST", path: "/api/task", body: { type: "v", priority: 1_000_001 }, details: "priority: must be an integer from -1000000 to 1000000" },
    { name: "create with a fractional priority", method: "POST", path: "/api/task", body: { type: "v", priority: 1.5 }, details: "priority" },
    { name: "create with payload not an object", method: "POST", path: "/api/task", body: { type: "v", priority: 1, payload: "x" }, details: "payload" },
    { name: "create with capabilities not a list", method: "POST", path: "/api/task", body: { type: "v", priority: 1, capabilities: "video" }, details: "capabilities" },
    { name: "create with async not a boolean", method: "POST", path: "/api/task", body: { type: "v", priority: 1, async: "yes" }, details: "async" },
    { name: "create with a body that is not JSON", method: "POST", path: "/api/task", raw: "{", details: "not JSON" },
    { name: "update with an unknown status", method: "PUT", path: "/api/task/task_x", body: { status: "DONE" }, details: "status" },
    { name: "update with status TIMEOUT", method: "PUT", path: "/api/task/task_x", body: { status: "TIMEOUT" }, details: "status" },
    { name: "update with progress 150", method: "PUT", path: "/api/task/task_x", body: { progress: 150 }, details: "progress" },
    { name: "update with error a number", method: "PUT", path: "/api/task/task_x", body: { status: "FAILED", error: 5 }, details: "error" },
    { name: "task stats with a bad date", method: "GET", path: "/api/stats/tasks?date=06-01-2024", details: "date" },
    { name: "hourly stats with a bad date", method: "GET", path: "/api/stats/hourly?date=yesterday", details: "date" },
  ];
  for (const c of badCases) {
    it(`answers 400 {error:'Invalid request', details} naming the field: ${c.name}`, async () => {
      const r = await api(c.method, c.path, c.body, c.raw);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe("Invalid request");
      expect(Object.keys(r.body).sort()).toEqual(["details", "error"]);
      expect(r.body.details).toContain(c.details);
    });
  }
});

describe("seed 001 /api/stats", () => {
  it("GET /api/stats/tasks answers the documented totals, top servers and hourly trend", async () => {
    const s = await startTestServer();
    try {
      const mk = async () => (await api("POST", "/api/task", EXAMPLE, undefined, s.url)).body.id as string;
      const done = await mk();
      const failed = await mk();
      const retried = await mk();
      await mk(); // stays pending
      await api("PUT", `/api/task/${done}`, { status: "PROCESSING", serverId: "server_xyz789" }, undefined, s.url);
      await api("PUT", `/api/task/${done}`, { status: "COMPLETED", result: { ok: 1 } }, undefined, s.url);
      await api("PUT", `/api/task/${failed}`, { status: "PROCESSING", serverId: "server_abc456" }, undefined, s.url);
      await api("PUT", `/api/task/${failed}`, { status: "FAILED", error: "boom" }, undefined, s.url);
      await api("PUT", `/api/task/${retried}`, { status: "FAILED", error: "first" }, undefined, s.url);
      await api("POST", `/api/task/${retried}/retry`, undefined, undefined, s.url);
      const r = await api("GET", "/api/stats/tasks", undefined, undefined, s.url);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ totalTasks: 4, pendingTasks: 2, successfulTasks: 1, failedTasks: 1, retriedTasks: 1, serverCount: 2 });
      expect(typeof r.body.averageProcessingTime).toBe("number");
      expect(r.body.topServers).toContainEqual({ serverId: "server_xyz789", tasksProcessed: 1, successRate: 1 });
      expect(r.body.topServers).toContainEqual({ serverId: "server_abc456", tasksProcessed: 1, successRate: 0 });
      const hour = new Date().getUTCHours();
      expect(r.body.hourlyTrend).toContainEqual({ hour, tasks: 4 });
      const today = new Date().toISOString().slice(0, 10);
      expect((await api("GET", `/api/stats/tasks?date=${today}`, undefined, undefined, s.url)).body.totalTasks).toBe(4);
      expect((await api("GET", "/api/stats/tasks?date=2024-01-06", undefined, undefined, s.url)).body.totalTasks).toBe(0);

      const h = await api("GET", `/api/stats/hourly?date=${today}`, undefined, undefined, s.url);
      expect(h.status).toBe(200);
      expect(h.body.date).toBe(today);
      expect(h.body.hours).toHaveLength(24);
      expect(h.body.hours[hour]).toMatchObject({ hour, created: 4, completed: 1, failed: 1 });
      // The original's names for the same counts (GetHourlyReport).
      expect(h.body.hours[hour]).toMatchObject({ tasks: 4, successful: 1, failed: 1 });
      expect(h.body.hours[hour].avgDuration).toBe(h.body.hours[hour].averageTime);
      expect(h.body.hours[3].period).toBe("03:00-03:59");
      expect(typeof h.body.hours[hour].averageTime).toBe("number");
      const old = await api("GET", "/api/stats/hourly?date=2024-01-06", undefined, undefined, s.url);
      expect(old.body.date).toBe("2024-01-06");
      expect(old.body.hours[0]).toEqual({ hour: 0, created: 0, completed: 0, failed: 0, averageTime: 0, period: "00:00-00:59", tasks: 0, successful: 0, avgDuration: 0 });
    } finally {
      await s.close();
    }
  });
});

/** A WebSocket client that queues what it receives. */
function openSocket(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const inbox: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  ws.on("message", (d) => {
    inbox.push(JSON.parse(String(d)));
    wake?.();
  });
  return {
    ws,
    opened: new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    }),
    refused: new Promise<{ status: number; body: string }>((resolve) => {
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
    }),
    send: (m: unknown) => ws.send(JSON.stringify(m)),
    async next(ms = 5000): Promise<Record<string, unknown>> {
      const deadline = Date.now() + ms;
      while (inbox.length === 0) {
        if (Date.now() > deadline) throw new Error("no WebSocket message in time");
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return inbox.shift()!;
    },
  };
}

describe("seed 001 /ws", () => {
  it("delivers the subscribed task's events after {type:'subscribe', taskId}, and no other task's", async () => {
    const t = await create();
    const other = await create();
    const c = openSocket(`${server.url.replace("http", "ws")}/ws`);
    await c.opened;
    c.send({ type: "subscribe", taskId: t.id });
    const ack = await c.next();
    expect(ack).toMatchObject({ type: "subscribed", taskId: t.id, task: { id: t.id, status: "PENDING" } });
    await api("PUT", `/api/task/${other.id}`, { progress: 5 });
    await claim(t.id);
    let m = await c.next();
    expect(m).toMatchObject({ type: "task_update", taskId: t.id, event: "CLAIMED", status: "PROCESSING", task: { serverId: "server_xyz789" } });
    expect(typeof m.timestamp).toBe("number");
    await api("PUT", `/api/task/${t.id}`, { progress: 45 });
    m = await c.next();
    expect(m).toMatchObject({ type: "task_update", taskId: t.id, event: "UPDATED", status: "PROCESSING", progress: 45 });
    await api("PUT", `/api/task/${t.id}`, { status: "COMPLETED", result: { duration: 120 } });
    m = await c.next();
    expect(m).toMatchObject({ type: "task_update", taskId: t.id, event: "SUCCEEDED", status: "COMPLETED", task: { result: { duration: 120 } } });
    c.send({ type: "unsubscribe", taskId: t.id });
    expect(await c.next()).toEqual({ type: "unsubscribed", taskId: t.id });
    c.ws.close();
  });

  it("answers bad messages and unknown tasks with {type:'error', error, details}", async () => {
    const c = openSocket(`${server.url.replace("http", "ws")}/ws`);
    await c.opened;
    c.ws.send("not json");
    expect(await c.next()).toMatchObject({ type: "error", error: "Invalid request", details: expect.stringContaining("JSON") });
    c.send({ type: "subscribe" });
    expect(await c.next()).toEqual({ type: "error", error: "Invalid request", details: "Missing required field: taskId" });
    c.send({ type: "shout", taskId: "x" });
    expect(await c.next()).toMatchObject({ type: "error", details: expect.stringContaining("type") });
    c.send({ type: "subscribe", taskId: "task_nope" });
    expect(await c.next()).toEqual({ type: "error", error: "Not found", details: "Task not found: task_nope" });
    c.ws.close();
  });
});

describe("seed 001 with SWITCHYARD_API_TOKEN", () => {
  it("refuses /api/task, /api/stats and the /ws handshake without the token in the seed's 401 body", async () => {
    const token = "task-processing-token-0123";
    const s = await startTestServer({ SWITCHYARD_API_TOKEN: token });
    try {
      const unauthorized = { error: "Unauthorized", details: "Invalid or expired token" };
      expect(await api("POST", "/api/task", EXAMPLE, undefined, s.url)).toEqual({ status: 401, body: unauthorized });
      expect(await api("GET", "/api/task/task_x", undefined, undefined, s.url)).toEqual({ status: 401, body: unauthorized });
      expect(await api("GET", "/api/stats/tasks", undefined, undefined, s.url)).toEqual({ status: 401, body: unauthorized });
      expect(await api("GET", "/api/stats/hourly", undefined, undefined, s.url)).toEqual({ status: 401, body: unauthorized });
      // Auth comes before input checks.
      expect(await api("POST", "/api/task", {}, undefined, s.url)).toEqual({ status: 401, body: unauthorized });
      const created = await api("POST", "/api/task", EXAMPLE, undefined, s.url, { authorization: `Bearer ${token}` });
      expect(created.status).toBe(200);

      const wsUrl = `${s.url.replace("http", "ws")}/ws`;
      const refused = openSocket(wsUrl);
      const r = await refused.refused;
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body)).toEqual(unauthorized);
      const wrong = openSocket(wsUrl, { authorization: "Bearer wrong-wrong-wrong-wrong" });
      expect((await wrong.refused).status).toBe(401);

      for (const c of [openSocket(wsUrl, { authorization: `Bearer ${token}` }), openSocket(`${wsUrl}?token=${token}`)]) {
        await c.opened;
        c.send({ type: "subscribe", taskId: created.body.id });
        expect(await c.next()).toMatchObject({ type: "subscribed", taskId: created.body.id });
        c.ws.close();
      }
    } finally {
      await s.close();
    }
  });
});
