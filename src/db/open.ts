import type { Clock } from "../core/clock.ts";
import { openDatabase, type Database, type OpenOptions } from "./client.ts";
import { DialectError } from "./dialect.ts";
import type { Committer } from "./group-commit.ts";
import type { OpenPostgresOptions, PgDatabaseHandle } from "./postgres.ts";
import type { StorageGuard } from "./storage-guard.ts";

/** A database opened on PostgreSQL: the common interface plus the PostgreSQL handle. */
export interface PgDatabase extends Database {
  readonly dialect: "postgres";
  readonly pg: PgDatabaseHandle;
}

export const isPostgresUrl = (url: string | undefined): url is string => !!url && /^postgres(ql)?:\/\//i.test(url);

/**
 * Opens PostgreSQL behind the `Database` interface. `write`/`read` run operations; the
 * SQLite-only members throw a DialectError naming themselves, so code without a PostgreSQL store
 * fails loudly instead of writing somewhere else.
 */
export async function openPostgresDatabase(url: string, options: OpenPostgresOptions = {}): Promise<PgDatabase> {
  // Loaded here, not at the top: drizzle's PostgreSQL core is ~80 modules a SQLite server never uses.
  const { openPostgres, redact } = await import("./postgres.ts");
  const pg = await openPostgres(url, options);
  const committer: Committer = {
    run: () => Promise.reject(new DialectError("committer.run (a synchronous SQLite closure)")),
    close: async () => {},
    stats: { groups: 0, operations: 0, syncs: 0, runMs: 0, commitMs: 0, syncMs: 0, unchanged: 0 },
  };
  // PostgreSQL's own storage faults reach the client as `unavailable` from the committer; the
  // SQLite file guard has nothing to watch here.
  const storage: StorageGuard = { wrap: (c) => c, fault: undefined, refused: {}, pending: 0, check() {}, close() {} };
  return {
    dialect: "postgres",
    path: redact(url),
    pg,
    get sqlite(): never {
      throw new DialectError("database.sqlite");
    },
    get db(): never {
      throw new DialectError("database.db (drizzle over SQLite)");
    },
    committer,
    storage,
    write: pg.write,
    read: pg.read,
    checkpoints: () => undefined,
    close: () => pg.close(),
  };
}

/** Opens what the configuration names: PostgreSQL for a postgres:// URL, else the SQLite file. */
export async function openConfiguredDatabase(
  config: { databaseUrl?: string; databasePath: string },
  options: OpenOptions & OpenPostgresOptions = {},
): Promise<Database & { clock?: Clock }> {
  if (isPostgresUrl(config.databaseUrl)) {
    const db = await openPostgresDatabase(config.databaseUrl, options);
    return Object.assign(db, { clock: db.pg.clock });
  }
  return openDatabase(config.databasePath, options);
}
