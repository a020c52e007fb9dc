// The Python SDK (sdk/python, installed with `pip install ./sdk/python` into .venv-sdk) against a
// real server: 1,000 tasks through one worker, retries and non-retryable failures, progress, async
// handlers, cancellation, a runqy-python module unchanged, SIGTERM drain, and a server SIGKILLed
// and restarted mid-run with nothing lost or doubled.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";
import { taskApi, until } from "../e2e/helpers/task-api.ts";
import { spawnLines } from "./helpers.ts";
import { checkCrash, checkDrain, checkOutcomes, checkThousand, type Spawn } from "./scenarios.ts";

const python = join(repoRoot, ".venv-sdk/bin/python");
const script = join(repoRoot, "test/sdk/python/scenarios.py");
let server: TestServer;

beforeAll(async () => {
  const setup = Bun.spawnSync(["bash", join(repoRoot, "scripts/setup-sdk.sh"), "python"], { stdout: "inherit", stderr: "inherit" });
  if (setup.exitCode !== 0) throw new Error("scripts/setup-sdk.sh python failed");
  server = await startTestServer();
}, 180_000);
afterAll(() => server?.close());

const spawn: Spawn = (target, name, queue, opts = {}) => spawnLines([python, script, target.replace("http://", ""), name, queue, JSON.stringify(opts)]);
const scenario = spawn;

describe("Python SDK", () => {
  it("runs 1,000 tasks through one worker, each exactly once, with the handler's result", () =>
    checkThousand(spawn, server.url, server.config.databasePath, "py-thousand"), 60_000);

  it("retries a retryable failure, fails a non-retryable one at once, and reports async progress", () =>
    checkOutcomes(spawn, server.url, "py-outcomes"), 40_000);

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

  it("drains on SIGTERM: finishes what runs, gives back what waits, exits 0; another worker takes the rest", () =>
    checkDrain(spawn, server.url, server.config.databasePath, "py-drain"), 60_000);

  it("survives a server SIGKILL and restart mid-run: reconnects, loses nothing, completes nothing twice", async () => {
    console.log(`python crash: ${await checkCrash(spawn, "py-crash")}`);
  }, 60_000);
});
