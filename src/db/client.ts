import { Database as Sqlite } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { systemClock, type Clock } from "../core/clock.ts";
import { createCommitter, type Committer } from "./group-commit.ts";
import { createStorageGuard, type StorageGuard } from "./storage-guard.ts";

/** One opened SQLite database: the raw handle, drizzle over it, and the group committer. */
export interface Database {
  readonly path: string;
  readonly sqlite: Sqlite;
  readonly db: BunSQLiteDatabase;
  /** Runs writes in shared transactions; each promise settles after the commit that holds it. */
  readonly committer: Committer;
  /** Storage faults (full, read-only, vanished) as writes and checks see them. */
  readonly storage: StorageGuard;
  close(): Promise<void>;
}

const srcDir = join(import.meta.dir, "..");

/**
 * The domains that own tables. Each has its own drizzle config (`src/<domain>/drizzle.config.ts`),
 * migrations folder (`src/<domain>/migrations`) and migrations table, so domains never share or
 * edit each other's tables, and a new domain needs no edit here.
 */
export function migrationDomains(): string[] {
  return readdirSync(srcDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(srcDir, d.name, "migrations", "meta", "_journal.json")))
    .map((d) => d.name)
    .sort();
}

/** Opens (creating if needed) the database file with the durability settings Switchyard relies on. */
export function openDatabase(path: string, options: { migrate?: boolean; maxPendingWrites?: number; clock?: Clock } = {}): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Sqlite(path, { create: true, strict: true });
  // WAL lets readers run beside the writer; FULL fsyncs the WAL on every commit, so an
  // acknowledged write survives power loss. busy_timeout lets a second process wait its turn.
  sqlite.exec("PRAGMA busy_timeout = 5000");
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = FULL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  const db = drizzle({ client: sqlite });
  if (options.migrate !== false) migrateAll(db);
  const storage = createStorageGuard({ path, clock: options.clock ?? systemClock, maxPending: options.maxPendingWrites ?? 100_000 });
  const committer = storage.wrap(createCommitter(sqlite));
  return {
    path,
    sqlite,
    db,
    committer,
    storage,
    async close() {
      storage.close();
      await committer.close();
      sqlite.close();
    },
  };
}

/** Applies every domain's pending migrations; safe to call from several processes at once. */
export function migrateAll(db: BunSQLiteDatabase): void {
  for (const domain of migrationDomains()) {
    const folder = join(srcDir, domain, "migrations");
    migrate(db, { migrationsFolder: folder, migrationsTable: `__migrations_${domain}` });
  }
}
