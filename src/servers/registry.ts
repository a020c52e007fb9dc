import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { OpDatabase } from "../db/dialect.ts";
import { checkIntRange, checkNewServer, checkServerName, checkStrings, nameTaken, serverNotFound } from "./register-rules.ts";
import type { UrlGuard } from "./ssrf.ts";
import { statusAt } from "./status.ts";
import { freshHealth, heartbeatRow, isUniqueViolation, type HeartbeatRow, type ServerStore } from "./store.ts";
import type { HolderChange, TaskPort } from "./task-port.ts";
import type { LoadReport, NewServer, ReportedHealth, ServerEntry, ServerFilter, ServerStatus, ServerView } from "./types.ts";

export interface RegistryDeps {
  store: ServerStore;
  database: OpDatabase;
  clock: Clock;
  secrets: SecretBox;
  guard: UrlGuard;
  tasks: TaskPort;
  heartbeatTimeoutMs: number;
  /**
   * Several instances share the database (PostgreSQL): reads of one server or one tenant read
   * through to the database, and `refresh` brings the whole cache up to date (the domain calls
   * it every `refreshMs`). False on SQLite, where this process owns the file and memory is exact.
   */
  shared: boolean;
}

/** Sealing context of backend API keys (binds a sealed key to its server). */
const keyContext = (e: { tenant: string; id: string }) => `servers/${e.tenant}/${e.id}/api_key`;

/** The fleet-wide lock of the status sweep (one instance logs a tick's changes; any constant). */
const SWEEP_LOCK = 0x73727677;

const byNameOrder = (a: ServerEntry, b: ServerEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The registry of backends and workers. Entries live in memory (the load balancer reads them
 * on every pick) and in the database; registration, maintenance and removal are written through
 * the group committer before they are answered; heartbeats update memory at once and are written
 * in batches — every heartbeat that arrives while a batch is waiting joins it — and each is
 * answered after the commit that holds it.
 *
 * With several instances on one PostgreSQL database (`shared`), the database is the registry:
 * RPC reads (get, list, maintenance, removal) read their rows through, a heartbeat for a server
 * another instance registered is found there, and `refresh` (every second by default) merges
 * every row into memory — registrations, removals, maintenance, the latest heartbeat whichever
 * instance heard it — and reloads the running tasks per holder, so the balancer of every
 * instance sees the others' changes within one refresh period.
 */
export function createRegistry(deps: RegistryDeps) {
  const { store, database, clock, secrets, guard, tasks } = deps;
  const heartbeatIntervalMs = Math.max(50, Math.floor(deps.heartbeatTimeoutMs / 3));
  const byId = new Map<string, ServerEntry>();
  /** Backends by tenant, in name order: the load balancer's pools. */
  const backends = new Map<string, ServerEntry[]>();
  /** Workers by name (their worker_id), for the choice among worker streams. */
  const workers = new Map<string, ServerEntry>();
  /** Running task ids by holder (a backend's id, a worker's name). */
  let held = new Map<string, Set<string>>();
  let holderOf = new Map<string, string>();
  const lastStatus = new Map<string, ServerStatus>();
  let streaming = new Set<string>();

  /** Holder changes seen while a refresh reads the running tasks: replayed over what it read. */
  let replay: HolderChange[] | undefined;
  const applyChange = (c: HolderChange) => {
    if (c.claimedBy !== undefined) hold(c.taskId, c.claimedBy);
    else if (c.leftRunning) unhold(c.taskId);
  };
  const unsubscribe = tasks.onHolderChange((c) => {
    replay?.push(c);
    applyChange(c);
  });

  async function load(): Promise<void> {
    const rows = await database.read((tx) => store.loadAll(tx));
    for (const e of rows) byId.set(e.id, e);
    rebuildPools();
    // Maintenance outlives a restart: drain again what was drained.
    for (const e of byId.values()) if (e.maintenance) await tasks.setDrained(e.tenant, holderName(e), true);
    for (const { taskId, holder } of await tasks.runningByHolder(undefined)) hold(taskId, holder);
  }
  const ready = load();
  ready.catch(() => {});

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
    for (const pool of backends.values()) pool.sort(byNameOrder);
  }

  const holderName = (e: Pick<ServerEntry, "kind" | "id" | "name">) => (e.kind === "backend" ? e.id : e.name);
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

  // ------------------------------------------------------------ merging rows of other instances

  /** Maintenance another instance set (or lifted): this instance's task engine drains too. */
  const drain = (tenant: string, holder: string, on: boolean) => void tasks.setDrained(tenant, holder, on).catch(() => {});

  /** Drops an entry that is gone from the database. */
  function forget(e: ServerEntry): void {
    if (byId.get(e.id) !== e) return;
    byId.delete(e.id);
    lastStatus.delete(e.id);
    dirty.delete(e);
    rebuildPools();
  }

  /**
   * Brings a cached entry up to its database row, in place (health-check state and the
   * balancer's candidate stay): the configuration when the row is at least as recent, the
   * heartbeat when the row's is later (a local heartbeat may still be in its batch).
   * Answers whether the pools must be rebuilt.
   */
  function mergeInto(e: ServerEntry, r: ServerEntry): boolean {
    let reshaped = false;
    if (r.updateTime >= e.updateTime) {
      reshaped = e.name !== r.name || e.kind !== r.kind;
      if (!e.maintenance !== !r.maintenance) drain(e.tenant, holderName(e), r.maintenance !== undefined);
      e.name = r.name;
      e.kind = r.kind;
      e.endpoints = r.endpoints;
      e.apiKeySealed = r.apiKeySealed;
      e.maxConcurrent = r.maxConcurrent;
      e.capabilities = r.capabilities;
      e.groups = r.groups;
      e.priority = r.priority;
      e.weight = r.weight;
      e.labels = r.labels;
      e.queues = r.queues;
      e.updateTime = r.updateTime;
      e.requestId = r.requestId;
      e.maintenance = r.maintenance;
    }
    if ((r.lastHeartbeatTime ?? -1) > (e.lastHeartbeatTime ?? -1)) {
      e.lastHeartbeatTime = r.lastHeartbeatTime;
      e.reportedHealth = r.reportedHealth;
      e.lastLoad = r.lastLoad;
    }
    return reshaped;
  }

  /** Adopts a row: merged into its cached entry, or cached (a registration of another instance). */
  function adopt(r: ServerEntry): ServerEntry {
    const e = byId.get(r.id);
    if (e) {
      if (mergeInto(e, r)) rebuildPools();
      return e;
    }
    byId.set(r.id, r);
    if (r.maintenance) drain(r.tenant, holderName(r), true);
    rebuildPools();
    return r;
  }

  /** Merges a full set of rows (of every tenant, or of `tenant`); cached entries absent from it, and cached before it was read, are dropped. */
  function mergeAll(rows: ServerEntry[], knownBefore: Set<string>, tenant?: string): void {
    const seen = new Set<string>();
    let reshaped = false;
    for (const r of rows) {
      seen.add(r.id);
      const e = byId.get(r.id);
      if (e) reshaped = mergeInto(e, r) || reshaped;
      else {
        byId.set(r.id, r);
        if (r.maintenance) drain(r.tenant, holderName(r), true);
        reshaped = true;
      }
    }
    for (const id of knownBefore) {
      const e = byId.get(id);
      if (!e || seen.has(id) || (tenant !== undefined && e.tenant !== tenant)) continue;
      byId.delete(id);
      lastStatus.delete(id);
      dirty.delete(e);
      reshaped = true;
    }
    if (reshaped) rebuildPools();
  }

  /** The entry of a server, read through to the database when several instances share it. */
  async function lookup(tenant: string, id: string): Promise<ServerEntry> {
    await ready;
    if (!deps.shared) return entry(tenant, id);
    const row = await database.read((tx) => store.find(tx, tenant, id));
    const cached = byId.get(id);
    if (!row) {
      if (cached && cached.tenant === tenant) forget(cached);
      throw serverNotFound(id);
    }
    return adopt(row);
  }

  /** Brings every cached entry, the algorithm aside, and the running tasks per holder up to the database. */
  async function refresh(): Promise<void> {
    await ready;
    const known = new Set(byId.keys());
    const rows = await database.read((tx) => store.loadAll(tx));
    mergeAll(rows, known);
    // Tasks claimed on other instances count for the balancer here too.
    replay = [];
    let running: { taskId: string; holder: string }[];
    try {
      running = await tasks.runningByHolder(undefined);
    } catch (error) {
      replay = undefined;
      throw error;
    }
    const changes = replay;
    replay = undefined;
    const nextHeld = new Map<string, Set<string>>();
    const nextHolderOf = new Map<string, string>();
    for (const { taskId, holder } of running) {
      let set = nextHeld.get(holder);
      if (!set) nextHeld.set(holder, (set = new Set()));
      set.add(taskId);
      nextHolderOf.set(taskId, holder);
    }
    held = nextHeld;
    holderOf = nextHolderOf;
    for (const c of changes) applyChange(c);
  }

  // ------------------------------------------------------------ heartbeat batches

  const dirty = new Set<ServerEntry>();
  let batch: Promise<Map<string, HeartbeatRow>> | undefined;
  function flushHeartbeats(): Promise<Map<string, HeartbeatRow>> {
    if (batch) return batch;
    // The factory may run again (a retried deadlock on PostgreSQL): the batch is taken once.
    let taken: HeartbeatRow[] | undefined;
    batch = database.write(function* (tx) {
      if (!taken) {
        batch = undefined;
        taken = [...dirty].map(heartbeatRow);
        dirty.clear();
      }
      return yield* store.saveHeartbeats(tx, taken);
    });
    return batch;
  }

  // ------------------------------------------------------------ status log

  /** Records derived status changes (for the uptime ratio); one commit for all of them. */
  async function sweep(): Promise<number> {
    await ready;
    streaming = await tasks.streamingWorkers();
    const now = clock.now();
    if (deps.shared) {
      // A live stream is held by one instance: it tells the others through the worker's heartbeat.
      let beats = 0;
      for (const name of streaming) {
        const e = workers.get(name);
        if (!e || (e.lastHeartbeatTime !== undefined && now - e.lastHeartbeatTime < heartbeatIntervalMs)) continue;
        e.lastHeartbeatTime = now;
        e.reportedHealth ??= "healthy";
        dirty.add(e);
        beats++;
      }
      if (beats) await flushHeartbeats();
    }
    const changes: [ServerEntry, ServerStatus][] = [];
    for (const e of byId.values()) {
      const s = statusOf(e, now);
      if (lastStatus.get(e.id) !== s) {
        lastStatus.set(e.id, s);
        changes.push([e, s]);
      }
    }
    if (changes.length) {
      const logged = await database.write(function* (tx) {
        // One instance logs a tick's changes; another one sweeping right now has them.
        if (!(yield* store.tryLock(tx, SWEEP_LOCK))) return false;
        yield* store.logStatus(tx, changes.filter(([e]) => byId.has(e.id)).map(([e, status]) => ({ tenant: e.tenant, id: e.id, status })), now);
        return true;
      });
      // Not logged (another instance held the lock): tried again at the next sweep.
      if (!logged) for (const [e] of changes) lastStatus.delete(e.id);
    }
    return changes.length;
  }

  async function sealKey(e: ServerEntry, apiKey: string | undefined): Promise<void> {
    if (apiKey !== undefined) e.apiKeySealed = await secrets.seal(apiKey, keyContext(e));
  }

  return {
    view,
    ready,
    heartbeatIntervalMs,
    heartbeatTimeoutMs: deps.heartbeatTimeoutMs,

    /** Registers a backend or worker; a retry with the same request id answers the first registration. */
    async register(tenant: string, input: NewServer): Promise<ServerView> {
      const s = checkNewServer(input, guard);
      await ready;
      if (s.requestId) {
        const prior = await database.read((tx) => store.findByRequestId(tx, tenant, s.requestId!));
        if (prior) return view(adopt(prior));
      }
      // (The write below decides; this spares a taken name the endpoint checks.)
      if (deps.shared ? await database.read((tx) => store.findByName(tx, tenant, s.name)) : byName(tenant, s.name)) throw nameTaken(s.name);
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
      let prior: ServerEntry | undefined;
      try {
        prior = await database.write(function* (tx) {
          // Another instance may have registered the name, or this request, meanwhile.
          if (s.requestId) {
            const first = yield* store.findByRequestId(tx, tenant, s.requestId);
            if (first) return first;
          }
          if (yield* store.findByName(tx, tenant, s.name)) throw nameTaken(s.name);
          yield* store.save(tx, e);
          return undefined;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(s.name);
        throw error;
      }
      if (prior) return view(adopt(prior));
      byId.set(e.id, e);
      rebuildPools();
      return view(e);
    },

    /** One server, with its derived status (read through to the database on PostgreSQL). */
    get: async (tenant: string, id: string): Promise<ServerView> => view(await lookup(tenant, id)),
    /** The cached entry of a server (no database read). */
    entry,
    /** The entry of a server, read through to the database on PostgreSQL. */
    lookup,

    /** Lists by name with filters; every set filter must match. */
    async list(tenant: string, f: ServerFilter = {}): Promise<{ items: ServerView[]; nextPageToken: string }> {
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
      await ready;
      if (deps.shared) {
        const known = new Set([...byId.values()].filter((e) => e.tenant === tenant).map((e) => e.id));
        mergeAll(await database.read((tx) => store.listTenant(tx, tenant)), known, tenant);
      }
      const now = clock.now();
      const out: ServerView[] = [];
      const sorted = [...byId.values()].filter((e) => e.tenant === tenant).sort(byNameOrder);
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
      const e = await lookup(tenant, id);
      const before = view(e);
      const removed = await database.write((tx) => store.remove(tx, tenant, id));
      forget(e);
      if (removed === 0) throw serverNotFound(id);
      await tasks.setDrained(tenant, holderName(e), false);
      await tasks.releaseHeldBy(tenant, holderName(e));
      return before;
    },

    /** Records a heartbeat; answered after the batch holding it commits. */
    async heartbeat(tenant: string, id: string, health: ReportedHealth | undefined, load: Omit<LoadReport, "reportTime"> | undefined): Promise<ServerView> {
      await ready;
      const cached = byId.get(id);
      // A server registered on another instance is found in the database.
      const e = cached && cached.tenant === tenant ? cached : await lookup(tenant, id);
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
      const stored = (await flushHeartbeats()).get(e.id);
      if (!stored) {
        // Removed meanwhile (by another instance).
        forget(e);
        throw serverNotFound(id);
      }
      if (stored.time > (e.lastHeartbeatTime ?? -1)) {
        // Another instance heard a later heartbeat: that one stands.
        e.lastHeartbeatTime = stored.time;
        e.reportedHealth = (stored.health ?? undefined) as ReportedHealth | undefined;
        e.lastLoad = stored.load ? (JSON.parse(stored.load) as LoadReport) : undefined;
      }
      return view(e);
    },

    /** Turns maintenance on (drain: no new tasks, running ones finish) or off. */
    async setMaintenance(tenant: string, id: string, enabled: boolean, reason: string, setBy: string): Promise<ServerView> {
      if (typeof reason !== "string" || reason.length > 512) throw invalidArgument("reason", "at most 512 characters");
      const e = await lookup(tenant, id);
      const now = clock.now();
      e.maintenance = enabled ? { reason, startTime: e.maintenance?.startTime ?? now, setBy } : undefined;
      e.updateTime = now;
      await tasks.setDrained(tenant, holderName(e), enabled);
      const snapshot = { ...e };
      if ((await database.write((tx) => store.saveMaintenance(tx, snapshot))) === 0) {
        forget(e);
        throw serverNotFound(id);
      }
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
      await ready;
      for (let attempt = 0; ; attempt++) {
        const now = clock.now();
        let existing = byName(tenant, name);
        if (deps.shared) {
          const row = await database.read((tx) => store.findByName(tx, tenant, name));
          existing = row ? adopt(row) : undefined;
        }
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
        try {
          await database.write((tx) => store.save(tx, updated));
        } catch (error) {
          // Two instances registered the same new worker at once: the second one updates the first's entry.
          if (isUniqueViolation(error) && attempt === 0) continue;
          throw error;
        }
        byId.set(updated.id, updated);
        rebuildPools();
        return view(updated);
      }
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
    refresh,
    /** Whether several instances share the database (reads go through, `refresh` runs). */
    shared: deps.shared,
    /** Refreshes which workers hold a live stream (also done by each sweep). */
    refreshStreaming: async () => void (streaming = await tasks.streamingWorkers()),
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
    /** Stops listening to the task engine. */
    close: () => unsubscribe(),
  };
}

export type Registry = ReturnType<typeof createRegistry>;
