import type { Database as Sqlite } from "bun:sqlite";
import { intColumns, type PgTx, type Tx } from "../db/dialect.ts";
import { done, step, type Op } from "../db/op.ts";

/** A `mail_leases` row. */
export interface LeaseRow {
  tenant: string;
  path: string;
  holder: string;
  token: number;
  ttl_ms: number;
  acquired_at: number;
  expires_at: number;
}

export interface ListQuery {
  tenant: string;
  /** Plain string prefix of the normalized path ("" for all). */
  prefix: string;
  /** Only paths after this one (the page cursor; "" for the first page). */
  after: string;
  /** Only leases still held at this time (`expires_at > now`). */
  now: number;
  limit: number;
  holder?: string;
}

/**
 * All SQL of the lease half of the mail domain, once per dialect, behind one interface of
 * operations. Every method but the sweeper's filters by tenant. Paths compare byte-wise on both
 * dialects (SQLite's binary order; `COLLATE "C"` on PostgreSQL).
 */
export interface LeaseStore {
  /** The row of a path (held or not), for a read outside a write. */
  find(tx: Tx, tenant: string, path: string): Op<LeaseRow | undefined>;
  /**
   * The row of a path inside a write, locked until the transaction ends (PostgreSQL: `FOR
   * UPDATE`, so another instance's acquire/renew/release/sweep of the same path waits; SQLite
   * has one writer at a time already).
   */
  lock(tx: Tx, tenant: string, path: string): Op<LeaseRow | undefined>;
  /** Deletes the path's row; rows deleted (0 or 1). */
  remove(tx: Tx, tenant: string, path: string): Op<number>;
  /**
   * Inserts a new lease; undefined when the path already has a row (on PostgreSQL: another
   * instance granted it between our lock() and this insert, and committed first).
   */
  insert(tx: Tx, row: LeaseRow): Op<LeaseRow | undefined>;
  /** Sets the expiry and TTL of the path's row; the updated row. */
  extend(tx: Tx, tenant: string, path: string, expiresAt: number, ttlMs: number): Op<LeaseRow | undefined>;
  /** The next fencing token (counter `lease_token`, strictly increasing, never reused). */
  nextToken(tx: Tx): Op<number>;
  /**
   * Deletes the rows of every tenant expired at `now` and answers them. On PostgreSQL rows that
   * another instance is changing or sweeping right now are skipped (`SKIP LOCKED`), so each
   * expired lease is deleted — and announced — by exactly one sweep.
   */
  takeExpired(tx: Tx, now: number): Op<LeaseRow[]>;
  /** Held leases of a tenant under a prefix (and of one holder), after a path, in path order. */
  list(tx: Tx, q: ListQuery): Op<LeaseRow[]>;
}

export function createSqliteLeaseStore(sqlite: Sqlite): LeaseStore {
  // Parameters are numbered as the SQL names them (?1..?6), the tenant is ?9.
  const args = (tenant: string, ...v: (string | number)[]) => {
    const out: (string | number | null)[] = [null, null, null, null, null, null, null, null, tenant];
    v.forEach((x, i) => (out[i] = x));
    return out as never[];
  };
  const selectPath = sqlite.prepare<LeaseRow, never[]>("SELECT * FROM mail_leases WHERE tenant = ?9 AND path = ?1");
  const deletePath = sqlite.prepare<unknown, never[]>("DELETE FROM mail_leases WHERE tenant = ?9 AND path = ?1");
  const insert = sqlite.prepare<LeaseRow, never[]>(
    "INSERT INTO mail_leases (path, holder, token, ttl_ms, acquired_at, expires_at, tenant) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?9) RETURNING *",
  );
  const extend = sqlite.prepare<LeaseRow, never[]>("UPDATE mail_leases SET expires_at = ?2, ttl_ms = ?3 WHERE tenant = ?9 AND path = ?1 RETURNING *");
  const nextToken = sqlite.prepare<{ value: number }, []>(
    "INSERT INTO mail_counters (name, value) VALUES ('lease_token', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
  );
  const expiredRows = sqlite.prepare<LeaseRow, [number]>("DELETE FROM mail_leases WHERE expires_at <= ?1 RETURNING *");
  const listRows = sqlite.prepare<LeaseRow, never[]>(
    "SELECT * FROM mail_leases WHERE tenant = ?9 AND path >= ?1 AND substr(path, 1, length(?1)) = ?1 AND path > ?2 AND expires_at > ?3 ORDER BY path LIMIT ?4",
  );
  const listHolderRows = sqlite.prepare<LeaseRow, never[]>(
    "SELECT * FROM mail_leases WHERE tenant = ?9 AND holder = ?5 AND path >= ?1 AND substr(path, 1, length(?1)) = ?1 AND path > ?2 AND expires_at > ?3 ORDER BY path LIMIT ?4",
  );
  const find = (_tx: Tx, tenant: string, path: string) => done(selectPath.get(...args(tenant, path)) ?? undefined);
  return {
    find,
    lock: find,
    remove: (_tx, tenant, path) => done(deletePath.run(...args(tenant, path)).changes),
    insert: (_tx, r) => done(insert.get(...args(r.tenant, r.path, r.holder, r.token, r.ttl_ms, r.acquired_at, r.expires_at)) ?? undefined),
    extend: (_tx, tenant, path, expiresAt, ttlMs) => done(extend.get(...args(tenant, path, expiresAt, ttlMs)) ?? undefined),
    nextToken: () => done(nextToken.get()!.value),
    takeExpired: (_tx, now) => done(expiredRows.all(now)),
    list: (_tx, q) =>
      done(
        q.holder
          ? listHolderRows.all(...args(q.tenant, q.prefix, q.after, q.now, q.limit, q.holder))
          : listRows.all(...args(q.tenant, q.prefix, q.after, q.now, q.limit)),
      ),
  };
}

/** int8 columns (Bun's driver answers them as strings). */
const INTS = ["token", "acquired_at", "expires_at", "ttl_ms"] as const;
const COLUMNS = "tenant, path, holder, token, ttl_ms, acquired_at, expires_at";

export function createPgLeaseStore(): LeaseStore {
  const pg = (tx: Tx) => (tx as PgTx).sql;
  const rows = (r: unknown) => intColumns(r as LeaseRow[], INTS);
  return {
    *find(tx, tenant, path) {
      return rows(yield* step(pg(tx)`SELECT tenant, path, holder, token, ttl_ms, acquired_at, expires_at FROM mail_leases WHERE tenant = ${tenant} AND path = ${path}`))[0];
    },
    *lock(tx, tenant, path) {
      return rows(
        yield* step(pg(tx)`SELECT tenant, path, holder, token, ttl_ms, acquired_at, expires_at FROM mail_leases WHERE tenant = ${tenant} AND path = ${path} FOR UPDATE`),
      )[0];
    },
    *remove(tx, tenant, path) {
      return ((yield* step(pg(tx)`DELETE FROM mail_leases WHERE tenant = ${tenant} AND path = ${path} RETURNING path`)) as unknown[]).length;
    },
    *insert(tx, r) {
      // A concurrent insert of the same path by another instance makes this one wait for its
      // commit, then do nothing (no row back): the caller reads the path again.
      return rows(
        yield* step(pg(tx)`INSERT INTO mail_leases (tenant, path, holder, token, ttl_ms, acquired_at, expires_at)
          VALUES (${r.tenant}, ${r.path}, ${r.holder}, ${r.token}, ${r.ttl_ms}, ${r.acquired_at}, ${r.expires_at})
          ON CONFLICT (tenant, path) DO NOTHING
          RETURNING tenant, path, holder, token, ttl_ms, acquired_at, expires_at`),
      )[0];
    },
    *extend(tx, tenant, path, expiresAt, ttlMs) {
      return rows(
        yield* step(pg(tx)`UPDATE mail_leases SET expires_at = ${expiresAt}, ttl_ms = ${ttlMs} WHERE tenant = ${tenant} AND path = ${path}
          RETURNING tenant, path, holder, token, ttl_ms, acquired_at, expires_at`),
      )[0];
    },
    *nextToken(tx) {
      // The counter row is locked until the group commits: grants of all instances take their
      // tokens one transaction after another, so tokens also increase in commit order.
      const [row] = (yield* step(pg(tx)`INSERT INTO mail_counters (name, value) VALUES ('lease_token', 1)
        ON CONFLICT (name) DO UPDATE SET value = mail_counters.value + 1 RETURNING value`)) as { value: string | number }[];
      return Number(row!.value);
    },
    *takeExpired(tx, now) {
      // The outer `expires_at <=` re-checks the row as it is once locked (a renew that committed
      // meanwhile keeps it).
      return rows(
        yield* step(pg(tx).unsafe(
          `DELETE FROM mail_leases WHERE (tenant, path) IN (
             SELECT tenant, path FROM mail_leases WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED
           ) AND expires_at <= $1
           RETURNING ${COLUMNS}`,
          [now],
        )),
      );
    },
    *list(tx, q) {
      const args: unknown[] = [q.tenant, q.prefix, q.after, q.now];
      let holder = "";
      if (q.holder) (args.push(q.holder), (holder = `AND holder = $${args.length}`));
      const sql = `SELECT ${COLUMNS} FROM mail_leases
        WHERE tenant = $1 ${holder} AND path >= $2 AND left(path, length($2)) = $2 AND path > $3 AND expires_at > $4
        ORDER BY path LIMIT ${Number(q.limit)}`;
      return rows(yield* step(pg(tx).unsafe(sql, args)));
    },
  };
}
