import { bigint, index, integer, pgTable, text } from "drizzle-orm/pg-core";

/**
 * Rate-limit counters on PostgreSQL, shared by every instance: rate-limiter-flexible's
 * RateLimiterPostgres table (its own columns). `key` is `rl:<class>:<window ms>:<caller>:<window
 * index>`, `points` the requests counted, `expire` when the row may be reclaimed (ms).
 * On SQLite (one process) the counters are in memory and this table does not exist.
 */
export const edgeRateLimits = pgTable(
  "edge_rate_limits",
  {
    key: text("key").primaryKey(),
    points: integer("points").notNull().default(0),
    expire: bigint("expire", { mode: "number" }),
  },
  (t) => [index("edge_rate_limits_expire").on(t.expire)],
);
