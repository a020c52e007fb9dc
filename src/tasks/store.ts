import type { Database as Sqlite, Statement } from "bun:sqlite";
import type { Tx } from "../db/dialect.ts";
import { done, type Op } from "../db/op.ts";
import { STATE_CODES, STATE_NAMES, type Json, type JsonObject, type QueueConfig, type QueueMode, type Task, type TaskError } from "./types.ts";

/** A `tasks` row (as SQLite returns it; the PostgreSQL store converts its int8 columns to numbers). */
export interface TaskRow {
  seq: number;
  tenant: string;
  id: string;
  queue: string;
  type: string;
  priority: number;
  payload: string | null;
  capabilities: string | null;
  run_at: number;
  timeout_ms: number | null;
  max_attempts: number;
  attempt: number;
  fencing_token: number;
  depends_on: string | null;
  has_dependents: number;
  progress: number;
  progress_message: string;
  result: string | null;
  error: string | null;
  state: number;
  worker_id: string | null;
  server_id: string | null;
  lease_expires_at: number | null;
  lease_duration_ms: number | null;
  deadline_at: number | null;
  metadata: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  request_id: string | null;
  title: string;
  description: string;
  tags: string | null;
  retry_count: number;
}

export const S = STATE_CODES;

const json = <T>(s: string | null): T | undefined => (s === null ? undefined : (JSON.parse(s) as T));

/** Maps a row to the domain's Task. */
export function rowToTask(r: TaskRow): Task {
  return {
    id: r.id,
    tenant: r.tenant,
    queue: r.queue,
    type: r.type,
    priority: r.priority,
    payload: json<Json>(r.payload),
    requiredCapabilities: json<string[]>(r.capabilities) ?? [],
    runAt: r.run_at,
    timeoutMs: r.timeout_ms ?? undefined,
    maxAttempts: r.max_attempts,
    attempt: r.attempt,
    dependsOn: json<string[]>(r.depends_on) ?? [],
    progress: r.progress,
    progressMessage: r.progress_message,
    result: json<Json>(r.result),
    error: json<TaskError>(r.error),
    state: STATE_NAMES[r.state]!,
    workerId: r.worker_id ?? undefined,
    serverId: r.server_id ?? undefined,
    lease:
      r.state === S.running && r.lease_expires_at !== null
        ? { fencingToken: r.fencing_token, expiresAt: r.lease_expires_at, leaseDurationMs: r.lease_duration_ms ?? 0, workerId: r.worker_id ?? "" }
        : undefined,
    metadata: json<JsonObject>(r.metadata),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at ?? undefined,
    finishedAt: r.finished_at ?? undefined,
    requestId: r.request_id ?? undefined,
    title: r.title,
    description: r.description,
    tags: json<string[]>(r.tags) ?? [],
    retryCount: r.retry_count,
  };
}

export interface ConfigRow {
  tenant: string;
  name: string;
  priority: number;
  mode: number;
  default_timeout_ms: number | null;
  default_max_attempts: number;
  concurrency_limit: number;
  deployment: string | null;
  source: string;
  request_id: string | null;
  created_at: number;
  updated_at: number;
}

const MODES: QueueMode[] = ["unspecified", "long_running", "one_shot"];
export const modeCode = (m: QueueMode): number => Math.max(0, MODES.indexOf(m));

export function rowToConfig(r: ConfigRow): QueueConfig {
  return {
    name: r.name,
    priority: r.priority,
    mode: MODES[r.mode] ?? "unspecified",
    defaultTimeoutMs: r.default_timeout_ms ?? undefined,
    defaultMaxAttempts: r.default_max_attempts,
    concurrencyLimit: r.concurrency_limit,
    deployment: json<JsonObject>(r.deployment),
    source: r.source === "yaml" ? "yaml" : "api",
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The state and fencing token an operation read: PostgreSQL updates only a row still so (another instance may have moved it). */
export type RowGuard = Pick<TaskRow, "seq" | "state" | "fencing_token">;

/** Fields `updateTask` changes; the store turns them into one UPDATE. */
export interface TaskPatch {
  now: number;
  progress?: number;
  progressMessage?: string;
  title?: string;
  description?: string;
  /** JSON array or NULL. */
  tags?: string | null;
  serverId?: string;
  /** The merged metadata, JSON. */
  metadata?: string;
  priority?: number;
  /** A backend reports the task running (seed 001). */
  start?: { holder: string; leaseMs: number };
  /** A backend reports the task finished: the result (succeeded) or the error (failed), JSON. */
  finish?: { ok: true; result: string | null } | { ok: false; error: string };
}

/** The filters of `listTasks`, checked. */
export interface TaskListQuery {
  queues: string[];
  states: number[];
  type?: string;
  workerId?: string;
  capability?: string;
  tag?: string;
  createdAfter?: number;
  createdBefore?: number;
  /** Only rows with a smaller seq (the page token). */
  beforeSeq?: number;
  limit: number;
}

/** The filters of `listReadyTasks`: the ready set in claim order. */
export interface ReadyQuery {
  now: number;
  queues: string[];
  /** JSON array of the worker's capabilities; undefined: no capability filter. */
  capsJson?: string;
  /** After this (priority, seq) in claim order. */
  after?: [number, number];
  limit: number;
}

export interface PauseRow {
  name: string;
  paused: number;
  pause_updated_at: number;
}

/** The values of a new task, in the column order of the insert. */
export type NewTaskValues = [
  tenant: string,
  id: string,
  queue: string,
  type: string,
  priority: number,
  payload: string | null,
  capabilities: string | null,
  runAt: number,
  timeoutMs: number | null,
  maxAttempts: number,
  dependsOn: string | null,
  state: number,
  metadata: string | null,
  createdAt: number,
  updatedAt: number,
  requestId: string | null,
  title: string,
  description: string,
  tags: string | null,
  error: string | null,
  finishedAt: number | null,
];

export type ConfigValues = [
  name: string,
  priority: number,
  mode: number,
  defaultTimeoutMs: number | null,
  defaultMaxAttempts: number,
  concurrencyLimit: number,
  deployment: string | null,
  source: string,
  requestId: string | null,
  createdAt: number,
  updatedAt: number,
  tenant: string,
];

export interface StatsScope {
  tenant: string;
  start: number;
  end: number;
  queue?: string;
}
export type StateCountRow = { queue: string; state: number; n: number; delayed: number };
export type ProcessorRow = { w: string; done: number; ok: number; bad: number; avg: number | null };

/**
 * All SQL of the tasks domain, once per dialect, behind one interface of operations. Writes run
 * inside the group transaction (`database.write`), reads outside (`database.read`). Every lookup
 * names its tenant; rows found by `seq` come from a tenant-filtered read.
 *
 * Methods that change a row found earlier in the operation take its `RowGuard`: on PostgreSQL
 * the UPDATE matches only while the row still has that state and fencing token (instances race
 * for the same rows) and answers null otherwise; on SQLite (one writer) it always matches.
 */
export interface TaskStore {
  readonly dialect: "sqlite" | "postgres";
  /** The new row; null when a concurrent create with the same request id won (PostgreSQL). */
  insert(tx: Tx, v: NewTaskValues): Op<TaskRow | null>;
  /** Inserts new tasks without request ids in one statement; the rows in input order. */
  insertMany(tx: Tx, rows: NewTaskValues[]): Op<TaskRow[]>;
  byId(tx: Tx, tenant: string, id: string): Op<TaskRow | null>;
  byRequestId(tx: Tx, tenant: string, rid: string): Op<TaskRow | null>;
  /** Claims up to n ready tasks of one queue, in priority then FIFO order. */
  claimFromQueue(tx: Tx, tenant: string, queue: string, caps: string, n: number, workerId: string, now: number, leaseMs: number): Op<TaskRow[]>;
  /** Claims up to n ready tasks over several queues, merged in priority then FIFO order. */
  claimFromQueues(tx: Tx, tenant: string, queues: string[], caps: string, n: number, limits: Map<string, number>, workerId: string, now: number, leaseMs: number): Op<TaskRow[]>;
  claimBySeq(tx: Tx, seq: number, workerId: string, now: number, leaseMs: number): Op<TaskRow | null>;
  /** Claims a BLOCKED task (a claim that ignores its dependencies, seed 000). */
  claimBlockedBySeq(tx: Tx, seq: number, workerId: string, now: number, leaseMs: number): Op<TaskRow | null>;
  complete(tx: Tx, tenant: string, id: string, token: number, result: string | null, now: number): Op<TaskRow | null>;
  /** `complete` of several distinct tasks in one statement: the rows completed (the others were not held). */
  completeMany(tx: Tx, tenant: string, items: { id: string; token: number; result: string | null }[], now: number): Op<TaskRow[]>;
  heartbeat(tx: Tx, tenant: string, id: string, token: number, now: number, leaseMs: number | null, progress: number | null, message: string | null): Op<TaskRow | null>;
  runningCount(tx: Tx, tenant: string, queue: string): Op<number>;
  /** Serializes claims of one queue until the transaction ends (PostgreSQL; SQLite has one writer). */
  lockQueue(tx: Tx, tenant: string, queue: string): Op<void>;
  pausedQueues(tx: Tx, tenant: string): Op<Set<string>>;
  /** Whether a holder is in maintenance (PostgreSQL, shared by instances; SQLite keeps drains in memory: false). */
  holderDrained(tx: Tx, tenant: string, holder: string): Op<boolean>;
  setHolderDrained(tx: Tx, tenant: string, holder: string, on: boolean, now: number): Op<void>;
  /** BLOCKED dependents of a task (locked on PostgreSQL, so that two completions of their dependencies serialize). */
  dependentsBlocked(tx: Tx, tenant: string, id: string): Op<TaskRow[]>;
  unfinishedDeps(tx: Tx, tenant: string, id: string): Op<number>;
  depStates(tx: Tx, tenant: string, id: string): Op<{ id: string; state: number | null }[]>;
  insertEdge(tx: Tx, tenant: string, taskId: string, dep: string): Op<void>;
  markHasDependents(tx: Tx, tenant: string, id: string): Op<void>;
  /** Running tasks whose lease expired (on PostgreSQL locked, skipping rows another reaper holds). */
  expired(tx: Tx, now: number): Op<TaskRow[]>;
  /** Running tasks past their deadline (locked like `expired`). */
  pastDeadline(tx: Tx, now: number): Op<TaskRow[]>;

  /** BLOCKED → PENDING. */
  unblock(tx: Tx, seq: number, now: number): Op<TaskRow | null>;
  /** BLOCKED → CANCELLED (a dependency failed). */
  cancelBlocked(tx: Tx, seq: number, error: string, now: number): Op<TaskRow | null>;
  /** Ends an expired lease: `state` PENDING (retry) or FAILED (exhausted). */
  reap(tx: Tx, g: RowGuard, state: number, error: string, now: number, finishedAt: number | null, retryInc: number): Op<TaskRow | null>;
  timeOut(tx: Tx, g: RowGuard, error: string, now: number): Op<TaskRow | null>;
  /** A just-completed task whose result was refused fails instead. */
  failMalformed(tx: Tx, seq: number, error: string, now: number): Op<TaskRow>;
  update(tx: Tx, g: RowGuard, patch: TaskPatch): Op<TaskRow | null>;
  /** Deletes the task and its own dependency edges; the deleted row. */
  remove(tx: Tx, seq: number, tenant: string, id: string): Op<TaskRow | null>;
  /** Deletes the edges that point at a task. */
  removeEdgesTo(tx: Tx, tenant: string, id: string): Op<void>;
  /** RUNNING → PENDING, the attempt refunded. */
  release(tx: Tx, g: RowGuard, runAt: number, now: number): Op<TaskRow | null>;
  cancel(tx: Tx, g: RowGuard, error: string, now: number): Op<TaskRow | null>;
  /** A finished task back to `state` (PENDING or BLOCKED), attempts reset. */
  retry(tx: Tx, g: RowGuard, state: number, runAt: number, now: number): Op<TaskRow | null>;
  /** A failed attempt that will be retried at runAt. */
  scheduleRetry(tx: Tx, g: RowGuard, error: string, runAt: number, now: number): Op<TaskRow | null>;
  fail(tx: Tx, g: RowGuard, error: string, now: number): Op<TaskRow | null>;
  releaseHeldBy(tx: Tx, tenant: string, holder: string, now: number): Op<TaskRow[]>;
  /** Gives back a task pushed to a session that closed first (attempt refunded). */
  releaseUnpushed(tx: Tx, tenant: string, id: string, token: number, now: number): Op<TaskRow | null>;

  list(tx: Tx, tenant: string, q: TaskListQuery): Op<TaskRow[]>;
  listReady(tx: Tx, tenant: string, q: ReadyQuery): Op<TaskRow[]>;
  runningHolders(tx: Tx, tenant: string | undefined): Op<{ id: string; worker_id: string }[]>;
  holderCounts(tx: Tx, tenant: string, holder: string, range?: { start: number; end: number }): Op<{ done: number; ok: number | null; avg: number | null }>;
  tenantsWithWork(tx: Tx, queues: string[]): Op<string[]>;

  pauses(tx: Tx, tenant: string): Op<PauseRow[]>;
  queueStateCounts(tx: Tx, tenant: string, queue: string): Op<{ state: number; n: number }[]>;
  delayedCount(tx: Tx, tenant: string, queue: string, now: number): Op<number>;
  oldestPendingCreatedAt(tx: Tx, tenant: string, queue: string): Op<number | null>;
  /** Names of every queue with tasks, a pause record or a config, in (binary) name order. */
  queueNames(tx: Tx, tenant: string): Op<string[]>;
  setPaused(tx: Tx, tenant: string, name: string, paused: boolean, now: number): Op<void>;

  /** Queue configs of one tenant, or of all. */
  configs(tx: Tx, tenant?: string): Op<ConfigRow[]>;
  configByName(tx: Tx, tenant: string, name: string): Op<ConfigRow | null>;
  /** Whether any tenant's config has a concurrency limit. */
  anyConcurrencyLimit(tx: Tx): Op<boolean>;
  putConfig(tx: Tx, v: ConfigValues): Op<void>;
  removeConfig(tx: Tx, tenant: string, name: string): Op<void>;

  statsByState(tx: Tx, s: StatsScope, now: number): Op<StateCountRow[]>;
  statsAggregate(tx: Tx, s: StatsScope): Op<{ avg: number | null; retried: number | null; servers: number }>;
  statsTopProcessors(tx: Tx, s: StatsScope, limit: number): Op<ProcessorRow[]>;
  statsCreatedByHour(tx: Tx, s: StatsScope): Op<{ hour: number; n: number }[]>;
  statsQueueAverages(tx: Tx, s: StatsScope): Op<{ queue: string; avg: number | null }[]>;
  statsFinishedByHour(tx: Tx, s: StatsScope): Op<{ hour: number; ok: number; bad: number; avg: number | null }[]>;
  statsOfProcessor(tx: Tx, tenant: string, processor: string, range?: { start: number; end: number }): Op<{ done: number | null; ok: number | null; bad: number | null; avg: number | null }>;
  runningOfWorker(tx: Tx, tenant: string, workerId: string): Op<number>;
}

/**
 * The distinct tenants of `tasks`, one index seek each (tasks_id_unique leads with tenant): a
 * loose index scan, where `SELECT DISTINCT tenant` would read every row or need a state index
 * that every task's creation writes. As a CTE named `tenants`; the last row is NULL. Both dialects.
 */
export const TENANT_SKIP_SCAN = `WITH RECURSIVE tenants(tenant) AS (SELECT min(tenant) FROM tasks
  UNION ALL SELECT (SELECT min(x.tenant) FROM tasks x WHERE x.tenant > tenants.tenant) FROM tenants WHERE tenants.tenant IS NOT NULL)`;
/**
 * The queues one tenant has tasks in (`tenant` is the placeholder for its id, used twice), by the
 * same loose scan over tasks_claim_idx. A state filter without a queue filter names them, so the
 * claim index serves it (tenant, queue, state) instead of a read of every task of the tenant.
 */
export const tenantQueues = (tenant: (() => string) | string) => {
  const t = typeof tenant === "string" ? () => tenant : tenant;
  return `(WITH RECURSIVE qs(q) AS (SELECT min(queue) FROM tasks WHERE tenant = ${t()}
  UNION ALL SELECT (SELECT min(x.queue) FROM tasks x WHERE x.tenant = ${t()} AND x.queue > qs.q) FROM qs WHERE qs.q IS NOT NULL) SELECT q FROM qs WHERE q IS NOT NULL)`;
};
export const TASK_FINISHED = `state IN (${S.succeeded}, ${S.failed}, ${S.timed_out})`;
export const TASK_BAD = `state IN (${S.failed}, ${S.timed_out})`;
export const AVG_OK = `avg(CASE WHEN state = ${S.succeeded} AND started_at IS NOT NULL THEN finished_at - started_at END)`;
/** Who processed a task: the backend server that reported it, else the worker that held it. */
export const PROCESSOR = "coalesce(server_id, worker_id)";

/** The SET list of `update`, with `p(value)` naming each parameter in the dialect's style. */
export function patchSets(patch: TaskPatch, p: (v: unknown) => string): string[] {
  const sets: string[] = [`updated_at = ${p(patch.now)}`];
  if (patch.progress !== undefined) sets.push(`progress = ${p(patch.progress)}`);
  if (patch.progressMessage !== undefined) sets.push(`progress_message = ${p(patch.progressMessage)}`);
  if (patch.title !== undefined) sets.push(`title = ${p(patch.title)}`);
  if (patch.description !== undefined) sets.push(`description = ${p(patch.description)}`);
  if (patch.tags !== undefined) sets.push(`tags = ${p(patch.tags)}`);
  if (patch.serverId) sets.push(`server_id = ${p(patch.serverId)}`);
  if (patch.metadata !== undefined) sets.push(`metadata = ${p(patch.metadata)}`);
  if (patch.priority !== undefined) sets.push(`priority = ${p(patch.priority)}`);
  if (patch.start) {
    const { holder, leaseMs } = patch.start;
    sets.push(
      `state = ${S.running}`,
      "attempt = attempt + 1",
      "fencing_token = fencing_token + 1",
      `worker_id = ${p(holder)}`,
      `started_at = ${p(patch.now)}`,
      `lease_expires_at = ${p(patch.now + leaseMs)}`,
      `lease_duration_ms = ${p(leaseMs)}`,
      `deadline_at = CASE WHEN timeout_ms IS NULL THEN NULL ELSE ${p(patch.now)} + timeout_ms END`,
    );
  } else if (patch.finish) {
    const f = patch.finish;
    sets.push(`state = ${f.ok ? S.succeeded : S.failed}`, `finished_at = ${p(patch.now)}`, "lease_expires_at = NULL", "deadline_at = NULL");
    if (f.ok) sets.push(`result = ${p(f.result)}`, "progress = 100");
    else sets.push(`error = ${p(f.error)}`);
  }
  return sets;
}

export const CLAIM_SET = `state = ${S.running}, attempt = attempt + 1, fencing_token = fencing_token + 1,
  worker_id = ?1, lease_expires_at = ?2 + ?3, lease_duration_ms = ?3, started_at = ?2, updated_at = ?2,
  deadline_at = CASE WHEN timeout_ms IS NULL THEN NULL ELSE ?2 + timeout_ms END`;

/** The worker has every required capability (NULL capabilities: none required). */
export const CAPS_OK = `(t.capabilities IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(t.capabilities) c WHERE c.value NOT IN (SELECT value FROM json_each(?4))))`;

/**
 * The SQLite store: prepared statements over the one connection. Every method answers at once
 * (its operation never yields), so the engine's operations run synchronously inside the group
 * transaction, as before.
 */
export function createSqliteTaskStore(sqlite: Sqlite): TaskStore {
  const cache = new Map<string, Statement>();
  const q = (sql: string): Statement => {
    let s = cache.get(sql);
    if (!s) {
      s = sqlite.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };

  const insert = sqlite.prepare(`INSERT INTO tasks (tenant, id, queue, type, priority, payload, capabilities, run_at, timeout_ms, max_attempts,
    depends_on, state, metadata, created_at, updated_at, request_id, title, description, tags, error, finished_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`);
  const byId = sqlite.prepare(`SELECT * FROM tasks WHERE tenant = ? AND id = ?`);
  const byRequestId = sqlite.prepare(`SELECT * FROM tasks WHERE tenant = ? AND request_id = ?`);
  const readyOfQueue = sqlite.prepare(`SELECT t.seq, t.priority FROM tasks t WHERE t.tenant = ?7 AND t.queue = ?5 AND t.state = ${S.pending} AND t.run_at <= ?2 AND ${CAPS_OK}
      ORDER BY t.priority DESC, t.seq LIMIT ?6`);
  const claimSeqs = sqlite.prepare(`UPDATE tasks SET ${CLAIM_SET}
    WHERE seq IN (SELECT value FROM json_each(?5)) AND state = ${S.pending} RETURNING *`);
  const claimBySeq = sqlite.prepare(`UPDATE tasks SET ${CLAIM_SET} WHERE seq = ?5 AND state = ${S.pending} RETURNING *`);
  /**
   * Claims the chosen ready rows by key, in claim order. Reading the ready keys first and then
   * updating by key is cheaper than one `UPDATE … WHERE seq IN (SELECT …)`, which has ~40 µs of
   * fixed cost even when nothing is ready (bench/results/*-claim-path.md): a round that finds
   * nothing is common (every completion frees a credit and dispatches), and one task claimed by
   * its key is the latency path of an enqueue to a waiting worker. The read and the write are in
   * the same write transaction (BEGIN IMMEDIATE): no other writer can claim between them, and
   * each UPDATE still requires the row to be pending.
   */
  const claimChosen = (seqs: number[], workerId: string, now: number, leaseMs: number): TaskRow[] => {
    if (seqs.length === 0) return [];
    if (seqs.length === 1) {
      const row = claimBySeq.get(workerId, now, leaseMs, null, seqs[0]!) as TaskRow | null;
      return row ? [row] : [];
    }
    return (claimSeqs.all(workerId, now, leaseMs, null, JSON.stringify(seqs)) as TaskRow[]).sort(claimOrder);
  };
  const claimBlockedBySeq = sqlite.prepare(`UPDATE tasks SET ${CLAIM_SET} WHERE seq = ?5 AND state = ${S.blocked} RETURNING *`);
  const complete = sqlite.prepare(`UPDATE tasks SET state = ${S.succeeded}, result = ?3, progress = 100, finished_at = ?4, updated_at = ?4,
    lease_expires_at = NULL, deadline_at = NULL
    WHERE tenant = ?5 AND id = ?1 AND state = ${S.running} AND fencing_token = ?2 AND lease_expires_at > ?4 RETURNING *`);
  const heartbeat = sqlite.prepare(`UPDATE tasks SET lease_expires_at = ?4 + coalesce(?5, lease_duration_ms), lease_duration_ms = coalesce(?5, lease_duration_ms),
    progress = coalesce(?6, progress), progress_message = coalesce(?7, progress_message), updated_at = ?4
    WHERE tenant = ?3 AND id = ?1 AND state = ${S.running} AND fencing_token = ?2 AND lease_expires_at > ?4 RETURNING *`);
  const runningCount = sqlite.prepare(`SELECT count(*) AS n FROM tasks WHERE tenant = ? AND queue = ? AND state = ${S.running}`);
  const pausedQueues = sqlite.prepare(`SELECT name FROM task_queues WHERE tenant = ? AND paused = 1`);
  const dependentsBlocked = sqlite.prepare(`SELECT t.* FROM task_dependencies d JOIN tasks t ON t.tenant = d.tenant AND t.id = d.task_id
    WHERE d.tenant = ? AND d.depends_on = ? AND t.state = ${S.blocked}`);
  const unfinishedDeps = sqlite.prepare(`SELECT count(*) AS n FROM task_dependencies d LEFT JOIN tasks t ON t.tenant = d.tenant AND t.id = d.depends_on
    WHERE d.tenant = ? AND d.task_id = ? AND (t.state IS NULL OR t.state != ${S.succeeded})`);
  const depStates = sqlite.prepare(`SELECT d.depends_on AS id, t.state AS state FROM task_dependencies d LEFT JOIN tasks t ON t.tenant = d.tenant AND t.id = d.depends_on
    WHERE d.tenant = ? AND d.task_id = ?`);
  const insertEdge = sqlite.prepare(`INSERT OR IGNORE INTO task_dependencies (tenant, task_id, depends_on) VALUES (?, ?, ?)`);
  const markHasDependents = sqlite.prepare(`UPDATE tasks SET has_dependents = 1 WHERE tenant = ? AND id = ? AND has_dependents = 0`);
  const expired = sqlite.prepare(`SELECT * FROM tasks WHERE state = ${S.running} AND lease_expires_at <= ? ORDER BY lease_expires_at LIMIT 1000`);
  const pastDeadline = sqlite.prepare(`SELECT * FROM tasks WHERE state = ${S.running} AND deadline_at <= ? LIMIT 1000`);
  const upsertConfig = sqlite.prepare(`INSERT INTO task_queue_configs (name, priority, mode, default_timeout_ms, default_max_attempts, concurrency_limit, deployment, source, request_id, created_at, updated_at, tenant)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(tenant, name) DO UPDATE SET priority = excluded.priority, mode = excluded.mode, default_timeout_ms = excluded.default_timeout_ms,
      default_max_attempts = excluded.default_max_attempts, concurrency_limit = excluded.concurrency_limit, deployment = excluded.deployment,
      source = excluded.source, request_id = excluded.request_id, updated_at = excluded.updated_at`);

  const base = (s: StatsScope) => ({
    sql: `FROM tasks WHERE tenant = ? AND created_at >= ? AND created_at < ?${s.queue ? " AND queue = ?" : ""}`,
    args: [s.tenant, s.start, s.end, ...(s.queue ? [s.queue] : [])] as (string | number)[],
  });

  return {
    dialect: "sqlite",
    insert: (_tx, v) => done(insert.get(...(v as unknown as never[])) as TaskRow),
    insertMany: (_tx, rows) => done(rows.map((v) => insert.get(...(v as unknown as never[])) as TaskRow)),
    byId: (_tx, tenant, id) => done(byId.get(tenant, id) as TaskRow | null),
    byRequestId: (_tx, tenant, rid) => done(byRequestId.get(tenant, rid) as TaskRow | null),
    claimFromQueue(_tx, tenant, queue, caps, n, workerId, now, leaseMs) {
      const ready = readyOfQueue.all(workerId, now, leaseMs, caps, queue, n, tenant) as { seq: number }[];
      return done(claimChosen(ready.map((r) => r.seq), workerId, now, leaseMs));
    },
    claimFromQueues(_tx, tenant, queues, caps, n, limits, workerId, now, leaseMs) {
      const candidates: { seq: number; priority: number }[] = [];
      for (const queue of queues) {
        const take = Math.min(n, limits.get(queue) ?? n);
        if (take <= 0) continue;
        for (const c of readyOfQueue.all(workerId, now, leaseMs, caps, queue, take, tenant) as { seq: number; priority: number }[]) candidates.push(c);
      }
      candidates.sort(claimOrder);
      // Honour each queue's limit again after the merge: the per-queue take already did.
      return done(claimChosen(candidates.slice(0, n).map((c) => c.seq), workerId, now, leaseMs));
    },
    claimBySeq: (_tx, seq, workerId, now, leaseMs) => done(claimBySeq.get(workerId, now, leaseMs, null, seq) as TaskRow | null),
    claimBlockedBySeq: (_tx, seq, workerId, now, leaseMs) => done(claimBlockedBySeq.get(workerId, now, leaseMs, null, seq) as TaskRow | null),
    complete: (_tx, tenant, id, token, result, now) => done(complete.get(id, token, result, now, tenant) as TaskRow | null),
    completeMany: (_tx, tenant, items, now) => done(items.flatMap((it) => (complete.get(it.id, it.token, it.result, now, tenant) as TaskRow | null) ?? [])),
    heartbeat: (_tx, tenant, id, token, now, leaseMs, progress, message) => done(heartbeat.get(id, token, tenant, now, leaseMs, progress, message) as TaskRow | null),
    runningCount: (_tx, tenant, queue) => done((runningCount.get(tenant, queue) as { n: number }).n),
    lockQueue: () => done(undefined),
    holderDrained: () => done(false),
    setHolderDrained: () => done(undefined),
    pausedQueues: (_tx, tenant) => done(new Set((pausedQueues.all(tenant) as { name: string }[]).map((r) => r.name))),
    dependentsBlocked: (_tx, tenant, id) => done(dependentsBlocked.all(tenant, id) as TaskRow[]),
    unfinishedDeps: (_tx, tenant, id) => done((unfinishedDeps.get(tenant, id) as { n: number }).n),
    depStates: (_tx, tenant, id) => done(depStates.all(tenant, id) as { id: string; state: number | null }[]),
    insertEdge(_tx, tenant, taskId, dep) {
      insertEdge.run(tenant, taskId, dep);
      return done(undefined);
    },
    markHasDependents(_tx, tenant, id) {
      markHasDependents.run(tenant, id);
      return done(undefined);
    },
    expired: (_tx, now) => done(expired.all(now) as TaskRow[]),
    pastDeadline: (_tx, now) => done(pastDeadline.all(now) as TaskRow[]),

    unblock: (_tx, seq, now) => done(q(`UPDATE tasks SET state = ${S.pending}, updated_at = ? WHERE seq = ? RETURNING *`).get(now, seq) as TaskRow),
    cancelBlocked: (_tx, seq, error, now) =>
      done(q(`UPDATE tasks SET state = ${S.cancelled}, error = ?, finished_at = ?, updated_at = ? WHERE seq = ? RETURNING *`).get(error, now, now, seq) as TaskRow),
    reap: (_tx, g, state, error, now, finishedAt, retryInc) =>
      done(
        q(`UPDATE tasks SET state = ?, error = ?, lease_expires_at = NULL, deadline_at = NULL, run_at = ?, updated_at = ?,
        finished_at = ?, retry_count = retry_count + ? WHERE seq = ? RETURNING *`).get(state, error, now, now, finishedAt, retryInc, g.seq) as TaskRow,
      ),
    timeOut: (_tx, g, error, now) =>
      done(
        q(`UPDATE tasks SET state = ${S.timed_out}, error = ?, lease_expires_at = NULL, deadline_at = NULL, finished_at = ?, updated_at = ? WHERE seq = ? RETURNING *`).get(
          error,
          now,
          now,
          g.seq,
        ) as TaskRow,
      ),
    failMalformed: (_tx, seq, error, now) =>
      done(q(`UPDATE tasks SET state = ${S.failed}, result = NULL, error = ?, updated_at = ? WHERE seq = ? RETURNING *`).get(error, now, seq) as TaskRow),
    update(_tx, g, patch) {
      const args: unknown[] = [];
      const sets = patchSets(patch, (v) => (args.push(v), "?"));
      args.push(g.seq);
      return done(q(`UPDATE tasks SET ${sets.join(", ")} WHERE seq = ? RETURNING *`).get(...(args as never[])) as TaskRow);
    },
    remove(_tx, seq, tenant, id) {
      const row = q(`SELECT * FROM tasks WHERE seq = ?`).get(seq) as TaskRow | null;
      q(`DELETE FROM tasks WHERE seq = ?`).run(seq);
      q(`DELETE FROM task_dependencies WHERE tenant = ? AND task_id = ?`).run(tenant, id);
      return done(row);
    },
    removeEdgesTo(_tx, tenant, id) {
      q(`DELETE FROM task_dependencies WHERE tenant = ? AND depends_on = ?`).run(tenant, id);
      return done(undefined);
    },
    release: (_tx, g, runAt, now) =>
      done(
        q(`UPDATE tasks SET state = ${S.pending}, attempt = max(0, attempt - 1), run_at = ?, lease_expires_at = NULL, deadline_at = NULL, updated_at = ?
              WHERE seq = ? RETURNING *`).get(runAt, now, g.seq) as TaskRow,
      ),
    cancel: (_tx, g, error, now) =>
      done(
        q(`UPDATE tasks SET state = ${S.cancelled}, error = ?, finished_at = ?, updated_at = ?, lease_expires_at = NULL, deadline_at = NULL WHERE seq = ? RETURNING *`).get(
          error,
          now,
          now,
          g.seq,
        ) as TaskRow,
      ),
    retry: (_tx, g, state, runAt, now) =>
      done(
        q(`UPDATE tasks SET state = ?, attempt = 0, error = NULL, result = NULL, finished_at = NULL, progress = 0, progress_message = '',
            run_at = ?, updated_at = ?, retry_count = retry_count + 1 WHERE seq = ? RETURNING *`).get(state, runAt, now, g.seq) as TaskRow,
      ),
    scheduleRetry: (_tx, g, error, runAt, now) =>
      done(
        q(`UPDATE tasks SET state = ${S.pending}, error = ?, run_at = ?, lease_expires_at = NULL, deadline_at = NULL, updated_at = ?, retry_count = retry_count + 1
                WHERE seq = ? RETURNING *`).get(error, runAt, now, g.seq) as TaskRow,
      ),
    fail: (_tx, g, error, now) =>
      done(
        q(`UPDATE tasks SET state = ${S.failed}, error = ?, finished_at = ?, lease_expires_at = NULL, deadline_at = NULL, updated_at = ? WHERE seq = ? RETURNING *`).get(
          error,
          now,
          now,
          g.seq,
        ) as TaskRow,
      ),
    releaseHeldBy: (_tx, tenant, holder, now) =>
      done(
        q(`UPDATE tasks SET state = ${S.pending}, attempt = max(0, attempt - 1), run_at = ?, lease_expires_at = NULL, deadline_at = NULL, updated_at = ?
            WHERE tenant = ? AND state = ${S.running} AND worker_id = ? RETURNING *`).all(now, now, tenant, holder) as TaskRow[],
      ),
    releaseUnpushed: (_tx, tenant, id, token, now) =>
      done(
        q(`UPDATE tasks SET state = ${S.pending}, attempt = attempt - 1, lease_expires_at = NULL, deadline_at = NULL, run_at = ?, updated_at = ?
              WHERE tenant = ? AND id = ? AND state = ${S.running} AND fencing_token = ? RETURNING *`).get(now, now, tenant, id, token) as TaskRow | null,
      ),

    list(_tx, tenant, f) {
      const where: string[] = ["tenant = ?"];
      const args: (string | number)[] = [tenant];
      if (f.queues.length) (where.push(`queue IN (${f.queues.map(() => "?").join(",")})`), args.push(...f.queues));
      if (f.states.length) where.push(`state IN (${f.states.map(Number).join(",")})`);
      if (f.states.length && !f.queues.length) where.push(`queue IN ${tenantQueues(() => (args.push(tenant), "?"))}`);
      if (f.type) (where.push("type = ?"), args.push(f.type));
      if (f.workerId) (where.push("(worker_id = ? OR server_id = ?)"), args.push(f.workerId, f.workerId));
      if (f.capability) (where.push("EXISTS (SELECT 1 FROM json_each(capabilities) c WHERE c.value = ?)"), args.push(f.capability));
      if (f.tag) (where.push("EXISTS (SELECT 1 FROM json_each(tags) c WHERE c.value = ?)"), args.push(f.tag));
      if (f.createdAfter !== undefined) (where.push("created_at >= ?"), args.push(f.createdAfter));
      if (f.createdBefore !== undefined) (where.push("created_at < ?"), args.push(f.createdBefore));
      if (f.beforeSeq !== undefined) (where.push("seq < ?"), args.push(f.beforeSeq));
      return done(sqlite.prepare(`SELECT * FROM tasks WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ${Number(f.limit)}`).all(...args) as TaskRow[]);
    },
    listReady(_tx, tenant, f) {
      const where = [`t.tenant = ?`, `t.state = ${S.pending}`, `t.run_at <= ?`, `t.queue NOT IN (SELECT name FROM task_queues WHERE tenant = t.tenant AND paused = 1)`];
      const args: (string | number)[] = [tenant, f.now];
      if (f.queues.length) (where.push(`t.queue IN (${f.queues.map(() => "?").join(",")})`), args.push(...f.queues));
      if (f.capsJson !== undefined) {
        where.push(`(t.capabilities IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(t.capabilities) c WHERE c.value NOT IN (SELECT value FROM json_each(?))))`);
        args.push(f.capsJson);
      }
      if (f.after) (where.push(`(t.priority < ? OR (t.priority = ? AND t.seq > ?))`), args.push(f.after[0], f.after[0], f.after[1]));
      return done(sqlite.prepare(`SELECT t.* FROM tasks t WHERE ${where.join(" AND ")} ORDER BY t.priority DESC, t.seq LIMIT ${Number(f.limit)}`).all(...args) as TaskRow[]);
    },
    runningHolders: (_tx, tenant) =>
      done(
        sqlite
          .prepare(`SELECT id, worker_id FROM tasks WHERE state = ${S.running} AND worker_id IS NOT NULL${tenant === undefined ? "" : " AND tenant = ?"}`)
          .all(...(tenant === undefined ? [] : [tenant])) as { id: string; worker_id: string }[],
      ),
    holderCounts(_tx, tenant, holder, range) {
      const where = range ? ` AND finished_at >= ? AND finished_at < ?` : "";
      const args = range ? [tenant, holder, holder, range.start, range.end] : [tenant, holder, holder];
      return done(
        sqlite
          .prepare(`SELECT count(*) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
          avg(CASE WHEN started_at IS NOT NULL THEN finished_at - started_at END) AS avg
          FROM tasks WHERE tenant = ? AND coalesce(server_id, worker_id) IN (?, ?) AND state IN (${S.succeeded}, ${S.failed}, ${S.timed_out}) AND finished_at IS NOT NULL${where}`)
          .get(...args) as { done: number; ok: number | null; avg: number | null },
      );
    },
    tenantsWithWork: (_tx, queues) =>
      done(
        (
          sqlite
            .prepare(`${TENANT_SKIP_SCAN} SELECT tenant FROM tenants t WHERE tenant IS NOT NULL AND EXISTS (SELECT 1 FROM tasks x WHERE x.tenant = t.tenant
              AND x.queue IN (${queues.map(() => "?").join(",")}) AND x.state IN (${S.pending}, ${S.blocked}, ${S.running}))`)
            .all(...queues) as { tenant: string }[]
        ).map((r) => r.tenant),
      ),

    pauses: (_tx, tenant) => done(sqlite.prepare(`SELECT name, paused, pause_updated_at FROM task_queues WHERE tenant = ?`).all(tenant) as PauseRow[]),
    queueStateCounts: (_tx, tenant, queue) => done(q(`SELECT state, count(*) AS n FROM tasks WHERE tenant = ? AND queue = ? GROUP BY state`).all(tenant, queue) as { state: number; n: number }[]),
    delayedCount: (_tx, tenant, queue, now) =>
      done((q(`SELECT count(*) AS n FROM tasks WHERE tenant = ? AND queue = ? AND state = ${S.pending} AND run_at > ?`).get(tenant, queue, now) as { n: number }).n),
    oldestPendingCreatedAt: (_tx, tenant, queue) =>
      done(
        (q(`SELECT created_at FROM tasks WHERE seq = (SELECT min(seq) FROM tasks WHERE tenant = ? AND queue = ? AND state = ${S.pending})`).get(tenant, queue) as { created_at: number } | null)
          ?.created_at ?? null,
      ),
    queueNames: (_tx, tenant) =>
      done(
        (
          sqlite
            .prepare(`SELECT DISTINCT queue AS name FROM tasks WHERE tenant = ?1 UNION SELECT name FROM task_queues WHERE tenant = ?1
        UNION SELECT name FROM task_queue_configs WHERE tenant = ?1 ORDER BY name`)
            .all(tenant) as { name: string }[]
        ).map((r) => r.name),
      ),
    setPaused(_tx, tenant, name, paused, now) {
      q(`INSERT INTO task_queues (tenant, name, paused, pause_updated_at) VALUES (?, ?, ?, ?)
          ON CONFLICT(tenant, name) DO UPDATE SET paused = excluded.paused, pause_updated_at = excluded.pause_updated_at`).run(tenant, name, paused ? 1 : 0, now);
      return done(undefined);
    },

    configs: (_tx, tenant) =>
      done((tenant === undefined ? q(`SELECT * FROM task_queue_configs`).all() : q(`SELECT * FROM task_queue_configs WHERE tenant = ?`).all(tenant)) as ConfigRow[]),
    configByName: (_tx, tenant, name) => done(q(`SELECT * FROM task_queue_configs WHERE tenant = ? AND name = ?`).get(tenant, name) as ConfigRow | null),
    anyConcurrencyLimit: () => done(q(`SELECT 1 AS x FROM task_queue_configs WHERE concurrency_limit > 0 LIMIT 1`).get() !== null),
    putConfig(_tx, v) {
      upsertConfig.run(...(v as unknown as never[]));
      return done(undefined);
    },
    removeConfig(_tx, tenant, name) {
      q(`DELETE FROM task_queue_configs WHERE tenant = ? AND name = ?`).run(tenant, name);
      return done(undefined);
    },

    statsByState(_tx, s, now) {
      const b = base(s);
      return done(
        sqlite
          .prepare(`SELECT queue, state, count(*) AS n, sum(CASE WHEN state = ${S.pending} AND run_at > ${Number(now)} THEN 1 ELSE 0 END) AS delayed ${b.sql} GROUP BY queue, state`)
          .all(...b.args) as StateCountRow[],
      );
    },
    statsAggregate(_tx, s) {
      const b = base(s);
      return done(
        sqlite
          .prepare(`SELECT ${AVG_OK} AS avg, sum(CASE WHEN retry_count > 0 THEN 1 ELSE 0 END) AS retried,
          count(DISTINCT ${PROCESSOR}) AS servers ${b.sql}`)
          .get(...b.args) as { avg: number | null; retried: number | null; servers: number },
      );
    },
    statsTopProcessors(_tx, s, limit) {
      const b = base(s);
      return done(
        sqlite
          .prepare(`SELECT ${PROCESSOR} AS w, sum(CASE WHEN ${TASK_FINISHED} THEN 1 ELSE 0 END) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
          sum(CASE WHEN ${TASK_BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK} AS avg ${b.sql} AND ${PROCESSOR} IS NOT NULL GROUP BY w ORDER BY done DESC, w LIMIT ${Number(limit)}`)
          .all(...b.args) as ProcessorRow[],
      );
    },
    statsCreatedByHour(_tx, s) {
      const b = base(s);
      return done(sqlite.prepare(`SELECT (created_at - ${Number(s.start)}) / 3600000 AS hour, count(*) AS n ${b.sql} GROUP BY hour ORDER BY hour`).all(...b.args) as { hour: number; n: number }[]);
    },
    statsQueueAverages(_tx, s) {
      const b = base(s);
      return done(sqlite.prepare(`SELECT queue, ${AVG_OK} AS avg ${b.sql} GROUP BY queue`).all(...b.args) as { queue: string; avg: number | null }[]);
    },
    statsFinishedByHour(_tx, s) {
      const qf = s.queue ? " AND queue = ?" : "";
      const args: (string | number)[] = [s.tenant, s.start, s.end, ...(s.queue ? [s.queue] : [])];
      return done(
        sqlite
          .prepare(`SELECT (finished_at - ${Number(s.start)}) / 3600000 AS hour, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
          sum(CASE WHEN ${TASK_BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK} AS avg
          FROM tasks WHERE tenant = ? AND finished_at IS NOT NULL AND finished_at >= ? AND finished_at < ?${qf} GROUP BY hour`)
          .all(...args) as { hour: number; ok: number; bad: number; avg: number | null }[],
      );
    },
    statsOfProcessor(_tx, tenant, processor, range) {
      const where = ["tenant = ?", `${PROCESSOR} = ?`];
      const args: (string | number)[] = [tenant, processor];
      if (range) (where.push("finished_at >= ? AND finished_at < ?"), args.push(range.start, range.end));
      return done(
        sqlite
          .prepare(`SELECT ? AS w, sum(CASE WHEN ${TASK_FINISHED} THEN 1 ELSE 0 END) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
          sum(CASE WHEN ${TASK_BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK} AS avg FROM tasks WHERE ${where.join(" AND ")}`)
          .get(processor, ...args) as { done: number | null; ok: number | null; bad: number | null; avg: number | null },
      );
    },
    runningOfWorker: (_tx, tenant, workerId) =>
      done((sqlite.prepare(`SELECT count(*) AS n FROM tasks WHERE tenant = ? AND state = ${S.running} AND worker_id = ?`).get(tenant, workerId) as { n: number }).n),
  };
}

export function claimOrder(a: { priority: number; seq: number }, b: { priority: number; seq: number }): number {
  return b.priority - a.priority || a.seq - b.seq;
}
