import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { AppError } from "../core/errors.ts";
import { describeDialects } from "../testing/dialects.ts";
import { openDialectEngine, type TestEngine } from "./testing.ts";
import type { WorkerMessage } from "./types.ts";

let t: TestEngine;

async function reason(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
    return "ok";
  } catch (e) {
    if (e instanceof AppError) return e.reason;
    throw e;
  }
}

describeDialects("task engine tenants", (open, dialect) => {
  beforeEach(async () => {
    t = await openDialectEngine(open, dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  describe("tenants in the task engine (engine.scoped)", () => {
    it("keeps ids, request ids and queue names per tenant", async () => {
      const a = t.engine.scoped("acme");
      const b = t.engine.scoped("globex");
      const ta = await a.createTask({ id: "t1", queue: "default", type: "a", requestId: "r1" });
      const tb = await b.createTask({ id: "t1", queue: "default", type: "b", requestId: "r1" });
      expect([ta.replayed, tb.replayed]).toEqual([false, false]);
      expect((await a.getTask("t1")).type).toBe("a");
      expect((await b.getTask("t1")).type).toBe("b");
      expect((await a.getTask("t1")).tenant).toBe("acme");
      expect(await reason(() => t.engine.getTask("t1"))).toBe("TASK_NOT_FOUND");
      expect((await a.getQueue("default")).counts.total).toBe(1);
      expect((await b.listTasks({})).items.map((x) => x.type)).toEqual(["b"]);
    });

    it("refuses a dependency on another tenant's task as if it did not exist", async () => {
      const a = t.engine.scoped("acme");
      const b = t.engine.scoped("globex");
      const dep = (await a.createTask({ queue: "q" })).task;
      expect(await reason(b.createTask({ queue: "q", dependsOn: [dep.id] }))).toBe("DEPENDENCY_NOT_FOUND");
    });

    it("claims, pauses and counts per tenant; worker streams get only their tenant's tasks", async () => {
      const a = t.engine.scoped("acme");
      const b = t.engine.scoped("globex");
      await a.createTask({ queue: "q", type: "a" });
      await b.createTask({ queue: "q", type: "b" });
      await a.pauseQueue("q");
      expect((await b.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 10 })).map((x) => x.task.type)).toEqual(["b"]);
      expect(await a.claimTasks({ workerId: "w", queues: ["q"], maxTasks: 10 })).toEqual([]);
      await a.resumeQueue("q");
      await b.createTask({ queue: "q", type: "b2" });
      const got: WorkerMessage[] = [];
      const session = a.connectWorker({ workerId: "wa", queues: ["q"], credits: 10 }, (m) => got.push(m));
      const deadline = Date.now() + 5000;
      while (!got.some((m) => m.kind === "assigned") && Date.now() < deadline) await Bun.sleep(5);
      await Bun.sleep(20);
      expect(got.filter((m) => m.kind === "assigned").map((m) => (m.kind === "assigned" ? m.assignment.task.type : ""))).toEqual(["a"]);
      expect(await reason(() => b.grantWorkerCredits(session.sessionId, 1))).toBe("SESSION_NOT_FOUND");
      expect(a.grantWorkerCredits(session.sessionId, 1)).toBeGreaterThan(0);
      session.close();
      expect((await b.getTaskStats({})).totalTasks).toBe(2);
      expect((await a.getTaskStats({})).totalTasks).toBe(1);
    });

    it("reaps expired leases of every tenant, and keeps configs per tenant (YAML reload: default only)", async () => {
      const a = t.engine.scoped("acme");
      const made = (await a.createTask({ queue: "q" })).task;
      await a.claimTask({ id: made.id, workerId: "w", leaseMs: 1000 });
      t.clock.advance(2000);
      expect((await t.engine.tick()).expired).toBe(1);
      expect((await a.getTask(made.id)).state).toBe("pending");
      await a.createQueueConfig({ name: "q", priority: 7 });
      expect((await a.getQueueConfig("q")).priority).toBe(7);
      expect(await reason(() => t.engine.scoped("globex").getQueueConfig("q"))).toBe("QUEUE_CONFIG_NOT_FOUND");
      expect((await a.createTask({ queue: "q" })).task.priority).toBe(7);
      expect((await t.engine.scoped("globex").createTask({ queue: "q" })).task.priority).toBe(0);
      expect(await reason(a.reloadQueueConfigs())).toBe("QUEUE_CONFIG_FILE_MISSING");
    });
  });
});
