import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { AppError } from "../core/errors.ts";
import { describeDialects } from "../testing/dialects.ts";
import { openDialectEngine, type TestEngine } from "./testing.ts";
import { TENANT_SKIP_SCAN, tenantQueues } from "./store.ts";
import { STATE_CODES } from "./types.ts";

let t: TestEngine;

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e.reason;
    throw e;
  }
  throw new Error("expected a refusal");
}

describeDialects("task engine", (open, dialect) => {
  beforeEach(async () => {
    t = await openDialectEngine(open, dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  describe("creating tasks", () => {
    it("creates a pending task with defaults and an event", async () => {
      const { task, replayed } = await t.engine.createTask({ queue: "q", type: "video", payload: { a: 1 }, requiredCapabilities: ["gpu"] });
      expect(replayed).toBe(false);
      expect(task).toMatchObject({ queue: "q", type: "video", state: "pending", priority: 0, maxAttempts: 3, attempt: 0, payload: { a: 1 }, requiredCapabilities: ["gpu"] });
      expect(task.id).toStartWith("task_");
      expect(t.events.map((e) => e.kind)).toEqual(["created"]);
      expect((await t.engine.getTask(task.id))).toEqual(task);
    });

    it("answers the first task when a create is retried with the same request id", async () => {
      const a = await t.engine.createTask({ queue: "q", requestId: "r-1" });
      const b = await t.engine.createTask({ queue: "q", requestId: "r-1" });
      expect(b.replayed).toBe(true);
      expect(b.task.id).toBe(a.task.id);
      expect((await t.engine.listTasks()).items).toHaveLength(1);
    });

    it("creates a batch in one commit, all or none", async () => {
      const tasks = await t.engine.batchCreateTasks(Array.from({ length: 1000 }, (_, i) => ({ queue: "q", payload: i })));
      expect(tasks).toHaveLength(1000);
      const bad = await refusal(t.engine.batchCreateTasks([{ queue: "q" }, { queue: "bad name!" }]));
      expect(bad.metadata.field).toBe("requests[1].task.queue");
      expect((await t.engine.listTasks({ pageSize: 1000 })).items).toHaveLength(1000);
    });

    it("refuses a batch larger than 1000", async () => {
      const err = await refusal(t.engine.batchCreateTasks(Array.from({ length: 1001 }, () => ({ queue: "q" }))));
      expect(err.metadata.field).toBe("requests");
    });

    it("names the bad field for every kind of bad input", async () => {
      const cases: [object, string][] = [
        [{ queue: "" }, "queue"],
        [{ queue: "q", priority: 1.5 }, "priority"],
        [{ queue: "q", maxAttempts: 0 }, "max_attempts"],
        [{ queue: "q", requiredCapabilities: "gpu" }, "required_capabilities"],
        [{ queue: "q", metadata: [1] }, "metadata"],
        [{ queue: "q", id: "has space" }, "id"],
        [{ queue: "q", dependsOn: ["nope"] }, "depends_on[0]"],
        [{ queue: "q", requestId: "x".repeat(129) }, "request_id"],
      ];
      for (const [input, field] of cases) {
        const err = await refusal(t.engine.createTask(input as never));
        expect(err.code).toBe("invalid_argument");
        expect(err.metadata.field).toBe(field);
      }
    });

    it("lets a client choose the id and refuses a taken one", async () => {
      await t.engine.createTask({ queue: "q", id: "job-1" });
      const err = await refusal(t.engine.createTask({ queue: "q", id: "job-1" }));
      expect(err.reason).toBe("TASK_ALREADY_EXISTS");
    });
  });

  describe("claiming", () => {
    it("claims by priority, then in creation order", async () => {
      await t.engine.batchCreateTasks([
        { queue: "q", id: "low", priority: 1 },
        { queue: "q", id: "high-1", priority: 5 },
        { queue: "q", id: "mid", priority: 3 },
        { queue: "q", id: "high-2", priority: 5 },
      ]);
      const got = await t.engine.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 10 });
      expect(got.map((a) => a.task.id)).toEqual(["high-1", "high-2", "mid", "low"]);
    });

    it("claims one task or several from one queue, in order, skipping tasks needing capabilities the worker lacks", async () => {
      await t.engine.batchCreateTasks([
        { queue: "q", id: "gpu-high", priority: 9, requiredCapabilities: ["gpu"] },
        { queue: "q", id: "plain-1", priority: 1 },
        { queue: "q", id: "plain-2", priority: 1 },
        { queue: "q", id: "plain-3", priority: 0 },
      ]);
      const one = await t.engine.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 1 });
      expect(one.map((a) => [a.task.id, a.task.state, a.lease.fencingToken, a.lease.workerId])).toEqual([["plain-1", "running", 1, "w"]]);
      const rest = await t.engine.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 10 });
      expect(rest.map((a) => a.task.id)).toEqual(["plain-2", "plain-3"]);
      expect(await t.engine.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 10 })).toEqual([]);
      const gpu = await t.engine.claimTasks({ workerId: "g", queues: ["q"], capabilities: ["gpu"], maxTasks: 1 });
      expect(gpu.map((a) => [a.task.id, a.task.attempt])).toEqual([["gpu-high", 1]]);
      expect(await t.engine.claimTasks({ workerId: "g", queues: ["q"], capabilities: ["gpu"], maxTasks: 1 })).toEqual([]);
    });

    it("merges several queues in priority order and skips tasks needing capabilities the worker lacks", async () => {
      await t.engine.batchCreateTasks([
        { queue: "a", id: "a1", priority: 1 },
        { queue: "b", id: "b1", priority: 9, requiredCapabilities: ["gpu"] },
        { queue: "b", id: "b2", priority: 2 },
      ]);
      const cpu = await t.engine.claimTasks({ workerId: "w", queues: ["a", "b"], maxTasks: 10 });
      expect(cpu.map((a) => a.task.id)).toEqual(["b2", "a1"]);
      const gpu = await t.engine.claimTasks({ workerId: "g", queues: ["a", "b"], capabilities: ["gpu", "video"], maxTasks: 10 });
      expect(gpu.map((a) => a.task.id)).toEqual(["b1"]);
    });

    it("claims a task by id once, with a lease and a fencing token", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      const a = await t.engine.claimTask({ id: task.id, workerId: "w1", leaseMs: 10_000 });
      expect(a.task.state).toBe("running");
      expect(a.lease).toEqual({ fencingToken: 1, expiresAt: t.clock.now() + 10_000, leaseDurationMs: 10_000, workerId: "w1" });
      const err = await refusal(t.engine.claimTask({ id: task.id, workerId: "w2" }));
      expect(err.reason).toBe("TASK_NOT_CLAIMABLE");
      expect(err.metadata.state).toBe("running");
    });

    it("keeps the reaping of an expired, exhausted lease when it refuses the claim by id", async () => {
      const { task } = await t.engine.createTask({ queue: "q", maxAttempts: 1 });
      await t.engine.claimTask({ id: task.id, workerId: "w1", leaseMs: 10_000 });
      t.clock.advance(10_000);
      const err = await refusal(t.engine.claimTask({ id: task.id, workerId: "w2" }));
      expect(err.reason).toBe("TASK_NOT_CLAIMABLE");
      expect(err.metadata.state).toBe("failed");
      expect((await t.engine.getTask(task.id))).toMatchObject({ state: "failed", attempt: 1 });
    });

    it("does not hand out a delayed task before its run_at", async () => {
      const { task } = await t.engine.createTask({ queue: "q", delayMs: 5000 });
      expect(await t.engine.claimTasks({ workerId: "w", queues: ["q"] })).toEqual([]);
      expect((await refusal(t.engine.claimTask({ id: task.id, workerId: "w" }))).reason).toBe("TASK_NOT_CLAIMABLE");
      t.clock.advance(5000);
      expect(await t.engine.claimTasks({ workerId: "w", queues: ["q"] })).toHaveLength(1);
    });

    it("refuses a claim by id when the worker lacks a capability", async () => {
      const { task } = await t.engine.createTask({ queue: "q", requiredCapabilities: ["gpu"] });
      expect((await refusal(t.engine.claimTask({ id: task.id, workerId: "w", capabilities: ["cpu"] }))).reason).toBe("CAPABILITY_MISMATCH");
    });

    it("refuses a lease shorter than a second", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      expect((await refusal(t.engine.claimTask({ id: task.id, workerId: "w", leaseMs: 10 }))).metadata.field).toBe("lease_duration");
    });
  });

  describe("holding a lease", () => {
    async function claimed(leaseMs = 10_000) {
      const { task } = await t.engine.createTask({ queue: "q" });
      return t.engine.claimTask({ id: task.id, workerId: "w1", leaseMs });
    }

    it("extends the lease and records progress on heartbeat", async () => {
      const a = await claimed();
      t.clock.advance(5000);
      const hb = await t.engine.heartbeat({ id: a.task.id, fencingToken: 1, progress: 40, progressMessage: "halfway" });
      expect(hb.cancelRequested).toBe(false);
      expect(hb.lease!.expiresAt).toBe(t.clock.now() + 10_000);
      expect((await t.engine.getTask(a.task.id))).toMatchObject({ progress: 40, progressMessage: "halfway" });
    });

    it("completes with a result", async () => {
      const a = await claimed();
      const done = await t.engine.completeTask({ id: a.task.id, fencingToken: 1, result: { ok: true } });
      expect(done).toMatchObject({ state: "succeeded", result: { ok: true }, progress: 100, lease: undefined });
      expect(done.finishedAt).toBe(t.clock.now());
    });

    it("refuses the stale holder's heartbeat, complete and fail after another worker claimed, and stores nothing of it", async () => {
      const a = await claimed(10_000);
      t.clock.advance(10_001);
      await t.engine.tick();
      const b = await t.engine.claimTask({ id: a.task.id, workerId: "w2" });
      expect(b.lease.fencingToken).toBe(2);
      for (const call of [
        t.engine.heartbeat({ id: a.task.id, fencingToken: 1, progress: 99 }),
        t.engine.completeTask({ id: a.task.id, fencingToken: 1, result: "stale" }),
        t.engine.failTask({ id: a.task.id, fencingToken: 1, error: { message: "stale", retryable: false } }),
        t.engine.releaseTask({ id: a.task.id, fencingToken: 1 }),
      ]) {
        const err = await refusal(call);
        expect(err.code).toBe("failed_precondition");
        expect(err.reason).toBe("LEASE_LOST");
      }
      const now = (await t.engine.getTask(a.task.id));
      expect(now).toMatchObject({ state: "running", workerId: "w2", progress: 0, result: undefined });
      const done = await t.engine.completeTask({ id: a.task.id, fencingToken: 2, result: "fresh" });
      expect(done.result).toBe("fresh");
    });

    it("refuses a holder whose lease expired even before the reaper ran", async () => {
      const a = await claimed(10_000);
      t.clock.advance(10_000);
      expect((await refusal(t.engine.completeTask({ id: a.task.id, fencingToken: 1 }))).reason).toBe("LEASE_LOST");
    });

    it("reclaims an expired lease on tick: the attempt counts and the task is ready again", async () => {
      const a = await claimed(10_000);
      t.clock.advance(10_000);
      expect(await t.engine.tick()).toEqual({ expired: 1, timedOut: 0 });
      expect((await t.engine.getTask(a.task.id))).toMatchObject({ state: "pending", attempt: 1, retryCount: 1, error: { reason: "LEASE_EXPIRED" } });
      expect(t.events.at(-1)!.kind).toBe("lease_expired");
      expect((await t.engine.listReadyTasks()).items.map((x) => x.id)).toEqual([a.task.id]);
    });

    it("fails a task for good when its last attempt's lease expires", async () => {
      const { task } = await t.engine.createTask({ queue: "q", maxAttempts: 1 });
      await t.engine.claimTask({ id: task.id, workerId: "w" });
      t.clock.advance(30_000);
      await t.engine.tick();
      expect((await t.engine.getTask(task.id))).toMatchObject({ state: "failed", attempt: 1 });
      expect((await t.engine.listDeadLetterTasks()).items.map((x) => x.id)).toEqual([task.id]);
    });

    it("retries a retryable failure after exponential backoff", async () => {
      const { task } = await t.engine.createTask({ queue: "q", maxAttempts: 3 });
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 2; attempt++) {
        const [a] = await t.engine.claimTasks({ workerId: "w", queues: ["q"] });
        expect(a!.lease.fencingToken).toBe(attempt);
        const failed = await t.engine.failTask({ id: task.id, fencingToken: attempt, error: { message: "flaky", retryable: true } });
        expect(failed.state).toBe("pending");
        delays.push(failed.runAt - t.clock.now());
        expect(await t.engine.claimTasks({ workerId: "w", queues: ["q"] })).toEqual([]);
        t.clock.advance(failed.runAt - t.clock.now());
      }
      // base 1 s doubling, jitter 0.2 with random() = 0.5 removes 10 %.
      expect(delays).toEqual([900, 1800]);
      const [a] = await t.engine.claimTasks({ workerId: "w", queues: ["q"] });
      const last = await t.engine.failTask({ id: task.id, fencingToken: a!.lease.fencingToken, error: { message: "flaky", retryable: true } });
      expect(last).toMatchObject({ state: "failed", attempt: 3, error: { message: "flaky", retryable: true } });
    });

    it("fails at once on a non-retryable error and honours a worker's retry delay", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      await t.engine.claimTask({ id: task.id, workerId: "w" });
      const r = await t.engine.failTask({ id: task.id, fencingToken: 1, error: { message: "later", retryable: true }, retryDelayMs: 60_000 });
      expect(r.runAt).toBe(t.clock.now() + 60_000);
      t.clock.advance(60_000);
      await t.engine.claimTask({ id: task.id, workerId: "w" });
      const f = await t.engine.failTask({ id: task.id, fencingToken: 2, error: { message: "bad input", retryable: false } });
      expect(f.state).toBe("failed");
    });

    it("releases a task back to its queue and gives its attempt back", async () => {
      const a = await claimed();
      const r = await t.engine.releaseTask({ id: a.task.id, fencingToken: 1 });
      expect(r).toMatchObject({ state: "pending", attempt: 0 });
      const b = await t.engine.claimTask({ id: a.task.id, workerId: "w2" });
      expect(b.lease.fencingToken).toBe(2);
      expect(b.task.attempt).toBe(1);
    });

    it("releases without a token as an administrative release (seed 000)", async () => {
      const a = await claimed();
      expect((await t.engine.releaseTask({ id: a.task.id })).state).toBe("pending");
      expect((await refusal(t.engine.releaseTask({ id: a.task.id }))).reason).toBe("TASK_NOT_RUNNING");
    });

    it("times out an attempt that runs past the task's timeout", async () => {
      const { task } = await t.engine.createTask({ queue: "q", timeoutMs: 5000 });
      await t.engine.claimTask({ id: task.id, workerId: "w", leaseMs: 60_000 });
      t.clock.advance(4999);
      expect((await t.engine.tick()).timedOut).toBe(0);
      t.clock.advance(1);
      expect((await t.engine.tick()).timedOut).toBe(1);
      expect((await t.engine.getTask(task.id))).toMatchObject({ state: "timed_out", error: { reason: "TIMED_OUT" } });
      expect((await refusal(t.engine.completeTask({ id: task.id, fencingToken: 1 }))).reason).toBe("LEASE_LOST");
    });

    it("completes many tasks in one batch, each on its own", async () => {
      await t.engine.batchCreateTasks(Array.from({ length: 3 }, () => ({ queue: "q" })));
      const got = await t.engine.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 3 });
      const results = await t.engine.batchCompleteTasks([
        { id: got[0]!.task.id, fencingToken: 1, result: 0 },
        { id: got[1]!.task.id, fencingToken: 7, result: 1 },
        { id: "task_missing", fencingToken: 1 },
        { id: got[2]!.task.id, fencingToken: 1, result: 2 },
      ]);
      expect(results.map((r) => (r.ok ? "ok" : r.reason))).toEqual(["ok", "LEASE_LOST", "TASK_NOT_FOUND", "ok"]);
      expect((await t.engine.getTask(got[1]!.task.id)).state).toBe("running");
    });

    it("settles a batch completion's result checks before its dependents: one malformed result cancels its dependents, the others unblock", async () => {
      t.engine.checkResults("typed", (r) => (typeof r === "object" && r !== null && "frames" in r ? undefined : "frames is missing"));
      await t.engine.batchCreateTasks([
        { queue: "q", id: "good", type: "typed" },
        { queue: "q", id: "bad", type: "typed" },
        { queue: "q", id: "plain" },
        { queue: "later", id: "after-good", dependsOn: ["good", "plain"] },
        { queue: "later", id: "after-bad", dependsOn: ["bad"] },
        { queue: "later", id: "after-both", dependsOn: ["good", "bad"] },
      ]);
      const got = await t.engine.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 3 });
      const token = (id: string) => got.find((a) => a.task.id === id)!.lease.fencingToken;
      const results = await t.engine.batchCompleteTasks([
        { id: "good", fencingToken: token("good"), result: { frames: 3 } },
        { id: "bad", fencingToken: token("bad"), result: { nope: 1 } },
        { id: "plain", fencingToken: token("plain"), result: 1 },
      ]);
      expect(results.map((r) => r.ok)).toEqual([true, true, true]);
      const state = async (id: string) => (await t.engine.getTask(id)).state;
      expect([await state("good"), await state("bad"), await state("plain")]).toEqual(["succeeded", "failed", "succeeded"]);
      expect((await t.engine.getTask("bad")).error?.reason).toBe("MALFORMED_RESULT");
      expect([await state("after-good"), await state("after-bad"), await state("after-both")]).toEqual(["pending", "cancelled", "cancelled"]);
    });
  });

  describe("cancel, retry, delete", () => {
    it("cancels a pending task and refuses to cancel a finished one", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      const c = await t.engine.cancelTask({ id: task.id, reason: "not needed" });
      expect(c.task).toMatchObject({ state: "cancelled", error: { message: "not needed", reason: "CANCELLED" } });
      expect((await refusal(t.engine.cancelTask({ id: task.id }))).reason).toBe("TASK_ALREADY_FINISHED");
    });

    it("tells the holder of a cancelled task on its next heartbeat and refuses its completion", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      await t.engine.claimTask({ id: task.id, workerId: "w" });
      await t.engine.cancelTask({ id: task.id });
      expect(await t.engine.heartbeat({ id: task.id, fencingToken: 1 })).toEqual({ lease: undefined, cancelRequested: true });
      expect((await refusal(t.engine.completeTask({ id: task.id, fencingToken: 1, result: 1 }))).reason).toBe("TASK_CANCELLED");
      expect((await t.engine.getTask(task.id)).result).toBeUndefined();
    });

    it("retries a dead-letter task by hand with its attempts reset", async () => {
      const { task } = await t.engine.createTask({ queue: "q", maxAttempts: 1 });
      await t.engine.claimTask({ id: task.id, workerId: "w" });
      await t.engine.failTask({ id: task.id, fencingToken: 1, error: { message: "x", retryable: true } });
      expect((await t.engine.getTask(task.id)).state).toBe("failed");
      const r = await t.engine.retryTask({ id: task.id });
      expect(r).toMatchObject({ state: "pending", attempt: 0, error: undefined, retryCount: 1 });
      expect((await t.engine.claimTask({ id: task.id, workerId: "w" })).lease.fencingToken).toBe(2);
      expect((await refusal(t.engine.retryTask({ id: task.id }))).reason).toBe("TASK_NOT_RETRYABLE");
    });

    it("deletes a task and answers not found afterwards", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      await t.engine.deleteTask(task.id);
      expect((await refusal(t.engine.getTask(task.id))).reason).toBe("TASK_NOT_FOUND");
      expect((await refusal(t.engine.deleteTask(task.id))).reason).toBe("TASK_NOT_FOUND");
      expect(t.events.at(-1)!.kind).toBe("deleted");
    });
  });

  describe("dependencies", () => {
    it("keeps a task blocked until every dependency succeeded", async () => {
      await t.engine.batchCreateTasks([
        { queue: "q", id: "a" },
        { queue: "q", id: "b" },
        { queue: "q", id: "c", dependsOn: ["a", "b"] },
      ]);
      expect((await t.engine.getTask("c")).state).toBe("blocked");
      const first = await t.engine.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 10 });
      expect(first.map((x) => x.task.id)).toEqual(["a", "b"]);
      await t.engine.completeTask({ id: "a", fencingToken: 1 });
      expect((await t.engine.getTask("c")).state).toBe("blocked");
      await t.engine.completeTask({ id: "b", fencingToken: 1 });
      expect((await t.engine.getTask("c")).state).toBe("pending");
      expect(t.events.filter((e) => e.kind === "unblocked").map((e) => e.task.id)).toEqual(["c"]);
    });

    it("is ready at once when its dependencies already succeeded", async () => {
      await t.engine.createTask({ queue: "q", id: "a" });
      await t.engine.claimTask({ id: "a", workerId: "w" });
      await t.engine.completeTask({ id: "a", fencingToken: 1 });
      expect((await t.engine.createTask({ queue: "q", dependsOn: ["a"] })).task.state).toBe("pending");
    });

    it("cancels waiting dependents, transitively, when a dependency fails for good", async () => {
      await t.engine.batchCreateTasks([
        { queue: "q", id: "a", maxAttempts: 1 },
        { queue: "q", id: "b", dependsOn: ["a"] },
        { queue: "q", id: "c", dependsOn: ["b"] },
      ]);
      await t.engine.claimTask({ id: "a", workerId: "w" });
      await t.engine.failTask({ id: "a", fencingToken: 1, error: { message: "boom", retryable: false } });
      expect((await t.engine.getTask("b"))).toMatchObject({ state: "cancelled", error: { reason: "DEPENDENCY_FAILED" } });
      expect((await t.engine.getTask("c")).state).toBe("cancelled");
      expect((await t.engine.createTask({ queue: "q", id: "d", dependsOn: ["a"] })).task.state).toBe("cancelled");
    });

    it("cancels dependents of a cancelled or deleted task and refuses retrying them before the dependency", async () => {
      await t.engine.batchCreateTasks([
        { queue: "q", id: "a" },
        { queue: "q", id: "b", dependsOn: ["a"] },
        { queue: "q", id: "x" },
        { queue: "q", id: "y", dependsOn: ["x"] },
      ]);
      const c = await t.engine.cancelTask({ id: "a" });
      expect(c.cancelledDependents).toEqual(["b"]);
      expect((await refusal(t.engine.retryTask({ id: "b" }))).reason).toBe("DEPENDENCY_FAILED");
      await t.engine.retryTask({ id: "a" });
      expect((await t.engine.retryTask({ id: "b" })).state).toBe("blocked");
      await t.engine.deleteTask("x");
      expect((await t.engine.getTask("y")).state).toBe("cancelled");
    });
  });

  describe("queues", () => {
    it("pauses a queue: no new claims, claimed tasks finish; resume hands them out again", async () => {
      await t.engine.batchCreateTasks([{ queue: "q", id: "a" }, { queue: "q", id: "b" }]);
      await t.engine.claimTask({ id: "a", workerId: "w" });
      const paused = await t.engine.pauseQueue("q");
      expect(paused.paused).toBe(true);
      expect(await t.engine.claimTasks({ workerId: "w", queues: ["q"] })).toEqual([]);
      expect((await refusal(t.engine.claimTask({ id: "b", workerId: "w" }))).reason).toBe("QUEUE_PAUSED");
      expect((await t.engine.listReadyTasks()).items).toEqual([]);
      expect((await t.engine.completeTask({ id: "a", fencingToken: 1 })).state).toBe("succeeded");
      expect((await t.engine.resumeQueue("q")).paused).toBe(false);
      expect((await t.engine.claimTasks({ workerId: "w", queues: ["q"] }))[0]!.task.id).toBe("b");
    });

    it("lists queues with counts per state and the oldest pending age", async () => {
      await t.engine.batchCreateTasks([{ queue: "a", id: "a1" }, { queue: "a", id: "a2", delayMs: 60_000 }, { queue: "b" }]);
      t.clock.advance(7000);
      await t.engine.claimTask({ id: "a1", workerId: "w" });
      await t.engine.pauseQueue("c");
      const page = (await t.engine.listQueues());
      expect(page.items.map((q) => q.name)).toEqual(["a", "b", "c"]);
      const a = page.items[0]!;
      expect(a.counts).toMatchObject({ pending: 1, delayed: 1, running: 1, total: 2 });
      expect(a.oldestPendingAgeMs).toBe(7000);
      expect(page.items[2]!.paused).toBe(true);
      const first = (await t.engine.listQueues({ pageSize: 2 }));
      expect(first.items).toHaveLength(2);
      expect((await t.engine.listQueues({ pageSize: 2, pageToken: first.nextPageToken })).items.map((q) => q.name)).toEqual(["c"]);
    });

    it("enforces a queue config's concurrency limit and defaults", async () => {
      await t.engine.createQueueConfig({ name: "gpu", priority: 7, concurrencyLimit: 2, defaultMaxAttempts: 5, defaultTimeoutMs: 9000 });
      await t.engine.batchCreateTasks(Array.from({ length: 4 }, () => ({ queue: "gpu" })));
      const task = (await t.engine.listTasks()).items[0]!;
      expect(task).toMatchObject({ priority: 7, maxAttempts: 5, timeoutMs: 9000 });
      expect(await t.engine.claimTasks({ workerId: "w", queues: ["gpu"], maxTasks: 10 })).toHaveLength(2);
      expect(await t.engine.claimTasks({ workerId: "w", queues: ["gpu"], maxTasks: 10 })).toHaveLength(0);
    });

    it("applies a parent's config to a runqy-style sub-queue such as inference_high", async () => {
      await t.engine.createQueueConfig({ name: "inference", priority: 6, defaultMaxAttempts: 4 });
      const { task } = await t.engine.createTask({ queue: "inference_high" });
      expect(task).toMatchObject({ queue: "inference_high", priority: 6, maxAttempts: 4 });
      expect((await t.engine.getQueue("inference_high")).config?.name).toBe("inference");
    });
  });

  describe("listing", () => {
    it("pages through tasks newest first with filters and refuses a token of other filters", async () => {
      await t.engine.batchCreateTasks(Array.from({ length: 5 }, (_, i) => ({ queue: i % 2 ? "odd" : "even", id: `t${i}`, type: "k", tags: i === 4 ? ["x"] : [] })));
      const p1 = (await t.engine.listTasks({ queues: ["even"], pageSize: 2 }));
      expect(p1.items.map((x) => x.id)).toEqual(["t4", "t2"]);
      const p2 = (await t.engine.listTasks({ queues: ["even"], pageSize: 2, pageToken: p1.nextPageToken }));
      expect(p2.items.map((x) => x.id)).toEqual(["t0"]);
      expect(p2.nextPageToken).toBe("");
      expect((await refusal(t.engine.listTasks({ queues: ["odd"], pageToken: p1.nextPageToken }))).reason).toBe("INVALID_ARGUMENT");
      expect((await refusal(t.engine.listTasks({ pageSize: 1001 }))).reason).toBe("INVALID_ARGUMENT");
      expect((await t.engine.listTasks({ tag: "x" })).items.map((x) => x.id)).toEqual(["t4"]);
      await t.engine.claimTask({ id: "t1", workerId: "w9" });
      expect((await t.engine.listTasks({ workerId: "w9" })).items.map((x) => x.id)).toEqual(["t1"]);
      expect((await t.engine.listTasks({ states: ["running"] })).items.map((x) => x.id)).toEqual(["t1"]);
    });

    it("lists by state across every queue of the tenant, newest first, across pages, never another tenant's", async () => {
      const other = t.engine.scoped("globex");
      // Queues that sort before, between and after each other, and a tenant id on either side.
      await other.batchCreateTasks([{ queue: "b", id: "g1" }, { queue: "zz", id: "g2" }]);
      await t.engine.scoped("aaa").createTask({ queue: "b", id: "a1" });
      await t.engine.batchCreateTasks(["c", "a", "b", "a", "zz", "b", "m"].map((queue, i) => ({ queue, id: `d${i}` })));
      await t.engine.claimTask({ id: "d1", workerId: "w" });
      await t.engine.claimTask({ id: "d4", workerId: "w" });
      await other.claimTask({ id: "g2", workerId: "w" });
      await t.engine.cancelTask({ id: "d5", reason: "no" });
      const ids = async (states: ("pending" | "running" | "cancelled")[], pageSize = 50, pageToken = "") => {
        const page = await t.engine.listTasks({ states, pageSize, pageToken });
        return { ids: page.items.map((x) => x.id), next: page.nextPageToken };
      };
      expect((await ids(["running"])).ids).toEqual(["d4", "d1"]);
      expect((await ids(["cancelled"])).ids).toEqual(["d5"]);
      expect((await ids(["pending"])).ids).toEqual(["d6", "d3", "d2", "d0"]);
      const p1 = await ids(["pending", "running"], 3);
      expect(p1.ids).toEqual(["d6", "d4", "d3"]);
      expect((await ids(["pending", "running"], 3, p1.next)).ids).toEqual(["d2", "d1", "d0"]);
      expect((await other.listTasks({ states: ["running", "pending"] })).items.map((x) => x.id)).toEqual(["g2", "g1"]);
      expect((await t.engine.scoped("nobody").listTasks({ states: ["pending"] })).items).toEqual([]);
    });

    it("finds the tenants with unfinished work in some queues, not those whose tasks all ended", async () => {
      await t.engine.scoped("t-done").createTask({ queue: "mem", id: "x" });
      await t.engine.scoped("t-done").cancelTask({ id: "x", reason: "ended" });
      await t.engine.scoped("t-pending").createTask({ queue: "mem", id: "y" });
      await t.engine.scoped("t-other-queue").createTask({ queue: "else", id: "z" });
      await t.engine.scoped("t-running").createTask({ queue: "mem2", id: "r" });
      await t.engine.scoped("t-running").claimTask({ id: "r", workerId: "w" });
      await t.engine.scoped("t-blocked").batchCreateTasks([{ queue: "else", id: "p" }, { queue: "mem", id: "b", dependsOn: ["p"] }]);
      expect((await t.engine.tenantsWithWork(["mem", "mem2"])).sort()).toEqual(["t-blocked", "t-pending", "t-running"]);
      expect(await t.engine.tenantsWithWork(["none"])).toEqual([]);
    });

    // SQLite's plans only: PostgreSQL plans by its statistics.
    if (dialect === "sqlite") it("answers the reaper, state listings and tenant discovery from indexes (no read of every task)", async () => {
      const sqlite = (t.database as unknown as { sqlite: import("bun:sqlite").Database }).sqlite;
      const plan = (sql: string, ...args: string[]) =>
        (sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail);
      const R = STATE_CODES.running;
      expect(plan(`SELECT * FROM tasks WHERE state = ${R} AND lease_expires_at <= 5 ORDER BY lease_expires_at LIMIT 1000`)).toEqual([
        "SEARCH tasks USING INDEX tasks_running_lease_idx (lease_expires_at<?)",
      ]);
      const listing = plan(`SELECT * FROM tasks WHERE tenant = ? AND state IN (${R}) AND queue IN ${tenantQueues(() => "?")} ORDER BY seq DESC LIMIT 50`, "a", "a", "a");
      expect(listing[0]).toBe("SEARCH tasks USING INDEX tasks_claim_idx (tenant=? AND queue=? AND state=?)");
      const discovery = plan(`${TENANT_SKIP_SCAN} SELECT tenant FROM tenants t WHERE tenant IS NOT NULL AND EXISTS (SELECT 1 FROM tasks x WHERE x.tenant = t.tenant AND x.queue IN ('q') AND x.state IN (1, 2, 3))`);
      for (const p of [...listing, ...discovery]) expect(p).not.toMatch(/^SCAN (tasks|x)\b/);
      // Creating a task writes no lease entry; a claim adds one and completion takes it away.
      const inLeaseIndex = () => (sqlite.prepare(`SELECT count(*) AS n FROM tasks INDEXED BY tasks_running_lease_idx WHERE state = ${R}`).get() as { n: number }).n;
      await t.engine.createTask({ queue: "q", id: "k" });
      expect(inLeaseIndex()).toBe(0);
      const claimed = await t.engine.claimTask({ id: "k", workerId: "w" });
      expect(inLeaseIndex()).toBe(1);
      await t.engine.completeTask({ id: "k", fencingToken: claimed.lease.fencingToken, result: null });
      expect(inLeaseIndex()).toBe(0);
    });

    it("lists the ready set in claim order, across pages", async () => {
      await t.engine.batchCreateTasks([
        { queue: "q", id: "a", priority: 1 },
        { queue: "q", id: "b", priority: 2 },
        { queue: "q", id: "c", priority: 1 },
        { queue: "q", id: "d", delayMs: 1000 },
      ]);
      const p1 = (await t.engine.listReadyTasks({ pageSize: 2 }));
      expect(p1.items.map((x) => x.id)).toEqual(["b", "a"]);
      expect((await t.engine.listReadyTasks({ pageSize: 2, pageToken: p1.nextPageToken })).items.map((x) => x.id)).toEqual(["c"]);
    });
  });

  describe("updates by backends (seed 001)", () => {
    it("records a backend's progress, then its completion with a result", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      const running = await t.engine.updateTask({ id: task.id, state: "running", serverId: "server_1", progress: 45 });
      expect(running).toMatchObject({ state: "running", serverId: "server_1", progress: 45 });
      const done = await t.engine.updateTask({ id: task.id, state: "succeeded", result: { url: "x" } });
      expect(done).toMatchObject({ state: "succeeded", result: { url: "x" } });
    });

    it("merges metadata, removes keys set to null, and refuses other states", async () => {
      const { task } = await t.engine.createTask({ queue: "q", metadata: { a: 1, b: 2 } });
      expect((await t.engine.updateTask({ id: task.id, metadata: { b: null, c: 3 } })).metadata).toEqual({ a: 1, c: 3 });
      expect((await refusal(t.engine.updateTask({ id: task.id, state: "cancelled" }))).reason).toBe("INVALID_TRANSITION");
      expect((await refusal(t.engine.updateTask({ id: task.id, progress: 101 }))).metadata.field).toBe("progress");
    });
  });

  describe("statistics", () => {
    it("counts a day's tasks in seed 001's shape, per hour, per queue and per worker", async () => {
      const day = new Date(t.clock.now()).toISOString().slice(0, 10);
      await t.engine.batchCreateTasks([{ queue: "a", id: "x" }, { queue: "a", id: "y" }, { queue: "b", id: "z" }]);
      t.clock.advance(3_600_000);
      await t.engine.claimTask({ id: "x", workerId: "w1" });
      await t.engine.claimTask({ id: "y", workerId: "w1" });
      t.clock.advance(2000);
      await t.engine.completeTask({ id: "x", fencingToken: 1 });
      await t.engine.failTask({ id: "y", fencingToken: 1, error: { message: "no", retryable: false } });
      const s = (await t.engine.getTaskStats({ date: day }));
      expect(s).toMatchObject({ date: day, totalTasks: 3, pendingTasks: 1, successfulTasks: 1, failedTasks: 1, averageProcessingTimeMs: 2000, serverCount: 1 });
      expect(s.topServers[0]).toMatchObject({ workerId: "w1", tasksProcessed: 2, successCount: 1, failureCount: 1, successRate: 0.5 });
      expect(s.hourlyTrend).toEqual([{ hour: 0, tasks: 3 }]);
      expect(s.queues.map((q) => [q.queue, q.counts.total])).toEqual([["a", 2], ["b", 1]]);
      const h = (await t.engine.getHourlyTaskStats({ date: day }));
      expect(h.hours).toHaveLength(24);
      expect(h.hours[0]).toMatchObject({ created: 3, completed: 0 });
      expect(h.hours[1]).toMatchObject({ created: 0, completed: 1, failed: 1, averageTimeMs: 2000 });
      expect((await t.engine.getWorkerTaskStats({ workerId: "w1" })).stats).toMatchObject({ tasksProcessed: 2, successRate: 0.5 });
      expect((await refusal(t.engine.getTaskStats({ date: "2024-13-01" }))).reason).toBe("INVALID_ARGUMENT");
    });
  });

  describe("events", () => {
    it("emits one event per state change with increasing sequence and the previous state", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      await t.engine.claimTask({ id: task.id, workerId: "w" });
      await t.engine.completeTask({ id: task.id, fencingToken: 1 });
      expect(t.events.map((e) => [e.sequence, e.kind, e.previousState, e.task.state])).toEqual([
        [1, "created", undefined, "pending"],
        [2, "claimed", "pending", "running"],
        [3, "succeeded", "running", "succeeded"],
      ]);
    });

    it("emits nothing for a refused write", async () => {
      const { task } = await t.engine.createTask({ queue: "q" });
      await refusal(t.engine.completeTask({ id: task.id, fencingToken: 1 }));
      expect(t.events).toHaveLength(1);
    });
  });
});
