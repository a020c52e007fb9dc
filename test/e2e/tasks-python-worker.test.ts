// Python grpcio workers on the worker stream: one processes a batch of 1,000 tasks, a second
// joins halfway and shares the load; every task succeeds exactly once, checked in the file.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { preparePython, runPython } from "../../src/testing/python.ts";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";
import { taskApi, until } from "./helpers/task-api.ts";

let server: TestServer;
let py: { python: string; stubs: string };
beforeAll(async () => {
  py = await preparePython();
  server = await startTestServer();
}, 180_000);
afterAll(() => server?.close());

const TOTAL = 1000;
type WorkerOut = { worker: string; completed: string[]; refused: unknown[]; session: string | null };

describe("Python workers on the worker stream", () => {
  it(
    "process 1,000 tasks with fencing tokens; a second worker joining halfway shares the load",
    async () => {
      const api = taskApi(server.url, "grpc");
      await api.tasks("batchCreateTasks", { requests: Array.from({ length: TOTAL }, (_, i) => ({ task: { queue: "py-work", payload: i } })) });
      const worker = (id: string) =>
        runPython(py.python, [join(repoRoot, "test/python/task_worker.py"), `127.0.0.1:${server.port}`, py.stubs, id, "py-work", String(TOTAL), "5", "4"], 110_000) as Promise<
          unknown
        > as Promise<WorkerOut>;
      const first = worker("py-a");
      // The second worker starts when half of the batch is done.
      await until(
        "the first worker to be halfway",
        async () => {
          const q = await api.queues("getQueue", { name: "py-work" });
          return Number(q.queue.counts.succeeded) >= TOTAL / 2 ? true : undefined;
        },
        60_000,
        50,
      );
      const second = worker("py-b");
      const [a, b] = await Promise.all([first, second]);

      expect(a.session).toBeTruthy();
      expect(b.session).toBeTruthy();
      expect(a.session).not.toBe(b.session);
      expect([...a.refused, ...b.refused]).toEqual([]);
      const all = [...a.completed, ...b.completed];
      expect(all).toHaveLength(TOTAL);
      expect(new Set(all).size).toBe(TOTAL);
      expect(a.completed.length).toBeGreaterThanOrEqual(TOTAL / 2);
      console.log(`shares: py-a ${a.completed.length}, py-b ${b.completed.length}`);
      expect(b.completed.length).toBeGreaterThanOrEqual(TOTAL / 10); // a meaningful share after joining

      const db = new Database(server.config.databasePath, { readonly: true });
      try {
        const rows = db.query("SELECT worker_id, count(*) AS n, sum(state = 4) AS ok, max(attempt) AS maxAttempt, max(fencing_token) AS maxToken FROM tasks WHERE queue = 'py-work' GROUP BY worker_id ORDER BY worker_id").all();
        expect(rows).toEqual([
          { worker_id: "py-a", n: a.completed.length, ok: a.completed.length, maxAttempt: 1, maxToken: 1 },
          { worker_id: "py-b", n: b.completed.length, ok: b.completed.length, maxAttempt: 1, maxToken: 1 },
        ]);
        // Each result was written by the worker that held the task, for that task's payload.
        const wrong = db.query("SELECT count(*) AS n FROM tasks WHERE queue = 'py-work' AND result != json_quote(worker_id || ':' || payload)").get();
        expect(wrong).toEqual({ n: 0 });
      } finally {
        db.close();
      }
    },
    120_000,
  );
});
