import { afterAll, describe } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type Database } from "../db/client.ts";
import type { Dialect } from "../db/dialect.ts";
import { openPostgresDatabase } from "../db/open.ts";
import { freshPostgresUrl } from "./postgres.ts";

/** Opens a fresh, migrated database of one dialect for a test; closed and removed after the file. */
export type OpenFresh = () => Promise<Database>;

/**
 * One contract suite, run on both dialects: `body` is called inside `describe("<name> [sqlite]")`
 * and `describe("<name> [postgres]")` with a function that opens a fresh database (a SQLite file
 * in a temp folder, or a new database on the test process's PostgreSQL server). Set
 * `SWITCHYARD_TEST_DIALECTS=sqlite` to run only one.
 */
export function describeDialects(name: string, body: (open: OpenFresh, dialect: Dialect) => void): void {
  const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",");
  for (const dialect of ["sqlite", "postgres"] as const) {
    if (!wanted.includes(dialect)) continue;
    describe(`${name} [${dialect}]`, () => {
      const opened: { db: Database; dir?: string }[] = [];
      afterAll(async () => {
        for (const o of opened) {
          await o.db.close().catch(() => {});
          if (o.dir) rmSync(o.dir, { recursive: true, force: true });
        }
      });
      const open: OpenFresh = async () => {
        if (dialect === "sqlite") {
          const dir = mkdtempSync(join(tmpdir(), "switchyard-contract-"));
          const db = openDatabase(join(dir, "contract.db"));
          opened.push({ db, dir });
          return db;
        }
        const db = await openPostgresDatabase(await freshPostgresUrl("contract"));
        opened.push({ db });
        return db;
      };
      body(open, dialect);
    });
  }
}
