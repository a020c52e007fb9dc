import type { Database } from "../db/client.ts";
import type { PgDatabase } from "../db/open.ts";
import { statSync } from "node:fs";
import { Counter, Gauge, type Registry } from "./prom.ts";

/**
 * The database's own figures on /metrics, read at each scrape: group commits and the operations
 * they held, WAL syncs and the time spent running, committing and syncing groups (SQLite;
 * PostgreSQL syncs its own WAL), and the checkpoint worker's
 * checkpoints, starts and holds of the writer, and the WAL file's size (SQLite in WAL mode with
 * off-loop syncs).
 */
export function registerDatabaseMetrics(registry: Registry, database: Database): void {
  const pg = database.dialect === "postgres" ? (database as PgDatabase).pg : undefined;
  const counter = (name: string, help: string, read: () => number | undefined) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const n = read();
        this.reset();
        if (n !== undefined) this.inc(n);
      },
    });
  counter("switchyard_db_commit_groups_total", "Write transactions committed (each holds one or more operations)", () => (pg ? pg.stats.groups : database.committer.stats.groups));
  counter("switchyard_db_commit_operations_total", "Write operations committed", () => (pg ? pg.stats.operations : database.committer.stats.operations));
  if (pg) return;
  counter("switchyard_db_wal_syncs_total", "fsyncs of the SQLite WAL, each making one or more committed groups durable", () => database.committer.stats.syncs);
  // Where a write's time goes before it is answered (÷ groups or syncs: the means).
  const seconds = (ms: number) => ms / 1000;
  counter("switchyard_db_group_run_seconds_total", "Time the JavaScript thread spent running the operations of write transactions", () => seconds(database.committer.stats.runMs));
  counter("switchyard_db_commit_seconds_total", "Time the JavaScript thread spent in COMMIT (with off-loop syncs: writing the WAL)", () => seconds(database.committer.stats.commitMs));
  counter("switchyard_db_wal_sync_seconds_total", "Time from the start of each WAL fsync (off the JavaScript thread) to its answer", () => seconds(database.committer.stats.syncMs));
  new Counter({
    name: "switchyard_db_checkpoints_total",
    help: "WAL checkpoints run by the checkpoint worker, by result (ok, busy)",
    labelNames: ["result"] as const,
    registers: [registry],
    collect() {
      const s = database.checkpoints();
      this.reset();
      if (!s) return;
      this.inc({ result: "ok" }, s.checkpoints);
      this.inc({ result: "busy" }, s.failed);
    },
  });
  counter("switchyard_db_checkpoint_worker_starts_total", "Starts of the checkpoint worker thread (it stops when writes stop)", () => database.checkpoints()?.starts);
  counter("switchyard_db_wal_holds_total", "Times the checkpoint worker held the writer to copy the rest of a large WAL so that it starts again from the top", () => database.checkpoints()?.holds);
  counter("switchyard_db_wal_hold_seconds_total", "Time writes waited in those holds", () => {
    const ms = database.checkpoints()?.holdMs;
    return ms === undefined ? undefined : ms / 1000;
  });
  counter("switchyard_db_wal_restarts_total", "Times the checkpoint worker found the WAL started again from the top", () => database.checkpoints()?.restarts);
  if (database.path === ":memory:") return;
  new Gauge({
    name: "switchyard_db_wal_bytes",
    help: "Size of the SQLite write-ahead log file",
    registers: [registry],
    collect() {
      let size = 0;
      try {
        size = statSync(`${database.path}-wal`).size;
      } catch {
        // No WAL file (closed, or not in WAL mode): 0 bytes.
      }
      this.set(size);
    },
  });
}
