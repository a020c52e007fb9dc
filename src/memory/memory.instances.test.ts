import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import type { AppError } from "../core/errors.ts";
import { openDatabase, type Database } from "../db/client.ts";
import { openPostgresDatabase } from "../db/open.ts";
import { freshPostgresUrl } from "../testing/postgres.ts";
import { openMemoryOn } from "./testing.ts";

/**
 * Two memory domains over one PostgreSQL URL, as two Switchyard instances: each sees the
 * other's writes at once (no cache of rows), concurrent writes of one memory add up, a request
 * id retried on both answers one memory, and a task one instance creates is run by the other's
 * worker (tenants with work are rediscovered, not only learnt from this instance's creates).
 * The task engine lives in one SQLite file both share until it has its PostgreSQL store.
 */
const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",");
(wanted.includes("postgres") ? describe : describe.skip)("two memory instances on one PostgreSQL", () => {
  let dir: string;
  let tasksDb: Database;
  const dbs: Database[] = [];
  let one: Awaited<ReturnType<typeof openMemoryOn>>;
  let two: Awaited<ReturnType<typeof openMemoryOn>>;
  const clock = createManualClock(Date.now());
  const T = "tenant-shared";

  beforeAll(async () => {
    const url = await freshPostgresUrl("memory-instances");
    dbs.push(await openPostgresDatabase(url), await openPostgresDatabase(url));
    dir = mkdtempSync(join(tmpdir(), "switchyard-memory-instances-"));
    tasksDb = openDatabase(join(dir, "tasks.db"));
    // Instance one never runs tasks (its worker is stopped); instance two's worker runs them all.
    one = await openMemoryOn(dbs[0]!, { engineOn: tasksDb, clock, workerId: "instance-one", start: false });
    two = await openMemoryOn(dbs[1]!, { engineOn: tasksDb, clock, workerId: "instance-two", rediscoverMs: 50 });
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await two?.close();
    for (const db of dbs) await db.close().catch(() => {});
    await tasksDb?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const mk = (m: Awaited<ReturnType<typeof openMemoryOn>>, content: string, requestId?: string) =>
    m.memory.memories.create(T, [{ type: "note", content, requestId }], () => "memory.").then((r) => r.memories[0]!);

  it("each instance reads, searches and changes what the other wrote", async () => {
    const m = await mk(one, "written by instance one about the flux capacitor");
    expect((await two.memory.memories.get(T, m.id)).content).toBe(m.content);
    expect((await two.memory.search.fullText(T, { query: "capacitor" })).map((h) => h.memory.id)).toEqual([m.id]);
    await two.memory.memories.update(T, m.id, { importance: 0.95, tags: ["two"] });
    expect(await one.memory.memories.get(T, m.id)).toMatchObject({ importance: 0.95, tags: ["two"], accessCount: 2 });
    expect((await one.memory.stats(T, {})).total).toBe(1);
    await one.memory.memories.delete(T, m.id);
    const gone = (await two.memory.memories.get(T, m.id).catch((e) => e)) as AppError;
    expect(gone.reason).toBe("MEMORY_NOT_FOUND");
    expect(await two.memory.search.fullText(T, { query: "capacitor" })).toEqual([]);
  });

  it("concurrent reads on both instances count every access", async () => {
    const m = await mk(one, "read by both");
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).memory.memories.get(T, m.id)));
    expect((await one.memory.memories.get(T, m.id)).accessCount).toBe(21);
  });

  it("one request id sent to both instances at once stores one memory", async () => {
    for (let i = 0; i < 5; i++) {
      const [a, b] = await Promise.all([mk(one, `retried create ${i}`, `req-${i}`), mk(two, `retried create ${i} (second copy)`, `req-${i}`)]);
      expect(a.id).toBe(b.id);
    }
    const rows = (await two.memory.memories.list(T, { pageSize: 100 })).memories.filter((m) => m.content.startsWith("retried create"));
    expect(rows).toHaveLength(5);
  });

  it("a compaction created on one instance is run by the other's worker, which had seen no work for that tenant", async () => {
    const U = "tenant-late";
    // Let instance two's worker poll (and find no tenant with work) before the task exists.
    await Bun.sleep(150);
    const keep = await one.memory.memories.create(U, [{ type: "n", content: "Same words, once", importance: 0.9 }], () => "");
    const dup = await one.memory.memories.create(U, [{ type: "n", content: "same words,   ONCE", importance: 0.2 }], () => "");
    const out = await one.memory.compact(U, { merge: { similarityThreshold: 0.95 } }, 20_000);
    expect(out.task.state).toBe("succeeded");
    expect(out.report!.merges).toEqual([{ survivorId: keep.memories[0]!.id, mergedIds: [dup.memories[0]!.id], minSimilarity: 1 }]);
    expect((await two.memory.memories.list(U, {})).memories.map((m) => m.id)).toEqual([keep.memories[0]!.id]);
  });

  it("a compaction asked of both instances at once runs once: the other answers COMPACTION_IN_PROGRESS", async () => {
    const V = "tenant-race";
    await one.memory.memories.create(V, [{ type: "n", content: "race" }, { type: "n", content: "RACE" }], () => "");
    for (let round = 0; round < 4; round++) {
      const outcomes = await Promise.allSettled([one.memory.compact(V, {}, 20_000), two.memory.compact(V, {}, 20_000)]);
      const ok = outcomes.filter((o) => o.status === "fulfilled");
      const refused = outcomes.filter((o) => o.status === "rejected").map((o) => ((o as PromiseRejectedResult).reason as AppError).reason);
      expect(ok).toHaveLength(1);
      expect((ok[0] as PromiseFulfilledResult<{ task: { state: string } }>).value.task.state).toBe("succeeded");
      expect(refused).toEqual(["COMPACTION_IN_PROGRESS"]);
    }
    // Every task that lost the race was cancelled, none runs.
    const tasks = (await one.engine.scoped(V).listTasks({ queues: ["memory.compaction"], pageSize: 100 })).items;
    expect(tasks.filter((x) => x.state === "succeeded")).toHaveLength(4);
    expect(tasks.every((x) => x.state === "succeeded" || x.state === "cancelled")).toBe(true);
  }, 60_000);
});
