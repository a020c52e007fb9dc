import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { callBackend } from "./backend-http.ts";
import type { Registry } from "./registry.ts";
import type { UrlGuard } from "./ssrf.ts";
import type { ServerEntry } from "./types.ts";

/** Failed probes or dispatches in a row that eject a backend (outlier detection). */
export const EJECT_AFTER_FAILURES = 3;
/** Probes running at once in a health round. */
const PROBE_CONCURRENCY = 64;
/** Passing probes in a row that bring an ejected backend back. */
export const RESTORE_AFTER_SUCCESSES = 2;

/**
 * Active health checks: GETs every backend's `health` endpoint on an interval with its API key.
 * Consecutive failures (probes, and dispatches reported by the push dispatcher) eject it;
 * consecutive passing probes bring it back. A backend with no `health` endpoint is ejected by
 * failed dispatches only and returns after an ejection period (half-open).
 */
export function createHealthChecker(deps: { registry: Registry; guard: UrlGuard; clock: Clock; log: Logger; intervalMs: number; onRestored?: () => void }) {
  const { registry, guard, clock, log } = deps;
  const timeoutMs = Math.max(50, Math.min(5000, deps.intervalMs));
  const ejectionMs = Math.max(1000, deps.intervalMs * 3);
  const ejectedAt = new Map<string, number>();
  const probing = new Set<string>();
  let timer: ReturnType<typeof setInterval> | undefined;

  function failure(e: ServerEntry, error: string): void {
    const h = e.health;
    h.consecutiveSuccesses = 0;
    h.consecutiveFailures++;
    if (!h.ejected && h.consecutiveFailures >= EJECT_AFTER_FAILURES) {
      h.ejected = true;
      ejectedAt.set(e.id, clock.now());
      log.warn("backend ejected", { server_id: e.id, name: e.name, failures: h.consecutiveFailures, error });
    }
  }

  function success(e: ServerEntry): void {
    const h = e.health;
    h.consecutiveFailures = 0;
    h.consecutiveSuccesses++;
    if (h.ejected && h.consecutiveSuccesses >= RESTORE_AFTER_SUCCESSES) {
      h.ejected = false;
      ejectedAt.delete(e.id);
      log.info("backend restored", { server_id: e.id, name: e.name });
      deps.onRestored?.();
    }
  }

  /** Probes one backend now and records the result. */
  async function probe(e: ServerEntry): Promise<void> {
    const url = e.endpoints.health;
    if (!url) return;
    const apiKey = await registry.apiKey(e).catch(() => undefined);
    const answer = await callBackend(guard, url, { method: "GET", apiKey, timeoutMs });
    const h = e.health;
    const now = clock.now();
    h.lastCheckTime = now;
    h.lastLatencyMs = answer.latencyMs;
    h.lastHttpStatus = answer.status;
    if (answer.ok) {
      h.lastResult = "passing";
      h.lastError = "";
      h.lastSuccessTime = now;
      success(e);
    } else {
      h.lastResult = "failing";
      h.lastError = answer.error;
      failure(e, answer.error);
    }
  }

  async function round(): Promise<void> {
    const now = clock.now();
    const due: ServerEntry[] = [];
    for (const e of registry.allBackends()) {
      if (!e.endpoints.health) {
        // Half-open: an ejected backend without a health endpoint gets another chance.
        const at = ejectedAt.get(e.id);
        if (e.health.ejected && at !== undefined && now - at >= ejectionMs) {
          e.health.ejected = false;
          e.health.consecutiveFailures = EJECT_AFTER_FAILURES - 1;
          ejectedAt.delete(e.id);
          deps.onRestored?.();
        }
        continue;
      }
      if (probing.has(e.id)) continue;
      due.push(e);
    }
    // At most PROBE_CONCURRENCY probes at once, so a large fleet is not probed in one burst.
    let next = 0;
    const lane = async () => {
      while (next < due.length) {
        const e = due[next++]!;
        probing.add(e.id);
        await probe(e).finally(() => probing.delete(e.id));
      }
    };
    await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, due.length) }, lane));
  }

  return {
    probe,
    round,
    /** A pushed task failed or timed out on this backend: counts as a failed check. */
    dispatchFailed: failure,
    /** A pushed task was answered: resets the failure count. */
    dispatchAnswered: (e: ServerEntry) => void (e.health.consecutiveFailures = e.health.ejected ? e.health.consecutiveFailures : 0),
    start(): void {
      timer ??= setInterval(() => void round().catch((error) => log.error("health round failed", { error: String(error) })), deps.intervalMs);
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type HealthChecker = ReturnType<typeof createHealthChecker>;
