import type { Database } from "../db/client.ts";
import type { PgDatabase } from "../db/open.ts";
import { Counter, type Registry } from "./prom.ts";

/**
 * The database's own figures on /metrics, read at each scrape: group commits and the operations
 * they held, WAL syncs (SQLite; PostgreSQL syncs its own WAL), and the checkpoint worker's
 * checkpoints and starts (SQLite in WAL mode with off-loop syncs).
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
}
