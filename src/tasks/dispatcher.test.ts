import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { describeDialects } from "../testing/dialects.ts";
import { openDialectEngine, openTestEngine, type TestEngine } from "./testing.ts";
import type { WorkerMessage } from "./types.ts";

let t: TestEngine;

// Lets the dispatch rounds that the last step started run, then waits for a write queued after
// them: answers come in commit order, so their pushes have been sent by the time it returns
// (the commit's fsync is off the event loop, so a timer alone may fire before it).
const settle = async () => {
  await new Promise((r) => setTimeout(r, 20));
  await t.flush();
};

function worker(credits: number, queues = ["q"]) {
  const got: WorkerMessage[] = [];
  const session = t.engine.connectWorker({ workerId: `w${Math.random()}`, queues, credits }, (m) => got.push(m));
  const assigned = () => got.flatMap((m) => (m.kind === "assigned" ? [m.assignment] : []));
  return { session, got, assigned };
}

describeDialects("task dispatcher", (open, dialect) => {
  beforeEach(async () => {
    t = await openDialectEngine(open, dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  describe("worker streams", () => {
    it("sends the session info first, then pushes tasks as they are created", async () => {
      const w = worker(10);
      expect(w.got[0]).toMatchObject({ kind: "session", sessionId: w.session.sessionId, credits: 10 });
      await t.engine.createTask({ queue: "q", id: "a" });
      await settle();
      expect(w.assigned().map((a) => [a.task.id, a.task.state, a.lease.fencingToken])).toEqual([["a", "running", 1]]);
    });

    it("never pushes more than the credits; a completion frees one", async () => {
      const w = worker(2);
      await t.engine.batchCreateTasks(Array.from({ length: 5 }, (_, i) => ({ queue: "q", id: `t${i}` })));
      await settle();
      expect(w.assigned()).toHaveLength(2);
      const first = w.assigned()[0]!;
      await t.engine.completeTask({ id: first.task.id, fencingToken: first.lease.fencingToken });
      await settle();
      expect(w.assigned()).toHaveLength(3);
      expect(t.engine.grantWorkerCredits(w.session.sessionId, 5)).toBe(5);
      await settle();
      expect(w.assigned()).toHaveLength(5);
    });

    it("shares the load between two sessions", async () => {
      const a = worker(3);
      const b = worker(3);
      await t.engine.batchCreateTasks(Array.from({ length: 6 }, () => ({ queue: "q" })));
      await settle();
      expect(a.assigned()).toHaveLength(3);
      expect(b.assigned()).toHaveLength(3);
    });

    it("does not push from a paused queue and pushes when it resumes", async () => {
      await t.engine.pauseQueue("q");
      const w = worker(5);
      await t.engine.createTask({ queue: "q" });
      await settle();
      expect(w.assigned()).toHaveLength(0);
      await t.engine.resumeQueue("q");
      await settle();
      expect(w.assigned()).toHaveLength(1);
    });

    it("sends a cancel notice to the holder and frees its credit", async () => {
      const w = worker(1);
      await t.engine.batchCreateTasks([{ queue: "q", id: "a" }, { queue: "q", id: "b" }]);
      await settle();
      await t.engine.cancelTask({ id: "a" });
      await settle();
      expect(w.got.find((m) => m.kind === "cancel")).toEqual({ kind: "cancel", taskId: "a", fencingToken: 1, reason: "cancelled" });
      expect(w.assigned().map((x) => x.task.id)).toEqual(["a", "b"]);
    });

    it("leaves the leases of a closed session to expire, then redelivers the tasks", async () => {
      const w = worker(1);
      await t.engine.createTask({ queue: "q", id: "a" });
      await settle();
      w.session.close();
      expect((await t.engine.getTask("a")).state).toBe("running");
      const v = worker(1);
      t.clock.advance(30_000);
      await t.engine.tick();
      await settle();
      expect(v.assigned().map((x) => [x.task.id, x.lease.fencingToken])).toEqual([["a", 2]]);
    });

    it("gives back a task claimed for a session whose send fails", async () => {
      let calls = 0;
      t.engine.connectWorker({ workerId: "broken", queues: ["q"], credits: 1 }, () => {
        if (calls++ > 0) throw new Error("stream gone");
      });
      await t.engine.createTask({ queue: "q", id: "a" });
      await settle();
      expect((await t.engine.getTask("a"))).toMatchObject({ state: "pending", attempt: 0 });
    });

    it("pings every session with its credits", async () => {
      const own = openTestEngine({ pingIntervalMs: 5 });
      const got: WorkerMessage[] = [];
      own.engine.connectWorker({ workerId: "w", queues: ["q"], credits: 4 }, (m) => got.push(m));
      own.engine.start(1_000_000);
      await new Promise((r) => setTimeout(r, 30));
      await own.close();
      expect(got.find((m) => m.kind === "ping")).toMatchObject({ kind: "ping", credits: 4, serverTime: own.clock.now() });
    });
  });
});
