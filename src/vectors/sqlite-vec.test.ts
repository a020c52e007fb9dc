import { expect, test } from "bun:test";
import { Database as Sqlite } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../db/client.ts";
import { createSqliteVecIndex, loadSqliteVec, sqliteVecPath } from "./sqlite-vec.ts";
import { describeVectorIndex } from "./vector-index.contract.ts";

for (const quantization of ["float", "bit"] as const) {
  describeVectorIndex(`sqlite-vec (${quantization})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-vec-"));
    const database = openDatabase(join(dir, "db.sqlite"));
    const index = createSqliteVecIndex(database.sqlite, { quantization });
    return {
      index,
      inTransaction: (fn) => database.committer.run(fn),
      async close() {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

test("loads the extension file the sqlite-vec package itself would load", async () => {
  const { getLoadablePath } = await import("sqlite-vec");
  expect(sqliteVecPath()).toBe(getLoadablePath());
  const sqlite = new Sqlite(":memory:");
  loadSqliteVec(sqlite);
  loadSqliteVec(sqlite); // idempotent
  expect((sqlite.query("SELECT vec_version() AS v").get() as { v: string }).v).toMatch(/^v\d+\.\d+/);
  sqlite.close();
});
