import { afterEach, expect, it } from "bun:test";
import { Database as Sqlite } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type Database } from "../db/client.ts";
import { createSqliteVecIndex } from "./sqlite-vec.ts";

let dir: string;
let db: Database | undefined;
afterEach(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

it("creates a model's vector table as a write of the group committer, answered after its sync", async () => {
  dir = mkdtempSync(join(tmpdir(), "switchyard-vec-"));
  db = openDatabase(join(dir, "switchyard.db"));
  const { committer } = db;
  const index = createSqliteVecIndex(db.sqlite, { write: (work) => committer.run(work) });
  const before = { ...committer.stats };
  await index.ensure("m1", 8);
  // A group of its own that changed something (DDL and the model's row), so it had a sync.
  expect(committer.stats.groups).toBe(before.groups + 1);
  expect(committer.stats.unchanged).toBe(before.unchanged);
  expect(committer.stats.syncs).toBe(before.syncs + 1);
  // Committed: another connection sees the model and its table.
  const other = new Sqlite(join(dir, "switchyard.db"), { readonly: true });
  expect(other.query("SELECT model, dimensions FROM memory_vector_models").all()).toEqual([{ model: "m1", dimensions: 8 }]);
  expect(other.query("SELECT count(*) AS n FROM sqlite_master WHERE name = 'memory_vec_m1_8'").get()).toEqual({ n: 1 });
  other.close();
  // Ensured already: no second write.
  await index.ensure("m1", 8);
  expect(committer.stats.groups).toBe(before.groups + 1);
});
