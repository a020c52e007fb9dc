import type { Clock } from "../core/clock.ts";
import type { PgDatabaseHandle } from "./postgres.ts";

/**
 * Health of PostgreSQL for the (synchronous) health monitor: a `SELECT 1` every 2 s on the pool,
 * its last outcome reported. Down after a failed probe; back to operational after the next good one.
 */
export function createPgProbe(pg: PgDatabaseHandle, clock: Clock, everyMs = 2000) {
  let last: { status: "operational" | "down"; message: string; since: number } = { status: "operational", message: `postgres ${pg.url}`, since: clock.now() };
  let inFlight = false;
  async function probe(): Promise<void> {
    if (inFlight) return;
    inFlight = true;
    const t0 = performance.now();
    try {
      await pg.sql`SELECT 1`;
      const ms = (performance.now() - t0).toFixed(1);
      last = { status: "operational", message: `postgres ${pg.url} (round trip ${ms} ms, clock offset ${pg.clock.offsetMs.toFixed(1)} ms, ${pg.stats.groups} groups committed)`, since: last.status === "operational" ? last.since : clock.now() };
    } catch (error) {
      last = { status: "down", message: `postgres ${pg.url}: ${(error as Error).message}`, since: last.status === "down" ? last.since : clock.now() };
    } finally {
      inFlight = false;
    }
  }
  const timer = setInterval(() => void probe(), everyMs);
  timer.unref?.();
  void probe();
  return {
    state: () => ({ status: last.status, message: last.message }),
    close: () => clearInterval(timer),
  };
}
