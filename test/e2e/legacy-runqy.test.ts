import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

// Seed 003 (runqy): /queue/add, /queue/{task_id}/{queue_name} and /api/cli/… on a real server.

let server: TestServer;
let yamlDir: string;
let yamlFile: string;
const YAML = `
queues:
  inference:
    priority: 6
    mode: long_running
    default_timeout_secs: 300
    max_retry: 2
    deployment:
      git_url: "https://github.com/example/repo.git"
      branch: main
      startup_cmd: "python main.py"
  simple:
    priority: 3
    mode: one_shot
`;
beforeAll(async () => {
  yamlDir = mkdtempSync(join(tmpdir(), "switchyard-runqy-"));
  yamlFile = join(yamlDir, "queues.yaml");
  writeFileSync(yamlFile, YAML);
  server = await startTestServer({ SWITCHYARD_QUEUE_CONFIG: yamlFile });
  // Configs come from the YAML file on reload (runqy's `config reload`).
  expect((await fetch(`${server.url}/api/cli/configs/reload`, { method: "POST" })).status).toBe(200);
});
afterAll(async () => {
  await server.close();
  rmSync(yamlDir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown, raw?: string, base = server.url, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined && raw === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, body: await res.json() };
}

// The seed's own example request body.
const EXAMPLE = { queue: "inference_high", timeout: 300, data: { prompt: "Hello world", width: 1024 } };
const CLI_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

async function enqueue(body: Record<string, unknown> = EXAMPLE) {
  const r = await api("POST", "/queue/add", body);
  expect(r.status).toBe(200);
  return r.body.info as { id: string; queue: string; state: string };
}

async function claimAndComplete(id: string, result: unknown) {
  const claim = await fetch(`${server.url}/v1/tasks/${id}:claim`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ workerId: "worker-abc123" }) });
  expect(claim.status).toBe(200);
  const { lease } = (await claim.json()) as { lease: { fencing_token: string } };
  const done = await fetch(`${server.url}/v1/tasks/${id}:complete`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ fencingToken: lease.fencing_token, result }),
  });
  expect(done.status).toBe(200);
}

describe("seed 003 /queue", () => {
  it("POST /queue/add with the seed's example answers {info:{id, queue:'inference_high', state:'pending'}}", async () => {
    const r = await api("POST", "/queue/add", EXAMPLE);
    expect(r.status).toBe(200);
    expect(r.body.info).toMatchObject({ queue: "inference_high", state: "pending", payload: EXAMPLE.data, timeout: 300, retried: 0 });
    expect(r.body.info.id).toBeString();
    expect(r.body.data).toEqual(EXAMPLE.data);
  });

  it("a runqy sub-queue takes its parent's config (inference_high → inference: priority 6, max_retry 2)", async () => {
    const info = await enqueue({ queue: "inference_high", data: { prompt: "p" } });
    const t = await (await fetch(`${server.url}/v1/tasks/${info.id}`)).json();
    expect(t.task).toMatchObject({ priority: 6, max_attempts: 3, timeout: "300s" });
  });

  it("accepts runqy's flat format: fields other than queue and timeout are the data", async () => {
    const info = await enqueue({ queue: "simple", prompt: "flat", width: 512 });
    const got = await api("GET", `/queue/${info.id}/simple`);
    expect(got.body.info).toMatchObject({ id: info.id, state: "pending", payload: { prompt: "flat", width: 512 } });
  });

  it("GET /queue/{task_id}/{queue_name} answers {info:{id, state:'completed', result}} once done", async () => {
    const info = await enqueue();
    let got = await api("GET", `/queue/${info.id}/inference_high`);
    expect(got).toMatchObject({ status: 200, body: { info: { id: info.id, state: "pending", result: null } } });
    await claimAndComplete(info.id, "a cat in a hat");
    got = await api("GET", `/queue/${info.id}/inference_high`);
    expect(got.body.info).toMatchObject({ id: info.id, state: "completed", result: "a cat in a hat", queue: "inference_high" });
    expect(Date.parse(got.body.info.completed_at)).toBeGreaterThan(0);
  });

  it("answers 404 {errors:[…]} for an unknown task or the wrong queue", async () => {
    const info = await enqueue();
    const wrongQueue = await api("GET", `/queue/${info.id}/other_queue`);
    expect(wrongQueue).toEqual({ status: 404, body: { errors: ["task not found"] } });
    const missing = await api("GET", "/queue/task-uuid/inference_high");
    expect(missing.status).toBe(404);
    expect(missing.body.errors[0]).toContain("task not found");
  });
});

describe("seed 003 /api/cli", () => {
  it("lists queues with asynq counters and gets one", async () => {
    const q = `cli_${Date.now()}`;
    await enqueue({ queue: q, data: { n: 1 } });
    const b = await enqueue({ queue: q, data: { n: 2 } });
    await claimAndComplete(b.id, { ok: true });
    const list = await api("GET", "/api/cli/queues");
    expect(list.status).toBe(200);
    const mine = list.body.queues.find((x: { queue: string }) => x.queue === q);
    expect(mine).toEqual({ queue: q, pending: 1, active: 0, scheduled: 0, retry: 0, archived: 0, completed: 1, paused: false, memory_usage: 0 });
    const one = await api("GET", `/api/cli/queues/${q}`);
    expect(one.body).toEqual(mine);
  });

  it("pauses and unpauses a queue; a paused queue hands out nothing", async () => {
    const q = `paused_${Date.now()}`;
    const info = await enqueue({ queue: q, data: {} });
    expect(await api("POST", `/api/cli/queues/${q}/pause`)).toEqual({ status: 200, body: { message: "queue paused", queue: q } });
    expect((await api("GET", `/api/cli/queues/${q}`)).body.paused).toBe(true);
    const claim = await fetch(`${server.url}/v1/tasks/${info.id}:claim`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ workerId: "w" }) });
    expect(claim.status).toBe(400);
    expect(await api("POST", `/api/cli/queues/${q}/unpause`)).toEqual({ status: 200, body: { message: "queue unpaused", queue: q } });
    expect((await api("GET", `/api/cli/queues/${q}`)).body.paused).toBe(false);
  });

  it("POST /api/cli/tasks enqueues like /queue/add", async () => {
    const r = await api("POST", "/api/cli/tasks", { queue: "simple", timeout: 60, data: { prompt: "cli" } });
    expect(r.status).toBe(200);
    expect(r.body.info).toMatchObject({ queue: "simple", state: "pending", timeout: 60, payload: { prompt: "cli" } });
  });

  it("lists a queue's tasks by state with the CLI's task shape, and gets one", async () => {
    const q = `list_${Date.now()}`;
    const a = await enqueue({ queue: q, timeout: 300, data: { n: 1 } });
    const b = await enqueue({ queue: q, data: { n: 2 } });
    const c = await enqueue({ queue: q, data: { n: 3 } });
    await claimAndComplete(c.id, { out: 3 });
    let r = await api("GET", `/api/cli/queues/${q}/tasks`);
    expect(r.status).toBe(200);
    expect(r.body.tasks.map((t: { id: string }) => t.id).sort()).toEqual([a.id, b.id].sort());
    const ta = r.body.tasks.find((t: { id: string }) => t.id === a.id);
    expect(ta).toMatchObject({ id: a.id, queue: q, state: "pending", payload: JSON.stringify({ n: 1 }), max_retry: 2, retried: 0, timeout: "5m0s" });
    expect(ta.next_process_at).toMatch(CLI_TIME);
    r = await api("GET", `/api/cli/queues/${q}/tasks?state=pending&limit=1`);
    expect(r.body.tasks).toHaveLength(1);
    r = await api("GET", `/api/cli/queues/${q}/tasks?state=completed`);
    expect(r.body.tasks).toHaveLength(1);
    expect(r.body.tasks[0]).toMatchObject({ id: c.id, state: "completed", result: JSON.stringify({ out: 3 }) });
    expect(r.body.tasks[0].completed_at).toMatch(CLI_TIME);
    const one = await api("GET", `/api/cli/queues/${q}/tasks/${b.id}`);
    expect(one.body).toMatchObject({ id: b.id, state: "pending", timeout: "0s" });
    expect((await api("GET", `/api/cli/queues/other/tasks/${b.id}`)).status).toBe(404);
  });

  it("DELETE /api/cli/tasks/{id} cancels (archived); DELETE /api/cli/queues/{q}/tasks/{id} deletes", async () => {
    const q = `del_${Date.now()}`;
    const a = await enqueue({ queue: q, data: {} });
    const b = await enqueue({ queue: q, data: {} });
    expect(await api("DELETE", `/api/cli/tasks/${a.id}`)).toEqual({ status: 200, body: { message: "task cancelled", task_id: a.id } });
    expect((await api("GET", `/queue/${a.id}/${q}`)).body.info.state).toBe("archived");
    expect((await api("GET", `/api/cli/queues/${q}/tasks?state=archived`)).body.tasks.map((t: { id: string }) => t.id)).toEqual([a.id]);
    expect((await api("DELETE", `/api/cli/queues/wrong/tasks/${b.id}`)).status).toBe(404);
    expect(await api("DELETE", `/api/cli/queues/${q}/tasks/${b.id}`)).toEqual({ status: 200, body: { message: "task deleted", task_id: b.id } });
    expect((await api("GET", `/queue/${b.id}/${q}`)).status).toBe(404);
  });

  it("configs: reload from YAML, list, create and delete", async () => {
    const reload = await api("POST", "/api/cli/configs/reload");
    expect(reload.status).toBe(200);
    expect(reload.body.errors).toEqual([]);
    expect(typeof reload.body.timestamp).toBe("number");
    expect([...reload.body.added, ...reload.body.updated].sort()).toEqual(reload.body.reloaded.sort());
    let list = await api("GET", "/api/cli/configs");
    expect(list.status).toBe(200);
    const inference = list.body.queues.find((c: { name: string }) => c.name === "inference");
    expect(inference).toMatchObject({ name: "inference", priority: 6, mode: "long_running", default_timeout_secs: 300, max_attempts: 3, source: "yaml" });
    expect(inference.deployment).toMatchObject({ git_url: "https://github.com/example/repo.git", branch: "main" });
    expect(list.body.count).toBe(list.body.queues.length);

    const created = await api("POST", "/api/cli/configs", { name: "video", priority: 2, mode: "one_shot", deployment: { startup_cmd: "run.sh" }, max_retry: 4 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ message: "queue created", queue: { name: "video", priority: 2, mode: "one_shot", max_attempts: 5, source: "api" } });
    list = await api("GET", "/api/cli/configs");
    expect(list.body.queues.map((c: { name: string }) => c.name)).toContain("video");
    const dup = await api("POST", "/api/cli/configs", { name: "video" });
    expect(dup.status).toBe(409);
    expect(dup.body.errors).toHaveLength(1);
    expect(await api("DELETE", "/api/cli/configs/video")).toEqual({ status: 200, body: { message: "queue deleted", queue: "video" } });
    expect((await api("DELETE", "/api/cli/configs/video")).status).toBe(404);

    writeFileSync(yamlFile, YAML.replace("priority: 3", "priority: 9"));
    const again = await api("POST", "/api/cli/configs/reload");
    expect(again.body.updated).toEqual(["simple"]);
    expect(again.body.reloaded).toEqual(["simple"]);
  });

  const badCases: { name: string; method: string; path: string; body?: unknown; raw?: string; field: string }[] = [
    { name: "add without queue", method: "POST", path: "/queue/add", body: { timeout: 3, data: {} }, field: "queue is required" },
    { name: "add with a numeric queue", method: "POST", path: "/queue/add", body: { queue: 5 }, field: "queue" },
    { name: "add with a bad queue name", method: "POST", path: "/queue/add", body: { queue: "bad name" }, field: "queue" },
    { name: "add with a string timeout", method: "POST", path: "/queue/add", body: { queue: "q", timeout: "300" }, field: "timeout" },
    { name: "add with a negative timeout", method: "POST", path: "/queue/add", body: { queue: "q", timeout: -1 }, field: "timeout" },
    { name: "add with a body that is not JSON", method: "POST", path: "/queue/add", raw: "{{", field: "not JSON" },
    { name: "cli enqueue without queue", method: "POST", path: "/api/cli/tasks", body: {}, field: "queue is required" },
    { name: "task list with an unknown state", method: "GET", path: "/api/cli/queues/q/tasks?state=done", field: "invalid state: done" },
    { name: "task list with a bad limit", method: "GET", path: "/api/cli/queues/q/tasks?limit=many", field: "limit" },
    { name: "pause a bad queue name", method: "POST", path: "/api/cli/queues/bad%20name/pause", field: "name" },
    { name: "config without name", method: "POST", path: "/api/cli/configs", body: { priority: 1 }, field: "name is required" },
    { name: "config with an unknown mode", method: "POST", path: "/api/cli/configs", body: { name: "m", mode: "forever" }, field: "mode" },
    { name: "config with a string priority", method: "POST", path: "/api/cli/configs", body: { name: "m", priority: "high" }, field: "priority" },
    { name: "config with deployment a list", method: "POST", path: "/api/cli/configs", body: { name: "m", deployment: [] }, field: "deployment" },
  ];
  for (const c of badCases) {
    it(`answers 400 {errors:[…]} naming the field: ${c.name}`, async () => {
      const r = await api(c.method, c.path, c.body, c.raw);
      expect(r.status).toBe(400);
      expect(Object.keys(r.body)).toEqual(["errors"]);
      expect(r.body.errors).toHaveLength(1);
      expect(r.body.errors[0]).toContain(c.field);
    });
  }

  it("reload without a configured YAML file is refused in runqy's error body", async () => {
    const s = await startTestServer();
    try {
      const r = await api("POST", "/api/cli/configs/reload", undefined, undefined, s.url);
      expect(r.status).toBe(400);
      expect(r.body.errors).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});

describe("seed 003 with SWITCHYARD_API_TOKEN", () => {
  it("refuses /queue/* and /api/cli/* without the bearer token and serves them with it", async () => {
    const token = "runqy-api-key-0123456789";
    const s = await startTestServer({ SWITCHYARD_API_TOKEN: token });
    try {
      for (const [method, path] of [
        ["POST", "/queue/add"],
        ["GET", "/queue/task-uuid/inference"],
        ["GET", "/api/cli/queues"],
        ["POST", "/api/cli/tasks"],
        ["GET", "/api/cli/configs"],
        ["DELETE", "/api/cli/tasks/x"],
      ] as const) {
        const r = await api(method, path, method === "POST" ? {} : undefined, undefined, s.url);
        expect(r.status).toBe(401);
        expect(r.body.errors).toHaveLength(1);
        expect(r.body.errors[0]).toContain("unauthorized");
      }
      const ok = await api("POST", "/queue/add", EXAMPLE, undefined, s.url, { authorization: `Bearer ${token}` });
      expect(ok.status).toBe(200);
      expect(ok.body.info.state).toBe("pending");
    } finally {
      await s.close();
    }
  });
});

describe("queue configs from SWITCHYARD_QUEUE_CONFIG", () => {
  it("apply from startup, without a reload", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-qc-"));
    const path = join(dir, "queues.yaml");
    writeFileSync(path, "queues:\n  startup_queue:\n    priority: 7\n    mode: long_running\n");
    const s = await startTestServer({ SWITCHYARD_QUEUE_CONFIG: path });
    try {
      let names: string[] = [];
      for (let i = 0; i < 100 && !names.includes("startup_queue"); i++) {
        const body = await (await fetch(`${s.url}/v1/queueConfigs`)).json();
        names = body.configs.map((c: { name: string }) => c.name);
        if (!names.includes("startup_queue")) await Bun.sleep(20);
      }
      expect(names).toContain("startup_queue");
    } finally {
      await s.close();
    }
  });
});

describe("seed 003 as runqy's public clients call it", () => {
  it("runqy-python's get_task: GET /queue/{id} (one segment) answers {info} with the task's queue", async () => {
    const info = await enqueue();
    const got = await api("GET", `/queue/${info.id}`);
    expect(got).toMatchObject({ status: 200, body: { info: { id: info.id, queue: "inference_high", state: "pending" } } });
    expect((await api("GET", "/queue/no-such-task")).status).toBe(404);
  });

  it("GET /queue/{id}?wait=true long-polls until the task is completed", async () => {
    const info = await enqueue();
    const waiting = api("GET", `/queue/${info.id}?wait=true`);
    let settled = false;
    void waiting.then(() => (settled = true));
    await Bun.sleep(300);
    expect(settled).toBe(false);
    await claimAndComplete(info.id, { caption: "done" });
    const got = await waiting;
    expect(got.status).toBe(200);
    expect(got.body.info).toMatchObject({ id: info.id, state: "completed", result: { caption: "done" } });
    // Already finished: answers at once; a bad wait value is a 400.
    expect((await api("GET", `/queue/${info.id}/inference_high?wait=true`)).body.info.state).toBe("completed");
    expect((await api("GET", `/queue/${info.id}?wait=maybe`)).status).toBe(400);
  });

  it("runqy's CLI paths (/api/queues…, POST /api/tasks/:id/cancel, /workers/queues, /workers/reload) answer as /api/cli/…", async () => {
    const info = await enqueue();
    const list = await api("GET", "/api/queues");
    expect(list.status).toBe(200);
    expect(list.body.queues.map((q: { queue: string }) => q.queue)).toContain("inference_high");
    expect((await api("GET", "/api/queues/inference_high")).body).toEqual((await api("GET", "/api/cli/queues/inference_high")).body);
    expect((await api("POST", "/api/queues/simple/pause")).body).toEqual({ message: "queue paused", queue: "simple" });
    expect((await api("POST", "/api/queues/simple/unpause")).body).toEqual({ message: "queue unpaused", queue: "simple" });
    const tasks = await api("GET", "/api/queues/inference_high/tasks?state=pending&limit=1000");
    expect(tasks.body.tasks.map((t: { id: string }) => t.id)).toContain(info.id);
    expect((await api("GET", `/api/queues/inference_high/tasks/${info.id}`)).body.id).toBe(info.id);
    expect(await api("POST", `/api/tasks/${info.id}/cancel`)).toEqual({ status: 200, body: { message: "task cancelled", task_id: info.id } });
    const configs = await api("GET", "/workers/queues");
    expect(configs.status).toBe(200);
    expect(configs.body.queues.map((q: { name: string }) => q.name)).toContain("simple");
    const reload = await api("POST", "/workers/reload");
    expect(reload.status).toBe(200);
    expect(reload.body).toMatchObject({ errors: [] });
    expect(reload.body.reloaded).toBeArray();
    const created = await api("POST", "/workers/queues", { name: "cli_made", priority: 2 });
    expect(created.status).toBe(201);
    expect((await api("DELETE", "/workers/queues/cli_made")).status).toBe(200);
    const other = await enqueue();
    expect((await api("DELETE", `/api/queues/inference_high/tasks/${other.id}`)).body).toEqual({ message: "task deleted", task_id: other.id });
  });
});
