import type { Clock } from "../core/clock.ts";
import type { OpDatabase, Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import type { AgentStore, Usage } from "./store.ts";
import type { AgentQuota } from "./types.ts";

export interface QuotaLimits {
  maxDailyTokens: number;
  maxDailyCost: number;
  maxConcurrentSessions: number;
}

/** The UTC day of a time, `YYYY-MM-DD` (the key of daily usage). */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * The agents' daily budget per tenant: tokens and cost reported by workers, sessions queued or
 * processing; a limit of 0 is unlimited. Checked when a session starts (`admit`, inside the
 * write that inserts the session, with the tenant's usage row locked: two instances cannot both
 * take the last place); a worker over the budget is told to stop on its next report. All counts
 * are in the database (nothing per process).
 */
export function createQuota(deps: { database: OpDatabase; store: AgentStore; clock: Clock; limits: QuotaLimits }) {
  const { database, store, clock, limits } = deps;

  function quotaOf(now: number, used: Usage, active: number): AgentQuota {
    let reason = "";
    if (limits.maxDailyTokens > 0 && used.tokens >= limits.maxDailyTokens) reason = "daily token limit reached";
    else if (limits.maxDailyCost > 0 && used.costUsd >= limits.maxDailyCost) reason = "daily cost limit reached";
    else if (limits.maxConcurrentSessions > 0 && active >= limits.maxConcurrentSessions) reason = "too many concurrent sessions";
    const midnight = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + 1);
    return {
      dailyTokens: used.tokens,
      maxDailyTokens: limits.maxDailyTokens,
      remainingTokens: limits.maxDailyTokens > 0 ? Math.max(0, limits.maxDailyTokens - used.tokens) : 0,
      dailyCost: Math.round(used.costUsd * 1e6) / 1e6,
      maxDailyCost: limits.maxDailyCost,
      remainingCost: limits.maxDailyCost > 0 ? Math.max(0, Math.round((limits.maxDailyCost - used.costUsd) * 1e6) / 1e6) : 0,
      activeSessions: active,
      maxConcurrentSessions: limits.maxConcurrentSessions,
      allowed: reason === "",
      reason,
      resetsAt: midnight,
    };
  }

  return {
    limits,
    async get(tenant: string): Promise<AgentQuota> {
      const now = clock.now();
      return database.read(function* (tx) {
        return quotaOf(now, yield* store.usage(tx, tenant, utcDay(now)), yield* store.countActive(tx, tenant));
      });
    },
    /** The quota as a session start sees it, inside its write (the day's usage row locked until it commits). */
    *admit(tx: Tx, tenant: string): Op<AgentQuota> {
      const now = clock.now();
      const used = yield* store.lockUsage(tx, tenant, utcDay(now));
      return quotaOf(now, used, yield* store.countActive(tx, tenant));
    },
    /** Whether the day's token or cost budget is spent (a running session must stop). */
    async spent(tenant: string): Promise<boolean> {
      const day = utcDay(clock.now());
      const used = await database.read((tx) => store.usage(tx, tenant, day));
      return (limits.maxDailyTokens > 0 && used.tokens >= limits.maxDailyTokens) || (limits.maxDailyCost > 0 && used.costUsd >= limits.maxDailyCost);
    },
  };
}

export type Quota = ReturnType<typeof createQuota>;
