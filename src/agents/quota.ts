import type { Clock } from "../core/clock.ts";
import type { AgentStore } from "./store.ts";
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
 * processing; a limit of 0 is unlimited. Checked when a session starts; a worker over the budget
 * is told to stop on its next report.
 */
export function createQuota(deps: { store: AgentStore; clock: Clock; limits: QuotaLimits }) {
  const { store, clock, limits } = deps;
  return {
    limits,
    get(tenant: string): AgentQuota {
      const now = clock.now();
      const used = store.usage(tenant, utcDay(now));
      const active = store.countActive(tenant);
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
    },
    /** Whether the day's token or cost budget is spent (a running session must stop). */
    spent(tenant: string): boolean {
      const used = store.usage(tenant, utcDay(clock.now()));
      return (limits.maxDailyTokens > 0 && used.tokens >= limits.maxDailyTokens) || (limits.maxDailyCost > 0 && used.costUsd >= limits.maxDailyCost);
    },
  };
}

export type Quota = ReturnType<typeof createQuota>;
