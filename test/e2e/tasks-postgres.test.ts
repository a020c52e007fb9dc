// Two Switchyard instances on one PostgreSQL database (with NATS, which PostgreSQL requires):
// the same tasks API on both, one set of tasks, leases and queue configs.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startNatsServer, type NatsServer } from "../../src/testing/nats-server.ts";
import { freshPostgresUrl } from "../../src/testing/postgres.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { taskApi, until, type TaskApi } from "./helpers/task-api.ts";

const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");

describe.skipIf(!wanted)("tasks on two instances over PostgreSQL", () => {
  let nats: NatsServer;
  let a: TestServer;
  let b: TestServer;
  let apiA: TaskApi;
  let apiB: TaskApi;
  beforeAll(async () => {
    nats = await startNatsServer();
    const url = await freshPostgresUrl("e2e_tasks");
    a = await startTestServer({ SWITCHYARD_DATABASE_URL: url, NATS_URL: nats.url });
    b = await startTestServer({ SWITCHYARD_DATABASE_URL: url, NATS_URL: nats.url });
    apiA = taskApi(a.url, "connect");
    apiB = taskApi(b.url, "rest");
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await nats?.stop();
  });

  it("creates on one instance, claims and completes on the other, reads the same task on both", async () => {
    const { task } = await apiA.tasks("createTask", { task: { queue: "pg-e2e", type: "t", payload: { n: 1 } }, request_id: "pg-req-1" });
    const again = await apiB.tasks("createTask", { task: { queue: "pg-e2e", type: "t" }, request_id: "pg-req-1" });
    expect(again).toMatchObject({ replayed: true, task: { id: task.id } });
    const [claimed] = (await apiB.tasks("claimTasks", { worker_id: "w-b", queues: ["pg-e2e"], max_tasks: 5 })).assignments;
    expect(claimed.task.id).toBe(task.id);
    expect((await apiA.tasks("claimTasks", { worker_id: "w-a", queues: ["pg-e2e"], max_tasks: 5 })).assignments ?? []).toHaveLength(0);
    const done = await apiA.tasks("completeTask", { id: task.id, fencing_token: claimed.lease.fencing_token, result: { ok: true } });
    expect(done.task).toMatchObject({ state: "TASK_STATE_SUCCEEDED", result: { ok: true } });
    expect((await apiB.tasks("getTask", { id: task.id })).task).toMatchObject({ state: "TASK_STATE_SUCCEEDED", worker_id: "w-b" });
  });

  it("serves a queue config created on one instance to claims and reads on the other", async () => {
    await apiA.queues("createQueueConfig", { config: { name: "pg-cfg", priority: 7, concurrency_limit: 1 } });
    const made = await apiB.tasks("batchCreateTasks", { requests: [{ task: { queue: "pg-cfg" } }, { task: { queue: "pg-cfg" } }] });
    expect(made.tasks.map((t: { priority: number }) => t.priority)).toEqual([7, 7]);
    const got = await apiB.tasks("claimTasks", { worker_id: "w", queues: ["pg-cfg"], max_tasks: 5 });
    expect(got.assignments).toHaveLength(1);
    expect((await apiA.queues("getQueue", { name: "pg-cfg" })).queue.config.priority).toBe(7);
  });

  it("pushes a task created on an instance to a worker stream there", async () => {
    const abort = new AbortController();
    const got: { session?: unknown; assigned?: { task: { id: string } } }[] = [];
    const stream = (async () => {
      try {
        for await (const m of apiA.stream("connectWorker", { worker_id: "stream-a", queues: ["pg-push"], credits: 5 } as never, abort.signal)) got.push(m as never);
      } catch {
        // aborted
      }
    })();
    await until("the session message", () => got[0]?.session, 15_000);
    const { task } = await apiA.tasks("createTask", { task: { queue: "pg-push" } });
    await until("the push", () => got.find((m) => m.assigned?.task.id === task.id), 15_000);
    abort.abort();
    await stream;
  }, 40_000);
});
