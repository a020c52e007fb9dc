import { Database as Sqlite } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { systemClock, type Clock } from "../core/clock.ts";
import { SRC_DIR as srcDir } from "../core/paths.ts";
import { startCheckpointer, type Checkpointer, type CheckpointStats } from "./checkpointer.ts";
import { createCommitter, type Committer } from "./group-commit.ts";
import { createStorageGuard, type StorageGuard } from "./storage-guard.ts";
import { createWalSyncer, type WalSyncer } from "./wal-sync.ts";
import type { OpDatabase, SqliteTx, Tx } from "./dialect.ts";
import { runSync, type Op } from "./op.ts";

/**
 * One opened database. On SQLite: the raw handle, drizzle over it, and the group committer; on
 * PostgreSQL (`src/db/open.ts`) the same interface, where the SQLite-only members (`sqlite`, `db`,
 * `committer.run`) throw for code that has no PostgreSQL store yet. Code that runs on both uses
 * `write`/`read` with operations (`src/db/op.ts`).
 */
export interface Database extends OpDatabase {
  readonly path: string;
  readonly sqlite: Sqlite;
  readonly db: BunSQLiteDatabase;
  /** Runs writes in shared transactions; each promise settles after the commit that holds it. */
  readonly committer: Committer;
  /** Storage faults (full, read-only, vanished) as writes and checks see them. */
  readonly storage: StorageGuard;
  /** The checkpoint worker's figures, when there is one. */
  checkpoints(): CheckpointStats | undefined;
  close(): Promise<void>;
}

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

export interface OpenOptions {
  /** Apply every domain's pending migrations (default true). */
  migrate?: boolean;
  /**
   * Where the fsync of a commit happens. "off-loop" (the default for files): COMMIT writes the
   * WAL (synchronous=NORMAL) and each group is answered after an fdatasync of the WAL issued off
   * the JavaScript thread (wal-sync.ts); checkpoints run on a worker thread. "in-commit":
   * synchronous=FULL, COMMIT fsyncs on the JavaScript thread (the former behaviour, kept for
   * comparison in benchmarks).
   * Both answer a write only once it is on disk; see src/db/README.md.
   */
  sync?: "off-loop" | "in-commit";
  /** Sync groups that changed nothing too (the former behaviour, for comparison in bench/claim-path.ts). */
  syncUnchanged?: boolean;
  /** Most write operations waiting for their commit before new writes are refused (default 100000). */
  maxPendingWrites?: number;
  /** Clock of the storage guard's fault times (tests inject one). */
  clock?: Clock;
  /** WAL size (MiB) from which the checkpoint worker holds the writer so that the WAL starts again (default 16; 0 = never). */
  walRestartMb?: number;
  /** fdatasync the WAL on a thread of its own (default true) or on Bun's thread pool (wal-sync.ts). */
  walSyncThread?: boolean;
}

/** Opens (creating if needed) the database file with the durability settings Switchyard relies on. */
export function openDatabase(path: string, options: OpenOptions = {}): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Sqlite(path, { create: true, strict: true });
  // WAL lets readers run beside the writer; FULL fsyncs the WAL on every commit, so an
  // acknowledged write survives power loss (migrations run so). busy_timeout lets a second
  // process wait its turn.
  sqlite.exec("PRAGMA busy_timeout = 5000");
  const mode = (sqlite.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string }).journal_mode;
  sqlite.exec("PRAGMA synchronous = FULL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  const db = drizzle({ client: sqlite });
  if (options.migrate !== false) migrateAll(db);
  let syncer: WalSyncer | undefined;
  let checkpointer: Checkpointer | undefined;
  let open = true;
  if (path !== ":memory:" && mode.toLowerCase() === "wal" && (options.sync ?? "off-loop") === "off-loop") {
    // From here on every write goes through the committer, which syncs the WAL itself, off
    // the loop; checkpoints (which fsync the database file) move to a worker thread.
    sqlite.exec("PRAGMA synchronous = NORMAL");
    sqlite.exec("PRAGMA wal_autocheckpoint = 0");
    // When the WAL starts again from the top after a spike, the file is cut back to 64 MiB.
    sqlite.exec("PRAGMA journal_size_limit = 67108864");
    syncer = createWalSyncer(`${path}-wal`, { thread: options.walSyncThread ?? true });
    const restartMb = options.walRestartMb ?? 16;
    const pageSize = (sqlite.query("PRAGMA page_size").get() as { page_size: number }).page_size;
    checkpointer = startCheckpointer(
      path,
      () => {
        // Without the worker, SQLite's own automatic checkpoint (on this thread) keeps the WAL bounded.
        if (open) sqlite.exec("PRAGMA wal_autocheckpoint = 1000");
      },
      // A WAL frame is a page and its 24-byte header.
      restartMb > 0 ? { hold: () => inner.hold(), restartFrames: Math.ceil((restartMb * 1024 * 1024) / (pageSize + 24)) } : {},
    );
  }
  const storage = createStorageGuard({ path, clock: options.clock ?? systemClock, maxPending: options.maxPendingWrites ?? 100_000 });
  // The committer calls `committed` only for groups that changed something, so a periodic sweep
  // that finds nothing does not wake the checkpointer.
  const inner = createCommitter(sqlite, { durable: syncer?.sync, syncUnchanged: options.syncUnchanged, committed: checkpointer ? () => checkpointer!.committed() : undefined });
  const committer = storage.wrap(inner);
  const tx: SqliteTx = { dialect: "sqlite", sqlite };
  return {
    dialect: "sqlite",
    path,
    sqlite,
    db,
    committer,
    write: <T>(op: (tx: Tx) => Op<T>) => committer.run(() => runSync(op(tx))),
    read<T>(op: (tx: Tx) => Op<T>): Promise<T> {
      try {
        return Promise.resolve(runSync(op(tx)));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    storage,
    checkpoints: () => checkpointer?.stats(),
    async close() {
      storage.close();
      await committer.close();
      await checkpointer?.close();
      await syncer?.close();
      open = false;
      // The last connection to close checkpoints the WAL into the file and removes it.
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
