import { afterAll, describe, expect, it } from "bun:test";
import { SQL } from "bun";
import { AppError } from "../core/errors.ts";
import { freshPostgresUrl, startPostgres } from "../testing/postgres.ts";
import type { PgTx, Tx } from "./dialect.ts";
import { AsyncStepError, done, runAsync, runSync, step } from "./op.ts";
import { openPostgres, type PgDatabaseHandle } from "./postgres.ts";

const opened: PgDatabaseHandle[] = [];
afterAll(async () => {
  for (const db of opened) await db.close().catch(() => {});
});
async function open(url: string): Promise<PgDatabaseHandle> {
  const db = await openPostgres(url);
  opened.push(db);
  return db;
}
const q = (tx: Tx) => (tx as PgTx).sql;

describe("operations", () => {
  it("run synchronously when every step is a value, and refuse a promise on the synchronous driver", async () => {
    function* op() {
      const a = yield* done(2);
      const b = yield* step(3);
      return a * b;
    }
    expect(runSync(op())).toBe(6);
    expect(await runAsync(op())).toBe(6);
    function* asyncOp() {
      return yield* step(Promise.resolve(1));
    }
    expect(() => runSync(asyncOp())).toThrow(AsyncStepError);
    expect(await runAsync(asyncOp())).toBe(1);
  });

  it("throw a rejected step into the operation, where it can be caught", async () => {
    function* op() {
      try {
        yield* step(Promise.reject(new Error("boom")));
        return "not reached";
      } catch (e) {
        return `caught ${(e as Error).message}`;
      }
    }
    expect(await runAsync(op())).toBe("caught boom");
  });
});

describe("PostgreSQL group commit", () => {
  it("commits concurrent writes in shared transactions, each answered after its commit", async () => {
    const db = await open(await freshPostgresUrl("gc"));
    await db.sql`CREATE TABLE t (id int PRIMARY KEY, v text)`;
    const writes = Array.from({ length: 200 }, (_, i) =>
      db.write(function* (tx) {
        yield* step(q(tx)`INSERT INTO t VALUES (${i}, 'x')`);
        return i;
      }),
    );
    expect(await Promise.all(writes)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(db.stats.operations).toBe(200);
    expect(db.stats.groups).toBeLessThan(50);
    // Visible from another connection: committed.
    const other = new SQL(db.url, { max: 1 });
    expect((await other`SELECT count(*)::int AS n FROM t`)[0].n).toBe(200);
    await other.close();
  });

  it("undoes a failing operation alone, its group's other operations committed", async () => {
    const db = await open(await freshPostgresUrl("gc"));
    await db.sql`CREATE TABLE t (id int PRIMARY KEY)`;
    await db.sql`INSERT INTO t VALUES (1)`;
    const ok = (id: number) => db.write(function* (tx) {
      yield* step(q(tx)`INSERT INTO t VALUES (${id})`);
    });
    // A write followed by a domain error: the write must be undone too.
    const halfDone = db.write(function* (tx) {
      yield* step(q(tx)`INSERT INTO t VALUES (50)`);
      throw new AppError("failed_precondition", "NOPE", "refused after a write");
    });
    const results = await Promise.allSettled([ok(2), ok(1), halfDone, ok(3)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(AppError);
    const ids = (await db.sql`SELECT id FROM t ORDER BY id`).map((r: { id: number }) => r.id);
    expect(ids).toEqual([1, 2, 3]);
    expect(db.stats.reruns).toBeGreaterThanOrEqual(1);
  });

  it("retries an operation that lost a deadlock with another instance", async () => {
    const url = await freshPostgresUrl("deadlock");
    const a = await open(url);
    const b = await open(url);
    await a.sql`CREATE TABLE acct (id int PRIMARY KEY, n int)`;
    await a.sql`INSERT INTO acct VALUES (1, 0), (2, 0)`;
    let runs = 0;
    const transfer = (db: PgDatabaseHandle, first: number, second: number) =>
      db.write(function* (tx) {
        runs++;
        yield* step(q(tx)`UPDATE acct SET n = n + 1 WHERE id = ${first}`);
        yield* step(q(tx)`SELECT pg_sleep(0.2)`);
        yield* step(q(tx)`UPDATE acct SET n = n + 1 WHERE id = ${second}`);
        return "ok";
      });
    expect(await Promise.all([transfer(a, 1, 2), transfer(b, 2, 1)])).toEqual(["ok", "ok"]);
    expect(runs).toBeGreaterThanOrEqual(3); // the loser ran again
    expect(await a.sql`SELECT id, n FROM acct ORDER BY id`).toEqual([{ id: 1, n: 2 }, { id: 2, n: 2 }]);
  }, 20_000);

  it("migrates once when instances start together, and follows the database's clock", async () => {
    const url = await freshPostgresUrl("migrate");
    const [a, b, c] = await Promise.all([open(url), open(url), open(url)]);
    const rows = await a.sql`SELECT count(*)::int AS n FROM system_settings`;
    expect(rows[0].n).toBe(0);
    const applied = await b.sql`SELECT count(*)::int AS n FROM __migrations_system`;
    expect(applied[0].n).toBe(1);
    for (const db of [a, b, c]) expect(Math.abs(db.clock.now() - Date.now())).toBeLessThan(1000);
  });

  it("answers unavailable when the database goes away, never a crash", async () => {
    const pg = await startPostgres();
    const db = await openPostgres(await pg.createDatabase("gone"));
    await db.sql`CREATE TABLE t (id int)`;
    await pg.stop({ hard: true });
    const error = await db
      .write(function* (tx) {
        yield* step(q(tx)`INSERT INTO t VALUES (1)`);
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("unavailable");
    expect((error as AppError).reason).toBe("DATABASE_UNAVAILABLE");
    await db.close().catch(() => {});
  }, 30_000);
});
