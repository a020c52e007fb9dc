// The checks every SDK passes, given a way to start one of its scenario programs (each SDK has
// one: test/sdk/<language>/scenarios.*, same names, options and JSON output).
import { expect } from "bun:test";
import { taskApi, until } from "../e2e/helpers/task-api.ts";
import { childServer, duplicates, STATE, taskRows, type LineProc } from "./helpers.ts";

export type Spawn = (url: string, scenario: string, queue: string, opts?: object) => LineProc;

const succeeded = async (url: string, queue: string) => Number((await taskApi(url, "grpc").queues("getQueue", { name: queue })).queue.counts.succeeded);

/** 1,000 tasks through one worker, each exactly once, with the handler's result (2·payload). */
export async function checkThousand(spawn: Spawn, url: string, databasePath: string, queue: string, n = 1000): Promise<void> {
  const { code, last, stderr } = await spawn(url, "thousand", queue, { n, concurrency: 16 }).done(60_000);
  expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
  expect(last.created).toBe(n);
  expect(last.stats).toMatchObject({ completed: n, failed: 0, refused: 0, sessions: 1 });
  expect(duplicates(last.completed)).toEqual([]);
  const rows = taskRows(databasePath, queue);
  expect(rows.length).toBe(n);
  expect(rows.filter((r) => r.state !== STATE.succeeded || r.attempt !== 1)).toEqual([]);
  expect(rows.filter((r, i) => r.result !== String(2 * i))).toEqual([]);
  expect(new Set(last.completed)).toEqual(new Set(rows.map((r) => r.id)));
}

/** Retryable failure then success, non-retryable failure at once, async progress, unknown type. */
export async function checkOutcomes(spawn: Spawn, url: string, queue: string): Promise<void> {
  const { code, last, stderr } = await spawn(url, "outcomes", queue).done(40_000);
  expect({ code, stderr: code ? stderr : "" }).toEqual({ code: 0, stderr: "" });
  expect(last.attempts).toEqual([1, 2]);
  expect(last.results.flaky).toMatchObject({ state: "SUCCEEDED", attempt: 2, result: { attempt: 2 } });
  expect(last.results.bad).toMatchObject({ state: "FAILED", attempt: 1, error: { message: "cannot ever work", reason: "BAD_INPUT", details: { why: "test" } } });
  expect(last.results.bad.error.retryable ?? false).toBe(false);
  expect(last.results.progress).toMatchObject({ state: "SUCCEEDED", result: "async done", progress: 100, progress_message: "step 3" });
  expect(last.results.unknown).toMatchObject({ state: "FAILED", attempt: 1, error: { reason: "HANDLER_NOT_FOUND" } });
}

/** SIGTERM: running handlers finish and are acknowledged, waiting tasks go back, exit 0; a second worker takes the rest. */
export async function checkDrain(spawn: Spawn, url: string, databasePath: string, queue: string): Promise<void> {
  const api = taskApi(url, "grpc");
  const n = 40;
  await api.tasks("batchCreateTasks", { requests: Array.from({ length: n }, (_, i) => ({ task: { queue, payload: i } })) });
  const first = spawn(url, "work", queue, { ms: 150, concurrency: 4, lease: 2, worker_id: `${queue}-1`, drain: 10 });
  await until("a few tasks done", async () => ((await succeeded(url, queue)) >= 4 ? true : undefined), 20_000, 20);
  first.proc.kill("SIGTERM");
  const t0 = Date.now();
  const a = await first.done(15_000);
  expect(a.code).toBe(0);
  expect(Date.now() - t0).toBeLessThan(8_000);
  expect(a.last.executions.filter((id: string) => !a.last.completed.includes(id))).toEqual([]);
  expect(a.last.stats.refused).toBe(0);
  const rest = n - a.last.completed.length;
  expect(rest).toBeGreaterThan(0);
  const b = await spawn(url, "work", queue, { ms: 1, concurrency: 4, lease: 5, worker_id: `${queue}-2`, max_tasks: rest }).done(30_000);
  expect(b.code).toBe(0);
  const all = [...a.last.completed, ...b.last.completed];
  expect(duplicates(all)).toEqual([]);
  const rows = taskRows(databasePath, queue);
  expect(rows.filter((r) => r.state !== STATE.succeeded)).toEqual([]);
  expect(new Set(all)).toEqual(new Set(rows.map((r) => r.id)));
}

/** The server SIGKILLed and restarted mid-run: the worker reconnects; nothing lost, nothing completed twice. */
export async function checkCrash(spawn: Spawn, queue: string): Promise<string> {
  const child = await childServer();
  try {
    const api = taskApi(child.url, "grpc");
    const n = 300;
    await api.tasks("batchCreateTasks", { requests: Array.from({ length: n }, (_, i) => ({ task: { queue, payload: i } })) });
    const worker = spawn(child.url, "work", queue, { ms: 10, concurrency: 8, lease: 3, worker_id: queue });
    await worker.line((l) => l.ready);
    await until("a third done", async () => ((await succeeded(child.url, queue)) >= n / 3 ? true : undefined), 20_000, 10);
    const killedAt = Date.now();
    expect(await child.kill("SIGKILL")).not.toBe(0);
    await child.start();
    const downMs = Date.now() - killedAt;
    await until("every task to succeed after the restart", async () => ((await succeeded(child.url, queue)) === n ? true : undefined), 30_000, 50);
    worker.proc.kill("SIGTERM");
    const { code, last, stderr } = await worker.done(15_000);
    expect(code).toBe(0);
    if (last.stats.refused && stderr) console.log(stderr.slice(0, 2000));
    expect(last.stats.sessions).toBeGreaterThanOrEqual(2);
    expect(duplicates(last.completed)).toEqual([]);
    const rows = taskRows(child.databasePath, queue);
    expect(rows.filter((r) => r.state !== STATE.succeeded)).toEqual([]);
    // Every task completed by this worker exactly once, as far as it knows: a completion whose
    // answer the crash ate is recognised on retry (SUCCEEDED by this worker at this attempt).
    expect(new Set(last.completed)).toEqual(new Set(rows.map((r) => r.id)));
    return `server down ${downMs} ms (leases 3 s), ${last.stats.sessions} sessions, ${last.executions.length - n} re-executions, ${last.stats.refused} refused retries`;
  } finally {
    await child.close();
  }
}
