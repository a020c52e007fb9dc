import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "../core/rate-limiters.ts";
import type { Clock } from "../core/clock.ts";
import type { RateLimitPolicy, RateWindow } from "./rate-limit-spec.ts";

/**
 * Where counters live: one rate-limiter-flexible limiter per (class, window). The memory store
 * is correct for one process; a shared one (RateLimiterRedis, RateLimiterPostgres,
 * RateLimiterDrizzle…) drops in behind the same factory for several instances.
 */
export interface RateLimitStore {
  create(options: { keyPrefix: string; points: number; durationSec: number }): RateLimiterAbstract;
}

/** Counters in this process's memory (rate-limiter-flexible's RateLimiterMemory). */
export const memoryRateLimitStore: RateLimitStore = {
  create: ({ keyPrefix, points, durationSec }) => new RateLimiterMemory({ keyPrefix, points, duration: durationSec }),
};

/** A caller's counter in one window of one class. */
export interface WindowStatus {
  routeClass: string;
  window: RateWindow;
  limit: number;
  remaining: number;
  /** End of the current window, server clock (ms). */
  resetAtMs: number;
}

/** The outcome of counting one request: the binding window (the one with the fewest left). */
export interface RateDecision {
  allowed: boolean;
  binding: WindowStatus;
  /** Time until the refusing window resets (0 when allowed). */
  retryAfterMs: number;
}

export interface RateLimiter {
  /** Counts one request of `key` in every window of `classes`; undefined when none is limited. */
  consume(classes: string[], key: string): Promise<RateDecision | undefined>;
  /** The counters without counting. */
  status(classes: string[], key: string): Promise<WindowStatus[]>;
  /** Whether any of `classes` has a window (cheap: checked before anything else per call). */
  limits(classes: string[]): boolean;
  readonly policy: RateLimitPolicy;
}

/**
 * Fixed windows aligned to the Unix epoch on the injected clock (so `X-RateLimit-Reset` is the
 * same for every caller and a test moves a window on by moving its clock): the window's index
 * is part of the key, and the store's own expiry only reclaims old keys.
 */
export function createRateLimiter(options: { policy: RateLimitPolicy; clock: Clock; store?: RateLimitStore }): RateLimiter {
  const { policy, clock } = options;
  const store = options.store ?? memoryRateLimitStore;
  const limiters = new Map<string, { window: RateWindow; limiter: RateLimiterAbstract }[]>();
  for (const [cls, windows] of Object.entries(policy)) {
    limiters.set(
      cls,
      windows.map((w) => ({
        window: w,
        limiter: store.create({ keyPrefix: `rl:${cls}:${w.windowMs}`, points: w.limit, durationSec: Math.ceil(w.windowMs / 1000) }),
      })),
    );
  }
  const windowsOf = (classes: string[]) => classes.flatMap((cls) => (limiters.get(cls) ?? []).map((l) => ({ cls, ...l })));

  return {
    policy,
    limits: (classes) => classes.some((c) => (limiters.get(c)?.length ?? 0) > 0),
    async consume(classes, key) {
      const all = windowsOf(classes);
      if (all.length === 0) return undefined;
      const now = clock.now();
      const results = await Promise.all(
        all.map(async ({ cls, window, limiter }) => {
          const index = Math.floor(now / window.windowMs);
          const resetAtMs = (index + 1) * window.windowMs;
          try {
            const res = await limiter.consume(`${key}:${index}`, 1);
            return { status: { routeClass: cls, window, limit: window.limit, remaining: res.remainingPoints, resetAtMs }, refused: false };
          } catch (error) {
            if (!(error instanceof RateLimiterRes)) throw error;
            return { status: { routeClass: cls, window, limit: window.limit, remaining: 0, resetAtMs }, refused: true };
          }
        }),
      );
      const refused = results.filter((r) => r.refused);
      if (refused.length > 0) {
        // The refusal that lasts longest is the one to wait for.
        const binding = refused.reduce((a, b) => (b.status.resetAtMs > a.status.resetAtMs ? b : a)).status;
        return { allowed: false, binding, retryAfterMs: Math.max(0, binding.resetAtMs - now) };
      }
      const binding = results.map((r) => r.status).reduce((a, b) => (b.remaining < a.remaining ? b : a));
      return { allowed: true, binding, retryAfterMs: 0 };
    },
    async status(classes, key) {
      const now = clock.now();
      return Promise.all(
        windowsOf(classes).map(async ({ cls, window, limiter }) => {
          const index = Math.floor(now / window.windowMs);
          const res = await limiter.get(`${key}:${index}`);
          const used = res?.consumedPoints ?? 0;
          return { routeClass: cls, window, limit: window.limit, remaining: Math.max(0, window.limit - used), resetAtMs: (index + 1) * window.windowMs };
        }),
      );
    },
  };
}
