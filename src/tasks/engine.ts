import type { Database } from "../db/client.ts";
import type { OpDatabase, Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
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
import { S, createSqliteTaskStore, rowToTask, type NewTaskValues, type RowGuard, type TaskPatch, type TaskRow, type TaskStore } from "./store.ts";
import { DuplicateTaskError, createPgTaskStore } from "./store.pg.ts";
import { createDispatcher, type WorkerSession } from "./dispatcher.ts";
import { createQueueConfigs, type ConfigView } from "./queue-configs.ts";
import { createTaskStats } from "./stats.ts";
import {
  ALL_STATES,
  STATE_CODES,
  STATE_NAMES,
  type Assignment,
  type CancelReason,
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
  /** SQLite or PostgreSQL (`database.dialect`). */
  database: OpDatabase & { sqlite?: Database["sqlite"] };
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
  tenant: string;
  taskId: string;
  queue: string;
  /** worker_id of the row: the holder while running, the last holder after. */
  holder: string | undefined;
  state: TaskState;
  previousState: TaskState | undefined;
}

/** Events of one write, emitted only after the commit that holds them. */
export type EventBuffer = { kind: TaskEventKind; row: TaskRow; prev: number | undefined }[];

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
 * Another instance changed a row between this operation's read and its write (PostgreSQL).
 * Carries SQLSTATE 40001 so that the group committer retries the operation from its savepoint,
 * where it reads the row again; after the retries it reaches the client as `aborted`.
 */
export class ConcurrentChangeError extends AppError {
  readonly errno = "40001";
  constructor(id: string) {
    super("aborted", "CONCURRENT_CHANGE", `task ${id} changed while this call ran; try again`, { id });
  }
}

/** A write operation's context: its transaction, its event buffer, its post-commit work. */
interface W {
  tx: Tx;
  ev: EventBuffer;
  after: (fn: () => void) => void;
  /** Reads shared by the claims of one dispatch round (one operation). */
  memo?: Map<string, unknown>;
}

/** `read` once per `memo` (when there is one) under `key`. */
function* memoized<T>(memo: Map<string, unknown> | undefined, key: string, read: () => Op<T>): Op<T> {
  if (memo?.has(key)) return memo.get(key) as T;
  const value = yield* read();
  memo?.set(key, value);
  return value;
}

/**
 * The tasks domain: lifecycle, leases with fencing tokens, claims, dispatch to worker streams,
 * reaping, dependencies, queues, configs, stats. Every acknowledged write is an operation in the
 * group commit and resolves after its commit; reads are operations outside one. On SQLite both
 * run synchronously over prepared statements; on PostgreSQL they are awaited, and several
 * instances may share the tables (claims skip locked rows, updates are guarded).
 */
export function createTaskEngine(deps: TaskEngineDeps) {
  const { database, clock } = deps;
  const config: TaskConfig = { ...DEFAULT_TASK_CONFIG, ...deps.config };
  const random = deps.random ?? Math.random;
  const store: TaskStore = database.dialect === "sqlite" ? createSqliteTaskStore((database as Database).sqlite) : createPgTaskStore();
  const sink = deps.events;
  let sequence = 0;

  const configs = createQueueConfigs({ store, clock, path: config.queueConfigPath });
  // On SQLite this runs at once (a read answers synchronously): the config cache is filled
  // before any other call. On PostgreSQL configs are read through, there is nothing to load.
  void database.read((tx) => configs.init(tx)).catch(() => {});

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

  /** Hands committed events to the listeners and the sink: the one place events leave the engine. */
  function emit(buffer: EventBuffer): void {
    if (changeListeners.size) {
      for (const e of buffer) {
        const change: TaskChange = { kind: e.kind, tenant: e.row.tenant, taskId: e.row.id, queue: e.row.queue, holder: e.row.worker_id ?? undefined, state: STATE_NAMES[e.row.state]!, previousState: e.prev === undefined ? undefined : STATE_NAMES[e.prev] };
        for (const l of changeListeners) l(change);
      }
    }
    if (!sink) return;
    const time = clock.now();
    for (const e of buffer) {
      sink(withLazyTask({ sequence: ++sequence, time, kind: e.kind, previousState: e.prev === undefined ? undefined : STATE_NAMES[e.prev], fencingToken: e.row.fencing_token }, e.row));
    }
  }

  /**
   * Runs `work` in the next group transaction; emits its events and runs `after` post-commit.
   * The buffers are made inside the operation factory: on PostgreSQL a retried operation starts
   * again from scratch, so a retry never duplicates events or post-commit work.
   */
  async function write<T>(work: (w: W) => Op<T>): Promise<T> {
    let ev: EventBuffer = [];
    let afters: (() => void)[] = [];
    const out = await database.write((tx) => {
      const mine: (() => void)[] = [];
      ev = [];
      afters = mine;
      return work({ tx, ev, after: (fn) => mine.push(fn) });
    });
    emit(ev);
    for (const fn of afters) fn();
    return out;
  }

  const read = <T>(op: (tx: Tx) => Op<T>): Promise<T> => database.read(op);

  /** A guarded update's row, or a retry of the whole operation when another instance moved the row. */
  function must(row: TaskRow | null, g: RowGuard & { id: string }): TaskRow {
    if (!row) throw new ConcurrentChangeError(g.id);
    return row;
  }

  // ---------------------------------------------------------------- dependencies

  /** Every BLOCKED dependent of `id` whose dependencies have now all succeeded becomes PENDING. */
  function* unblockDependents(w: W, tenant: string, id: string, now: number): Op<boolean> {
    let any = false;
    for (const dep of yield* store.dependentsBlocked(w.tx, tenant, id)) {
      if ((yield* store.unfinishedDeps(w.tx, tenant, dep.id)) > 0) continue;
      const row = yield* store.unblock(w.tx, dep.seq, now);
      if (!row) continue;
      w.ev.push({ kind: "unblocked", row, prev: S.blocked });
      any = true;
    }
    return any;
  }

  /**
   * The dependency rule: when a task fails for good, times out, is cancelled or deleted, every
   * dependent still waiting (BLOCKED) is cancelled with reason DEPENDENCY_FAILED, and so on
   * down the graph. Returns the ids cancelled.
   */
  function* cancelDependents(w: W, tenant: string, id: string, why: string, now: number): Op<string[]> {
    const cancelled: string[] = [];
    const todo = [{ id, why }];
    while (todo.length > 0) {
      const { id: cur, why: curWhy } = todo.shift()!;
      for (const dep of yield* store.dependentsBlocked(w.tx, tenant, cur)) {
        const error: TaskError = { message: `dependency ${cur} ${curWhy}`, retryable: false, reason: "DEPENDENCY_FAILED" };
        const row = yield* store.cancelBlocked(w.tx, dep.seq, JSON.stringify(error), now);
        if (!row) continue;
        w.ev.push({ kind: "cancelled", row, prev: S.blocked });
        cancelled.push(dep.id);
        todo.push({ id: dep.id, why: "was cancelled" });
      }
    }
    return cancelled;
  }

  // ---------------------------------------------------------------- create

  function* createOne(w: W, tenant: string, t: NewTask, prefix: string, now: number, cfgs: ConfigView): Op<{ row: TaskRow; replayed: boolean; ready: boolean }> {
    checkNewTask(t, prefix);
    const f = (name: string) => (prefix ? `${prefix}.${name}` : name);
    if (t.requestId) {
      const existing = yield* store.byRequestId(w.tx, tenant, t.requestId);
      if (existing) return { row: existing, replayed: true, ready: false };
    }
    const id = t.id || newId("task", now);
    const exists = () => new AppError("already_exists", "TASK_ALREADY_EXISTS", `task ${t.id} already exists`, { id: t.id!, field: f("id") });
    if (t.id && (yield* store.byId(w.tx, tenant, t.id))) throw exists();
    const cfg = cfgs.resolve(t.queue);
    const dependsOn = checkStrings(f("depends_on"), t.dependsOn, 1000);
    let state = S.pending;
    let error: TaskError | undefined;
    for (const [i, depId] of dependsOn.entries()) {
      const dep = yield* store.byId(w.tx, tenant, depId);
      if (!dep) throw new AppError("invalid_argument", "DEPENDENCY_NOT_FOUND", `${f(`depends_on[${i}]`)}: task ${depId} does not exist`, { field: f(`depends_on[${i}]`), id: depId });
      if (dep.state === S.failed || dep.state === S.cancelled || dep.state === S.timed_out) {
        state = S.cancelled;
        error = { message: `dependency ${depId} is ${STATE_NAMES[dep.state]}`, retryable: false, reason: "DEPENDENCY_FAILED" };
      } else if (dep.state !== S.succeeded && state === S.pending) state = S.blocked;
    }
    const { values, runAt } = valuesOf(tenant, t, f, id, now, cfg, state, error, dependsOn);
    let row: TaskRow | null;
    try {
      row = yield* store.insert(w.tx, values);
    } catch (e) {
      // PostgreSQL: another instance created the same explicit id meanwhile.
      if (e instanceof DuplicateTaskError && t.id) throw exists();
      throw e;
    }
    if (!row) {
      // PostgreSQL: a concurrent create with the same request id (another instance) committed first.
      const winner = yield* store.byRequestId(w.tx, tenant, t.requestId!);
      if (!winner) throw new ConcurrentChangeError(id);
      return { row: winner, replayed: true, ready: false };
    }
    for (const depId of dependsOn) {
      yield* store.insertEdge(w.tx, tenant, id, depId);
      yield* store.markHasDependents(w.tx, tenant, depId);
    }
    w.ev.push({ kind: "created", row, prev: undefined });
    return { row, replayed: false, ready: state === S.pending && runAt <= now };
  }

  /** The columns of a new task (the checks of its capabilities and tags included). */
  function valuesOf(
    tenant: string,
    t: NewTask,
    f: (name: string) => string,
    id: string,
    now: number,
    cfg: QueueConfig | undefined,
    state: number,
    error: TaskError | undefined,
    dependsOn: string[],
  ): { values: NewTaskValues; runAt: number } {
    const caps = checkStrings(f("required_capabilities"), t.requiredCapabilities, 64).sort();
    const tags = checkStrings(f("tags"), t.tags, 64);
    const runAt = t.runAt ?? now + (t.delayMs ?? 0);
    const values: NewTaskValues = [
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
    ];
    return { values, runAt };
  }

  /**
   * PostgreSQL: a batch whose tasks name no id, request id or dependency needs no lookups, so it
   * is inserted in one statement (row by row it costs a round trip per task).
   */
  const plainBatch = (inputs: NewTask[]): boolean =>
    store.dialect === "postgres" &&
    inputs.every((t) => typeof t === "object" && t !== null && !t.id && !t.requestId && !(t.dependsOn && (t.dependsOn as unknown[]).length));

  function* createPlain(w: W, tenant: string, inputs: NewTask[], now: number, cfgs: ConfigView): Op<{ rows: TaskRow[]; ready: boolean }> {
    const prepared = inputs.map((t, i) => {
      const prefix = `requests[${i}].task`;
      checkNewTask(t, prefix);
      const f = (name: string) => `${prefix}.${name}`;
      checkStrings(f("depends_on"), t.dependsOn, 1000);
      return valuesOf(tenant, t, f, newId("task", now), now, cfgs.resolve(t.queue), S.pending, undefined, []);
    });
    const rows = yield* store.insertMany(w.tx, prepared.map((p) => p.values));
    for (const row of rows) w.ev.push({ kind: "created", row, prev: undefined });
    return { rows, ready: prepared.some((p) => p.runAt <= now) };
  }

  // ---------------------------------------------------------------- claims

  /** How many more tasks each queue may start now (absent: no limit). */
  function* concurrencyRoom(tx: Tx, tenant: string, queues: string[]): Op<Map<string, number>> {
    const room = new Map<string, number>();
    const cfgs = yield* configs.view(tx, tenant);
    for (const queue of queues) {
      const limit = cfgs.resolve(queue)?.concurrencyLimit ?? 0;
      if (limit > 0) {
        // PostgreSQL: one claimer of a limited queue at a time across instances, so that two
        // never both see the last free slot.
        yield* store.lockQueue(tx, tenant, queue);
        room.set(queue, Math.max(0, limit - (yield* store.runningCount(tx, tenant, queue))));
      }
    }
    return room;
  }

  /** A holder in maintenance gets no new tasks (this instance's drains, and on PostgreSQL every instance's). */
  function* isDrained(tx: Tx, tenant: string, holder: string): Op<boolean> {
    if (store.dialect === "sqlite") return drained.size > 0 && drained.has(holderKey(tenant, holder));
    const pending = drainWrites.get(holderKey(tenant, holder));
    return pending ?? (yield* store.holderDrained(tx, tenant, holder));
  }
  /** PostgreSQL: drains set here whose write has not committed yet (they count at once here). */
  const drainWrites = new Map<string, boolean>();

  /** Claims up to n ready tasks for a worker; runs inside a transaction. */
  function* claimReady(w: W, tenant: string, workerId: string, queues: string[], capsJson: string, n: number, leaseMs: number, now: number): Op<TaskRow[]> {
    if (yield* isDrained(w.tx, tenant, workerId)) return [];
    const paused = yield* memoized(w.memo, `paused\u001f${tenant}`, () => store.pausedQueues(w.tx, tenant));
    const open = paused.size ? queues.filter((q) => !paused.has(q)) : queues;
    if (open.length === 0 || n <= 0) return [];
    const limits = yield* memoized(w.memo, "limits", () => configs.hasLimits(w.tx));
    const room = limits ? yield* concurrencyRoom(w.tx, tenant, [...open].sort()) : new Map<string, number>();
    const rows =
      open.length === 1 && !room.has(open[0]!)
        ? yield* store.claimFromQueue(w.tx, tenant, open[0]!, capsJson, n, workerId, now, leaseMs)
        : yield* store.claimFromQueues(w.tx, tenant, open, capsJson, n, room, workerId, now, leaseMs);
    if (sink) for (const row of rows) w.ev.push({ kind: "claimed", row, prev: S.pending });
    return rows;
  }

  const leaseOf = (row: TaskRow) => ({ fencingToken: row.fencing_token, expiresAt: row.lease_expires_at!, leaseDurationMs: row.lease_duration_ms!, workerId: row.worker_id! });

  /**
   * Ends an expired lease: the attempt counts; ready again, or FAILED with no attempts left.
   * Null when another instance's reaper (PostgreSQL) ended it first: it is counted once.
   */
  function* reapExpired(w: W, row: TaskRow, now: number): Op<TaskRow | null> {
    const exhausted = row.attempt >= row.max_attempts;
    const error: TaskError = { message: `lease of ${row.worker_id} expired`, retryable: !exhausted, reason: "LEASE_EXPIRED" };
    const updated = yield* store.reap(w.tx, row, exhausted ? S.failed : S.pending, JSON.stringify(error), now, exhausted ? now : null, exhausted ? 0 : 1);
    if (!updated) return null;
    w.ev.push({ kind: exhausted ? "failed" : "lease_expired", row: updated, prev: S.running });
    if (exhausted && row.has_dependents) yield* cancelDependents(w, row.tenant, row.id, "failed", now);
    w.after(() => dispatcher.cancelNotice(row.id, row.fencing_token, "lease_expired"));
    return updated;
  }

  /** Finds why a holder's call did not match: not found, cancelled (same token) or lease lost. */
  function* refusal(tx: Tx, tenant: string, id: string, token: number, now: number): Op<AppError> {
    const row = yield* store.byId(tx, tenant, id);
    if (!row) return taskNotFound(id);
    if (row.state === S.cancelled && row.fencing_token === token) {
      return new AppError("failed_precondition", "TASK_CANCELLED", `task ${id} was cancelled`, { id });
    }
    if (row.fencing_token !== token) return leaseLost(id, `fencing token ${token} is stale (current ${row.fencing_token})`);
    if (row.state === S.running && row.lease_expires_at !== null && row.lease_expires_at <= now) return leaseLost(id, "the lease expired");
    return leaseLost(id, `the task is ${STATE_NAMES[row.state]}, not held`);
  }

  /** A held task (state RUNNING, token current, lease unexpired), or the refusal. */
  function* held(tx: Tx, tenant: string, id: string, token: number, now: number): Op<TaskRow> {
    const row = yield* store.byId(tx, tenant, id);
    if (row && row.state === S.running && row.fencing_token === token && row.lease_expires_at !== null && row.lease_expires_at > now) return row;
    throw yield* refusal(tx, tenant, id, token, now);
  }

  function* completeRow(w: W, tenant: string, id: string, token: number, result: Json | undefined, now: number): Op<TaskRow> {
    const row = yield* store.complete(w.tx, tenant, id, token, result === undefined ? null : JSON.stringify(result), now);
    if (!row) throw yield* refusal(w.tx, tenant, id, token, now);
    const settled = yield* checkCompleted(w, row, result, now);
    yield* dependentsOfCompleted(w, tenant, settled, now);
    return settled;
  }

  /**
   * A just-completed row: a result that does not fill its message fails the task for good (no
   * retry), in the same write: nobody ever sees it succeeded. Records the event; answers the row.
   */
  function* checkCompleted(w: W, row: TaskRow, result: Json | undefined, now: number): Op<TaskRow> {
    const problem = resultChecks.size ? resultChecks.get(row.type)?.(result) : undefined;
    if (problem !== undefined) {
      const error: TaskError = { message: `malformed result: ${problem}`, retryable: false, reason: "MALFORMED_RESULT" };
      const failed = yield* store.failMalformed(w.tx, row.seq, JSON.stringify(error), now);
      if (sink) w.ev.push({ kind: "failed", row: failed, prev: S.running });
      return failed;
    }
    if (sink) w.ev.push({ kind: "succeeded", row, prev: S.running });
    return row;
  }

  /** After a completion: dependents are unblocked (succeeded) or cancelled (malformed result). */
  function* dependentsOfCompleted(w: W, tenant: string, row: TaskRow, now: number): Op<void> {
    if (!row.has_dependents) return;
    if (row.state === S.failed) yield* cancelDependents(w, tenant, row.id, "failed", now);
    else if (yield* unblockDependents(w, tenant, row.id, now)) dispatcher.kick();
  }

  /**
   * PostgreSQL: completions of distinct tasks in one statement (row by row it costs a round trip
   * per task); then, in item order, the refusals and result checks; then the dependents, once
   * every item of the batch is settled.
   */
  function* completeMany(w: W, tenant: string, items: { id: string; fencingToken: number; result?: Json }[], now: number): Op<(TaskRow | AppError)[]> {
    const rows = yield* store.completeMany(
      w.tx,
      tenant,
      items.map((it) => ({ id: it.id, token: it.fencingToken, result: it.result === undefined ? null : JSON.stringify(it.result) })),
      now,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const out: (TaskRow | AppError)[] = [];
    for (const it of items) {
      const row = byId.get(it.id);
      out.push(row ? yield* checkCompleted(w, row, it.result, now) : yield* refusal(w.tx, tenant, it.id, it.fencingToken, now));
    }
    for (const r of out) if (!(r instanceof AppError)) yield* dependentsOfCompleted(w, tenant, r, now);
    return out;
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
    database,
    pingIntervalMs: config.pingIntervalMs,
    claim: (tx: Tx, s: WorkerSession, n: number, now: number, ev: EventBuffer, round: Map<string, unknown>) =>
      claimReady({ tx, ev, after: () => {}, memo: round }, s.tenant, s.workerId, s.queues, s.capsJson, n, s.leaseMs, now),
    release: (rows: TaskRow[]) => {
      // Pushed to a session that closed before the push: give the tasks back, attempt refunded.
      void write(function* (w) {
        const now = clock.now();
        for (const r of rows) {
          const row = yield* store.releaseUnpushed(w.tx, r.tenant, r.id, r.fencing_token, now);
          if (row) w.ev.push({ kind: "released", row, prev: S.running });
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

  /**
   * Reclaims expired leases and times out overdue attempts, by the server clock. On PostgreSQL
   * every instance reaps: each locks the rows it reaps (skipping rows another reaper holds) and
   * each update is guarded, so a lease is reaped and its attempt counted once.
   */
  async function tick(): Promise<{ expired: number; timedOut: number }> {
    const now = clock.now();
    const out = await write(function* (w) {
      let timedOut = 0;
      for (const row of yield* store.pastDeadline(w.tx, now)) {
        const error: TaskError = { message: `attempt ran past its timeout of ${row.timeout_ms} ms`, retryable: false, reason: "TIMED_OUT" };
        const updated = yield* store.timeOut(w.tx, row, JSON.stringify(error), now);
        if (!updated) continue;
        w.ev.push({ kind: "timed_out", row: updated, prev: S.running });
        if (row.has_dependents) yield* cancelDependents(w, row.tenant, row.id, "timed out", now);
        w.after(() => dispatcher.cancelNotice(row.id, row.fencing_token, "timed_out"));
        timedOut++;
      }
      let expired = 0;
      for (const row of yield* store.expired(w.tx, now)) if (yield* reapExpired(w, row, now)) expired++;
      return { expired, timedOut };
    });
    if (out.expired > 0 || dispatcher.hasCredits()) dispatcher.kick();
    return out;
  }

  let timer: ReturnType<typeof setInterval> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;

  // ---------------------------------------------------------------- lists

  async function listTasksOf(tenant: string, f: ListTasksFilter): Promise<Page<Task>> {
    const size = checkPageSize(f.pageSize);
    const queues = checkStrings("queues", f.queues, 100);
    for (const [i, q] of queues.entries()) checkName(`queues[${i}]`, q);
    const states: number[] = [];
    if (f.states?.length) {
      for (const [i, s] of f.states.entries()) if (!(s in STATE_CODES)) throw invalidArgument(`states[${i}]`, "is not a task state");
      for (const s of f.states) states.push(STATE_CODES[s]);
    }
    const q = {
      queues,
      states,
      type: f.type || undefined,
      workerId: f.workerId || undefined,
      capability: f.capability || undefined,
      tag: f.tag || undefined,
      createdAfter: f.createdAfter,
      createdBefore: f.createdBefore,
    };
    // A page token is bound to the filters it was issued for.
    const key = JSON.stringify(["tasks", tenant, q]);
    const after = decodePageToken(f.pageToken, key);
    const rows = await read((tx) => store.list(tx, tenant, { ...q, beforeSeq: after === undefined ? undefined : Number(after), limit: size + 1 }));
    const more = rows.length > size;
    if (more) rows.pop();
    return { items: rows.map(rowToTask), nextPageToken: more ? encodePageToken(rows[rows.length - 1]!.seq, key) : "" };
  }

  // ---------------------------------------------------------------- queues

  function emptyCounts(): TaskCounts {
    return { pending: 0, delayed: 0, blocked: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, timedOut: 0, total: 0 };
  }
  const COUNT_KEYS: Record<number, keyof TaskCounts> = { 1: "pending", 2: "blocked", 3: "running", 4: "succeeded", 5: "failed", 6: "cancelled", 7: "timedOut" };

  function* queueInfos(tx: Tx, tenant: string, names: string[]): Op<QueueInfo[]> {
    const now = clock.now();
    const pauses = new Map((yield* store.pauses(tx, tenant)).map((r) => [r.name, r]));
    const cfgs = yield* configs.view(tx, tenant);
    const out: QueueInfo[] = [];
    for (const name of names) {
      const counts = emptyCounts();
      for (const r of yield* store.queueStateCounts(tx, tenant, name)) {
        counts[COUNT_KEYS[r.state]!] += r.n;
        counts.total += r.n;
      }
      counts.delayed = counts.pending ? yield* store.delayedCount(tx, tenant, name, now) : 0;
      const oldest = counts.pending ? yield* store.oldestPendingCreatedAt(tx, tenant, name) : null;
      const p = pauses.get(name);
      out.push({
        name,
        paused: p?.paused === 1,
        counts,
        oldestPendingAgeMs: oldest !== null ? Math.max(0, now - oldest) : 0,
        config: cfgs.resolve(name),
        pauseUpdatedAt: p?.pause_updated_at,
      });
    }
    return out;
  }

  async function setPaused(tenant: string, name: string, paused: boolean): Promise<QueueInfo> {
    checkName("name", name);
    await write(function* (w) {
      yield* store.setPaused(w.tx, tenant, name, paused, clock.now());
    });
    if (!paused) dispatcher.kick();
    return (await read((tx) => queueInfos(tx, tenant, [name])))[0]!;
  }

  const stats = createTaskStats({ database, store, clock });

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
  async function tenantsWithWork(queues: string[]): Promise<string[]> {
    if (queues.length === 0) return [];
    return read((tx) => store.tenantsWithWork(tx, queues));
  }

  /**
   * Wakes this instance's dispatcher: its worker streams with credits claim what is ready. For a
   * signal from another instance that a task became ready (`tenant`, `queue`): only when a stream
   * here serves that tenant and queue.
   */
  function kick(tenant?: string, queue?: string): void {
    if (tenant !== undefined && queue !== undefined && !dispatcher.serves(tenant, queue)) return;
    dispatcher.kick();
  }

  /**
   * A task this instance pushed to one of its worker streams was ended on another instance
   * (completed, failed or released there: "done"; cancelled, deleted, reaped or timed out there:
   * the reason). Frees the stream's credit, and for a reason tells the worker, as a local end
   * would. Nothing happens when no stream here holds the task with that fencing token.
   */
  function remoteTaskEnded(taskId: string, fencingToken: number, how: "done" | CancelReason): void {
    if (how === "done") dispatcher.taskDone(taskId, fencingToken);
    else dispatcher.cancelNotice(taskId, fencingToken, how);
  }

  return { ...scoped(DEFAULT_TENANT), scoped, tenantsWithWork, kick, remoteTaskEnded };

  /** Every method reads and writes the tasks, queues and configs of `tenant` only. */
  function scope(tenant: string) {
  return {
    config,

    /** Creates one task (idempotent by requestId); resolves after the commit. */
    async createTask(input: NewTask): Promise<{ task: Task; replayed: boolean }> {
      const r = await write(function* (w) {
        const out = yield* createOne(w, tenant, input, "", clock.now(), yield* configs.view(w.tx, tenant));
        if (out.ready) dispatcher.kick();
        return out;
      });
      return { task: rowToTask(r.row), replayed: r.replayed };
    },

    /** Creates up to maxBatch tasks in one commit, all or none; items are idempotent one by one. */
    async batchCreateTasks(inputs: NewTask[]): Promise<Task[]> {
      if (!Array.isArray(inputs) || inputs.length === 0) throw invalidArgument("requests", "must hold at least one task");
      if (inputs.length > config.maxBatch) throw invalidArgument("requests", `at most ${config.maxBatch} tasks per call`);
      const rows = await write(function* (w) {
        const now = clock.now();
        const cfgs = yield* configs.view(w.tx, tenant);
        if (plainBatch(inputs)) {
          const plain = yield* createPlain(w, tenant, inputs, now, cfgs);
          if (plain.ready) dispatcher.kick();
          return plain.rows;
        }
        let ready = false;
        const out: TaskRow[] = [];
        for (const [i, t] of inputs.entries()) {
          const r = yield* createOne(w, tenant, t, `requests[${i}].task`, now, cfgs);
          ready ||= r.ready;
          out.push(r.row);
        }
        if (ready) dispatcher.kick();
        return out;
      });
      return rows.map(rowToTask);
    },

    /** Reads one task. */
    async getTask(id: string): Promise<Task> {
      checkName("id", id);
      const row = await read((tx) => store.byId(tx, tenant, id));
      if (!row) throw taskNotFound(id);
      return rowToTask(row);
    },

    /** Lists tasks newest first with filters and an opaque page token. */
    listTasks: (filter: ListTasksFilter = {}): Promise<Page<Task>> => listTasksOf(tenant, filter),

    /** The ready set in claim order (priority, then FIFO), skipping paused queues. */
    async listReadyTasks(filter: { pageSize?: number; pageToken?: string; queues?: string[]; capabilities?: string[] } = {}): Promise<Page<Task>> {
      const size = checkPageSize(filter.pageSize);
      const queues = checkStrings("queues", filter.queues, 100);
      const caps = checkStrings("capabilities", filter.capabilities, 64);
      const now = clock.now();
      const key = JSON.stringify(["ready", queues, caps]);
      const after = decodePageToken(filter.pageToken, key) as [number, number] | undefined;
      const capsJson = filter.capabilities !== undefined && filter.capabilities.length > 0 ? JSON.stringify(caps) : undefined;
      const rows = await read((tx) => store.listReady(tx, tenant, { now, queues, capsJson, after, limit: size + 1 }));
      const more = rows.length > size;
      if (more) rows.pop();
      const last = rows[rows.length - 1];
      return { items: rows.map(rowToTask), nextPageToken: more && last ? encodePageToken([last.priority, last.seq], key) : "" };
    },

    /** The dead-letter set (FAILED and TIMED_OUT), newest first. */
    listDeadLetterTasks(filter: { pageSize?: number; pageToken?: string; queues?: string[] } = {}): Promise<Page<Task>> {
      return listTasksOf(tenant, { ...filter, states: ["failed", "timed_out"] });
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
      const row = await write(function* (w) {
        const now = clock.now();
        const current = yield* store.byId(w.tx, tenant, input.id);
        if (!current) throw taskNotFound(input.id);
        if (input.fencingToken !== undefined && current.fencing_token !== input.fencingToken) throw yield* refusal(w.tx, tenant, input.id, input.fencingToken, now);
        const prev = current.state;
        const patch: TaskPatch = { now };
        if (input.progress !== undefined) patch.progress = input.progress;
        if (input.progressMessage !== undefined) patch.progressMessage = input.progressMessage;
        if (input.title !== undefined) patch.title = input.title;
        if (input.description !== undefined) patch.description = input.description;
        if (tags !== undefined) patch.tags = tags.length ? JSON.stringify(tags) : null;
        if (input.serverId) patch.serverId = input.serverId;
        if (input.metadata !== undefined) {
          const merged: JsonObject = { ...(current.metadata ? JSON.parse(current.metadata) : {}) };
          for (const [k, v] of Object.entries(input.metadata)) {
            if (v === null) delete merged[k];
            else merged[k] = v;
          }
          patch.metadata = JSON.stringify(merged);
        }
        if (input.priority !== undefined) {
          if (current.state !== S.pending && current.state !== S.blocked) {
            throw new AppError("failed_precondition", "TASK_NOT_PENDING", `task ${current.id} is ${STATE_NAMES[current.state]}; priority changes only while pending`, { field: "priority" });
          }
          patch.priority = input.priority;
        }
        let kind: TaskEventKind = "updated";
        if (input.state === "running") {
          if (current.state !== S.pending) throw invalidTransition(current, "running");
          patch.start = { holder: input.serverId || current.server_id || "backend", leaseMs: current.timeout_ms ?? config.maxLeaseMs };
          kind = "claimed";
        } else if (input.state === "succeeded" || input.state === "failed") {
          if (current.state !== S.pending && current.state !== S.running && current.state !== S.blocked) throw invalidTransition(current, input.state);
          const ok = input.state === "succeeded";
          patch.finish = ok
            ? { ok: true, result: input.result === undefined ? null : JSON.stringify(input.result) }
            : { ok: false, error: JSON.stringify(input.error ?? { message: "reported failed", retryable: false }) };
          if (current.state === S.running) w.after(() => dispatcher.cancelNotice(current.id, current.fencing_token, "cancelled"));
          kind = ok ? "succeeded" : "failed";
        }
        const row = must(yield* store.update(w.tx, current, patch), current);
        w.ev.push({ kind, row, prev });
        if (kind === "succeeded" && row.has_dependents && (yield* unblockDependents(w, tenant, row.id, now))) w.after(() => dispatcher.kick());
        if (kind === "failed" && row.has_dependents) yield* cancelDependents(w, tenant, row.id, "failed", now);
        return row;
      });
      return rowToTask(row);
    },

    /** Deletes a task in any state; its waiting dependents are cancelled. */
    async deleteTask(id: string): Promise<Task> {
      checkName("id", id);
      const row = await write(function* (w) {
        const now = clock.now();
        const found = yield* store.byId(w.tx, tenant, id);
        if (!found) throw taskNotFound(id);
        const row = yield* store.remove(w.tx, found.seq, tenant, id);
        if (!row) throw taskNotFound(id);
        w.ev.push({ kind: "deleted", row, prev: row.state });
        if (row.has_dependents) {
          yield* cancelDependents(w, tenant, id, "was deleted", now);
          yield* store.removeEdgesTo(w.tx, tenant, id);
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
      // Refusals are returned, not thrown, so that an expired lease reaped on the way (a
      // change of its own) is committed even when the claim itself is refused.
      const outcome = await write(function* (w): Op<TaskRow | AppError> {
        const now = clock.now();
        let row = yield* store.byId(w.tx, tenant, input.id);
        if (!row) throw taskNotFound(input.id);
        if (row.state === S.running && row.lease_expires_at !== null && row.lease_expires_at <= now) {
          // Reaped here, or (PostgreSQL) by another instance meanwhile: read what it left.
          row = (yield* reapExpired(w, row, now)) ?? (yield* store.byId(w.tx, tenant, input.id));
          if (!row) throw taskNotFound(input.id);
        }
        const blockedClaim = row.state === S.blocked && input.ignoreDependencies === true;
        if ((row.state !== S.pending && !blockedClaim) || row.run_at > now) {
          const why = row.state === S.pending ? "delayed until its run_at" : STATE_NAMES[row.state]!;
          return new AppError("failed_precondition", "TASK_NOT_CLAIMABLE", `task ${row.id} is ${why}`, { id: row.id, state: STATE_NAMES[row.state]! });
        }
        if ((yield* store.pausedQueues(w.tx, tenant)).has(row.queue)) return new AppError("failed_precondition", "QUEUE_PAUSED", `queue ${row.queue} is paused`, { queue: row.queue });
        if (yield* isDrained(w.tx, tenant, input.workerId)) return new AppError("failed_precondition", "HOLDER_DRAINED", `${input.workerId} is in maintenance`, { worker_id: input.workerId });
        if (caps) {
          const need: string[] = row.capabilities ? JSON.parse(row.capabilities) : [];
          const missing = need.filter((c) => !caps.includes(c));
          if (missing.length) return new AppError("failed_precondition", "CAPABILITY_MISMATCH", `worker lacks ${missing.join(", ")}`, { missing: missing.join(",") });
        }
        const room = (yield* concurrencyRoom(w.tx, tenant, [row.queue])).get(row.queue);
        if (room !== undefined && room <= 0) return new AppError("failed_precondition", "QUEUE_CONCURRENCY_LIMIT", `queue ${row.queue} is at its concurrency limit`, { queue: row.queue });
        const claimed = blockedClaim
          ? yield* store.claimBlockedBySeq(w.tx, row.seq, input.workerId, now, leaseMs)
          : yield* store.claimBySeq(w.tx, row.seq, input.workerId, now, leaseMs);
        if (!claimed) return new AppError("failed_precondition", "TASK_NOT_CLAIMABLE", `task ${row.id} was claimed by someone else`, { id: row.id });
        w.ev.push({ kind: "claimed", row: claimed, prev: blockedClaim ? S.blocked : S.pending });
        return claimed;
      });
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
      const rows = await write((w) => claimReady(w, tenant, input.workerId, queues, caps, n, leaseMs, clock.now()));
      return rows.map((row) => ({ task: rowToTask(row), lease: leaseOf(row) }));
    },

    /** Extends a held lease and records progress; tells the holder when the task was cancelled. */
    async heartbeat(input: { id: string; fencingToken: number; leaseMs?: number; progress?: number; progressMessage?: string }) {
      checkName("id", input.id);
      checkInt("fencing_token", input.fencingToken, 1, Number.MAX_SAFE_INTEGER);
      const leaseMs = input.leaseMs === undefined || input.leaseMs === 0 ? null : checkLease("lease_duration", input.leaseMs, config);
      if (input.progress !== undefined) checkInt("progress", input.progress, 0, 100);
      return write(function* (w) {
        const now = clock.now();
        const row = yield* store.heartbeat(w.tx, tenant, input.id, input.fencingToken, now, leaseMs, input.progress ?? null, input.progressMessage ?? null);
        if (!row) {
          const err = yield* refusal(w.tx, tenant, input.id, input.fencingToken, now);
          if (err.reason === "TASK_CANCELLED") return { lease: undefined, cancelRequested: true };
          throw err;
        }
        if (input.progress !== undefined || input.progressMessage !== undefined) w.ev.push({ kind: "updated", row, prev: S.running });
        return { lease: leaseOf(row) as ReturnType<typeof leaseOf> | undefined, cancelRequested: false };
      });
    },

    /** Completes a held task; a stale holder is refused with LEASE_LOST and nothing is stored. */
    async completeTask(input: { id: string; fencingToken: number; result?: Json }): Promise<Task> {
      checkName("id", input.id);
      checkInt("fencing_token", input.fencingToken, 1, Number.MAX_SAFE_INTEGER);
      try {
        const row = await write((w) => completeRow(w, tenant, input.id, input.fencingToken, input.result, clock.now()));
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
      const distinct = new Set(items.map((it) => it.id)).size === items.length;
      const rows = await write(function* (w) {
        const now = clock.now();
        if (store.dialect === "postgres" && distinct) return yield* completeMany(w, tenant, items, now);
        const out: (TaskRow | AppError)[] = [];
        for (const it of items) {
          try {
            out.push(yield* completeRow(w, tenant, it.id, it.fencingToken, it.result, now));
          } catch (e) {
            // A refusal is the item's answer; a conflict retries the whole operation.
            if (e instanceof AppError && !(e instanceof ConcurrentChangeError)) out.push(e);
            else throw e;
          }
        }
        return out;
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
        const row = await write(function* (w) {
          const now = clock.now();
          const row = yield* held(w.tx, tenant, input.id, input.fencingToken, now);
          const error: TaskError = { message: input.error.message, retryable: !!input.error.retryable, details: input.error.details, reason: input.error.reason };
          const retry = error.retryable && row.attempt < row.max_attempts;
          if (retry) {
            const runAt = now + (input.retryDelayMs ?? backoffDelay(row.attempt, config, random));
            const updated = must(yield* store.scheduleRetry(w.tx, row, JSON.stringify(error), runAt, now), row);
            w.ev.push({ kind: "retry_scheduled", row: updated, prev: S.running });
            return updated;
          }
          const updated = must(yield* store.fail(w.tx, row, JSON.stringify(error), now), row);
          w.ev.push({ kind: "failed", row: updated, prev: S.running });
          if (row.has_dependents) yield* cancelDependents(w, tenant, row.id, "failed", now);
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
        const row = await write(function* (w) {
          const now = clock.now();
          let row: TaskRow | null;
          if (input.fencingToken !== undefined) row = yield* held(w.tx, tenant, input.id, input.fencingToken, now);
          else {
            row = yield* store.byId(w.tx, tenant, input.id);
            if (!row) throw taskNotFound(input.id);
            if (row.state !== S.running) throw new AppError("failed_precondition", "TASK_NOT_RUNNING", `task ${input.id} is ${STATE_NAMES[row.state]}, not running`, { id: input.id });
          }
          holderToken = row.fencing_token;
          const updated = must(yield* store.release(w.tx, row, now + (input.delayMs ?? 0), now), row);
          w.ev.push({ kind: "released", row: updated, prev: S.running });
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
      const out = await write(function* (w) {
        const now = clock.now();
        const row = yield* store.byId(w.tx, tenant, input.id);
        if (!row) throw taskNotFound(input.id);
        if (row.state !== S.pending && row.state !== S.blocked && row.state !== S.running) {
          throw new AppError("failed_precondition", "TASK_ALREADY_FINISHED", `task ${row.id} is already ${STATE_NAMES[row.state]}`, { id: row.id, state: STATE_NAMES[row.state]! });
        }
        const error: TaskError = { message: input.reason || "cancelled", retryable: false, reason: "CANCELLED" };
        const updated = must(yield* store.cancel(w.tx, row, JSON.stringify(error), now), row);
        w.ev.push({ kind: "cancelled", row: updated, prev: row.state });
        const dependents = row.has_dependents ? yield* cancelDependents(w, tenant, row.id, "was cancelled", now) : [];
        return { row: updated, wasRunning: row.state === S.running, dependents };
      });
      if (out.wasRunning) dispatcher.cancelNotice(out.row.id, out.row.fencing_token, "cancelled");
      return { task: rowToTask(out.row), cancelledDependents: out.dependents };
    },

    /** Retries a FAILED, TIMED_OUT or CANCELLED task by hand: attempts reset. */
    async retryTask(input: { id: string; runAt?: number }): Promise<Task> {
      checkName("id", input.id);
      if (input.runAt !== undefined) checkInt("run_at", input.runAt, 0, 8.64e15);
      const row = await write(function* (w) {
        const now = clock.now();
        const row = yield* store.byId(w.tx, tenant, input.id);
        if (!row) throw taskNotFound(input.id);
        if (row.state !== S.failed && row.state !== S.timed_out && row.state !== S.cancelled) {
          throw new AppError("failed_precondition", "TASK_NOT_RETRYABLE", `task ${row.id} is ${STATE_NAMES[row.state]}; only failed, timed out or cancelled tasks can be retried`, {
            id: row.id,
            state: STATE_NAMES[row.state]!,
          });
        }
        let state = S.pending;
        for (const d of yield* store.depStates(w.tx, tenant, row.id)) {
          if (d.state === null || d.state === S.failed || d.state === S.cancelled || d.state === S.timed_out) {
            throw new AppError("failed_precondition", "DEPENDENCY_FAILED", `dependency ${d.id} did not succeed; retry it first`, { id: d.id });
          }
          if (d.state !== S.succeeded) state = S.blocked;
        }
        const updated = must(yield* store.retry(w.tx, row, state, input.runAt ?? now, now), row);
        w.ev.push({ kind: "retried", row: updated, prev: row.state });
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
    async listQueues(page: { pageSize?: number; pageToken?: string } = {}): Promise<Page<QueueInfo>> {
      const size = checkPageSize(page.pageSize);
      const after = decodePageToken(page.pageToken, "queues") as string | undefined;
      return read(function* (tx) {
        const names = (yield* store.queueNames(tx, tenant)).filter((n) => after === undefined || n > after);
        const chosen = names.slice(0, size);
        return { items: yield* queueInfos(tx, tenant, chosen), nextPageToken: names.length > size ? encodePageToken(chosen[chosen.length - 1]!, "queues") : "" };
      });
    },

    /** One queue (a valid unused name answers an empty queue). */
    async getQueue(name: string): Promise<QueueInfo> {
      checkName("name", name);
      return (await read((tx) => queueInfos(tx, tenant, [name])))[0]!;
    },

    /** Pauses a queue: no new claims; claimed tasks finish. */
    pauseQueue: (name: string) => setPaused(tenant, name, true),
    /** Resumes a queue and serves waiting workers. */
    resumeQueue: (name: string) => setPaused(tenant, name, false),

    listQueueConfigs: async (page: { pageSize?: number; pageToken?: string } = {}): Promise<Page<QueueConfig>> => {
      const size = checkPageSize(page.pageSize);
      return read((tx) => configs.list(tx, tenant, size, page.pageToken));
    },
    getQueueConfig: async (name: string): Promise<QueueConfig> => read((tx) => configs.get(tx, tenant, name)),
    /** Creates a queue config (source `api`); idempotent by requestId. */
    createQueueConfig: (input: Partial<QueueConfig> & { name: string }, requestId?: string): Promise<QueueConfig> =>
      write((w) => configs.create(w.tx, tenant, input, requestId)),
    deleteQueueConfig: (name: string): Promise<QueueConfig> => write((w) => configs.remove(w.tx, tenant, name)),
    /** Reloads configs from the YAML file named in the config (`queueConfigPath`). */
    reloadQueueConfigs: async () => {
      if (tenant !== DEFAULT_TENANT) {
        throw new AppError("failed_precondition", "QUEUE_CONFIG_FILE_MISSING", "the queue config file configures the default tenant only");
      }
      const parsed = await configs.readFile();
      return write((w) => configs.apply(w.tx, parsed));
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
      const key = holderKey(tenant, holder);
      if (store.dialect === "postgres") {
        // Shared by every instance through the table; here it counts from now on.
        drainWrites.set(key, on);
        void write((w) => store.setHolderDrained(w.tx, tenant, holder, on, clock.now()))
          .catch(() => {})
          .finally(() => {
            if (drainWrites.get(key) === on) drainWrites.delete(key);
            if (!on) dispatcher.kick();
          });
        return;
      }
      if (on) drained.add(key);
      else if (drained.delete(key)) dispatcher.kick();
    },

    /** Puts every task a holder runs back in its queue, the attempt refunded (the holder left). */
    async releaseHeldBy(holder: string): Promise<Task[]> {
      const rows = await write(function* (w) {
        const out = yield* store.releaseHeldBy(w.tx, tenant, holder, clock.now());
        for (const row of out) {
          w.ev.push({ kind: "released", row, prev: S.running });
          w.after(() => dispatcher.cancelNotice(row.id, row.fencing_token, "cancelled"));
        }
        if (out.length) dispatcher.kick();
        return out;
      });
      return rows.map(rowToTask);
    },

    /** Running tasks with their holder (worker or server id), of this tenant or of every tenant. */
    runningHolders: async (everyTenant = false): Promise<{ taskId: string; holder: string }[]> =>
      (await read((tx) => store.runningHolders(tx, everyTenant ? undefined : tenant))).map((r) => ({ taskId: r.id, holder: r.worker_id })),

    /** Finished attempts of one holder (as server_id or worker_id), by finish time, all time without a range. */
    async holderCounts(holder: string, range?: { start: number; end: number }) {
      const r = await read((tx) => store.holderCounts(tx, tenant, holder, range));
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
