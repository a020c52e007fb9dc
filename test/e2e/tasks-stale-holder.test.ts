// A worker whose lease expired while it paused: another worker takes the task over, and
// nothing the first one sends afterwards is accepted or stored, on every protocol.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { failure, PROTOCOLS, taskApi, until } from "./helpers/task-api.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

describe("a stale holder", () => {
  for (const protocol of PROTOCOLS) {
    it(`is refused with LEASE_LOST on heartbeat, complete, fail and release over ${protocol}, and nothing of it is stored`, async () => {
      const api = taskApi(server.url, protocol);
      const queue = `stale-${protocol}`;
      const { task } = await api.tasks("createTask", { task: { queue, max_attempts: 5 } });
      const first = await api.tasks("claimTask", { id: task.id, worker_id: "slow-worker", lease_duration: "1s" });
      expect(first.lease.fencing_token).toBe("1");
      const leaseEnd = Date.parse(first.lease.expire_time);

      // Another worker keeps asking; it gets the task only once the lease has run out.
      const second = await until(
        "the lease to expire and the task to be claimed again",
        async () => (await api.tasks("claimTasks", { worker_id: "fast-worker", queues: [queue], lease_duration: "30s" })).assignments[0],
        10_000,
        50,
      );
      expect(Date.now()).toBeGreaterThanOrEqual(leaseEnd);
      expect(second.task).toMatchObject({ id: task.id, attempt: 2, worker_id: "fast-worker" });
      expect(second.lease.fencing_token).toBe("2");

      const stale = first.lease.fencing_token;
      const refusals = [
        await failure(api.tasks("heartbeatTask", { id: task.id, fencing_token: stale, progress: 77, progress_message: "stale progress" })),
        await failure(api.tasks("completeTask", { id: task.id, fencing_token: stale, result: { by: "slow-worker" } })),
        await failure(api.tasks("failTask", { id: task.id, fencing_token: stale, error: { message: "stale failure", retryable: false } })),
        await failure(api.tasks("releaseTask", { id: task.id, fencing_token: stale })),
        await failure(api.tasks("updateTask", { id: task.id, fencing_token: stale, progress: 66 })),
      ];
      for (const r of refusals) {
        expect({ code: r.code, reason: r.reason }).toEqual({ code: "failed_precondition", reason: "LEASE_LOST" });
        if (protocol === "rest") expect(r.status).toBe(400);
      }
      const batch = await api.tasks("batchCompleteTasks", { requests: [{ id: task.id, fencing_token: stale, result: { by: "slow-worker" } }] });
      expect(batch.results[0]).toMatchObject({ ok: false, error_reason: "LEASE_LOST" });

      const now = (await api.tasks("getTask", { id: task.id })).task;
      expect(now).toMatchObject({ state: "TASK_STATE_RUNNING", worker_id: "fast-worker", progress: 0, progress_message: "" });
      expect(now.result).toBeUndefined();
      expect(now.error?.message ?? "").not.toContain("stale");

      // The new holder finishes; its result is the one stored.
      await api.tasks("heartbeatTask", { id: task.id, fencing_token: second.lease.fencing_token, progress: 50 });
      await api.tasks("completeTask", { id: task.id, fencing_token: second.lease.fencing_token, result: { by: "fast-worker" } });
      const late = await failure(api.tasks("completeTask", { id: task.id, fencing_token: stale, result: { by: "slow-worker" } }));
      expect(late.reason).toBe("LEASE_LOST");

      const db = new Database(server.config.databasePath, { readonly: true });
      try {
        const row = db.query("SELECT state, result, error, worker_id, fencing_token, attempt, progress, progress_message FROM tasks WHERE id = ?").get(task.id) as Record<string, unknown>;
        expect(row).toMatchObject({ state: 4, result: JSON.stringify({ by: "fast-worker" }), worker_id: "fast-worker", fencing_token: 2, attempt: 2, progress: 100 });
        expect(String(row.error ?? "")).not.toContain("stale");
        expect(row.progress_message).not.toBe("stale progress");
      } finally {
        db.close();
      }
    }, 15_000);
  }

  it("is refused even before anyone else claims, once its lease is over by the server clock", async () => {
    const api = taskApi(server.url, "grpc");
    const { task } = await api.tasks("createTask", { task: { queue: "stale-alone" } });
    const held = await api.tasks("claimTask", { id: task.id, worker_id: "sleepy", lease_duration: "1s" });
    const leaseEnd = Date.parse(held.lease.expire_time);
    await until("the lease to end", () => (Date.now() > leaseEnd + 50 ? true : undefined), 5_000, 25);
    const r = await failure(api.tasks("completeTask", { id: task.id, fencing_token: held.lease.fencing_token, result: "too late" }));
    expect(r.reason).toBe("LEASE_LOST");
    const after = (await api.tasks("getTask", { id: task.id })).task;
    expect(after.result).toBeUndefined();
    expect(after.state).not.toBe("TASK_STATE_SUCCEEDED");
  });
});
