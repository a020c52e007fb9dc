import type { SQL } from "bun";
import { loadRateLimiterPostgres, RateLimiterMemory } from "../core/rate-limiters.ts";
import type { RateLimitStore } from "./limiter.ts";

/**
 * Bun's SQL pool as the node-postgres `Pool` that rate-limiter-flexible's RateLimiterPostgres
 * talks to (`storeType: "pool"`: it only calls `query({ text, values })` and reads `rows` and
 * `rowCount`). No second driver, no second pool: the limiter's statements run on the database's
 * own connections, each autocommitted (one upsert per count).
 */
export function pgPoolOf(sql: SQL) {
  return {
    async query(q: { text: string; values?: unknown[] }): Promise<{ rows: Record<string, unknown>[]; rowCount: number }> {
      const result = (await sql.unsafe(q.text, (q.values ?? []) as never[])) as unknown as Record<string, unknown>[] & { count?: number };
      // int8 columns (expire) arrive as strings from Bun's driver; the limiter does arithmetic on them.
      const rows = result.map((r) => {
        const out: Record<string, unknown> = { ...r };
        for (const [k, v] of Object.entries(out)) if (typeof v === "string" && k === "expire") out[k] = Number(v);
        return out;
      });
      return { rows, rowCount: typeof result.count === "number" ? result.count : rows.length };
    },
  };
}

/**
 * rate-limiter-flexible over PostgreSQL: every limiter's counters in one table that a migration
 * created (`tableName`; columns key text, points integer, expire bigint), so instances on one
 * database share them. Expired rows are deleted every 5 minutes by the first limiter only.
 * `slackSec` lengthens the store's own expiry (by this machine's clock, not the database's):
 * callers that put a window index in the key only need the store to reclaim old keys, and a
 * longer expiry keeps a skewed machine from resetting a live window. When PostgreSQL fails, each
 * limiter counts in this process's memory until it answers again (rate-limiter-flexible's
 * `insuranceLimiter`): limits stay per instance meanwhile, requests are not refused for it.
 */
export function postgresRateLimitStore(sql: SQL, options: { tableName: string; slackSec?: number }): RateLimitStore {
  const client = pgPoolOf(sql);
  const RateLimiterPostgres = loadRateLimiterPostgres();
  let first = true;
  return {
    create({ keyPrefix, points, durationSec }) {
      const clearExpiredByTimeout = first;
      first = false;
      return new RateLimiterPostgres({
        storeClient: client,
        storeType: "pool",
        tableName: options.tableName,
        tableCreated: true,
        clearExpiredByTimeout,
        keyPrefix,
        points,
        duration: durationSec + (options.slackSec ?? 0),
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: durationSec }),
      });
    },
  };
}
