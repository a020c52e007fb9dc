import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Committer } from "../db/group-commit.ts";
import { checkIntRange, checkNewServer, checkServerName, checkStrings, nameTaken, serverNotFound } from "./register-rules.ts";
import type { UrlGuard } from "./ssrf.ts";
import { statusAt } from "./status.ts";
import { freshHealth, type ServerStore } from "./store.ts";
import type { TaskPort } from "./task-port.ts";
import type { LoadReport, NewServer, ReportedHealth, ServerEntry, ServerFilter, ServerStatus, ServerView } from "./types.ts";

export interface RegistryDeps {
  store: ServerStore;
  committer: Committer;
  clock: Clock;
  secrets: SecretBox;
  guard: UrlGuard;
  tasks: TaskPort;
  heartbeatTimeoutMs: number;
}

/** Sealing context of backend API keys (binds a sealed key to its server). */
const keyContext = (e: { tenant: string; id: string }) => `servers/${e.tenant}/${e.id}/api_key`;

/**
 * The registry of backends and workers. Entries live in memory (the load balancer reads them
 * on every pick) and in SQLite; registration, maintenance and removal are written through the
 * group committer before they are answered; heartbeats update memory at once and are written
 * in batches — every heartbeat that arrives while a batch is waiting joins it — and each is
 * answered after the commit that holds it.
 */
export function createRegistry(deps: RegistryDeps) {
  const { store, committer, clock, secrets, guard, tasks } = deps;
  const byId = new Map<string, ServerEntry>();
  /** Backends by tenant, in name order: the load balancer's pools. */
  const backends = new Map<string, ServerEntry[]>();
  /** Workers by name (their worker_id), for the choice among worker streams. */
  const workers = new Map<string, ServerEntry>();
  /** Running task ids by holder (a backend's id, a worker's name). */
  const held = new Map<string, Set<string>>();
  const holderOf = new Map<string, string>();
  const lastStatus = new Map<string, ServerStatus>();
  let streaming = new Set<string>();

  for (const e of store.loadAll()) byId.set(e.id, e);
  rebuildPools();
  // Maintenance outlives a restart: drain again what was drained.
  for (const e of byId.values()) if (e.maintenance) tasks.setDrained(e.tenant, e.kind === "backend" ? e.id : e.name, true);
  // Answered at once on SQLite; a change seen before the answer (PostgreSQL) is not overwritten.
  void tasks.runningByHolder(undefined).then((running) => {
    for (const { taskId, holder } of running) if (!holderOf.has(taskId)) hold(taskId, holder);
  });
  tasks.onHolderChange((c) => {
    if (c.claimedBy !== undefined) hold(c.taskId, c.claimedBy);
    else if (c.leftRunning) unhold(c.taskId);
  });

  function hold(taskId: string, holder: string): void {
    unhold(taskId);
    let set = held.get(holder);
    if (!set) held.set(holder, (set = new Set()));
    set.add(taskId);
    holderOf.set(taskId, holder);
  }
  function unhold(taskId: string): void {
    const holder = holderOf.get(taskId);
    if (holder === undefined) return;
    holderOf.delete(taskId);
    const set = held.get(holder);
    set?.delete(taskId);
    if (set && set.size === 0) held.delete(holder);
  }

  function rebuildPools(): void {
    backends.clear();
    workers.clear();
    for (const e of byId.values()) if (e.kind === "worker") workers.set(e.name, e);
    for (const e of byId.values()) {
      if (e.kind !== "backend") continue;
      let pool = backends.get(e.tenant);
      if (!pool) backends.set(e.tenant, (pool = []));
      pool.push(e);
    }
    for (const pool of backends.values()) pool.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  const holderName = (e: ServerEntry) => (e.kind === "backend" ? e.id : e.name);
  /** Picks not yet claimed (the claim is committing): counted so a burst cannot overfill a backend. */
  const reserved = new Map<string, number>();
  const activeTasks = (e: ServerEntry) => (held.get(holderName(e))?.size ?? 0) + (reserved.get(e.id) ?? 0);
  const statusOf = (e: ServerEntry, now: number): ServerStatus => statusAt(e, now, deps.heartbeatTimeoutMs, e.kind === "worker" && streaming.has(e.name));

  function view(e: ServerEntry, now = clock.now()): ServerView {
    const active = activeTasks(e);
    const since = e.lastHeartbeatTime ?? e.registerTime;
    return {
      ...e,
      status: statusOf(e, now),
      activeTasks: active,
      currentLoad: active / Math.max(1, e.maxConcurrent),
      uptimeMs: Math.max(0, now - e.registerTime),
      timeSinceLastHeartbeatMs: Math.max(0, now - since),
    };
  }

  function entry(tenant: string, id: string): ServerEntry {
    const e = byId.get(id);
    // Another tenant's server is not found, never forbidden.
    if (!e || e.tenant !== tenant) throw serverNotFound(id);
    return e;
  }

  function byName(tenant: string, name: string): ServerEntry | undefined {
    for (const e of byId.values()) if (e.tenant === tenant && e.name === name) return e;
    return undefined;
  }

  // ------------------------------------------------------------ heartbeat batches

  const dirty = new Set<ServerEntry>();
  let batch: Promise<void> | undefined;
  function flushHeartbeats(): Promise<void> {
    batch ??= committer.run(() => {
      batch = undefined;
      const entries = [...dirty];
      dirty.clear();
      for (const e of entries) store.saveHeartbeat(e);
    });
    return batch;
  }

  // ------------------------------------------------------------ status log

  /** Records derived status changes (for the uptime ratio); one commit for all of them. */
  async function sweep(): Promise<number> {
    streaming = tasks.streamingWorkers();
    const now = clock.now();
    const changes: [ServerEntry, ServerStatus][] = [];
    for (const e of byId.values()) {
      const s = statusOf(e, now);
      if (lastStatus.get(e.id) !== s) {
        lastStatus.set(e.id, s);
        changes.push([e, s]);
      }
    }
    if (changes.length) await committer.run(() => {
      for (const [e, s] of changes) if (byId.has(e.id)) store.logStatus(e.tenant, e.id, now, s);
    });
    return changes.length;
  }

  async function sealKey(e: ServerEntry, apiKey: string | undefined): Promise<void> {
    if (apiKey !== undefined) e.apiKeySealed = await secrets.seal(apiKey, keyContext(e));
  }

  return {
    view,
    heartbeatIntervalMs: Math.max(50, Math.floor(deps.heartbeatTimeoutMs / 3)),
    heartbeatTimeoutMs: deps.heartbeatTimeoutMs,

    /** Registers a backend or worker; a retry with the same request id answers the first registration. */
    async register(tenant: string, input: NewServer): Promise<ServerView> {
      const s = checkNewServer(input, guard);
      if (s.requestId) {
        for (const e of byId.values()) if (e.tenant === tenant && e.requestId === s.requestId) return view(e);
      }
      if (byName(tenant, s.name)) throw nameTaken(s.name);
      for (const [role, url] of Object.entries(s.endpoints)) {
        const why = await guard.refusal(url, { unresolvable: "allow" });
        if (why) throw new AppError("invalid_argument", "ENDPOINT_NOT_ALLOWED", `server.endpoints.${role}: ${why}; allow it with SWITCHYARD_BACKEND_ALLOW`, { field: `server.endpoints.${role}` });
      }
      const now = clock.now();
      const e: ServerEntry = {
        id: newId("srv", now),
        tenant,
        name: s.name,
        kind: s.kind,
        endpoints: s.endpoints,
        maxConcurrent: s.maxConcurrent,
        capabilities: s.capabilities,
        groups: s.groups,
        priority: s.priority,
        weight: s.weight,
        labels: s.labels,
        queues: [],
        apiKeySealed: undefined,
        registerTime: now,
        updateTime: now,
        requestId: s.requestId,
        lastHeartbeatTime: undefined,
        reportedHealth: undefined,
        lastLoad: undefined,
        maintenance: undefined,
        health: freshHealth(),
      };
      await sealKey(e, s.apiKey);
      await committer.run(() => {
        if (byName(tenant, s.name)) throw nameTaken(s.name);
        store.save(e);
        byId.set(e.id, e);
      });
      rebuildPools();
      return view(e);
    },

    get: (tenant: string, id: string): ServerView => view(entry(tenant, id)),
    entry,

    /** Lists by name with filters; every set filter must match. */
    list(tenant: string, f: ServerFilter = {}): { items: ServerView[]; nextPageToken: string } {
      const size = f.pageSize === undefined || f.pageSize === 0 ? 50 : checkIntRange("page_size", f.pageSize, 1, 1000);
      let after = "";
      if (f.pageToken) {
        try {
          after = Buffer.from(f.pageToken, "base64url").toString("utf8");
          if (!after.startsWith("n:")) throw new Error();
          after = after.slice(2);
        } catch {
          throw invalidArgument("page_token", "is not a token of this list");
        }
      }
      const now = clock.now();
      const out: ServerView[] = [];
      const sorted = [...byId.values()].filter((e) => e.tenant === tenant).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      let more = false;
      for (const e of sorted) {
        if (after && e.name <= after) continue;
        if (f.kind && e.kind !== f.kind) continue;
        if (f.name && e.name !== f.name) continue;
        if (f.group && !e.groups.includes(f.group)) continue;
        if (f.capability && !e.capabilities.includes(f.capability)) continue;
        const v = view(e, now);
        if (f.status && v.status !== f.status) continue;
        if (out.length === size) {
          more = true;
          break;
        }
        out.push(v);
      }
      const last = out[out.length - 1];
      return { items: out, nextPageToken: more && last ? Buffer.from(`n:${last.name}`).toString("base64url") : "" };
    },

    /** Removes a server; the tasks it holds go back to their queues, the attempt not counted. */
    async unregister(tenant: string, id: string): Promise<ServerView> {
      const e = entry(tenant, id);
      const before = view(e);
      await committer.run(() => {
        store.remove(tenant, id);
        byId.delete(id);
      });
      rebuildPools();
      lastStatus.delete(id);
      dirty.delete(e);
      tasks.setDrained(tenant, holderName(e), false);
      await tasks.releaseHeldBy(tenant, holderName(e));
      return before;
    },

    /** Records a heartbeat; answered after the batch holding it commits. */
    async heartbeat(tenant: string, id: string, health: ReportedHealth | undefined, load: Omit<LoadReport, "reportTime"> | undefined): Promise<ServerView> {
      const e = entry(tenant, id);
      const now = clock.now();
      if (load) {
        checkIntRange("load.active_tasks", load.activeTasks, 0, 10_000_000);
        if (Object.keys(load.custom).length > 64) throw invalidArgument("load.custom", "at most 64 gauges");
        for (const [k, v] of [["cpu_percent", load.cpuPercent], ["memory_percent", load.memoryPercent], ["gpu_percent", load.gpuPercent]] as const) {
          if (v !== undefined && !Number.isFinite(v)) throw invalidArgument(`load.${k}`, "must be a finite number");
        }
      }
      e.lastHeartbeatTime = now;
      e.reportedHealth = health ?? "healthy";
      e.lastLoad = load ? { ...load, reportTime: now } : e.lastLoad;
      dirty.add(e);
      await flushHeartbeats();
      return view(e);
    },

    /** Turns maintenance on (drain: no new tasks, running ones finish) or off. */
    async setMaintenance(tenant: string, id: string, enabled: boolean, reason: string, setBy: string): Promise<ServerView> {
      const e = entry(tenant, id);
      if (typeof reason !== "string" || reason.length > 512) throw invalidArgument("reason", "at most 512 characters");
      const now = clock.now();
      e.maintenance = enabled ? { reason, startTime: e.maintenance?.startTime ?? now, setBy } : undefined;
      e.updateTime = now;
      tasks.setDrained(tenant, holderName(e), enabled);
      await committer.run(() => store.saveMaintenance(e));
      return view(e);
    },

    /** Creates or refreshes a worker named worker_id for a queue (seed 003 registration). */
    async registerWorker(
      tenant: string,
      w: { workerId: string; queue: string; capabilities?: string[]; maxConcurrent?: number; labels?: Record<string, string> },
    ): Promise<ServerView> {
      const name = checkServerName("worker_id", w.workerId);
      const caps = checkStrings("capabilities", w.capabilities, 64);
      const max = checkIntRange("max_concurrent", w.maxConcurrent ?? 0, 0, 1_000_000) || 1;
      const now = clock.now();
      const existing = byName(tenant, name);
      if (existing && existing.kind !== "worker") throw nameTaken(name);
      const e: ServerEntry = existing ?? {
        id: newId("srv", now),
        tenant,
        name,
        kind: "worker",
        endpoints: {},
        maxConcurrent: max,
        capabilities: caps,
        groups: [],
        priority: 1,
        weight: undefined,
        labels: {},
        queues: [],
        apiKeySealed: undefined,
        registerTime: now,
        updateTime: now,
        requestId: undefined,
        lastHeartbeatTime: undefined,
        reportedHealth: undefined,
        lastLoad: undefined,
        maintenance: undefined,
        health: freshHealth(),
      };
      const updated: ServerEntry = {
        ...e,
        queues: e.queues.includes(w.queue) ? e.queues : [...e.queues, w.queue],
        capabilities: caps.length ? caps : e.capabilities,
        maxConcurrent: w.maxConcurrent ? max : e.maxConcurrent,
        labels: { ...e.labels, ...(w.labels ?? {}) },
        // Registering is a sign of life: the worker is online until its timeout passes.
        lastHeartbeatTime: now,
        updateTime: now,
      };
      await committer.run(() => {
        store.save(updated);
        byId.set(updated.id, updated);
      });
      rebuildPools();
      return view(updated);
    },

    /** The backends of a tenant (in name order) for the load balancer. */
    pool: (tenant: string): readonly ServerEntry[] => backends.get(tenant) ?? [],
    /** Every backend of every tenant (health checker, dispatcher). */
    allBackends: (): ServerEntry[] => [...backends.values()].flat(),
    activeTasks,
    statusOf,
    /** The backend's API key in plaintext, for calling it; undefined when none. */
    apiKey: async (e: ServerEntry): Promise<string | undefined> => (e.apiKeySealed ? secrets.open(e.apiKeySealed, keyContext(e)) : undefined),
    sweep,
    /** Refreshes which workers hold a live stream (also done by each sweep). */
    refreshStreaming: () => void (streaming = tasks.streamingWorkers()),
    /** Tasks a holder runs now (ids), e.g. to drain. */
    heldBy: (e: ServerEntry): string[] => [...(held.get(holderName(e)) ?? [])],
    holderName,
    /** Counts (+1) or uncounts (-1) a pick whose claim is on its way. */
    reserve(e: ServerEntry, delta: number): void {
      const n = (reserved.get(e.id) ?? 0) + delta;
      if (n > 0) reserved.set(e.id, n);
      else reserved.delete(e.id);
    },
    /** The worker entry of a worker id (any tenant: worker streams carry no tenant yet). */
    worker: (name: string): ServerEntry | undefined => workers.get(name),
    /** Running tasks of a holder id. */
    heldCount: (holder: string): number => held.get(holder)?.size ?? 0,
    /** Tenants that have backends. */
    tenants: (): string[] => [...backends.keys()],
  };
}

export type Registry = ReturnType<typeof createRegistry>;
