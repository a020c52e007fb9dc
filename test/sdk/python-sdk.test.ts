// The Python SDK (sdk/python, installed with `pip install ./sdk/python` into .venv-sdk) against a
// real server: 1,000 tasks through one worker, retries and non-retryable failures, progress, async
// handlers, cancellation, a runqy-python module unchanged, SIGTERM drain, and a server SIGKILLed
// and restarted mid-run with nothing lost or doubled.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";
import { taskApi, until } from "../e2e/helpers/task-api.ts";
import { childServer, duplicates, spawnLines, STATE, taskRows } from "./helpers.ts";

const python = join(repoRoot, ".venv-sdk/bin/python");
const script = join(repoRoot, "test/sdk/python/scenarios.py");
let server: TestServer;

beforeAll(async () => {
  const setup = Bun.spawnSync(["bash", join(repoRoot, "scripts/setup-sdk.sh"), "python"], { stdout: "inherit", stderr: "inherit" });
  if (setup.exitCode !== 0) throw new Error("scripts/setup-sdk.sh python failed");
  server = await startTestServer();
}, 180_000);
afterAll(() => server?.close());

const scenario = (target: string, name: string, queue: string, opts: object = {}) =>
  spawnLines([python, script, target.replace("http://", ""), name, queue, JSON.stringify(opts)]);

describe("Python SDK", () => {
  it("runs 1,000 tasks through one worker, each exactly once, with the handler's result", async () => {
    const run = scenario(server.url, "thousand", "py-thousand", { n: 1000, concurrency: 16 });
    const { code, last, stderr } = await run.done(60_000);
    expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
    expect(last.created).toBe(1000);
    expect(last.stats).toMatchObject({ completed: 1000, failed: 0, refused: 0, sessions: 1 });
    expect(duplicates(last.completed)).toEqual([]);
    const rows = taskRows(server.config.databasePath, "py-thousand");
    expect(rows.length).toBe(1000);
    expect(rows.filter((r) => r.state !== STATE.succeeded || r.attempt !== 1)).toEqual([]);
    // Payload i was enqueued in order; its result is 2·i.
    expect(rows.filter((r, i) => r.result !== String(2 * i))).toEqual([]);
    expect(new Set(last.completed)).toEqual(new Set(rows.map((r) => r.id)));
  }, 60_000);

  it("retries a retryable failure, fails a non-retryable one at once, and reports async progress", async () => {
    const { code, last, stderr } = await scenario(server.url, "outcomes", "py-outcomes").done(40_000);
    expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
    expect(last.attempts).toEqual([1, 2]);
    expect(last.results.flaky).toMatchObject({ state: "SUCCEEDED", attempt: 2, result: { attempt: 2 } });
    expect(last.results.bad).toMatchObject({ state: "FAILED", attempt: 1, error: { message: "cannot ever work", reason: "BAD_INPUT", details: { why: "test" } } });
    expect(last.results.bad.error.retryable).toBeUndefined(); // false is the default, omitted
    expect(last.results.progress).toMatchObject({ state: "SUCCEEDED", result: "async done", progress: 100, progress_message: "step 3" });
    expect(last.results.unknown).toMatchObject({ state: "FAILED", attempt: 1, error: { reason: "HANDLER_NOT_FOUND" } });
  }, 40_000);

  it("delivers a cancel to a running handler: a flag in sync code, CancelledError in async code", async () => {
    const { code, last, stderr } = await scenario(server.url, "cancel", "py-cancel").done(40_000);
    expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
    expect(last.seen).toMatchObject({ sync_cancelled: true, sync_reason: "cancelled", async_cancelled: true });
    expect(last.states).toEqual(["CANCELLED", "CANCELLED", "CANCELLED"]);
    expect(last.stats).toMatchObject({ completed: 0, refused: 0, cancelled: 3 });
  }, 40_000);

  it("runs a module written for runqy-python unchanged (@load once, @task per payload, RetryableError)", async () => {
    const api = taskApi(server.url, "grpc");
    const mk = async (payload: Record<string, string>) => (await api.tasks("createTask", { task: { queue: "py-runqy", payload, max_attempts: 3 } })).task.id as string;
    const ok = await mk({ text: "hello" });
    const once = await mk({ text: "again", fail: "once" });
    const hard = await mk({ text: "x", fail: "hard" });
    const run = scenario(server.url, "runqy", "py-runqy");
    await run.line((l) => l.ready);
    const final = await until(
      "the three runqy tasks to finish",
      async () => {
        const tasks = await Promise.all([ok, once, hard].map(async (id) => (await api.tasks("getTask", { id })).task));
        return tasks.every((t) => ["TASK_STATE_SUCCEEDED", "TASK_STATE_FAILED"].includes(t.state)) ? tasks : undefined;
      },
      30_000,
      50,
    );
    run.proc.kill("SIGTERM");
    const { code, last } = await run.done(20_000);
    expect(code).toBe(0);
    expect(last.stopped).toBe(true);
    expect(final.map((t: any) => [t.state, t.attempt, t.result ?? null])).toEqual([
      ["TASK_STATE_SUCCEEDED", 1, { text: "HELLO", model: "upper", loads: 1 }],
      ["TASK_STATE_SUCCEEDED", 2, { text: "AGAIN", model: "upper", loads: 1 }],
      ["TASK_STATE_FAILED", 1, null],
    ]);
    expect(final[2].error).toMatchObject({ reason: "ValueError", retryable: false });
  }, 40_000);

  it("drains on SIGTERM: finishes what runs, gives back what waits, exits 0; another worker takes the rest", async () => {
    const api = taskApi(server.url, "grpc");
    const n = 40;
    await api.tasks("batchCreateTasks", { requests: Array.from({ length: n }, (_, i) => ({ task: { queue: "py-drain", payload: i } })) });
    const first = scenario(server.url, "work", "py-drain", { ms: 150, concurrency: 4, lease: 2, worker_id: "py-drain-1", drain: 10 });
    await until("a few tasks done", async () => (Number((await api.queues("getQueue", { name: "py-drain" })).queue.counts.succeeded) >= 4 ? true : undefined), 20_000, 20);
    first.proc.kill("SIGTERM");
    const t0 = Date.now();
    const a = await first.done(15_000);
    expect(a.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8_000);
    // Every handler that started before the signal ran to completion and was acknowledged.
    expect(a.last.executions.filter((id: string) => !a.last.completed.includes(id))).toEqual([]);
    expect(a.last.stats.refused).toBe(0);

    const rest = n - a.last.completed.length;
    expect(rest).toBeGreaterThan(0);
    const second = scenario(server.url, "work", "py-drain", { ms: 1, concurrency: 4, lease: 5, worker_id: "py-drain-2", max_tasks: rest });
    const b = await second.done(30_000);
    expect(b.code).toBe(0);
    const all = [...a.last.completed, ...b.last.completed];
    expect(duplicates(all)).toEqual([]);
    const rows = taskRows(server.config.databasePath, "py-drain");
    expect(rows.filter((r) => r.state !== STATE.succeeded)).toEqual([]);
    expect(new Set(all)).toEqual(new Set(rows.map((r) => r.id)));
  }, 60_000);

  it("survives a server SIGKILL and restart mid-run: reconnects, loses nothing, completes nothing twice", async () => {
    const child = await childServer();
    try {
      const api = taskApi(child.url, "grpc");
      const n = 300;
      await api.tasks("batchCreateTasks", { requests: Array.from({ length: n }, (_, i) => ({ task: { queue: "py-crash", payload: i } })) });
      const worker = scenario(child.url, "work", "py-crash", { ms: 10, concurrency: 8, lease: 3, worker_id: "py-crash" });
      await worker.line((l) => l.ready);
      await until("a third done", async () => (Number((await api.queues("getQueue", { name: "py-crash" })).queue.counts.succeeded) >= n / 3 ? true : undefined), 20_000, 10);
      expect(await child.kill("SIGKILL")).not.toBe(0);
      await child.start();
      await until(
        "every task to succeed after the restart",
        async () => (Number((await api.queues("getQueue", { name: "py-crash" })).queue.counts.succeeded) === n ? true : undefined),
        30_000,
        50,
      );
      worker.proc.kill("SIGTERM");
      const { code, last } = await worker.done(15_000);
      expect(code).toBe(0);
      expect(last.stats.sessions).toBeGreaterThanOrEqual(2);
      expect(duplicates(last.completed)).toEqual([]);
      const rows = taskRows(child.databasePath, "py-crash");
      expect(rows.filter((r) => r.state !== STATE.succeeded)).toEqual([]);
      // Acknowledged completions are the server's; one whose answer the crash ate is refused on retry.
      expect(last.completed.length + last.stats.refused).toBeGreaterThanOrEqual(n);
      console.log(`python crash: ${last.stats.sessions} sessions, ${last.executions.length - n} re-executions, ${last.stats.refused} refused retries`);
    } finally {
      await child.close();
    }
  }, 60_000);
});
