import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { OpDatabase } from "../db/dialect.ts";
import { callBackend, type BackendAnswer } from "./backend-http.ts";
import type { Registry } from "./registry.ts";
import type { UrlGuard } from "./ssrf.ts";
import type { SharedHealthStore } from "./store.ts";
import { freshHealth } from "./store.ts";
import type { HealthCheckState, ServerEntry } from "./types.ts";

/** Failed probes or dispatches in a row that eject a backend (outlier detection). */
export const EJECT_AFTER_FAILURES = 3;
/** Probes running at once in a health round. */
const PROBE_CONCURRENCY = 64;
/** Passing probes in a row that bring an ejected backend back. */
export const RESTORE_AFTER_SUCCESSES = 2;

/** A backend's health state with the time it was ejected (what the shared table holds). */
export type HealthRecord = HealthCheckState & { ejectedAt?: number };

/** What a transition did (for the log and the dispatcher's wake-up). */
interface Transition {
  ejected?: boolean;
  restored?: boolean;
}

// ------------------------------------------------------------ the rules, on a state object

function failed(h: HealthRecord, now: number): Transition {
  h.consecutiveSuccesses = 0;
  h.consecutiveFailures++;
  if (!h.ejected && h.consecutiveFailures >= EJECT_AFTER_FAILURES) {
    h.ejected = true;
    h.ejectedAt = now;
    return { ejected: true };
  }
  return {};
}

function passed(h: HealthRecord): Transition {
  h.consecutiveFailures = 0;
  h.consecutiveSuccesses++;
  if (h.ejected && h.consecutiveSuccesses >= RESTORE_AFTER_SUCCESSES) {
    h.ejected = false;
    delete h.ejectedAt;
    return { restored: true };
  }
  return {};
}

function probed(h: HealthRecord, answer: BackendAnswer, now: number): Transition {
  h.lastCheckTime = now;
  h.lastLatencyMs = answer.latencyMs;
  h.lastHttpStatus = answer.status;
  if (answer.ok) {
    h.lastResult = "passing";
    h.lastError = "";
    h.lastSuccessTime = now;
    return passed(h);
  }
  h.lastResult = "failing";
  h.lastError = answer.error;
  return failed(h, now);
}

/** Half-open: an ejected backend without a health endpoint gets another chance after the ejection period. */
function halfOpen(h: HealthRecord, now: number, ejectionMs: number): Transition {
  if (!h.ejected || h.ejectedAt === undefined || now - h.ejectedAt < ejectionMs) return {};
  h.ejected = false;
  h.consecutiveFailures = EJECT_AFTER_FAILURES - 1;
  delete h.ejectedAt;
  return { restored: true };
}

const parseRecord = (json: string | null | undefined): HealthRecord => (json ? { ...freshHealth(), ...(JSON.parse(json) as HealthRecord) } : freshHealth());

/**
 * Active health checks: GETs every backend's `health` endpoint on an interval with its API key.
 * Consecutive failures (probes, and dispatches reported by the push dispatcher) eject it;
 * consecutive passing probes bring it back. A backend with no `health` endpoint is ejected by
 * failed dispatches only and returns after an ejection period (half-open).
 *
 * With several instances on one PostgreSQL database (`shared` given), the state of every
 * backend lives in the `server_health` table: each round claims the backends whose probe is due
 * (`FOR UPDATE SKIP LOCKED`, the next one an interval later by the database's clock), so a
 * backend is probed once per interval by the whole fleet, whichever instance does it; every
 * result and every failed dispatch is applied to the stored state under its row lock, and
 * `refresh` copies the stored states into memory, so every instance's status and balancer agree.
 */
export function createHealthChecker(deps: {
  registry: Registry;
  guard: UrlGuard;
  clock: Clock;
  log: Logger;
  intervalMs: number;
  onRestored?: () => void;
  shared?: { database: OpDatabase; store: SharedHealthStore };
}) {
  const { registry, guard, clock, log, shared } = deps;
  const timeoutMs = Math.max(50, Math.min(5000, deps.intervalMs));
  const ejectionMs = Math.max(1000, deps.intervalMs * 3);
  const ejectedAt = new Map<string, number>();
  const probing = new Set<string>();
  let timer: ReturnType<typeof setInterval> | undefined;

  function report(e: ServerEntry, t: Transition, error?: string): void {
    if (t.ejected) log.warn("backend ejected", { server_id: e.id, name: e.name, failures: e.health.consecutiveFailures, error });
    if (t.restored) {
      log.info("backend restored", { server_id: e.id, name: e.name });
      deps.onRestored?.();
    }
  }

  /** Copies a record into the entry's state (in place: views and candidates keep their reference). */
  function adopt(e: ServerEntry, r: HealthRecord): void {
    const { ejectedAt: at, ...state } = r;
    Object.assign(e.health, state);
    if (at === undefined) ejectedAt.delete(e.id);
    else ejectedAt.set(e.id, at);
  }

  /**
   * Applies a rule to a backend's state: in memory (one instance), or to the stored state under
   * its row lock and then in memory (several instances).
   */
  async function apply(e: ServerEntry, rule: (h: HealthRecord) => Transition, nextCheckAt?: number): Promise<Transition> {
    if (!shared) {
      const h: HealthRecord = e.health;
      const at = ejectedAt.get(e.id);
      if (at !== undefined) h.ejectedAt = at;
      const t = rule(h);
      const { ejectedAt: after } = h;
      delete h.ejectedAt;
      if (after === undefined) ejectedAt.delete(e.id);
      else ejectedAt.set(e.id, after);
      return t;
    }
    const { t, record } = await shared.database.write(function* (tx) {
      const record = parseRecord(yield* shared.store.lockHealth(tx, e.tenant, e.id));
      const t = rule(record);
      yield* shared.store.saveHealth(tx, e.tenant, e.id, JSON.stringify(record), nextCheckAt);
      return { t, record };
    });
    adopt(e, record);
    return t;
  }

  /** Probes one backend now and records the result. */
  async function probe(e: ServerEntry): Promise<void> {
    const url = e.endpoints.health;
    if (!url) return;
    const apiKey = await registry.apiKey(e).catch(() => undefined);
    const answer = await callBackend(guard, url, { method: "GET", apiKey, timeoutMs });
    const now = clock.now();
    // Just probed (at registration, on request, or in a round): the fleet's next probe is an interval later.
    report(e, await apply(e, (h) => probed(h, answer, now), now + deps.intervalMs), answer.ok ? undefined : answer.error);
  }

  /** The backends this round probes: all with a health endpoint, or (several instances) those this instance claimed. */
  async function due(now: number): Promise<ServerEntry[]> {
    if (!shared) return registry.allBackends().filter((e) => e.endpoints.health && !probing.has(e.id));
    const claimed = await shared.database.write((tx) => shared.store.claimDueProbes(tx, now, deps.intervalMs, 1000));
    const out: ServerEntry[] = [];
    const cached = new Map(registry.allBackends().map((b) => [b.id, b]));
    for (const c of claimed) {
      const e = cached.get(c.id) ?? (await registry.lookup(c.tenant, c.id).catch(() => undefined));
      if (!e || probing.has(e.id)) continue;
      adopt(e, parseRecord(c.state));
      out.push(e);
    }
    return out;
  }

  async function round(): Promise<void> {
    const now = clock.now();
    for (const e of registry.allBackends()) {
      if (e.endpoints.health || !e.health.ejected) continue;
      const at = ejectedAt.get(e.id);
      if (at === undefined || now - at < ejectionMs) continue;
      report(e, await apply(e, (h) => halfOpen(h, now, ejectionMs)));
    }
    const list = await due(now);
    // At most PROBE_CONCURRENCY probes at once, so a large fleet is not probed in one burst.
    let next = 0;
    const lane = async () => {
      while (next < list.length) {
        const e = list[next++]!;
        probing.add(e.id);
        await probe(e)
          .catch((error) => log.error("health probe not recorded", { server_id: e.id, error: String(error) }))
          .finally(() => probing.delete(e.id));
      }
    };
    await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, list.length) }, lane));
  }

  return {
    probe,
    round,
    /** A pushed task failed or timed out on this backend: counts as a failed check. */
    async dispatchFailed(e: ServerEntry, error: string): Promise<void> {
      const now = clock.now();
      report(e, await apply(e, (h) => failed(h, now)), error);
    },
    /** A pushed task was answered: resets the failure count. */
    async dispatchAnswered(e: ServerEntry): Promise<void> {
      // (Nothing to write when there is nothing to reset: one answered task is not one write.)
      if (e.health.ejected || e.health.consecutiveFailures === 0) return;
      await apply(e, (h) => {
        if (!h.ejected) h.consecutiveFailures = 0;
        return {};
      });
    },
    /** Copies every stored state into memory (several instances; the domain's refresh calls it). */
    async refresh(): Promise<void> {
      if (!shared) return;
      const records = await shared.database.read((tx) => shared.store.loadHealth(tx));
      for (const e of registry.allBackends()) {
        const json = records.get(e.id);
        if (json !== undefined) adopt(e, parseRecord(json));
      }
    },
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
