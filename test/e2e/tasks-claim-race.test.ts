// Claim race through the server: 16 claimers in 2 OS processes, each on its own gRPC
// connection, over 10,000 tasks. Every task is claimed exactly once per attempt and none is
// lost, checked with SQL on the database file afterwards.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { failsFirst } from "./helpers/claim-race-client.ts";
import { taskApi } from "./helpers/task-api.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const TASKS = 10_000;
const PROCESSES = 2;
const CLAIMERS = 8; // per process

describe("the claim race through the server", () => {
  it(
    `hands each of ${TASKS} tasks to exactly one of ${PROCESSES * CLAIMERS} claimers per attempt, and loses none`,
    async () => {
      const api = taskApi(server.url, "grpc");
      for (let i = 0; i < TASKS; i += 1000) {
        await api.tasks("batchCreateTasks", { requests: Array.from({ length: 1000 }, (_, j) => ({ task: { queue: "race", payload: i + j, max_attempts: 3 } })) });
      }
      const barrier = join(server.dataDir, "race");
      const procs = Array.from({ length: PROCESSES }, () =>
        Bun.spawn(["bun", join(import.meta.dir, "helpers/claim-race-client.ts"), server.url, String(CLAIMERS), "16", "race", barrier], { stdout: "pipe", stderr: "pipe" }),
      );
      const deadline = Date.now() + 20_000;
      while (!procs.every((p) => existsSync(`${barrier}.ready.${p.pid}`))) {
        if (Date.now() > deadline) throw new Error("the claimer processes did not start");
        await Bun.sleep(5);
      }
      await Bun.write(`${barrier}.go`, "");
      const outputs = await Promise.all(procs.map((p) => new Response(p.stdout).text()));
      const errors = await Promise.all(procs.map((p) => new Response(p.stderr).text()));
      const codes = await Promise.all(procs.map((p) => p.exited));
      expect({ codes, errors }).toEqual({ codes: procs.map(() => 0), errors: procs.map(() => "") });

      const perProcess = outputs.map((o) => JSON.parse(o) as string[]);
      for (const claims of perProcess) expect(claims.length).toBeGreaterThan(TASKS / 10); // both processes really raced
      const claims = perProcess.flat();
      expect(new Set(claims).size).toBe(claims.length); // no (task, token) handed out twice

      const db = new Database(server.config.databasePath, { readonly: true });
      try {
        const rows = db.query("SELECT id, state, attempt, fencing_token, worker_id, retry_count FROM tasks WHERE queue = 'race'").all() as {
          id: string;
          state: number;
          attempt: number;
          fencing_token: number;
          worker_id: string;
          retry_count: number;
        }[];
        expect(rows).toHaveLength(TASKS);
        const byTask = new Map<string, number[]>();
        for (const c of claims) {
          const [id, token] = c.split(":") as [string, string];
          byTask.set(id, [...(byTask.get(id) ?? []), Number(token)]);
        }
        let retried = 0;
        for (const r of rows) {
          const want = failsFirst(r.id) ? 2 : 1;
          retried += want - 1;
          expect({ id: r.id, state: r.state, attempt: r.attempt, token: r.fencing_token, retries: r.retry_count }).toEqual({
            id: r.id,
            state: 4,
            attempt: want,
            token: want,
            retries: want - 1,
          });
          // Claimed once per attempt, with tokens 1..attempt.
          expect((byTask.get(r.id) ?? []).sort()).toEqual(want === 2 ? [1, 2] : [1]);
        }
        expect(retried).toBeGreaterThan(TASKS / 10);
        expect(claims).toHaveLength(TASKS + retried);
        const workers = db.query("SELECT count(DISTINCT worker_id) AS n, count(DISTINCT substr(worker_id, 1, instr(worker_id, '-') - 1)) AS pids FROM tasks WHERE queue = 'race'").get();
        expect(workers).toEqual({ n: PROCESSES * CLAIMERS, pids: PROCESSES });
        expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      } finally {
        db.close();
      }
    },
    60_000,
  );
});
