// The whole task lifecycle through a real server, once per protocol: gRPC, gRPC-Web, Connect
// and REST (server streams as SSE). Every protocol works in its own queues on one server.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { failure, PROTOCOLS, taskApi, until, type ApiProtocol, type TaskApi } from "./helpers/task-api.ts";

let server: TestServer;
let yamlDir: string;
let yamlPath: string;
beforeAll(async () => {
  yamlDir = mkdtempSync(join(tmpdir(), "switchyard-queues-"));
  yamlPath = join(yamlDir, "queues.yaml");
  writeFileSync(yamlPath, "queues: {}\n");
  server = await startTestServer({ SWITCHYARD_QUEUE_CONFIG: yamlPath });
});
afterAll(async () => {
  await server?.close();
  rmSync(yamlDir, { recursive: true, force: true });
});

const n = (v: string | number | undefined) => Number(v ?? 0);
const token = (a: { lease: { fencing_token: string } }) => a.lease.fencing_token;

/** A refusal as the protocol reports it: REST adds the HTTP status. */
function expectRefused(protocol: ApiProtocol, e: { code: string; reason: string; status?: number }, code: string, reason: string, status: number) {
  expect({ code: e.code, reason: e.reason }).toEqual({ code, reason });
  if (protocol === "rest") expect(e.status).toBe(status);
}

/** Collects a stream's messages in the background until stopped. */
function collect(api: TaskApi, method: "watchTaskEvents" | "connectWorker", req: Record<string, unknown>) {
  const abort = new AbortController();
  const got: any[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const m of api.stream(method, req as never, abort.signal)) got.push(m);
    } catch (e) {
      error = e;
    }
  })();
  return {
    got,
    get error() {
      return error;
    },
    async stop() {
      abort.abort();
      await done;
    },
  };
}

for (const protocol of PROTOCOLS) {
  describe(`the task lifecycle over ${protocol}`, () => {
    const p = protocol.replace("-", "");
    let api: TaskApi;
    beforeAll(() => {
      api = taskApi(server.url, protocol);
    });

    it("creates a task and answers the same task to a re-create with the same request_id", async () => {
      const req = {
        task: { queue: `${p}-create`, type: "video", priority: 5, payload: { n: 1 }, required_capabilities: ["gpu"], tags: ["a"] },
        request_id: `${p}-req-1`,
      };
      const first = await api.tasks("createTask", req);
      expect(first.replayed).toBe(false);
      expect(first.task).toMatchObject({ queue: `${p}-create`, type: "video", priority: 5, payload: { n: 1 }, state: "TASK_STATE_PENDING", attempt: 0 });
      const again = await api.tasks("createTask", { ...req, task: { ...req.task, payload: { n: 2 } } });
      expect(again.replayed).toBe(true);
      expect(again.task.id).toBe(first.task.id);
      expect(again.task.payload).toEqual({ n: 1 });
      const listed = await api.tasks("listTasks", { queues: [`${p}-create`] });
      expect(listed.tasks.map((t: { id: string }) => t.id)).toEqual([first.task.id]);
      expect((await api.tasks("getTask", { id: first.task.id })).task).toMatchObject({ id: first.task.id, request_id: `${p}-req-1`, tags: ["a"] });
    });

    it("lists with filters (queue, state, type, capability, tag, time) and pages through every match once", async () => {
      const queue = `${p}-list`;
      const made = await api.tasks("batchCreateTasks", {
        requests: Array.from({ length: 7 }, (_, i) => ({
          task: { queue, type: i % 2 ? "odd" : "even", required_capabilities: i < 2 ? ["gpu"] : [], tags: i === 3 ? ["special"] : [] },
        })),
      });
      expect(made.tasks).toHaveLength(7);
      const ids: string[] = made.tasks.map((t: { id: string }) => t.id);
      const seen: string[] = [];
      let page_token = "";
      let pages = 0;
      do {
        const page = await api.tasks("listTasks", { queues: [queue], states: ["TASK_STATE_PENDING"], page_size: 3, page_token });
        expect(page.tasks.length).toBeLessThanOrEqual(3);
        seen.push(...page.tasks.map((t: { id: string }) => t.id));
        page_token = page.next_page_token;
        pages++;
      } while (page_token);
      expect(pages).toBe(3);
      expect(seen).toEqual([...ids].reverse()); // newest first, each once
      const odd = await api.tasks("listTasks", { queues: [queue], type: "odd" });
      expect(odd.tasks.map((t: { id: string }) => t.id).sort()).toEqual([ids[1], ids[3], ids[5]].sort());
      expect((await api.tasks("listTasks", { queues: [queue], capability: "gpu" })).tasks).toHaveLength(2);
      expect((await api.tasks("listTasks", { queues: [queue], tag: "special" })).tasks.map((t: { id: string }) => t.id)).toEqual([ids[3]]);
      expect((await api.tasks("listTasks", { queues: [queue], states: ["TASK_STATE_SUCCEEDED"] })).tasks).toHaveLength(0);
      const future = new Date(Date.now() + 60_000).toISOString();
      expect((await api.tasks("listTasks", { queues: [queue], created_after: future })).tasks).toHaveLength(0);
      expect((await api.tasks("listTasks", { queues: [queue], created_before: future })).tasks).toHaveLength(7);
      const ready = await api.tasks("listReadyTasks", { queues: [queue], capabilities: ["cpu"] });
      expect(ready.tasks).toHaveLength(5); // the two gpu tasks need a capability the worker lacks
    });

    it("claims by id, extends the lease with progress, completes with the fencing token", async () => {
      const { task } = await api.tasks("createTask", { task: { queue: `${p}-claim` } });
      const claimed = await api.tasks("claimTask", { id: task.id, worker_id: `${p}-w1`, lease_duration: "5s" });
      expect(claimed.task.state).toBe("TASK_STATE_RUNNING");
      expect(claimed.task.attempt).toBe(1);
      expect(n(token(claimed))).toBe(1);
      expect(claimed.lease.worker_id).toBe(`${p}-w1`);
      const expiry = Date.parse(claimed.lease.expire_time);
      expect(expiry).toBeGreaterThan(Date.now() + 3_000);
      expectRefused(protocol, await failure(api.tasks("claimTask", { id: task.id, worker_id: `${p}-w2` })), "failed_precondition", "TASK_NOT_CLAIMABLE", 400);

      const hb = await api.tasks("heartbeatTask", { id: task.id, fencing_token: token(claimed), progress: 40, progress_message: "halfway", lease_duration: "20s" });
      expect(hb.cancel_requested).toBe(false);
      expect(Date.parse(hb.lease.expire_time)).toBeGreaterThan(expiry);
      expect((await api.tasks("getTask", { id: task.id })).task).toMatchObject({ progress: 40, progress_message: "halfway", worker_id: `${p}-w1` });

      const done = await api.tasks("completeTask", { id: task.id, fencing_token: token(claimed), result: { frames: 12 } });
      expect(done.task).toMatchObject({ state: "TASK_STATE_SUCCEEDED", result: { frames: 12 } });
      expect(done.task.finish_time).toBeTruthy();
      expectRefused(protocol, await failure(api.tasks("completeTask", { id: task.id, fencing_token: token(claimed), result: 2 })), "failed_precondition", "LEASE_LOST", 400);
    });

    it("claims up to N ready tasks, highest priority first then FIFO, skipping missing capabilities", async () => {
      const queue = `${p}-claimn`;
      const made = await api.tasks("batchCreateTasks", {
        requests: [
          { task: { queue, priority: 1, payload: "low-1" } },
          { task: { queue, priority: 9, payload: "high" } },
          { task: { queue, priority: 1, payload: "low-2" } },
          { task: { queue, priority: 5, payload: "gpu", required_capabilities: ["gpu"] } },
          { task: { queue, priority: 1, payload: "low-3" } },
        ],
      });
      expect(made.tasks).toHaveLength(5);
      const got = await api.tasks("claimTasks", { worker_id: `${p}-wn`, queues: [queue], max_tasks: 3, capabilities: ["cpu"] });
      expect(got.assignments.map((a: { task: { payload: string } }) => a.task.payload)).toEqual(["high", "low-1", "low-2"]);
      const batch = await api.tasks("batchCompleteTasks", {
        requests: [
          ...got.assignments.map((a: { task: { id: string }; lease: { fencing_token: string } }) => ({ id: a.task.id, fencing_token: a.lease.fencing_token, result: "ok" })),
          { id: made.tasks[4].id, fencing_token: "1", result: "not held" },
        ],
      });
      expect(batch.results.map((r: { ok: boolean }) => r.ok)).toEqual([true, true, true, false]);
      expect(batch.results[3].error_reason).toBe("LEASE_LOST");
      const untouched = (await api.tasks("getTask", { id: made.tasks[4].id })).task;
      expect(untouched.state).toBe("TASK_STATE_PENDING");
      expect(untouched.result).toBeUndefined();
      const rest = await api.tasks("claimTasks", { worker_id: `${p}-wn`, queues: [queue], max_tasks: 10, capabilities: ["gpu"] });
      expect(rest.assignments.map((a: { task: { payload: string } }) => a.task.payload)).toEqual(["gpu", "low-3"]);
      expect((await api.tasks("claimTasks", { worker_id: `${p}-wn`, queues: [queue], max_tasks: 10 })).assignments).toEqual([]);
    });

    it("sends a retryable failure back to pending after its backoff and dead-letters a non-retryable one", async () => {
      const queue = `${p}-fail`;
      const { task } = await api.tasks("createTask", { task: { queue, max_attempts: 3 } });
      const c1 = await api.tasks("claimTask", { id: task.id, worker_id: `${p}-wf` });
      const failedAt = Date.now();
      const f1 = await api.tasks("failTask", { id: task.id, fencing_token: token(c1), error: { message: "flaky", retryable: true, reason: "E_FLAKY" }, retry_delay: "0.6s" });
      expect(f1.task).toMatchObject({ state: "TASK_STATE_PENDING", attempt: 1, retry_count: 1, error: { message: "flaky", retryable: true, reason: "E_FLAKY" } });
      const runAt = Date.parse(f1.task.run_at);
      expect(runAt - Date.parse(f1.task.update_time)).toBe(600);
      // Not claimable before its run_at, by id or by queue.
      if (Date.now() < runAt - 100) {
        expectRefused(protocol, await failure(api.tasks("claimTask", { id: task.id, worker_id: `${p}-wf` })), "failed_precondition", "TASK_NOT_CLAIMABLE", 400);
        expect((await api.tasks("claimTasks", { worker_id: `${p}-wf`, queues: [queue] })).assignments).toEqual([]);
      }
      const c2 = await until("the retry to become claimable", async () => {
        const r = await api.tasks("claimTasks", { worker_id: `${p}-wf`, queues: [queue] });
        return r.assignments[0];
      });
      expect(Date.now()).toBeGreaterThanOrEqual(runAt);
      expect(Date.now() - failedAt).toBeGreaterThanOrEqual(590);
      expect(c2.task.attempt).toBe(2);
      expect(n(token(c2))).toBe(2);

      // The computed backoff of the second failure: base 1 s · 2, minus at most 20% jitter.
      const f2 = await api.tasks("failTask", { id: task.id, fencing_token: token(c2), error: { message: "flaky again", retryable: true } });
      const wait = Date.parse(f2.task.run_at) - Date.parse(f2.task.update_time);
      expect(wait).toBeGreaterThanOrEqual(1600);
      expect(wait).toBeLessThanOrEqual(2000);
      await api.tasks("cancelTask", { id: task.id, reason: "enough" });

      // Not retryable: failed for good, in the dead-letter list, retried by hand.
      const { task: t2 } = await api.tasks("createTask", { task: { queue, max_attempts: 3 } });
      const c3 = await api.tasks("claimTask", { id: t2.id, worker_id: `${p}-wf` });
      const f3 = await api.tasks("failTask", { id: t2.id, fencing_token: token(c3), error: { message: "bad input", retryable: false, details: { line: 3 } } });
      expect(f3.task).toMatchObject({ state: "TASK_STATE_FAILED", attempt: 1, error: { message: "bad input", retryable: false, details: { line: 3 } } });
      const dead = await api.tasks("listDeadLetterTasks", { queues: [queue] });
      expect(dead.tasks.map((t: { id: string }) => t.id)).toEqual([t2.id]);
      const retried = await api.tasks("retryTask", { id: t2.id });
      expect(retried.task).toMatchObject({ state: "TASK_STATE_PENDING", attempt: 0 });
      expect(retried.task.error).toBeUndefined();
      expect((await api.tasks("listDeadLetterTasks", { queues: [queue] })).tasks).toEqual([]);
      const c4 = await api.tasks("claimTask", { id: t2.id, worker_id: `${p}-wf` });
      expect(n(token(c4))).toBe(2);
      expect((await api.tasks("completeTask", { id: t2.id, fencing_token: token(c4), result: "second time" })).task.state).toBe("TASK_STATE_SUCCEEDED");
      expectRefused(protocol, await failure(api.tasks("retryTask", { id: t2.id })), "failed_precondition", "TASK_NOT_RETRYABLE", 400);

      // A retryable failure on the last attempt is final too.
      const { task: t3 } = await api.tasks("createTask", { task: { queue, max_attempts: 1 } });
      const c5 = await api.tasks("claimTask", { id: t3.id, worker_id: `${p}-wf` });
      const f5 = await api.tasks("failTask", { id: t3.id, fencing_token: token(c5), error: { message: "flaky", retryable: true } });
      expect(f5.task.state).toBe("TASK_STATE_FAILED");
    });

    it("releases a held task back to the queue with its attempt refunded", async () => {
      const { task } = await api.tasks("createTask", { task: { queue: `${p}-release` } });
      const c1 = await api.tasks("claimTask", { id: task.id, worker_id: `${p}-wr` });
      const released = await api.tasks("releaseTask", { id: task.id, fencing_token: token(c1) });
      expect(released.task).toMatchObject({ state: "TASK_STATE_PENDING", attempt: 0 });
      expect(released.task.lease).toBeUndefined();
      expectRefused(protocol, await failure(api.tasks("heartbeatTask", { id: task.id, fencing_token: token(c1) })), "failed_precondition", "LEASE_LOST", 400);
      const c2 = await api.tasks("claimTask", { id: task.id, worker_id: `${p}-wr2` });
      expect(c2.task.attempt).toBe(1);
      expect(n(token(c2))).toBe(2);
      // A release with a delay keeps it out of the ready set.
      await api.tasks("releaseTask", { id: task.id, fencing_token: token(c2), delay: "60s" });
      expect((await api.tasks("listReadyTasks", { queues: [`${p}-release`] })).tasks).toEqual([]);
    });

    it("cancels a running task: the holder sees cancel_requested on its next heartbeat and cannot complete", async () => {
      const { task } = await api.tasks("createTask", { task: { queue: `${p}-cancel` } });
      const c = await api.tasks("claimTask", { id: task.id, worker_id: `${p}-wc` });
      const cancelled = await api.tasks("cancelTask", { id: task.id, reason: "user asked" });
      expect(cancelled.task).toMatchObject({ state: "TASK_STATE_CANCELLED", error: { message: "user asked", reason: "CANCELLED" } });
      const hb = await api.tasks("heartbeatTask", { id: task.id, fencing_token: token(c), progress: 90 });
      expect(hb.cancel_requested).toBe(true);
      const refused = await failure(api.tasks("completeTask", { id: task.id, fencing_token: token(c), result: "late" }));
      expect(refused.code).toBe("failed_precondition");
      expect(["TASK_CANCELLED", "LEASE_LOST"]).toContain(refused.reason);
      const after = (await api.tasks("getTask", { id: task.id })).task;
      expect(after).toMatchObject({ state: "TASK_STATE_CANCELLED", progress: 0 });
      expect(after.result).toBeUndefined();
      expectRefused(protocol, await failure(api.tasks("cancelTask", { id: task.id })), "failed_precondition", "TASK_ALREADY_FINISHED", 400);
      // A pending task cancels too, and can be retried from CANCELLED.
      const { task: t2 } = await api.tasks("createTask", { task: { queue: `${p}-cancel` } });
      expect((await api.tasks("cancelTask", { id: t2.id })).task.state).toBe("TASK_STATE_CANCELLED");
      expect((await api.tasks("retryTask", { id: t2.id })).task.state).toBe("TASK_STATE_PENDING");
    });

    it("holds dependents BLOCKED until their dependency succeeds, and cancels them when it fails for good", async () => {
      const queue = `${p}-deps`;
      const { task: a } = await api.tasks("createTask", { task: { queue } });
      const { task: b } = await api.tasks("createTask", { task: { queue, depends_on: [a.id] } });
      expect(b.state).toBe("TASK_STATE_BLOCKED");
      expect((await api.tasks("listReadyTasks", { queues: [queue] })).tasks.map((t: { id: string }) => t.id)).toEqual([a.id]);
      expectRefused(protocol, await failure(api.tasks("claimTask", { id: b.id, worker_id: `${p}-wd` })), "failed_precondition", "TASK_NOT_CLAIMABLE", 400);
      const ca = await api.tasks("claimTask", { id: a.id, worker_id: `${p}-wd` });
      await api.tasks("completeTask", { id: a.id, fencing_token: token(ca) });
      expect((await api.tasks("getTask", { id: b.id })).task.state).toBe("TASK_STATE_PENDING");

      const { task: c } = await api.tasks("createTask", { task: { queue } });
      const { task: d } = await api.tasks("createTask", { task: { queue, depends_on: [c.id] } });
      const { task: e } = await api.tasks("createTask", { task: { queue, depends_on: [d.id, b.id] } });
      const cc = await api.tasks("claimTask", { id: c.id, worker_id: `${p}-wd` });
      await api.tasks("failTask", { id: c.id, fencing_token: token(cc), error: { message: "broken", retryable: false } });
      for (const t of [d, e]) {
        expect((await api.tasks("getTask", { id: t.id })).task).toMatchObject({ state: "TASK_STATE_CANCELLED", error: { reason: "DEPENDENCY_FAILED" } });
      }
      // Created on a dependency that already failed: cancelled at once.
      const { task: late } = await api.tasks("createTask", { task: { queue, depends_on: [c.id] } });
      expect(late.state).toBe("TASK_STATE_CANCELLED");
      const missing = await failure(api.tasks("createTask", { task: { queue, depends_on: ["task_missing"] } }));
      expectRefused(protocol, missing, "invalid_argument", "DEPENDENCY_NOT_FOUND", 400);
      expect(missing.field).toBe("depends_on[0]");
    });

    it("pauses a queue (no claims, running tasks finish) and resumes it", async () => {
      const queue = `${p}-pause`;
      const [{ task: running }, { task: waiting }] = [await api.tasks("createTask", { task: { queue } }), await api.tasks("createTask", { task: { queue } })];
      const c = await api.tasks("claimTask", { id: running.id, worker_id: `${p}-wp` });
      const paused = await api.queues("pauseQueue", { name: queue });
      expect(paused.queue).toMatchObject({ name: queue, paused: true });
      expect((await api.tasks("claimTasks", { worker_id: `${p}-wp`, queues: [queue] })).assignments).toEqual([]);
      expectRefused(protocol, await failure(api.tasks("claimTask", { id: waiting.id, worker_id: `${p}-wp` })), "failed_precondition", "QUEUE_PAUSED", 400);
      expect((await api.tasks("listReadyTasks", { queues: [queue] })).tasks).toEqual([]);
      expect((await api.tasks("completeTask", { id: running.id, fencing_token: token(c) })).task.state).toBe("TASK_STATE_SUCCEEDED");
      expect((await api.queues("getQueue", { name: queue })).queue).toMatchObject({ paused: true, counts: { pending: "1", succeeded: "1", total: "2" } });
      expect((await api.queues("resumeQueue", { name: queue })).queue.paused).toBe(false);
      const got = await api.tasks("claimTasks", { worker_id: `${p}-wp`, queues: [queue] });
      expect(got.assignments.map((a: { task: { id: string } }) => a.task.id)).toEqual([waiting.id]);
      const listed = await api.queues("listQueues", { page_size: 1000 });
      expect(listed.queues.find((q: { name: string }) => q.name === queue)).toMatchObject({ paused: false, counts: { running: "1", succeeded: "1" } });
    });

    it("creates, lists, applies and deletes queue configs, and reloads them from the YAML file", async () => {
      const name = `${p}-cfg`;
      const req = { config: { name, priority: 7, default_max_attempts: 5, mode: "QUEUE_MODE_ONE_SHOT", default_timeout: "90s", deployment: { image: "x" } }, request_id: `${p}-cfg-1` };
      const created = await api.queues("createQueueConfig", req);
      expect(created.config).toMatchObject({ name, priority: 7, default_max_attempts: 5, mode: "QUEUE_MODE_ONE_SHOT", default_timeout: "90s", source: "api", deployment: { image: "x" } });
      expect((await api.queues("createQueueConfig", req)).config.create_time).toBe(created.config.create_time);
      expectRefused(protocol, await failure(api.queues("createQueueConfig", { config: { name } })), "already_exists", "QUEUE_CONFIG_EXISTS", 409);
      // A runqy-style sub-queue takes its parent's config.
      const { task } = await api.tasks("createTask", { task: { queue: `${name}_high` } });
      expect(task).toMatchObject({ priority: 7, max_attempts: 5, timeout: "90s" });
      expect((await api.queues("getQueue", { name: `${name}_high` })).queue.config.name).toBe(name);
      const all = await api.queues("listQueueConfigs", { page_size: 1000 });
      expect(all.configs.map((c: { name: string }) => c.name)).toContain(name);

      writeFileSync(yamlPath, `queues:\n  ${p}-yaml:\n    priority: 3\n    max_attempts: 4\n    default_timeout_secs: 60\n    mode: long_running\n`);
      const loaded = await api.queues("reloadQueueConfigs", {});
      expect(loaded.added).toContain(`${p}-yaml`);
      expect((await api.queues("getQueueConfig", { name: `${p}-yaml` })).config).toMatchObject({
        priority: 3,
        default_max_attempts: 4,
        default_timeout: "60s",
        mode: "QUEUE_MODE_LONG_RUNNING",
        source: "yaml",
      });
      writeFileSync(yamlPath, `queues:\n  ${p}-yaml:\n    priority: 4\n`);
      expect((await api.queues("reloadQueueConfigs", {})).updated).toContain(`${p}-yaml`);
      writeFileSync(yamlPath, "queues: {}\n");
      const emptied = await api.queues("reloadQueueConfigs", {});
      expect(emptied.removed).toContain(`${p}-yaml`);
      expect(emptied.configs.map((c: { name: string }) => c.name)).toContain(name); // API configs stay
      writeFileSync(yamlPath, "queues: [1, 2]\n");
      expectRefused(protocol, await failure(api.queues("reloadQueueConfigs", {})), "failed_precondition", "QUEUE_CONFIG_FILE_INVALID", 400);
      writeFileSync(yamlPath, "queues: {}\n");

      expect((await api.queues("deleteQueueConfig", { name })).config.name).toBe(name);
      expectRefused(protocol, await failure(api.queues("getQueueConfig", { name })), "not_found", "QUEUE_CONFIG_NOT_FOUND", 404);
      expect((await api.tasks("getTask", { id: task.id })).task.priority).toBe(7); // tasks keep what they were given
    });

    it("reports statistics per state, per hour, per queue and per worker", async () => {
      const queue = `${p}-stats`;
      const worker = `${p}-stats-worker`;
      const made = await api.tasks("batchCreateTasks", { requests: [0, 1, 2, 3].map(() => ({ task: { queue } })) });
      const got = await api.tasks("claimTasks", { worker_id: worker, queues: [queue], max_tasks: 3 });
      const [a, b, c] = got.assignments;
      await api.tasks("completeTask", { id: a.task.id, fencing_token: token(a) });
      await api.tasks("failTask", { id: b.task.id, fencing_token: token(b), error: { message: "no", retryable: false } });
      expect(made.tasks).toHaveLength(4);
      const today = new Date().toISOString().slice(0, 10);
      const s = await api.tasks("getTaskStats", { queue, date: today });
      expect(s).toMatchObject({ date: today, total_tasks: "4", pending_tasks: "1", running_tasks: "1", successful_tasks: "1", failed_tasks: "1", cancelled_tasks: "0" });
      expect(s.counts).toMatchObject({ pending: "1", running: "1", succeeded: "1", failed: "1", total: "4" });
      expect(s.queues.map((q: { queue: string }) => q.queue)).toEqual([queue]);
      expect(s.top_servers[0]).toMatchObject({ worker_id: worker, tasks_processed: "2", success_count: "1", failure_count: "1", success_rate: 0.5 });
      expect(s.hourly_trend.reduce((sum: number, h: { tasks: string }) => sum + n(h.tasks), 0)).toBe(4);
      const hourly = await api.tasks("getHourlyTaskStats", { queue });
      expect(hourly.hours).toHaveLength(24);
      const hour = hourly.hours.find((h: { created: string }) => n(h.created) > 0);
      expect(hour).toMatchObject({ created: "4", completed: "1", failed: "1" });
      const w = await api.tasks("getWorkerTaskStats", { worker_id: worker });
      expect(w).toMatchObject({ running_tasks: "1", stats: { worker_id: worker, success_count: "1", failure_count: "1" } });
      await api.tasks("completeTask", { id: c.task.id, fencing_token: token(c) });
    });

    it("streams task events, filtered by queue and by task", async () => {
      const queue = `${p}-watch`;
      const byQueue = collect(api, "watchTaskEvents", { queues: [queue] });
      // The watch is live once a probe task's event arrives (SSE answers after the first event).
      await until("the watch to be live", async () => {
        if (byQueue.got.length > 0) return true;
        await api.tasks("createTask", { task: { queue, type: "probe" } });
        return byQueue.got.length > 0 ? true : undefined;
      }, 10_000, 50);
      const { task } = await api.tasks("createTask", { task: { queue, type: "real" } });
      const byTask = collect(api, "watchTaskEvents", { task_ids: [task.id] });
      const c = await until("the task watch to be live", async () => {
        await api.tasks("updateTask", { id: task.id, metadata: { ping: Date.now() } });
        return byTask.got.length > 0 ? true : undefined;
      }, 10_000, 50).then(() => api.tasks("claimTask", { id: task.id, worker_id: `${p}-ww` }));
      await api.tasks("heartbeatTask", { id: task.id, fencing_token: token(c), progress: 50 });
      await api.tasks("completeTask", { id: task.id, fencing_token: token(c), result: 1 });
      const kinds = () => byQueue.got.filter((m) => m.event.task.id === task.id).map((m) => m.event.kind);
      await until("the succeeded event", () => (kinds().includes("TASK_EVENT_KIND_SUCCEEDED") ? true : undefined));
      await until("the succeeded event on the task watch", () => (byTask.got.some((m) => m.event.kind === "TASK_EVENT_KIND_SUCCEEDED") ? true : undefined));
      await byQueue.stop();
      await byTask.stop();
      expect(byQueue.error).toBeUndefined();
      const ks = kinds();
      expect(ks[0]).toBe("TASK_EVENT_KIND_CREATED");
      expect(ks.slice(-3)).toEqual(["TASK_EVENT_KIND_CLAIMED", "TASK_EVENT_KIND_UPDATED", "TASK_EVENT_KIND_SUCCEEDED"]);
      const last = byQueue.got[byQueue.got.length - 1].event;
      expect(last).toMatchObject({ previous_state: "TASK_STATE_RUNNING", task: { state: "TASK_STATE_SUCCEEDED", result: 1 } });
      const seqs = byQueue.got.map((m) => n(m.event.sequence));
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(byQueue.got.every((m) => m.event.task.queue === queue)).toBe(true);
      expect(byTask.got.every((m) => m.event.task.id === task.id)).toBe(true);
      expect(byTask.got.map((m) => m.event.kind).slice(-3)).toEqual(["TASK_EVENT_KIND_CLAIMED", "TASK_EVENT_KIND_UPDATED", "TASK_EVENT_KIND_SUCCEEDED"]);
    });

    it("pushes tasks to a worker stream within its credits", async () => {
      const queue = `${p}-push`;
      const stream = collect(api, "connectWorker", { worker_id: `${p}-ws`, queues: [queue], credits: 1, lease_duration: "30s" });
      const session = await until("the session message", () => stream.got[0]?.session);
      expect(session.credits).toBe(1);
      const made = await api.tasks("batchCreateTasks", { requests: [0, 1, 2].map((i) => ({ task: { queue, payload: i } })) });
      const assigned = () => stream.got.filter((m) => m.assigned).map((m) => m.assigned);
      const first = await until("the first push", () => assigned()[0]);
      expect(first.task).toMatchObject({ id: made.tasks[0].id, state: "TASK_STATE_RUNNING", worker_id: `${p}-ws` });
      // One credit: nothing more until the first is done.
      expect((await api.queues("getQueue", { name: queue })).queue.counts).toMatchObject({ running: "1", pending: "2" });
      expect(assigned()).toHaveLength(1);
      await api.tasks("completeTask", { id: first.task.id, fencing_token: first.lease.fencing_token });
      const second = await until("the second push", () => assigned()[1]);
      expect(second.task.id).toBe(made.tasks[1].id);
      expect((await api.tasks("grantWorkerCredits", { session_id: session.session_id, credits: 5 })).credits).toBeGreaterThanOrEqual(5);
      const third = await until("the third push", () => assigned()[2]);
      expect(third.task.id).toBe(made.tasks[2].id);
      await stream.stop();
      expect(stream.error).toBeUndefined();
    });
  });
}

describe("what the lifecycle left in the database file", () => {
  it("holds exactly one task per request_id and an intact file", () => {
    const db = new Database(server.config.databasePath, { readonly: true });
    try {
      const dupes = db.query("SELECT request_id, count(*) AS c FROM tasks WHERE request_id IS NOT NULL GROUP BY request_id HAVING c > 1").all();
      expect(dupes).toEqual([]);
      const created = db.query("SELECT count(*) AS c FROM tasks WHERE request_id LIKE '%-req-1'").get() as { c: number };
      expect(created.c).toBe(PROTOCOLS.length);
      expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    } finally {
      db.close();
    }
  });
});
