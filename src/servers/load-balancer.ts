import type { Clock } from "../core/clock.ts";
import { invalidArgument } from "../core/errors.ts";
import type { OpDatabase } from "../db/dialect.ts";
import type { Candidate } from "./balancer/candidate.ts";
import { newBalancerState, pickWith, type BalancerState } from "./balancer/pick.ts";
import type { Registry } from "./registry.ts";
import type { ServerStore } from "./store.ts";
import { ALGORITHMS, DEFAULT_ALGORITHM, type Algorithm, type LoadBalancerStatus, type PickResult, type ServerEntry } from "./types.ts";

/** Every wanted capability is held (a plain loop: this runs for every server on every pick). */
function hasAll(held: readonly string[], wanted: readonly string[]): boolean {
  for (let i = 0; i < wanted.length; i++) if (!held.includes(wanted[i]!)) return false;
  return true;
}

export interface PickRequest {
  capabilities?: string[];
  group?: string;
  excludeServerIds?: string[];
}

/**
 * The load balancer: the algorithm in force per tenant (persisted), the eligibility rules, and
 * the pick. Eligible: a BACKEND with every capability asked for, in the group (if given), not
 * excluded, ONLINE — DEGRADED ones only when no ONLINE one fits — and below max_concurrent.
 *
 * Picks are synchronous over the registry's memory. With several instances the algorithm of
 * every tenant is reloaded by `refresh` (the domain calls it every refresh period); the
 * turn-taking state of round robin, weighted round robin and least connections' tie-break is
 * per instance (each instance takes its own turns over the same pool), and active-task counts
 * are the registry's (refreshed from the task engine's records each period, plus this
 * instance's claims at once).
 */
export function createLoadBalancer(deps: { registry: Registry; store: ServerStore; database: OpDatabase; clock: Clock; random?: () => number }) {
  const { registry, store, clock, database } = deps;
  const random = deps.random ?? Math.random;
  const states = new Map<string, BalancerState>();
  let algorithms = new Map<string, { algorithm: Algorithm; updatedAt: number | undefined }>();
  const fallback = { algorithm: DEFAULT_ALGORITHM, updatedAt: undefined };

  async function load(): Promise<void> {
    const stored = await database.read((tx) => store.algorithms(tx));
    const next = new Map<string, { algorithm: Algorithm; updatedAt: number | undefined }>();
    for (const [tenant, a] of stored) if (ALGORITHMS.includes(a.algorithm)) next.set(tenant, a);
    // A switch made here after the read started stays.
    for (const [tenant, a] of algorithms) {
      const n = next.get(tenant);
      if ((a.updatedAt ?? 0) > (n?.updatedAt ?? -1)) next.set(tenant, a);
    }
    algorithms = next;
  }
  const ready = load();
  ready.catch(() => {});

  const algorithmOf = (tenant: string): { algorithm: Algorithm; updatedAt: number | undefined } => algorithms.get(tenant) ?? fallback;

  function stateOf(tenant: string, group: string): BalancerState {
    const key = `${tenant}\u0000${group}`;
    let s = states.get(key);
    if (!s) states.set(key, (s = newBalancerState()));
    return s;
  }

  const weightOf = (e: ServerEntry) => e.weight ?? e.priority;

  return {
    algorithmOf: (tenant: string) => algorithmOf(tenant).algorithm,
    ready,
    /** Reloads every tenant's algorithm (another instance may have switched it). */
    refresh: async () => {
      await ready;
      await load();
    },

    /** Switches the algorithm for every later pick; kept across restarts. */
    async setAlgorithm(tenant: string, algorithm: Algorithm): Promise<{ algorithm: Algorithm; previous: Algorithm }> {
      if (!ALGORITHMS.includes(algorithm)) throw invalidArgument("algorithm", `must be one of ${ALGORITHMS.join(", ")}`);
      await ready;
      const previous = algorithmOf(tenant).algorithm;
      if (previous === algorithm) return { algorithm, previous };
      const now = clock.now();
      await database.write((tx) => store.setAlgorithm(tx, tenant, algorithm, now));
      algorithms.set(tenant, { algorithm, updatedAt: now });
      return { algorithm, previous };
    },

    /** Picks a backend; finding none is an answer with the reason. */
    pick(tenant: string, req: PickRequest = {}): PickResult {
      const now = clock.now();
      const caps = req.capabilities ?? [];
      const group = req.group ?? "";
      const exclude = req.excludeServerIds?.length ? new Set(req.excludeServerIds) : undefined;
      const online: Candidate[] = [];
      const degraded: Candidate[] = [];
      const entries: ServerEntry[] = [];
      const degradedEntries: ServerEntry[] = [];
      let matched = 0;
      let up = 0;
      for (const e of registry.pool(tenant)) {
        if (exclude?.has(e.id)) continue;
        if (group && !e.groups.includes(group)) continue;
        if (caps.length && !hasAll(e.capabilities, caps)) continue;
        matched++;
        const status = registry.statusOf(e, now);
        if (status !== "online" && status !== "degraded") continue;
        up++;
        const active = registry.activeTasks(e);
        if (active >= e.maxConcurrent) continue;
        // Candidates are reused from pick to pick (a pick over 1,000 servers should not allocate 1,000 objects).
        const c = (e.candidate ??= { id: e.id, activeTasks: 0, maxConcurrent: 1, weight: 1 });
        c.activeTasks = active;
        c.maxConcurrent = e.maxConcurrent;
        c.weight = weightOf(e);
        if (status === "online") (online.push(c), entries.push(e));
        else (degraded.push(c), degradedEntries.push(e));
      }
      const algorithm = algorithmOf(tenant).algorithm;
      const [candidates, list] = online.length ? [online, entries] : [degraded, degradedEntries];
      if (candidates.length === 0) {
        const reason = matched === 0 ? "no_match" : up === 0 ? "none_available" : "all_at_capacity";
        return { server: undefined, reason, algorithm, candidateCount: matched };
      }
      const i = pickWith(algorithm, candidates, stateOf(tenant, group), random);
      return { server: registry.view(list[i]!, now), reason: undefined, algorithm, candidateCount: candidates.length };
    },

    /**
     * Chooses among worker streams that could take work (the pull model), with the same
     * algorithm and notion of load as backends: active tasks over max_concurrent of the worker's
     * registry entry (credits left plus active when it never registered). Workers in maintenance
     * are drained by the task engine and skipped here.
     */
    pickStream(streams: { workerId: string; credits: number }[], tenant = "default"): number | undefined {
      const now = clock.now();
      const candidates: Candidate[] = [];
      const index: number[] = [];
      for (let i = 0; i < streams.length; i++) {
        const s = streams[i]!;
        const e = registry.worker(s.workerId);
        if (e && registry.statusOf(e, now) === "maintenance") continue;
        const active = registry.heldCount(s.workerId);
        candidates.push({ id: s.workerId, activeTasks: active, maxConcurrent: e?.maxConcurrent ?? active + s.credits, weight: e ? weightOf(e) : 1 });
        index.push(i);
      }
      if (candidates.length === 0) return undefined;
      return index[pickWith(algorithmOf(tenant).algorithm, candidates, stateOf(tenant, "\u0000streams"), random)];
    },

    /** Free slots over the tenant's available backends (ONLINE or DEGRADED): how many tasks a round could place. */
    room(tenant: string): number {
      const now = clock.now();
      let free = 0;
      for (const e of registry.pool(tenant)) {
        const status = registry.statusOf(e, now);
        if (status === "online" || status === "degraded") free += Math.max(0, e.maxConcurrent - registry.activeTasks(e));
      }
      return free;
    },

    /** The algorithm and every backend's load (of a group, if given), with totals. */
    status(tenant: string, group = ""): LoadBalancerStatus {
      const now = clock.now();
      const a = algorithmOf(tenant);
      const servers = registry
        .pool(tenant)
        .filter((e) => !group || e.groups.includes(group))
        .map((e) => {
          const status = registry.statusOf(e, now);
          const active = registry.activeTasks(e);
          return {
            serverId: e.id,
            name: e.name,
            status,
            load: active / Math.max(1, e.maxConcurrent),
            activeTasks: active,
            maxConcurrent: e.maxConcurrent,
            weight: weightOf(e),
            available: (status === "online" || status === "degraded") && active < e.maxConcurrent,
          };
        });
      const available = servers.filter((s) => s.available);
      return {
        algorithm: a.algorithm,
        servers,
        totalActiveTasks: servers.reduce((n, s) => n + s.activeTasks, 0),
        totalCapacity: available.reduce((n, s) => n + s.maxConcurrent, 0),
        averageLoad: available.length ? available.reduce((n, s) => n + s.load, 0) / available.length : 0,
        availableCount: available.length,
        algorithmUpdateTime: a.updatedAt,
      };
    },
  };
}

export type LoadBalancer = ReturnType<typeof createLoadBalancer>;
