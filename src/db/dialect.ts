import type { Database as Sqlite } from "bun:sqlite";
import type { ReservedSQL, SQL } from "bun";
import type { Op } from "./op.ts";

/** The relational engines Switchyard runs on: a SQLite file (one machine) or PostgreSQL (scale-out). */
export type Dialect = "sqlite" | "postgres";

/** Where a SQLite operation runs: the one connection (writes inside the group transaction). */
export interface SqliteTx {
  readonly dialect: "sqlite";
  readonly sqlite: Sqlite;
}

/**
 * Where a PostgreSQL operation runs: the group's connection inside its transaction (writes), or
 * the pool (reads). Queries go through `query`, which also turns int8 columns named by the
 * caller into numbers (Bun's driver answers int8 as strings).
 */
export interface PgTx {
  readonly dialect: "postgres";
  readonly sql: SQL | ReservedSQL;
}

export type Tx = SqliteTx | PgTx;

/**
 * What every domain that runs on both dialects uses: writes as operations in the next group
 * transaction (answered after their durable commit), reads as operations outside one.
 *
 * A write's operation factory may be called more than once on PostgreSQL (a deadlock between
 * instances is retried in the same group, from a savepoint): it must start from scratch each
 * time — side effects only after the promise resolves, or in buffers the factory creates.
 */
export interface OpDatabase {
  readonly dialect: Dialect;
  write<T>(op: (tx: Tx) => Op<T>): Promise<T>;
  read<T>(op: (tx: Tx) => Op<T>): Promise<T>;
}

/** Raised when a SQLite-only handle (`sqlite`, `db`, `committer.run`) is used on PostgreSQL. */
export class DialectError extends Error {
  constructor(what: string) {
    super(`${what} exists only on SQLite; this code has no PostgreSQL store yet`);
    this.name = "DialectError";
  }
}

/** Whether `error` is one PostgreSQL asks the client to retry (deadlock, serialization failure). */
export function isRetryablePgError(error: unknown): boolean {
  const code = pgCode(error);
  return code === "40P01" || code === "40001";
}

/** The SQLSTATE of a PostgreSQL error (Bun puts it in `errno`, other drivers in `code`). */
export function pgCode(error: unknown): string | undefined {
  const e = error as { errno?: unknown; code?: unknown } | null;
  if (!e || typeof e !== "object") return undefined;
  if (typeof e.errno === "string" && /^[0-9A-Z]{5}$/.test(e.errno)) return e.errno;
  if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  return undefined;
}

/** Converts the named int8 columns of PostgreSQL rows (strings from Bun's driver) to numbers, in place. */
export function intColumns<R extends object>(rows: R[], columns: readonly string[]): R[] {
  for (const row of rows) {
    const r = row as Record<string, unknown>;
    for (const c of columns) {
      const v = r[c];
      if (typeof v === "string") r[c] = Number(v);
      else if (typeof v === "bigint") r[c] = Number(v);
    }
  }
  return rows;
}
