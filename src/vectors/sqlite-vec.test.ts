import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../db/client.ts";
import { createSqliteVecIndex } from "./sqlite-vec.ts";
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
