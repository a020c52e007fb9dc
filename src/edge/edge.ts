import type { Interceptor } from "@connectrpc/connect";
import { SQL } from "bun";
import type { Config } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { OpDatabase } from "../db/dialect.ts";
import { isPostgresUrl, type PgDatabase } from "../db/open.ts";
import { rateLimitInterceptor } from "./interceptor.ts";
import { createRateLimiter, memoryRateLimitStore, type RateLimiter, type RateLimitStore } from "./limiter.ts";
import { postgresRateLimitStore } from "./postgres-store.ts";

/** The edge of the server: rate limits on every protocol (the interceptor and its limiter). */
export interface Edge {
  limiter: RateLimiter;
  interceptors: Interceptor[];
  /** Whether any class is limited. */
  enabled: boolean;
  /** Proxies whose `X-Forwarded-For` names the client. */
  trustedProxies: ReadonlySet<string>;
  /** Closes the connections the edge opened itself (only when it was given a URL, not a database). */
  close(): Promise<void>;
}

/** Calls that never count: reading one's own counters, and the standard health check. */
const EXEMPT = new Set(["switchyard.agents.v1.QuotaService.GetRateLimitStatus", "grpc.health.v1.Health.Check", "grpc.health.v1.Health.Watch"]);

/**
 * Slack on PostgreSQL rows' own expiry, which rate-limiter-flexible reckons by each machine's
 * clock: the window index (by the database's clock) is in the key, so the expiry only reclaims
 * rows, and a minute of slack keeps a machine whose clock is a little ahead from resetting a
 * live window.
 */
const PG_SLACK_S = 60;

/** Counters shared by every instance on PostgreSQL (table `edge_rate_limits`); in memory on SQLite. */
export function rateLimitStoreFor(database: OpDatabase): RateLimitStore {
  if (database.dialect === "postgres") return postgresRateLimitStore((database as PgDatabase).pg.sql, { tableName: "edge_rate_limits", slackSec: PG_SLACK_S });
  return memoryRateLimitStore;
}

/**
 * Builds the edge. Where counters live: `store` when given; else on PostgreSQL when `database`
 * is a PostgreSQL database (or, without one, when `config.databaseUrl` names PostgreSQL: a small
 * pool of the edge's own); else in memory (one process: SQLite).
 */
export function createEdge(deps: {
  config: Pick<Config, "rateLimits" | "trustedProxies"> & { databaseUrl?: string };
  clock: Clock;
  log: Logger;
  store?: RateLimitStore;
  database?: OpDatabase;
}): Edge {
  const trustedProxies = new Set(deps.config.trustedProxies);
  let own: SQL | undefined;
  let store = deps.store;
  if (!store && deps.database) store = rateLimitStoreFor(deps.database);
  if (!store && isPostgresUrl(deps.config.databaseUrl)) {
    own = new SQL(deps.config.databaseUrl, { max: 2, idleTimeout: 30, connectionTimeout: 10 });
    store = postgresRateLimitStore(own, { tableName: "edge_rate_limits", slackSec: PG_SLACK_S });
  }
  const limiter = createRateLimiter({ policy: deps.config.rateLimits, clock: deps.clock, store });
  return {
    limiter,
    interceptors: [rateLimitInterceptor(limiter, { exempt: EXEMPT, log: deps.log, trustedProxies })],
    trustedProxies,
    enabled: Object.values(deps.config.rateLimits).some((w) => w.length > 0),
    async close() {
      await own?.close({ timeout: 5 });
    },
  };
}
