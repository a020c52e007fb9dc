import type { Interceptor } from "@connectrpc/connect";
import type { Config } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { rateLimitInterceptor } from "./interceptor.ts";
import { createRateLimiter, type RateLimiter, type RateLimitStore } from "./limiter.ts";

/** The edge of the server: rate limits on every protocol (the interceptor and its limiter). */
export interface Edge {
  limiter: RateLimiter;
  interceptors: Interceptor[];
  /** Whether any class is limited. */
  enabled: boolean;
  /** Proxies whose `X-Forwarded-For` names the client. */
  trustedProxies: ReadonlySet<string>;
}

/** Calls that never count: reading one's own counters, and the standard health check. */
const EXEMPT = new Set(["switchyard.agents.v1.QuotaService.GetRateLimitStatus", "grpc.health.v1.Health.Check", "grpc.health.v1.Health.Watch"]);

export function createEdge(deps: { config: Pick<Config, "rateLimits" | "trustedProxies">; clock: Clock; log: Logger; store?: RateLimitStore }): Edge {
  const trustedProxies = new Set(deps.config.trustedProxies);
  const limiter = createRateLimiter({ policy: deps.config.rateLimits, clock: deps.clock, store: deps.store });
  return {
    limiter,
    interceptors: [rateLimitInterceptor(limiter, { exempt: EXEMPT, log: deps.log, trustedProxies })],
    trustedProxies,
    enabled: Object.values(deps.config.rateLimits).some((w) => w.length > 0),
  };
}
