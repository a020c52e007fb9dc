import type { Database } from "../db/client.ts";
import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { DEFAULT_TENANT } from "../core/principal.ts";
import {
  DEFAULT_TASK_CONFIG,
  backoffDelay,
  checkInt,
  checkLease,
  checkName,
  checkNewTask,
  checkPageSize,
  checkStrings,
  decodePageToken,
  encodePageToken,
  leaseLost,
  parentQueueName,
  taskNotFound,
  type TaskConfig,
} from "./rules.ts";
import { S, createTaskStore, rowToConfig, rowToTask, type ConfigRow, type TaskRow } from "./store.ts";
import { createDispatcher, type WorkerSession } from "./dispatcher.ts";
import { createQueueConfigs } from "./queue-configs.ts";
import { createTaskStats } from "./stats.ts";
import {
  ALL_STATES,
  STATE_CODES,
  STATE_NAMES,
  type Assignment,
  type Json,
  type JsonObject,
  type NewTask,
  type Page,
  type QueueConfig,
  type QueueInfo,
  type Task,
  type TaskCounts,
  type TaskError,
  type TaskEvent,
  type TaskEventKind,
  type TaskState,
  type WorkerMessage,
} from "./types.ts";

export interface TaskEngineDeps {
  database: Database;
  clock: Clock;
  config?: Partial<TaskConfig>;
  /** Receives every committed state change, in commit order. */
  events?: (event: TaskEvent) => void;
  /** Randomness of backoff jitter (tests inject a fixed one). */
  random?: () => number;
}

/** A committed change of one task in raw form (no payload mapping), for cheap listeners. */
export interface TaskChange {
  kind: TaskEventKind;
  taskId: string;
  queue: string;
  /** worker_id of the row: the holder while running, the last holder after. */
  holder: string | undefined;
  state: TaskState;
  previousState: TaskState | undefined;
}

/** Events of one write, emitted only after the commit that holds them. */
type EventBuffer = { kind: TaskEventKind; row: TaskRow; prev: number | undefined }[];

export interface ListTasksFilter {
  pageSize?: number;
  pageToken?: string;
  queues?: string[];
  states?: TaskState[];
  type?: string;
  workerId?: string;
  capability?: string;
  createdAfter?: number;
  createdBefore?: number;
  tag?: string;
}

export interface UpdateTaskInput {
  id: string;
  progress?: number;
  progressMessage?: string;
  /** Merged into metadata; a null value removes the key. */
  metadata?: JsonObject;
  /** Backend-reported state (seed 001): running, succeeded or failed. */
  state?: TaskState;
  result?: Json;
  error?: TaskError;
  serverId?: string;
  fencingToken?: number;
  priority?: number;
  title?: string;
  description?: string;
  tags?: string[];
}

export type BatchCompleteResult = { id: string; ok: true; task: Task } | { id: string; ok: false; reason: string; message: string };

/**
 * The tasks domain: lifecycle, leases with fencing tokens, claims, dispatch to worker streams,
 * reaping, dependencies, queues, configs, stats. Every acknowledged write goes through the
 * group committer and resolves after its commit; reads go straight to SQLite.
 */
export function createTaskEngine(deps: TaskEngineDeps) {
  const { database, clock } = deps;
  const config: TaskConfig = { ...DEFAULT_TASK_CONFIG, ...deps.config };
  const random = deps.random ?? Math.random;
  const sqlite = database.sqlite;
  const store = createTaskStore(sqlite);
  const sink = deps.events;
  let sequence = 0;

  const configs = createQueueConfigs({ sqlite, clock, path: config.queueConfigPath });

  /** Listeners of raw committed changes (no task mapping), e.g. the servers domain's holder counts. */
  const changeListeners = new Set<(change: TaskChange) => void>();
  /**
   * Result checks by task type (registered by the domains that read those results): a completion
   * whose result the check refuses (it answers the problem) fails the task with MALFORMED_RESULT.
   */
  const resultChecks = new Map<string, (result: Json | undefined) => string | undefined>();
  /** Holders (worker or server ids) that get no new tasks: maintenance drain. */
  // Holders in maintenance, as `${tenant}\u0000${holder}`: worker ids are chosen by clients and
  // two tenants may both have a "w1".
  const drained = new Set<string>();
  const holderKey = (tenant: string, holder: string) => `${tenant}\u0000${holder}`;

  function emit(buffer: EventBuffer): void {
    if (changeListeners.size) {
      for (const e of buffer) {
        const change: TaskChange = { kind: e.kind, taskId: e.row.id, queue: e.row.queue, holder: e.row.worker_id ?? undefined, state: STATE_NAMES[e.row.state]!, previousState: e.prev === undefined ? undefined : STATE_NAMES[e.prev] };
        for (const l of changeListeners) l(change);
      }
    }
    if (!sink) return;
    const time = clock.now();
    for (const e of buffer) {
      sink(withLazyTask({ sequence: ++sequence, time, kind: e.kind, previousState: e.prev === undefined ? undefined : STATE_NAMES[e.prev] }, e.row));
    }
  }

  /** Runs `work` in the next group transaction; emits its events and runs `after` post-commit. */
  async function write<T>(work: (ev: EventBuffer, after: (fn: () => void) => void) => T): Promise<T> {
    const ev: EventBuffer = [];
    const afters: (() => void)[] = [];
    const out = await database.committer.run(() => work(ev, (fn) => afters.push(fn)));
    emit(ev);
    for (const fn of afters) fn();
    return out;
  }

  // ---------------------------------------------------------------- dependencies

  /** Every BLOCKED dependent of `id` whose dependencies have now all succeeded becomes PENDING. */
  function unblockDependents(tenant: string, id: string, now: number, ev: EventBuffer): boolean {
    let any = false;
    for (const dep of store.dependentsBlocked(tenant, id)) {
      if (store.unfinishedDeps(tenant, dep.id) > 0) continue;
      const row = store.q(`UPDATE tasks SET state = ${S.pending}, updated_at = ? WHERE seq = ? RETURNING *`).get(now, dep.seq) as TaskRow;
      ev.push({ kind: "unblocked", row, prev: S.blocked });
      any = true;
    }
    return any;
  }

  /**
   * The dependency rule: when a task fails for good, times out, is cancelled or deleted, every
   * dependent still waiting (BLOCKED) is cancelled with reason DEPENDENCY_FAILED, and so on
   * down the graph. Returns the ids cancelled.
   */
  function cancelDependents(tenant: string, id: string, why: string, now: number, ev: EventBuffer): string[] {
    const cancelled: string[] = [];
    const todo = [{ id, why }];
    while (todo.length > 0) {
      const { id: cur, why: curWhy } = todo.shift()!;
      for (const dep of store.dependentsBlocked(tenant, cur)) {
        const error: TaskError = { message: `dependency ${cur} ${curWhy}`, retryable: false, reason: "DEPENDENCY_FAILED" };
        const row = store
          .q(`UPDATE tasks SET state = ${S.cancelled}, error = ?, finished_at = ?, updated_at = ? WHERE seq = ? RETURNING *`)
          .get(JSON.stringify(error), now, now, dep.seq) as TaskRow;
        ev.push({ kind: "cancelled", row, prev: S.blocked });
        cancelled.push(dep.id);
        todo.push({ id: dep.id, why: "was cancelled" });
      }
    }
    return cancelled;
  }

  // ---------------------------------------------------------------- create

  function createOne(tenant: string, t: NewTask, prefix: string, now: number, ev: EventBuffer): { row: TaskRow; replayed: boolean; ready: boolean } {
    checkNewTask(t, prefix);
    const f = (name: string) => (prefix ? `${prefix}.${name}` : name);
    if (t.requestId) {
      const existing = store.byRequestId(tenant, t.requestId);
      if (existing) return { row: existing, replayed: true, ready: false };
    }
    const id = t.id || newId("task", now);
    if (t.id && store.byId(tenant, t.id)) throw new AppError("already_exists", "TASK_ALREADY_EXISTS", `task ${t.id} already exists`, { id: t.id, field: f("id") });
    const cfg = configs.resolve(tenant, t.queue);
    const dependsOn = checkStrings(f("depends_on"), t.dependsOn, 1000);
    let state = S.pending;
    let error: TaskError | undefined;
    for (const [i, depId] of dependsOn.entries()) {
      const dep = store.byId(tenant, depId);
      if (!dep) throw new AppError("invalid_argument", "DEPENDENCY_NOT_FOUND", `${f(`depends_on[${i}]`)}: task ${depId} does not exist`, { field: f(`depends_on[${i}]`), id: depId });
      if (dep.state === S.failed || dep.state === S.cancelled || dep.state === S.timed_out) {
        state = S.cancelled;
        error = { message: `dependency ${depId} is ${STATE_NAMES[dep.state]}`, retryable: false, reason: "DEPENDENCY_FAILED" };
      } else if (dep.state !== S.succeeded && state === S.pending) state = S.blocked;
    }
    const caps = checkStrings(f("required_capabilities"), t.requiredCapabilities, 64).sort();
    const tags = checkStrings(f("tags"), t.tags, 64);
    const runAt = t.runAt ?? now + (t.delayMs ?? 0);
    const row = store.insert([
      tenant,
      id,
      t.queue,
      t.type ?? "",
      t.priority ?? cfg?.priority ?? 0,
      t.payload === undefined ? null : JSON.stringify(t.payload),
      caps.length ? JSON.stringify(caps) : null,
      runAt,
      t.timeoutMs || cfg?.defaultTimeoutMs || null,
      t.maxAttempts ?? (cfg?.defaultMaxAttempts || config.defaultMaxAttempts),
      dependsOn.length ? JSON.stringify(dependsOn) : null,
      state,
      t.metadata === undefined ? null : JSON.stringify(t.metadata),
      now,
      now,
      t.requestId || null,
      t.title ?? "",
      t.description ?? "",
      tags.length ? JSON.stringify(tags) : null,
      error ? JSON.stringify(error) : null,
      state === S.cancelled ? now : null,
    ]);
    for (const depId of dependsOn) {
      store.insertEdge(tenant, id, depId);
      store.markHasDependents(tenant, depId);
    }
    ev.push({ kind: "created", row, prev: undefined });
    return { row, replayed: false, ready: state === S.pending && runAt <= now };
  }

  // ---------------------------------------------------------------- claims

  function pausedSet(tenant: string): Set<string> {
    return store.pausedQueues(tenant);
  }

  /** How many more tasks each queue may start now (absent: no limit). */
  function concurrencyRoom(tenant: string, queues: string[]): Map<string, number> {
    const room = new Map<string, number>();
    for (const queue of queues) {
      const limit = configs.resolve(tenant, queue)?.concurrencyLimit ?? 0;
      if (limit > 0) room.set(queue, Math.max(0, limit - store.runningCount(tenant, queue)));
    }
    return room;
  }

  /** Claims up to n ready tasks for a worker; runs inside a transaction. */
  function claimReady(tenant: string, workerId: string, queues: string[], capsJson: string, n: number, leaseMs: number, now: number, ev: EventBuffer): TaskRow[] {
    if (drained.size && drained.has(holderKey(tenant, workerId))) return [];
    const paused = pausedSet(tenant);
    const open = paused.size ? queues.filter((q) => !paused.has(q)) : queues;
    if (open.length === 0 || n <= 0) return [];
    const room = configs.hasLimits() ? concurrencyRoom(tenant, open) : new Map<string, number>();
    const rows =
      open.length === 1 && !room.has(open[0]!)
        ? store.claimFromQueue(tenant, open[0]!, capsJson, n, workerId, now, leaseMs)
        : store.claimFromQueues(tenant, open, capsJson, n, room, workerId, now, leaseMs);
    if (sink) for (const row of rows) ev.push({ kind: "claimed", row, prev: S.pending });
    return rows;
  }

  const leaseOf = (row: TaskRow) => ({ fencingToken: row.fencing_token, expiresAt: row.lease_expires_at!, leaseDurationMs: row.lease_duration_ms!, workerId: row.worker_id! });

  /** Ends an expired lease: the attempt counts; ready again, or FAILED with no attempts left. */
  function reapExpired(row: TaskRow, now: number, ev: EventBuffer, notices: [string, number, "lease_expired" | "timed_out"][]): TaskRow {
    const exhausted = row.attempt >= row.max_attempts;
    const error: TaskError = { message: `lease of ${row.worker_id} expired`, retryable: !exhausted, reason: "LEASE_EXPIRED" };
    const updated = store
      .q(`UPDATE tasks SET state = ?, error = ?, lease_expires_at = NULL, deadline_at = NULL, run_at = ?, updated_at = ?,
        finished_at = ?, retry_count = retry_count + ? WHERE seq = ? RETURNING *`)
      .get(exhausted ? S.failed : S.pending, JSON.stringify(error), now, now, exhausted ? now : null, exhausted ? 0 : 1, row.seq) as TaskRow;
    ev.push({ kind: exhausted ? "failed" : "lease_expired", row: updated, prev: S.running });
    if (exhausted && row.has_dependents) cancelDependents(row.tenant, row.id, "failed", now, ev);
    notices.push([row.id, row.fencing_token, "lease_expired"]);
    return updated;
  }

  /** Finds why a holder's call did not match: not found, cancelled (same token) or lease lost. */
  function refusal(tenant: string, id: string, token: number, now: number): AppError {
    const row = store.byId(tenant, id);
    if (!row) return taskNotFound(id);
    if (row.state === S.cancelled && row.fencing_token === token) {
      return new AppError("failed_precondition", "TASK_CANCELLED", `task ${id} was cancelled`, { id });
    }
    if (row.fencing_token !== token) return leaseLost(id, `fencing token ${token} is stale (current ${row.fencing_token})`);
    if (row.state === S.running && row.lease_expires_at !== null && row.lease_expires_at <= now) return leaseLost(id, "the lease expired");
    return leaseLost(id, `the task is ${STATE_NAMES[row.state]}, not held`);
  }

  /** A held task (state RUNNING, token current, lease unexpired), or the refusal. */
  function held(tenant: string, id: string, token: number, now: number): TaskRow {
    const row = store.byId(tenant, id);
    if (row && row.state === S.running && row.fencing_token === token && row.lease_expires_at !== null && row.lease_expires_at > now) return row;
    throw refusal(tenant, id, token, now);
  }

  function completeRow(tenant: string, id: string, token: number, result: Json | undefined, now: number, ev: EventBuffer): TaskRow {
    const row = store.complete(tenant, id, token, result === undefined ? null : JSON.stringify(result), now);
    if (!row) throw refusal(tenant, id, token, now);
    const problem = resultChecks.size ? resultChecks.get(row.type)?.(result) : undefined;
    if (problem !== undefined) {
      // A result that does not fill its message fails the task for good (no retry), in the same
      // write: nobody ever sees it succeeded; dependents are cancelled.
      const error: TaskError = { message: `malformed result: ${problem}`, retryable: false, reason: "MALFORMED_RESULT" };
      const failed = store
        .q(`UPDATE tasks SET state = ${S.failed}, result = NULL, error = ?, updated_at = ? WHERE seq = ? RETURNING *`)
        .get(JSON.stringify(error), now, row.seq) as TaskRow;
      if (sink) ev.push({ kind: "failed", row: failed, prev: S.running });
      if (failed.has_dependents) cancelDependents(tenant, failed.id, "failed", now, ev);
      return failed;
    }
    if (sink) ev.push({ kind: "succeeded", row, prev: S.running });
    if (row.has_dependents && unblockDependents(tenant, row.id, now, ev)) dispatcher.kick();
    return row;
  }

  // ---------------------------------------------------------------- dispatcher

  let sessionChooser: ((sessions: { workerId: string; credits: number }[]) => number | undefined) | undefined;
  const dispatcher = createDispatcher({
    chooseFirst: (list) => {
      if (!sessionChooser || list.length < 2) return undefined;
      const i = sessionChooser(list);
      return i === undefined ? undefined : list[i];
    },
    clock,
    committer: database.committer,
    pingIntervalMs: config.pingIntervalMs,
    claim: (s: WorkerSession, n: number, now: number, ev: EventBuffer) => claimReady(s.tenant, s.workerId, s.queues, s.capsJson, n, s.leaseMs, now, ev),
    release: (rows: TaskRow[]) => {
      // Pushed to a session that closed before the push: give the tasks back, attempt refunded.
      void write((ev) => {
        const now = clock.now();
        for (const r of rows) {
          const row = store
            .q(`UPDATE tasks SET state = ${S.pending}, attempt = attempt - 1, lease_expires_at = NULL, deadline_at = NULL, run_at = ?, updated_at = ?
              WHERE tenant = ? AND id = ? AND state = ${S.running} AND fencing_token = ? RETURNING *`)
            .get(now, now, r.tenant, r.id, r.fencing_token) as TaskRow | null;
          if (row) ev.push({ kind: "released", row, prev: S.running });
        }
        dispatcher.kick();
      });
    },
    emit,
    toAssignment: (row: TaskRow): Assignment => ({ task: rowToTask(row), lease: leaseOf(row) }),
  });

  /** Work done after a holder's call ended a pushed task: free its credit, dispatch more. */
  const freed = (id: string, token: number) => dispatcher.taskDone(id, token);

  // ---------------------------------------------------------------- reaper

  /** Reclaims expired leases and times out overdue attempts, by the server clock. */
  async function tick(): Promise<{ expired: number; timedOut: number }> {
    const now = clock.now();
    const notices: [string, number, "lease_expired" | "timed_out"][] = [];
    const out = await write((ev) => {
      let timedOut = 0;
      for (const row of store.pastDeadline(now)) {
        const error: TaskError = { message: `attempt ran past its timeout of ${row.timeout_ms} ms`, retryable: false, reason: "TIMED_OUT" };
        const updated = store
          .q(`UPDATE tasks SET state = ${S.timed_out}, error = ?, lease_expires_at = NULL, deadline_at = NULL, finished_at = ?, updated_at = ? WHERE seq = ? RETURNING *`)
          .get(JSON.stringify(error), now, now, row.seq) as TaskRow;
        ev.push({ kind: "timed_out", row: updated, prev: S.running });
        if (row.has_dependents) cancelDependents(row.tenant, row.id, "timed out", now, ev);
        notices.push([row.id, row.fencing_token, "timed_out"]);
        timedOut++;
      }
      const expired = store.expired(now);
      for (const row of expired) reapExpired(row, now, ev, notices);
      return { expired: expired.length, timedOut };
    });
    for (const [id, token, reason] of notices) dispatcher.cancelNotice(id, token, reason);
    if (out.expired > 0 || dispatcher.hasCredits()) dispatcher.kick();
    return out;
  }

  let timer: ReturnType<typeof setInterval> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;

  // ---------------------------------------------------------------- lists

  function listTasksSync(tenant: string, f: ListTasksFilter): Page<Task> {
    const size = checkPageSize(f.pageSize);
    const where: string[] = ["tenant = ?"];
    const args: (string | number)[] = [tenant];
    const queues = checkStrings("queues", f.queues, 100);
    for (const [i, q] of queues.entries()) checkName(`queues[${i}]`, q);
    if (queues.length) {
      where.push(`queue IN (${queues.map(() => "?").join(",")})`);
      args.push(...queues);
    }
    if (f.states?.length) {
      for (const [i, s] of f.states.entries()) if (!(s in STATE_CODES)) throw invalidArgument(`states[${i}]`, "is not a task state");
      where.push(`state IN (${f.states.map((s) => STATE_CODES[s]).join(",")})`);
    }
    if (f.type) (where.push("type = ?"), args.push(f.type));
    if (f.workerId) (where.push("(worker_id = ? OR server_id = ?)"), args.push(f.workerId, f.workerId));
    if (f.capability) (where.push("EXISTS (SELECT 1 FROM json_each(capabilities) c WHERE c.value = ?)"), args.push(f.capability));
    if (f.tag) (where.push("EXISTS (SELECT 1 FROM json_each(tags) c WHERE c.value = ?)"), args.push(f.tag));
    if (f.createdAfter !== undefined) (where.push("created_at >= ?"), args.push(f.createdAfter));
    if (f.createdBefore !== undefined) (where.push("created_at < ?"), args.push(f.createdBefore));
    const key = JSON.stringify(["tasks", where, args]);
    const after = decodePageToken(f.pageToken, key);
    if (after !== undefined) (where.push("seq < ?"), args.push(Number(after)));
    const sql = `SELECT * FROM tasks WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ${size + 1}`;
    const rows = sqlite.prepare(sql).all(...args) as TaskRow[];
    const more = rows.length > size;
    if (more) rows.pop();
    return { items: rows.map(rowToTask), nextPageToken: more ? encodePageToken(rows[rows.length - 1]!.seq, key) : "" };
  }

  // ---------------------------------------------------------------- queues

  function emptyCounts(): TaskCounts {
    return { pending: 0, delayed: 0, blocked: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, timedOut: 0, total: 0 };
  }
  const COUNT_KEYS: Record<number, keyof TaskCounts> = { 1: "pending", 2: "blocked", 3: "running", 4: "succeeded", 5: "failed", 6: "cancelled", 7: "timedOut" };

  function queueInfos(tenant: string, names: string[]): QueueInfo[] {
    const now = clock.now();
    const pauses = new Map(
      (sqlite.prepare(`SELECT name, paused, pause_updated_at FROM task_queues WHERE tenant = ?`).all(tenant) as { name: string; paused: number; pause_updated_at: number }[]).map((r) => [r.name, r]),
    );
    const countStmt = store.q(`SELECT state, count(*) AS n FROM tasks WHERE tenant = ? AND queue = ? GROUP BY state`);
    const delayedStmt = store.q(`SELECT count(*) AS n FROM tasks WHERE tenant = ? AND queue = ? AND state = ${S.pending} AND run_at > ?`);
    const oldestStmt = store.q(`SELECT created_at FROM tasks WHERE seq = (SELECT min(seq) FROM tasks WHERE tenant = ? AND queue = ? AND state = ${S.pending})`);
    return names.map((name) => {
      const counts = emptyCounts();
      for (const r of countStmt.all(tenant, name) as { state: number; n: number }[]) {
        counts[COUNT_KEYS[r.state]!] += r.n;
        counts.total += r.n;
      }
      counts.delayed = counts.pending ? (delayedStmt.get(tenant, name, now) as { n: number }).n : 0;
      const oldest = counts.pending ? (oldestStmt.get(tenant, name) as { created_at: number } | null) : null;
      const p = pauses.get(name);
      return {
        name,
        paused: p?.paused === 1,
        counts,
        oldestPendingAgeMs: oldest ? Math.max(0, now - oldest.created_at) : 0,
        config: configs.resolve(tenant, name),
        pauseUpdatedAt: p?.pause_updated_at,
      };
    });
  }

  function allQueueNames(tenant: string): string[] {
    const rows = sqlite
      .prepare(`SELECT DISTINCT queue AS name FROM tasks WHERE tenant = ?1 UNION SELECT name FROM task_queues WHERE tenant = ?1
        UNION SELECT name FROM task_queue_configs WHERE tenant = ?1 ORDER BY name`)
      .all(tenant) as { name: string }[];
    return rows.map((r) => r.name);
  }

  async function setPaused(tenant: string, name: string, paused: boolean): Promise<QueueInfo> {
    checkName("name", name);
    await write(() => {
      const now = clock.now();
      store
        .q(`INSERT INTO task_queues (tenant, name, paused, pause_updated_at) VALUES (?, ?, ?, ?)
          ON CONFLICT(tenant, name) DO UPDATE SET paused = excluded.paused, pause_updated_at = excluded.pause_updated_at`)
        .run(tenant, name, paused ? 1 : 0, now);
    });
    if (!paused) dispatcher.kick();
    return queueInfos(tenant, [name])[0]!;
  }

  const stats = createTaskStats({ sqlite, clock });

  // ---------------------------------------------------------------- the API

  const scopes = new Map<string, ReturnType<typeof scope>>();
  /** The engine's methods scoped to one tenant (cached per tenant). */
  function scoped(tenant: string): ReturnType<typeof scope> {
    let api = scopes.get(tenant);
    if (!api) scopes.set(tenant, (api = scope(tenant)));
    return api;
  }
  /**
   * Tenants with unfinished tasks (pending, blocked or running) in one of `queues`: for the
   * server's own in-process workers, which serve every tenant. A scan: call it once, at start.
   */
  function tenantsWithWork(queues: string[]): string[] {
    if (queues.length === 0) return [];
    return (
      sqlite
        .prepare(`SELECT DISTINCT tenant FROM tasks WHERE state IN (${S.pending}, ${S.blocked}, ${S.running}) AND queue IN (${queues.map(() => "?").join(",")})`)
        .all(...queues) as { tenant: string }[]
    ).map((r) => r.tenant);
  }

  return { ...scoped(DEFAULT_TENANT), scoped, tenantsWithWork };

  /** Every method reads and writes the tasks, queues and configs of `tenant` only. */
  function scope(tenant: string) {
  return {
    config,

    /** Creates one task (idempotent by requestId); resolves after the commit. */
    async createTask(input: NewTask): Promise<{ task: Task; replayed: boolean }> {
      const r = await write((ev) => {
        const out = createOne(tenant, input, "", clock.now(), ev);
        if (out.ready) dispatcher.kick();
        return out;
      });
      return { task: rowToTask(r.row), replayed: r.replayed };
    },

    /** Creates up to maxBatch tasks in one commit, all or none; items are idempotent one by one. */
    async batchCreateTasks(inputs: NewTask[]): Promise<Task[]> {
      if (!Array.isArray(inputs) || inputs.length === 0) throw invalidArgument("requests", "must hold at least one task");
      if (inputs.length > config.maxBatch) throw invalidArgument("requests", `at most ${config.maxBatch} tasks per call`);
      const rows = await write((ev) => {
        const now = clock.now();
        let ready = false;
        const out = inputs.map((t, i) => {
          const r = createOne(tenant, t, `requests[${i}].task`, now, ev);
          ready ||= r.ready;
          return r.row;
        });
        if (ready) dispatcher.kick();
        return out;
      });
      return rows.map(rowToTask);
    },

    /** Reads one task. */
    getTask(id: string): Task {
      checkName("id", id);
      const row = store.byId(tenant, id);
      if (!row) throw taskNotFound(id);
      return rowToTask(row);
    },

    /** Lists tasks newest first with filters and an opaque page token. */
    listTasks: (filter: ListTasksFilter = {}): Page<Task> => listTasksSync(tenant, filter),

    /** The ready set in claim order (priority, then FIFO), skipping paused queues. */
    listReadyTasks(filter: { pageSize?: number; pageToken?: string; queues?: string[]; capabilities?: string[] } = {}): Page<Task> {
      const size = checkPageSize(filter.pageSize);
      const queues = checkStrings("queues", filter.queues, 100);
      const caps = checkStrings("capabilities", filter.capabilities, 64);
      const now = clock.now();
      const where = [`t.tenant = ?`, `t.state = ${S.pending}`, `t.run_at <= ?`, `t.queue NOT IN (SELECT name FROM task_queues WHERE tenant = t.tenant AND paused = 1)`];
      const args: (string | number)[] = [tenant, now];
      if (queues.length) (where.push(`t.queue IN (${queues.map(() => "?").join(",")})`), args.push(...queues));
      if (filter.capabilities !== undefined && caps.length >= 0 && filter.capabilities.length > 0) {
        where.push(`(t.capabilities IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(t.capabilities) c WHERE c.value NOT IN (SELECT value FROM json_each(?))))`);
        args.push(JSON.stringify(caps));
      }
      const key = JSON.stringify(["ready", queues, caps]);
      const after = decodePageToken(filter.pageToken, key) as [number, number] | undefined;
      if (after) (where.push(`(t.priority < ? OR (t.priority = ? AND t.seq > ?))`), args.push(after[0], after[0], after[1]));
      const rows = sqlite.prepare(`SELECT t.* FROM tasks t WHERE ${where.join(" AND ")} ORDER BY t.priority DESC, t.seq LIMIT ${size + 1}`).all(...args) as TaskRow[];
      const more = rows.length > size;
      if (more) rows.pop();
      const last = rows[rows.length - 1];
      return { items: rows.map(rowToTask), nextPageToken: more && last ? encodePageToken([last.priority, last.seq], key) : "" };
    },

    /** The dead-letter set (FAILED and TIMED_OUT), newest first. */
    listDeadLetterTasks(filter: { pageSize?: number; pageToken?: string; queues?: string[] } = {}): Page<Task> {
      return listTasksSync(tenant, { ...filter, states: ["failed", "timed_out"] });
    },

    /** Updates progress, metadata, human fields, or a backend-reported state (seed 001). */
    async updateTask(input: UpdateTaskInput): Promise<Task> {
      checkName("id", input.id);
      if (input.progress !== undefined) checkInt("progress", input.progress, 0, 100);
      if (input.priority !== undefined) checkInt("priority", input.priority, -1_000_000, 1_000_000);
      if (input.metadata !== undefined && (typeof input.metadata !== "object" || input.metadata === null || Array.isArray(input.metadata))) {
        throw invalidArgument("metadata", "must be a JSON object");
      }
      if (input.state !== undefined && !["running", "succeeded", "failed"].includes(input.state)) {
        throw new AppError("invalid_argument", "INVALID_TRANSITION", "state: a backend may report only RUNNING, SUCCEEDED or FAILED", { field: "state" });
      }
      const tags = input.tags === undefined ? undefined : checkStrings("tags", input.tags, 64);
      const notices: [string, number][] = [];
      const row = await write((ev, after) => {
        const now = clock.now();
        let row = store.byId(tenant, input.id);
        if (!row) throw taskNotFound(input.id);
        if (input.fencingToken !== undefined && row.fencing_token !== input.fencingToken) throw refusal(tenant, input.id, input.fencingToken, now);
        const prev = row.state;
        const sets: string[] = ["updated_at = ?"];
        const args: (string | number | null)[] = [now];
        if (input.progress !== undefined) (sets.push("progress = ?"), args.push(input.progress));
        if (input.progressMessage !== undefined) (sets.push("progress_message = ?"), args.push(input.progressMessage));
        if (input.title !== undefined) (sets.push("title = ?"), args.push(input.title));
        if (input.description !== undefined) (sets.push("description = ?"), args.push(input.description));
        if (tags !== undefined) (sets.push("tags = ?"), args.push(tags.length ? JSON.stringify(tags) : null));
        if (input.serverId) (sets.push("server_id = ?"), args.push(input.serverId));
        if (input.metadata !== undefined) {
          const merged: JsonObject = { ...(row.metadata ? JSON.parse(row.metadata) : {}) };
          for (const [k, v] of Object.entries(input.metadata)) {
            if (v === null) delete merged[k];
            else merged[k] = v;
          }
          sets.push("metadata = ?");
          args.push(JSON.stringify(merged));
        }
        if (input.priority !== undefined) {
          if (row.state !== S.pending && row.state !== S.blocked) {
            throw new AppError("failed_precondition", "TASK_NOT_PENDING", `task ${row.id} is ${STATE_NAMES[row.state]}; priority changes only while pending`, { field: "priority" });
          }
          sets.push("priority = ?");
          args.push(input.priority);
        }
        let kind: TaskEventKind = "updated";
        if (input.state === "running") {
          if (row.state !== S.pending) throw invalidTransition(row, "running");
          const holder = input.serverId || row.server_id || "backend";
          const leaseMs = row.timeout_ms ?? config.maxLeaseMs;
          sets.push(
            `state = ${S.running}`,
            "attempt = attempt + 1",
            "fencing_token = fencing_token + 1",
            "worker_id = ?",
            "started_at = ?",
            "lease_expires_at = ?",
            "lease_duration_ms = ?",
            "deadline_at = CASE WHEN timeout_ms IS NULL THEN NULL ELSE ? + timeout_ms END",
          );
          args.push(holder, now, now + leaseMs, leaseMs, now);
          kind = "claimed";
        } else if (input.state === "succeeded" || input.state === "failed") {
          if (row.state !== S.pending && row.state !== S.running && row.state !== S.blocked) throw invalidTransition(row, input.state);
          const ok = input.state === "succeeded";
          sets.push(`state = ${ok ? S.succeeded : S.failed}`, "finished_at = ?", "lease_expires_at = NULL", "deadline_at = NULL");
          args.push(now);
          if (ok) (sets.push("result = ?", "progress = 100"), args.push(input.result === undefined ? null : JSON.stringify(input.result)));
          else (sets.push("error = ?"), args.push(JSON.stringify(input.error ?? { message: "reported failed", retryable: false })));
          if (row.state === S.running) notices.push([row.id, row.fencing_token]);
          kind = ok ? "succeeded" : "failed";
        }
        args.push(row.seq);
        row = store.q(`UPDATE tasks SET ${sets.join(", ")} WHERE seq = ? RETURNING *`).get(...args) as TaskRow;
        ev.push({ kind, row, prev });
        if (kind === "succeeded" && row.has_dependents && unblockDependents(tenant, row.id, now, ev)) after(() => dispatcher.kick());
        if (kind === "failed" && row.has_dependents) cancelDependents(tenant, row.id, "failed", now, ev);
        return row;
      });
      for (const [id, token] of notices) dispatcher.cancelNotice(id, token, "cancelled");
      return rowToTask(row);
    },

    /** Deletes a task in any state; its waiting dependents are cancelled. */
    async deleteTask(id: string): Promise<Task> {
      checkName("id", id);
      const row = await write((ev) => {
        const now = clock.now();
        const row = store.byId(tenant, id);
        if (!row) throw taskNotFound(id);
        store.q(`DELETE FROM tasks WHERE seq = ?`).run(row.seq);
        store.q(`DELETE FROM task_dependencies WHERE tenant = ? AND task_id = ?`).run(tenant, id);
        ev.push({ kind: "deleted", row, prev: row.state });
        if (row.has_dependents) {
          cancelDependents(tenant, id, "was deleted", now, ev);
          store.q(`DELETE FROM task_dependencies WHERE tenant = ? AND depends_on = ?`).run(tenant, id);
        }
        return row;
      });
      if (row.state === S.running) dispatcher.cancelNotice(row.id, row.fencing_token, "deleted");
      return rowToTask(row);
    },

    /** Claims one task by id, atomically (seed 000). */
    async claimTask(input: { id: string; workerId: string; leaseMs?: number; capabilities?: string[]; ignoreDependencies?: boolean }): Promise<Assignment> {
      checkName("id", input.id);
      if (!input.workerId || typeof input.workerId !== "string" || input.workerId.length > 128) throw invalidArgument("worker_id", "is required (at most 128 characters)");
      const leaseMs = checkLease("lease_duration", input.leaseMs, config);
      const caps = input.capabilities === undefined ? undefined : checkStrings("capabilities", input.capabilities, 64);
      const notices: [string, number, "lease_expired"][] = [];
      // Refusals are returned, not thrown, so that an expired lease reaped on the way (a
      // change of its own) is committed even when the claim itself is refused.
      const outcome = await write((ev): TaskRow | AppError => {
        const now = clock.now();
        let row = store.byId(tenant, input.id);
        if (!row) throw taskNotFound(input.id);
        if (row.state === S.running && row.lease_expires_at !== null && row.lease_expires_at <= now) row = reapExpired(row, now, ev, notices);
        const blockedClaim = row.state === S.blocked && input.ignoreDependencies === true;
        if ((row.state !== S.pending && !blockedClaim) || row.run_at > now) {
          const why = row.state === S.pending ? "delayed until its run_at" : STATE_NAMES[row.state]!;
          return new AppError("failed_precondition", "TASK_NOT_CLAIMABLE", `task ${row.id} is ${why}`, { id: row.id, state: STATE_NAMES[row.state]! });
        }
        if (pausedSet(tenant).has(row.queue)) return new AppError("failed_precondition", "QUEUE_PAUSED", `queue ${row.queue} is paused`, { queue: row.queue });
        if (drained.has(holderKey(tenant, input.workerId))) return new AppError("failed_precondition", "HOLDER_DRAINED", `${input.workerId} is in maintenance`, { worker_id: input.workerId });
        if (caps) {
          const need: string[] = row.capabilities ? JSON.parse(row.capabilities) : [];
          const missing = need.filter((c) => !caps.includes(c));
          if (missing.length) return new AppError("failed_precondition", "CAPABILITY_MISMATCH", `worker lacks ${missing.join(", ")}`, { missing: missing.join(",") });
        }
        const room = concurrencyRoom(tenant, [row.queue]).get(row.queue);
        if (room !== undefined && room <= 0) return new AppError("failed_precondition", "QUEUE_CONCURRENCY_LIMIT", `queue ${row.queue} is at its concurrency limit`, { queue: row.queue });
        const claimed = blockedClaim ? store.claimBlockedBySeq(row.seq, input.workerId, now, leaseMs) : store.claimBySeq(row.seq, input.workerId, now, leaseMs);
        if (!claimed) return new AppError("failed_precondition", "TASK_NOT_CLAIMABLE", `task ${row.id} was claimed by someone else`, { id: row.id });
        ev.push({ kind: "claimed", row: claimed, prev: blockedClaim ? S.blocked : S.pending });
        return claimed;
      });
      for (const [id, token, reason] of notices) dispatcher.cancelNotice(id, token, reason);
      if (outcome instanceof AppError) throw outcome;
      const row = outcome;
      return { task: rowToTask(row), lease: leaseOf(row) };
    },

    /** Claims up to maxTasks ready tasks from the queues whose capabilities the worker has. */
    async claimTasks(input: { workerId: string; queues: string[]; capabilities?: string[]; maxTasks?: number; leaseMs?: number }): Promise<Assignment[]> {
      if (!input.workerId || typeof input.workerId !== "string" || input.workerId.length > 128) throw invalidArgument("worker_id", "is required (at most 128 characters)");
      const queues = checkStrings("queues", input.queues, 100);
      if (queues.length === 0) throw invalidArgument("queues", "name at least one queue");
      for (const [i, q] of queues.entries()) checkName(`queues[${i}]`, q);
      const caps = JSON.stringify(checkStrings("capabilities", input.capabilities, 64));
      const n = input.maxTasks === undefined || input.maxTasks === 0 ? 1 : checkInt("max_tasks", input.maxTasks, 1, config.maxBatch);
      const leaseMs = checkLease("lease_duration", input.leaseMs, config);
      const rows = await write((ev) => claimReady(tenant, input.workerId, queues, caps, n, leaseMs, clock.now(), ev));
      return rows.map((row) => ({ task: rowToTask(row), lease: leaseOf(row) }));
    },

    /** Extends a held lease and records progress; tells the holder when the task was cancelled. */
    async heartbeat(input: { id: string; fencingToken: number; leaseMs?: number; progress?: number; progressMessage?: string }) {
      checkName("id", input.id);
      checkInt("fencing_token", input.fencingToken, 1, Number.MAX_SAFE_INTEGER);
      const leaseMs = input.leaseMs === undefined || input.leaseMs === 0 ? null : checkLease("lease_duration", input.leaseMs, config);
      if (input.progress !== undefined) checkInt("progress", input.progress, 0, 100);
      return write((ev) => {
        const now = clock.now();
        const row = store.heartbeat(tenant, input.id, input.fencingToken, now, leaseMs, input.progress ?? null, input.progressMessage ?? null);
        if (!row) {
          const err = refusal(tenant, input.id, input.fencingToken, now);
          if (err.reason === "TASK_CANCELLED") return { lease: undefined, cancelRequested: true };
          throw err;
        }
        if (input.progress !== undefined || input.progressMessage !== undefined) ev.push({ kind: "updated", row, prev: S.running });
        return { lease: leaseOf(row), cancelRequested: false };
      });
    },

    /** Completes a held task; a stale holder is refused with LEASE_LOST and nothing is stored. */
    async completeTask(input: { id: string; fencingToken: number; result?: Json }): Promise<Task> {
      checkName("id", input.id);
      checkInt("fencing_token", input.fencingToken, 1, Number.MAX_SAFE_INTEGER);
      try {
        const row = await write((ev) => completeRow(tenant, input.id, input.fencingToken, input.result, clock.now(), ev));
        return rowToTask(row);
      } finally {
        freed(input.id, input.fencingToken);
      }
    },

    /** Completes many held tasks in one commit; each item stands or falls alone. */
    async batchCompleteTasks(items: { id: string; fencingToken: number; result?: Json }[]): Promise<BatchCompleteResult[]> {
      if (!Array.isArray(items) || items.length === 0) throw invalidArgument("requests", "must hold at least one completion");
      if (items.length > config.maxBatch) throw invalidArgument("requests", `at most ${config.maxBatch} per call`);
      for (const [i, it] of items.entries()) {
        checkName(`requests[${i}].id`, it.id);
        checkInt(`requests[${i}].fencing_token`, it.fencingToken, 1, Number.MAX_SAFE_INTEGER);
      }
      const rows = await write((ev) => {
        const now = clock.now();
        return items.map((it): TaskRow | AppError => {
          try {
            return completeRow(tenant, it.id, it.fencingToken, it.result, now, ev);
          } catch (e) {
            if (e instanceof AppError) return e;
            throw e;
          }
        });
      });
      for (const it of items) freed(it.id, it.fencingToken);
      return rows.map((r, i) =>
        r instanceof AppError ? { id: items[i]!.id, ok: false, reason: r.reason, message: r.message } : withLazyTask({ id: r.id, ok: true as const }, r),
      );
    },

    /** Records a failed attempt: retry after backoff while attempts remain, else FAILED for good. */
    async failTask(input: { id: string; fencingToken: number; error: TaskError; retryDelayMs?: number }): Promise<Task> {
      checkName("id", input.id);
      checkInt("fencing_token", input.fencingToken, 1, Number.MAX_SAFE_INTEGER);
      if (!input.error || typeof input.error.message !== "string") throw invalidArgument("error", "is required (with a message)");
      if (input.retryDelayMs !== undefined) checkInt("retry_delay", input.retryDelayMs, 0, 366 * 86_400_000);
      try {
        const row = await write((ev) => {
          const now = clock.now();
          const row = held(tenant, input.id, input.fencingToken, now);
          const error: TaskError = { message: input.error.message, retryable: !!input.error.retryable, details: input.error.details, reason: input.error.reason };
          const retry = error.retryable && row.attempt < row.max_attempts;
          if (retry) {
            const runAt = now + (input.retryDelayMs ?? backoffDelay(row.attempt, config, random));
            const updated = store
              .q(`UPDATE tasks SET state = ${S.pending}, error = ?, run_at = ?, lease_expires_at = NULL, deadline_at = NULL, updated_at = ?, retry_count = retry_count + 1
                WHERE seq = ? RETURNING *`)
              .get(JSON.stringify(error), runAt, now, row.seq) as TaskRow;
            ev.push({ kind: "retry_scheduled", row: updated, prev: S.running });
            return updated;
          }
          const updated = store
            .q(`UPDATE tasks SET state = ${S.failed}, error = ?, finished_at = ?, lease_expires_at = NULL, deadline_at = NULL, updated_at = ? WHERE seq = ? RETURNING *`)
            .get(JSON.stringify(error), now, now, row.seq) as TaskRow;
          ev.push({ kind: "failed", row: updated, prev: S.running });
          if (row.has_dependents) cancelDependents(tenant, row.id, "failed", now, ev);
          return updated;
        });
        return rowToTask(row);
      } finally {
        freed(input.id, input.fencingToken);
      }
    },

    /**
     * Gives a held task back to its queue (the attempt is refunded). Without a fencing token the
     * release is administrative (seed 000) and ends whoever holds the task.
     */
    async releaseTask(input: { id: string; fencingToken?: number; delayMs?: number }): Promise<Task> {
      checkName("id", input.id);
      if (input.fencingToken !== undefined) checkInt("fencing_token", input.fencingToken, 1, Number.MAX_SAFE_INTEGER);
      if (input.delayMs !== undefined) checkInt("delay", input.delayMs, 0, 366 * 86_400_000);
      let holderToken = 0;
      try {
        const row = await write((ev) => {
          const now = clock.now();
          let row: TaskRow | null;
          if (input.fencingToken !== undefined) row = held(tenant, input.id, input.fencingToken, now);
          else {
            row = store.byId(tenant, input.id);
            if (!row) throw taskNotFound(input.id);
            if (row.state !== S.running) throw new AppError("failed_precondition", "TASK_NOT_RUNNING", `task ${input.id} is ${STATE_NAMES[row.state]}, not running`, { id: input.id });
          }
          holderToken = row.fencing_token;
          const updated = store
            .q(`UPDATE tasks SET state = ${S.pending}, attempt = max(0, attempt - 1), run_at = ?, lease_expires_at = NULL, deadline_at = NULL, updated_at = ?
              WHERE seq = ? RETURNING *`)
            .get(now + (input.delayMs ?? 0), now, row.seq) as TaskRow;
          ev.push({ kind: "released", row: updated, prev: S.running });
          if (!input.delayMs) dispatcher.kick();
          return updated;
        });
        if (input.fencingToken === undefined) dispatcher.cancelNotice(row.id, holderToken, "cancelled");
        return rowToTask(row);
      } finally {
        if (input.fencingToken !== undefined) freed(input.id, input.fencingToken);
      }
    },

    /** Cancels a pending, blocked or running task and its waiting dependents. */
    async cancelTask(input: { id: string; reason?: string }): Promise<{ task: Task; cancelledDependents: string[] }> {
      checkName("id", input.id);
      const out = await write((ev) => {
        const now = clock.now();
        const row = store.byId(tenant, input.id);
        if (!row) throw taskNotFound(input.id);
        if (row.state !== S.pending && row.state !== S.blocked && row.state !== S.running) {
          throw new AppError("failed_precondition", "TASK_ALREADY_FINISHED", `task ${row.id} is already ${STATE_NAMES[row.state]}`, { id: row.id, state: STATE_NAMES[row.state]! });
        }
        const error: TaskError = { message: input.reason || "cancelled", retryable: false, reason: "CANCELLED" };
        const updated = store
          .q(`UPDATE tasks SET state = ${S.cancelled}, error = ?, finished_at = ?, updated_at = ?, lease_expires_at = NULL, deadline_at = NULL WHERE seq = ? RETURNING *`)
          .get(JSON.stringify(error), now, now, row.seq) as TaskRow;
        ev.push({ kind: "cancelled", row: updated, prev: row.state });
        const dependents = row.has_dependents ? cancelDependents(tenant, row.id, "was cancelled", now, ev) : [];
        return { row: updated, wasRunning: row.state === S.running, dependents };
      });
      if (out.wasRunning) dispatcher.cancelNotice(out.row.id, out.row.fencing_token, "cancelled");
      return { task: rowToTask(out.row), cancelledDependents: out.dependents };
    },

    /** Retries a FAILED, TIMED_OUT or CANCELLED task by hand: attempts reset. */
    async retryTask(input: { id: string; runAt?: number }): Promise<Task> {
      checkName("id", input.id);
      if (input.runAt !== undefined) checkInt("run_at", input.runAt, 0, 8.64e15);
      const row = await write((ev) => {
        const now = clock.now();
        const row = store.byId(tenant, input.id);
        if (!row) throw taskNotFound(input.id);
        if (row.state !== S.failed && row.state !== S.timed_out && row.state !== S.cancelled) {
          throw new AppError("failed_precondition", "TASK_NOT_RETRYABLE", `task ${row.id} is ${STATE_NAMES[row.state]}; only failed, timed out or cancelled tasks can be retried`, {
            id: row.id,
            state: STATE_NAMES[row.state]!,
          });
        }
        let state = S.pending;
        for (const d of store.depStates(tenant, row.id)) {
          if (d.state === null || d.state === S.failed || d.state === S.cancelled || d.state === S.timed_out) {
            throw new AppError("failed_precondition", "DEPENDENCY_FAILED", `dependency ${d.id} did not succeed; retry it first`, { id: d.id });
          }
          if (d.state !== S.succeeded) state = S.blocked;
        }
        const updated = store
          .q(`UPDATE tasks SET state = ?, attempt = 0, error = NULL, result = NULL, finished_at = NULL, progress = 0, progress_message = '',
            run_at = ?, updated_at = ?, retry_count = retry_count + 1 WHERE seq = ? RETURNING *`)
          .get(state, input.runAt ?? now, now, row.seq) as TaskRow;
        ev.push({ kind: "retried", row: updated, prev: row.state });
        if (state === S.pending) dispatcher.kick();
        return updated;
      });
      return rowToTask(row);
    },

    // ------------------------------------------------------------ worker streams

    /**
     * Registers a worker stream: `send` receives the session info at once, then tasks claimed
     * for it as they become ready (never more in flight than its credits), pings and cancel
     * notices. Closing releases nothing: its leases expire (tasks claimed but never pushed
     * because the session closed first are released at once).
     */
    connectWorker(
      input: { workerId: string; queues: string[]; capabilities?: string[]; credits: number; leaseMs?: number },
      send: (message: WorkerMessage) => void,
    ): { sessionId: string; close(): void } {
      if (!input.workerId || typeof input.workerId !== "string" || input.workerId.length > 128) throw invalidArgument("worker_id", "is required (at most 128 characters)");
      const queues = checkStrings("queues", input.queues, 100);
      if (queues.length === 0) throw invalidArgument("queues", "name at least one queue");
      for (const [i, q] of queues.entries()) checkName(`queues[${i}]`, q);
      const caps = checkStrings("capabilities", input.capabilities, 64);
      // 0 is a stream that only wants pings and cancel notices until credits are granted.
      const credits = checkInt("credits", input.credits, 0, 10_000);
      const leaseMs = checkLease("lease_duration", input.leaseMs, config);
      return dispatcher.connect({ tenant, workerId: input.workerId, queues, capsJson: JSON.stringify(caps), credits, leaseMs }, send);
    },

    /** Adds credits to a worker stream. */
    grantWorkerCredits(sessionId: string, credits: number): number {
      checkInt("credits", credits, 1, 10_000);
      return dispatcher.grant(tenant, sessionId, credits);
    },

    // ------------------------------------------------------------ queues

    /** Queues with counts per state, oldest pending age, pause state and config, by name. */
    listQueues(page: { pageSize?: number; pageToken?: string } = {}): Page<QueueInfo> {
      const size = checkPageSize(page.pageSize);
      const after = decodePageToken(page.pageToken, "queues") as string | undefined;
      const names = allQueueNames(tenant).filter((n) => after === undefined || n > after);
      const chosen = names.slice(0, size);
      return { items: queueInfos(tenant, chosen), nextPageToken: names.length > size ? encodePageToken(chosen[chosen.length - 1]!, "queues") : "" };
    },

    /** One queue (a valid unused name answers an empty queue). */
    getQueue(name: string): QueueInfo {
      checkName("name", name);
      return queueInfos(tenant, [name])[0]!;
    },

    /** Pauses a queue: no new claims; claimed tasks finish. */
    pauseQueue: (name: string) => setPaused(tenant, name, true),
    /** Resumes a queue and serves waiting workers. */
    resumeQueue: (name: string) => setPaused(tenant, name, false),

    listQueueConfigs: (page: { pageSize?: number; pageToken?: string } = {}): Page<QueueConfig> => configs.list(tenant, checkPageSize(page.pageSize), page.pageToken),
    getQueueConfig: (name: string): QueueConfig => configs.get(tenant, name),
    /** Creates a queue config (source `api`); idempotent by requestId. */
    createQueueConfig: (input: Partial<QueueConfig> & { name: string }, requestId?: string): Promise<QueueConfig> =>
      write(() => configs.create(tenant, input, requestId)),
    deleteQueueConfig: (name: string): Promise<QueueConfig> => write(() => configs.remove(tenant, name)),
    /** Reloads configs from the YAML file named in the config (`queueConfigPath`). */
    reloadQueueConfigs: async () => {
      if (tenant !== DEFAULT_TENANT) {
        throw new AppError("failed_precondition", "QUEUE_CONFIG_FILE_MISSING", "the queue config file configures the default tenant only");
      }
      const parsed = await configs.readFile();
      return write(() => configs.apply(parsed));
    },

    // ------------------------------------------------------------ stats and upkeep

    getTaskStats: (input: { date?: string; queue?: string; topServersLimit?: number } = {}) => stats.taskStats(tenant, input),
    getHourlyTaskStats: (input: { date?: string; queue?: string } = {}) => stats.hourly(tenant, input),
    getWorkerTaskStats: (input: { workerId: string; date?: string }) => stats.worker(tenant, input),

    tick,

    /** Starts the reaper and the stream pings. */
    start(tickIntervalMs = 200): void {
      if (timer) return;
      timer = setInterval(() => void tick().catch(() => {}), tickIntervalMs);
      pingTimer = setInterval(() => dispatcher.ping(), config.pingIntervalMs);
    },

    /** Stops the timers and closes every worker stream. */
    stop(): void {
      if (timer) clearInterval(timer);
      if (pingTimer) clearInterval(pingTimer);
      timer = pingTimer = undefined;
      dispatcher.closeAll();
    },

    /** Figures for tests and benchmarks. */
    dispatcherState: () => dispatcher.state(),

    // ------------------------------------------------------------ holders (servers domain)

    /** Registers the check of completion results of a task type (all tenants); see `resultChecks`. */
    checkResults(type: string, check: (result: Json | undefined) => string | undefined): void {
      resultChecks.set(type, check);
    },

    /** Listens to every committed change without mapping tasks; answers an unsubscribe. */
    onChange(listener: (change: TaskChange) => void): () => void {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },

    /** Lets another domain (the servers' load balancer) choose which worker stream is served first. */
    setSessionChooser(choose: ((sessions: { workerId: string; credits: number }[]) => number | undefined) | undefined): void {
      sessionChooser = choose;
    },

    /** Stops (or resumes) new claims and stream pushes for a holder; its running tasks finish. */
    setHolderDrained(holder: string, on: boolean): void {
      if (on) drained.add(holderKey(tenant, holder));
      else if (drained.delete(holderKey(tenant, holder))) dispatcher.kick();
    },

    /** Puts every task a holder runs back in its queue, the attempt refunded (the holder left). */
    async releaseHeldBy(holder: string): Promise<Task[]> {
      const notices: [string, number][] = [];
      const rows = await write((ev) => {
        const now = clock.now();
        const out = store
          .q(`UPDATE tasks SET state = ${S.pending}, attempt = max(0, attempt - 1), run_at = ?, lease_expires_at = NULL, deadline_at = NULL, updated_at = ?
            WHERE tenant = ? AND state = ${S.running} AND worker_id = ? RETURNING *`)
          .all(now, now, tenant, holder) as TaskRow[];
        for (const row of out) {
          ev.push({ kind: "released", row, prev: S.running });
          notices.push([row.id, row.fencing_token]);
        }
        if (out.length) dispatcher.kick();
        return out;
      });
      for (const [id, token] of notices) dispatcher.cancelNotice(id, token, "cancelled");
      return rows.map(rowToTask);
    },

    /** Running tasks with their holder (worker or server id), of this tenant or of every tenant. */
    runningHolders: (everyTenant = false): { taskId: string; holder: string }[] =>
      (
        sqlite
          .prepare(`SELECT id, worker_id FROM tasks WHERE state = ${S.running} AND worker_id IS NOT NULL${everyTenant ? "" : " AND tenant = ?"}`)
          .all(...(everyTenant ? [] : [tenant])) as { id: string; worker_id: string }[]
      ).map((r) => ({
        taskId: r.id,
        holder: r.worker_id,
      })),

    /** Finished attempts of one holder (as server_id or worker_id), by finish time, all time without a range. */
    holderCounts(holder: string, range?: { start: number; end: number }) {
      const where = range ? ` AND finished_at >= ? AND finished_at < ?` : "";
      const args = range ? [tenant, holder, holder, range.start, range.end] : [tenant, holder, holder];
      const r = sqlite
        .prepare(`SELECT count(*) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
          avg(CASE WHEN started_at IS NOT NULL THEN finished_at - started_at END) AS avg
          FROM tasks WHERE tenant = ? AND coalesce(server_id, worker_id) IN (?, ?) AND state IN (${S.succeeded}, ${S.failed}, ${S.timed_out}) AND finished_at IS NOT NULL${where}`)
        .get(...args) as { done: number; ok: number | null; avg: number | null };
      return { tasksProcessed: r.done, successCount: r.ok ?? 0, failureCount: r.done - (r.ok ?? 0), averageProcessingTimeMs: Math.round(r.avg ?? 0) };
    },
  };
  }

  function invalidTransition(row: TaskRow, to: TaskState): AppError {
    return new AppError("failed_precondition", "INVALID_TRANSITION", `task ${row.id} cannot go from ${STATE_NAMES[row.state]} to ${to}`, {
      id: row.id,
      state: STATE_NAMES[row.state]!,
    });
  }
}

/**
 * Gives `obj` an enumerable `task` property that maps `row` on first read. Events are mostly
 * published to nobody (no watcher) and batch-completion results are mostly read for `ok`
 * alone; mapping (JSON parsing payload, result, error…) only when asked keeps that work off
 * the hot path. The row is the committed snapshot, so a later read sees the same task.
 */
function withLazyTask<T extends object>(obj: T, row: TaskRow): T & { task: Task } {
  return Object.defineProperty(obj, "task", {
    enumerable: true,
    configurable: true,
    get(this: T) {
      const task = rowToTask(row);
      Object.defineProperty(this, "task", { value: task, enumerable: true, writable: true, configurable: true });
      return task;
    },
  }) as T & { task: Task };
}

export type TaskEngine = ReturnType<typeof createTaskEngine>;
/** The engine's methods scoped to one tenant: `engine.scoped(tenant)`. */
export type TenantTaskEngine = ReturnType<TaskEngine["scoped"]>;
export { ALL_STATES };
