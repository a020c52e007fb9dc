import type { Database as Sqlite, Statement } from "bun:sqlite";
import { STATE_CODES, STATE_NAMES, type Json, type JsonObject, type QueueConfig, type QueueMode, type Task, type TaskError } from "./types.ts";

/** A `tasks` row as SQLite returns it. */
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

const CLAIM_SET = `state = ${S.running}, attempt = attempt + 1, fencing_token = fencing_token + 1,
  worker_id = ?1, lease_expires_at = ?2 + ?3, lease_duration_ms = ?3, started_at = ?2, updated_at = ?2,
  deadline_at = CASE WHEN timeout_ms IS NULL THEN NULL ELSE ?2 + timeout_ms END`;

/** The worker has every required capability (NULL capabilities: none required). */
const CAPS_OK = `(t.capabilities IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(t.capabilities) c WHERE c.value NOT IN (SELECT value FROM json_each(?4))))`;

/**
 * Prepared statements of the tasks tables. Every method is synchronous and meant to run inside
 * a committer transaction (writes) or directly (reads). Every lookup names its tenant; rows
 * found by `seq` come from a tenant-filtered read.
 */
export function createTaskStore(sqlite: Sqlite) {
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
  const claimOneQueue = sqlite.prepare(`UPDATE tasks SET ${CLAIM_SET}
    WHERE seq IN (SELECT t.seq FROM tasks t WHERE t.tenant = ?7 AND t.queue = ?5 AND t.state = ${S.pending} AND t.run_at <= ?2 AND ${CAPS_OK}
      ORDER BY t.priority DESC, t.seq LIMIT ?6) RETURNING *`);
  const readyOfQueue = sqlite.prepare(`SELECT t.seq, t.priority FROM tasks t WHERE t.tenant = ?7 AND t.queue = ?5 AND t.state = ${S.pending} AND t.run_at <= ?2 AND ${CAPS_OK}
      ORDER BY t.priority DESC, t.seq LIMIT ?6`);
  const claimSeqs = sqlite.prepare(`UPDATE tasks SET ${CLAIM_SET}
    WHERE seq IN (SELECT value FROM json_each(?5)) AND state = ${S.pending} RETURNING *`);
  const claimBySeq = sqlite.prepare(`UPDATE tasks SET ${CLAIM_SET} WHERE seq = ?5 AND state = ${S.pending} RETURNING *`);
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

  return {
    q,
    insert(v: unknown[]): TaskRow {
      return insert.get(...(v as never[])) as TaskRow;
    },
    byId: (tenant: string, id: string) => byId.get(tenant, id) as TaskRow | null,
    byRequestId: (tenant: string, rid: string) => byRequestId.get(tenant, rid) as TaskRow | null,
    /** Claims up to n ready tasks of one queue, in priority then FIFO order. */
    claimFromQueue(tenant: string, queue: string, caps: string, n: number, workerId: string, now: number, leaseMs: number): TaskRow[] {
      const rows = claimOneQueue.all(workerId, now, leaseMs, caps, queue, n, tenant) as TaskRow[];
      return rows.sort(claimOrder);
    },
    /** Claims up to n ready tasks over several queues, merged in priority then FIFO order. */
    claimFromQueues(tenant: string, queues: string[], caps: string, n: number, limits: Map<string, number>, workerId: string, now: number, leaseMs: number): TaskRow[] {
      const candidates: { seq: number; priority: number }[] = [];
      for (const queue of queues) {
        const take = Math.min(n, limits.get(queue) ?? n);
        if (take <= 0) continue;
        for (const c of readyOfQueue.all(workerId, now, leaseMs, caps, queue, take, tenant) as { seq: number; priority: number }[]) candidates.push(c);
      }
      if (candidates.length === 0) return [];
      candidates.sort(claimOrder);
      // Honour each queue's limit again after the merge: the per-queue take already did.
      const chosen = candidates.slice(0, n).map((c) => c.seq);
      return (claimSeqs.all(workerId, now, leaseMs, caps, JSON.stringify(chosen)) as TaskRow[]).sort(claimOrder);
    },
    claimBySeq: (seq: number, workerId: string, now: number, leaseMs: number) => claimBySeq.get(workerId, now, leaseMs, null, seq) as TaskRow | null,
    /** Claims a BLOCKED task (a claim that ignores its dependencies, seed 000). */
    claimBlockedBySeq: (seq: number, workerId: string, now: number, leaseMs: number) => claimBlockedBySeq.get(workerId, now, leaseMs, null, seq) as TaskRow | null,
    complete: (tenant: string, id: string, token: number, result: string | null, now: number) => complete.get(id, token, result, now, tenant) as TaskRow | null,
    heartbeat: (tenant: string, id: string, token: number, now: number, leaseMs: number | null, progress: number | null, message: string | null) =>
      heartbeat.get(id, token, tenant, now, leaseMs, progress, message) as TaskRow | null,
    runningCount: (tenant: string, queue: string) => (runningCount.get(tenant, queue) as { n: number }).n,
    pausedQueues: (tenant: string) => new Set((pausedQueues.all(tenant) as { name: string }[]).map((r) => r.name)),
    dependentsBlocked: (tenant: string, id: string) => dependentsBlocked.all(tenant, id) as TaskRow[],
    unfinishedDeps: (tenant: string, id: string) => (unfinishedDeps.get(tenant, id) as { n: number }).n,
    depStates: (tenant: string, id: string) => depStates.all(tenant, id) as { id: string; state: number | null }[],
    insertEdge: (tenant: string, taskId: string, dep: string) => insertEdge.run(tenant, taskId, dep),
    markHasDependents: (tenant: string, id: string) => markHasDependents.run(tenant, id),
    expired: (now: number) => expired.all(now) as TaskRow[],
    pastDeadline: (now: number) => pastDeadline.all(now) as TaskRow[],
  };
}

export type TaskStore = ReturnType<typeof createTaskStore>;

function claimOrder(a: { priority: number; seq: number }, b: { priority: number; seq: number }): number {
  return b.priority - a.priority || a.seq - b.seq;
}
