// Crash: the server runs as a child process while a producer creates tasks in batches and
// workers complete them (holding some without finishing); SIGKILL mid-way; a restart on the same
// data dir keeps every acknowledged write and redelivers the held tasks after their lease.
import { describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, waitForHttp } from "../../src/testing/server.ts";
import { taskApi, until } from "./helpers/task-api.ts";

function spawnServer(port: number, dataDir: string) {
  return Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_SHUTDOWN_GRACE_MS: "1000" },
    stdout: "ignore",
    stderr: "pipe",
  });
}

const holds = (id: string) => Number(Bun.hash(id) % 5n) === 0;

describe("a server killed mid-work", () => {
  it("loses no acknowledged create or completion, redelivers held tasks after their lease, and keeps an intact file", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-crash-"));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let proc = spawnServer(port, dataDir);
    try {
      await waitForHttp(`${url}/healthz`);
      const api = taskApi(url, "grpc");
      const acked: string[] = [];
      const completed: string[] = [];
      const held = new Map<string, { token: number; leaseEnd: number; attempt: number }>();
      let stop = false;

      const producer = (async () => {
        for (let batch = 0; !stop; batch++) {
          const ids = Array.from({ length: 50 }, (_, j) => `crash-${batch}-${j}`);
          try {
            await api.tasks("batchCreateTasks", { requests: ids.map((id) => ({ task: { id, queue: "crash", payload: id } })) });
          } catch {
            return; // the server is gone; this batch was never acknowledged
          }
          acked.push(...ids);
        }
      })();
      const worker = async (name: string) => {
        while (!stop) {
          try {
            const { assignments } = await api.tasks("claimTasks", { worker_id: name, queues: ["crash"], max_tasks: 20, lease_duration: "3s" });
            const done = [];
            for (const a of assignments) {
              // A slow machine may let a held lease run out before the crash: the task is then
              // redelivered (and held again), so what is recorded is the latest delivery.
              if (holds(a.task.id)) held.set(a.task.id, { token: Number(a.lease.fencing_token), leaseEnd: Date.parse(a.lease.expire_time), attempt: a.task.attempt });
              else done.push({ id: a.task.id, fencing_token: a.lease.fencing_token, result: name });
            }
            if (done.length === 0) {
              await Bun.sleep(5);
              continue;
            }
            const { results } = await api.tasks("batchCompleteTasks", { requests: done });
            for (const r of results) if (r.ok) completed.push(r.id);
          } catch {
            return;
          }
        }
      };
      const workers = [worker("w1"), worker("w2")];

      await until("enough work before the crash", () => (acked.length >= 2000 && completed.length >= 500 && held.size >= 50 ? true : undefined), 30_000, 10);
      const killedAt = Date.now();
      proc.kill("SIGKILL");
      expect(await proc.exited).not.toBe(0);
      stop = true;
      await Promise.all([producer, ...workers]);

      // The file as the crash left it.
      const db = new Database(join(dataDir, "switchyard.db"));
      try {
        expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
        const rows = new Map((db.query("SELECT id, state, fencing_token FROM tasks WHERE queue = 'crash'").all() as { id: string; state: number; fencing_token: number }[]).map((r) => [r.id, r]));
        expect(acked.filter((id) => !rows.has(id))).toEqual([]);
        expect(completed.filter((id) => rows.get(id)?.state !== 4)).toEqual([]);
        // A held task whose lease ran out before the kill may already have been reaped (slow
        // machine): only those still leased at the kill must be on disk as running.
        for (const [id, h] of held) {
          if (h.leaseEnd <= killedAt + 100) continue;
          expect({ id, state: rows.get(id)?.state, token: rows.get(id)?.fencing_token }).toEqual({ id, state: 3, token: h.token });
        }
      } finally {
        db.close();
      }

      // Restart on the same data dir and drain the queue with a new worker.
      proc = spawnServer(port, dataDir);
      await waitForHttp(`${url}/healthz`);
      const redelivered = new Map<string, { token: number; start: number; attempt: number }>();
      await until(
        "every task to be finished after the restart",
        async () => {
          const { assignments } = await api.tasks("claimTasks", { worker_id: "after", queues: ["crash"], max_tasks: 200, lease_duration: "30s" });
          for (const a of assignments) {
            if (held.has(a.task.id)) redelivered.set(a.task.id, { token: Number(a.lease.fencing_token), start: Date.parse(a.task.start_time), attempt: a.task.attempt });
          }
          if (assignments.length) {
            await api.tasks("batchCompleteTasks", { requests: assignments.map((a: any) => ({ id: a.task.id, fencing_token: a.lease.fencing_token, result: "after" })) });
          }
          const q = (await api.queues("getQueue", { name: "crash" })).queue;
          return Number(q.counts.pending) + Number(q.counts.running) === 0 ? q : undefined;
        },
        30_000,
        100,
      );
      expect([...held.keys()].filter((id) => !redelivered.has(id))).toEqual([]);
      for (const [id, h] of held) {
        const r = redelivered.get(id)!;
        expect({ id, token: r.token, attempt: r.attempt }).toEqual({ id, token: h.token + 1, attempt: h.attempt + 1 });
        expect(r.start).toBeGreaterThanOrEqual(h.leaseEnd); // not before the old lease ran out
      }
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);

      const after = new Database(join(dataDir, "switchyard.db"));
      try {
        expect(after.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
        const ids = new Set((after.query("SELECT id FROM tasks WHERE queue = 'crash' AND state = 4").all() as { id: string }[]).map((r) => r.id));
        expect(acked.filter((id) => !ids.has(id))).toEqual([]);
        expect(after.query("SELECT count(*) AS n FROM tasks WHERE queue = 'crash' AND state != 4").get()).toEqual({ n: 0 });
        // Completions acknowledged before the crash kept their first holder's result.
        const kept = after.query("SELECT count(*) AS n FROM tasks WHERE id IN (SELECT value FROM json_each(?)) AND result = '\"after\"'").get(JSON.stringify(completed));
        expect(kept).toEqual({ n: 0 });
      } finally {
        after.close();
      }
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
