import { intColumns, pgCode, type PgTx, type Tx } from "../db/dialect.ts";
import { step, type Op } from "../db/op.ts";
import {
  AVG_OK,
  PROCESSOR,
  S,
  TASK_BAD,
  TASK_FINISHED,
  TENANT_SKIP_SCAN,
  tenantQueues,
  claimOrder,
  patchSets,
  type ConfigRow,
  type PauseRow,
  type ProcessorRow,
  type StateCountRow,
  type StatsScope,
  type TaskRow,
  type TaskStore,
} from "./store.ts";

/** int8 columns of `tasks` (Bun's driver answers them as strings). */
const TASK_INTS = ["seq", "run_at", "timeout_ms", "fencing_token", "lease_expires_at", "lease_duration_ms", "deadline_at", "created_at", "updated_at", "started_at", "finished_at"] as const;
const CONFIG_INTS = ["default_timeout_ms", "created_at", "updated_at"] as const;

/** The columns of a new task (the order of `NewTaskValues`) and their types. */
const INSERT_COLUMNS = [
  ["tenant", "text"], ["id", "text"], ["queue", "text"], ["type", "text"], ["priority", "integer"], ["payload", "text"], ["capabilities", "text"],
  ["run_at", "bigint"], ["timeout_ms", "bigint"], ["max_attempts", "integer"], ["depends_on", "text"], ["state", "integer"], ["metadata", "text"],
  ["created_at", "bigint"], ["updated_at", "bigint"], ["request_id", "text"], ["title", "text"], ["description", "text"], ["tags", "text"],
  ["error", "text"], ["finished_at", "bigint"],
] as const;

/** Claim SET list; $1 worker, $2 now, $3 lease ms. */
const CLAIM_SET = `state = ${S.running}, attempt = attempt + 1, fencing_token = fencing_token + 1,
  worker_id = $1, lease_expires_at = $2::bigint + $3::bigint, lease_duration_ms = $3::bigint, started_at = $2::bigint, updated_at = $2::bigint,
  deadline_at = CASE WHEN timeout_ms IS NULL THEN NULL ELSE $2::bigint + timeout_ms END`;

/** The worker (capabilities: the JSON array in $4) has every required capability. */
const CAPS_OK = `(t.capabilities IS NULL OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(t.capabilities::jsonb) c(v)
  WHERE c.v NOT IN (SELECT jsonb_array_elements_text($4::text::jsonb))))`;

/** Guard of an UPDATE of a row read earlier in the operation: it is still in that state, with that token. */
const GUARD = (n: number) => `seq = $${n} AND state = $${n + 1} AND fencing_token = $${n + 2}`;

/**
 * The PostgreSQL store. Claims and reaps lock their rows with `FOR UPDATE SKIP LOCKED` so that
 * instances claiming from one queue (or reaping at once) never take the same row; every UPDATE
 * of a row read earlier is guarded by its state and fencing token and answers null when another
 * instance moved the row first.
 */
export function createPgTaskStore(): TaskStore {
  const sql = (tx: Tx) => (tx as PgTx).sql;
  function* rows<R extends object>(tx: Tx, text: string, args: unknown[], ints: readonly string[] = TASK_INTS): Op<R[]> {
    const out = (yield* step(sql(tx).unsafe(text, args as never[]))) as R[];
    return intColumns([...out], ints);
  }
  function* one<R extends object>(tx: Tx, text: string, args: unknown[], ints: readonly string[] = TASK_INTS): Op<R | null> {
    return (yield* rows<R>(tx, text, args, ints))[0] ?? null;
  }
  function* count(tx: Tx, text: string, args: unknown[]): Op<number> {
    const r = yield* one<{ n: number }>(tx, text, args, ["n"]);
    return r?.n ?? 0;
  }
  const base = (s: StatsScope) => ({
    sql: `FROM tasks WHERE tenant = $1 AND created_at >= $2 AND created_at < $3${s.queue ? " AND queue = $4" : ""}`,
    args: [s.tenant, s.start, s.end, ...(s.queue ? [s.queue] : [])] as unknown[],
  });

  return {
    dialect: "postgres",
    *insert(tx, v) {
      // A concurrent create with the same request id (another instance) wins: nothing is inserted
      // here and the caller reads the winner. A duplicate explicit id is a unique violation.
      try {
        return yield* one<TaskRow>(
          tx,
          `INSERT INTO tasks (tenant, id, queue, type, priority, payload, capabilities, run_at, timeout_ms, max_attempts,
            depends_on, state, metadata, created_at, updated_at, request_id, title, description, tags, error, finished_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
            ON CONFLICT (tenant, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING *`,
          v,
        );
      } catch (e) {
        if (pgCode(e) === "23505") throw new DuplicateTaskError();
        throw e;
      }
    },
    *insertMany(tx, v) {
      // One array per column (unnest keeps NULLs), one statement for the whole batch.
      const cols = INSERT_COLUMNS.map((_, c) => v.map((row) => row[c]));
      const out = yield* rows<TaskRow>(
        tx,
        `INSERT INTO tasks (${INSERT_COLUMNS.map(([name]) => name).join(", ")})
          SELECT * FROM unnest(${INSERT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")}) RETURNING *`,
        cols,
      );
      const byId = new Map(out.map((r) => [r.id, r]));
      return v.map((row) => byId.get(row[1])!);
    },
    byId: (tx, tenant, id) => one<TaskRow>(tx, `SELECT * FROM tasks WHERE tenant = $1 AND id = $2`, [tenant, id]),
    byRequestId: (tx, tenant, rid) => one<TaskRow>(tx, `SELECT * FROM tasks WHERE tenant = $1 AND request_id = $2`, [tenant, rid]),
    *claimFromQueue(tx, tenant, queue, caps, n, workerId, now, leaseMs) {
      const out = yield* rows<TaskRow>(
        tx,
        // The CTE runs once: a `seq IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` may be
        // evaluated again by the plan and take more than n rows.
        `WITH picked AS (SELECT t.seq FROM tasks t WHERE t.tenant = $7 AND t.queue = $5 AND t.state = ${S.pending} AND t.run_at <= $2::bigint AND ${CAPS_OK}
          ORDER BY t.priority DESC, t.seq LIMIT $6 FOR UPDATE SKIP LOCKED)
        UPDATE tasks SET ${CLAIM_SET} FROM picked WHERE tasks.seq = picked.seq AND tasks.state = ${S.pending} RETURNING tasks.*`,
        [workerId, now, leaseMs, caps, queue, n, tenant],
      );
      return out.sort(claimOrder);
    },
    *claimFromQueues(tx, tenant, queues, caps, n, limits, workerId, now, leaseMs) {
      const candidates: { seq: number; priority: number }[] = [];
      for (const queue of queues) {
        const take = Math.min(n, limits.get(queue) ?? n);
        if (take <= 0) continue;
        const found = yield* rows<{ seq: number; priority: number }>(
          tx,
          `SELECT t.seq, t.priority FROM tasks t WHERE t.tenant = $5 AND t.queue = $1 AND t.state = ${S.pending} AND t.run_at <= $2::bigint AND ${CAPS_OK}
            ORDER BY t.priority DESC, t.seq LIMIT $3 FOR UPDATE SKIP LOCKED`,
          [queue, now, take, caps, tenant],
          ["seq"],
        );
        candidates.push(...found);
      }
      if (candidates.length === 0) return [];
      candidates.sort(claimOrder);
      const chosen = candidates.slice(0, n).map((c) => c.seq);
      const out = yield* rows<TaskRow>(tx, `UPDATE tasks SET ${CLAIM_SET} WHERE seq = ANY($4::bigint[]) AND state = ${S.pending} RETURNING *`, [workerId, now, leaseMs, chosen]);
      return out.sort(claimOrder);
    },
    claimBySeq: (tx, seq, workerId, now, leaseMs) => one<TaskRow>(tx, `UPDATE tasks SET ${CLAIM_SET} WHERE seq = $4 AND state = ${S.pending} RETURNING *`, [workerId, now, leaseMs, seq]),
    claimBlockedBySeq: (tx, seq, workerId, now, leaseMs) =>
      one<TaskRow>(tx, `UPDATE tasks SET ${CLAIM_SET} WHERE seq = $4 AND state = ${S.blocked} RETURNING *`, [workerId, now, leaseMs, seq]),
    complete: (tx, tenant, id, token, result, now) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = ${S.succeeded}, result = $3, progress = 100, finished_at = $4, updated_at = $4, lease_expires_at = NULL, deadline_at = NULL
        WHERE tenant = $5 AND id = $1 AND state = ${S.running} AND fencing_token = $2 AND lease_expires_at > $4 RETURNING *`,
        [id, token, result, now, tenant],
      ),
    completeMany: (tx, tenant, items, now) =>
      rows<TaskRow>(
        tx,
        `UPDATE tasks t SET state = ${S.succeeded}, result = c.result, progress = 100, finished_at = $5, updated_at = $5, lease_expires_at = NULL, deadline_at = NULL
        FROM unnest($2::text[], $3::bigint[], $4::text[]) AS c(id, token, result)
        WHERE t.tenant = $1 AND t.id = ANY($2::text[]) AND t.id = c.id AND t.state = ${S.running} AND t.fencing_token = c.token AND t.lease_expires_at > $5 RETURNING t.*`,
        [tenant, items.map((i) => i.id), items.map((i) => i.token), items.map((i) => i.result), now],
      ),
    heartbeat: (tx, tenant, id, token, now, leaseMs, progress, message) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET lease_expires_at = $4::bigint + coalesce($5::bigint, lease_duration_ms), lease_duration_ms = coalesce($5::bigint, lease_duration_ms),
        progress = coalesce($6::integer, progress), progress_message = coalesce($7::text, progress_message), updated_at = $4
        WHERE tenant = $3 AND id = $1 AND state = ${S.running} AND fencing_token = $2 AND lease_expires_at > $4 RETURNING *`,
        [id, token, tenant, now, leaseMs, progress, message],
      ),
    runningCount: (tx, tenant, queue) => count(tx, `SELECT count(*) AS n FROM tasks WHERE tenant = $1 AND queue = $2 AND state = ${S.running}`, [tenant, queue]),
    *lockQueue(tx, tenant, queue) {
      yield* step(sql(tx).unsafe(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`tasks.queue\u001f${tenant}\u001f${queue}`]));
    },
    *holderDrained(tx, tenant, holder) {
      return (yield* rows(tx, `SELECT 1 AS x FROM task_drained_holders WHERE tenant = $1 AND holder = $2`, [tenant, holder], [])).length > 0;
    },
    *setHolderDrained(tx, tenant, holder, on, now) {
      yield* step(
        on
          ? sql(tx).unsafe(`INSERT INTO task_drained_holders (tenant, holder, since) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [tenant, holder, now])
          : sql(tx).unsafe(`DELETE FROM task_drained_holders WHERE tenant = $1 AND holder = $2`, [tenant, holder]),
      );
    },
    *pausedQueues(tx, tenant) {
      const r = yield* rows<{ name: string }>(tx, `SELECT name FROM task_queues WHERE tenant = $1 AND paused = 1`, [tenant], []);
      return new Set(r.map((x) => x.name));
    },
    dependentsBlocked: (tx, tenant, id) =>
      rows<TaskRow>(
        tx,
        `SELECT t.* FROM task_dependencies d JOIN tasks t ON t.tenant = d.tenant AND t.id = d.task_id
        WHERE d.tenant = $1 AND d.depends_on = $2 AND t.state = ${S.blocked} ORDER BY t.seq FOR UPDATE OF t`,
        [tenant, id],
      ),
    unfinishedDeps: (tx, tenant, id) =>
      count(
        tx,
        `SELECT count(*) AS n FROM task_dependencies d LEFT JOIN tasks t ON t.tenant = d.tenant AND t.id = d.depends_on
        WHERE d.tenant = $1 AND d.task_id = $2 AND (t.state IS NULL OR t.state != ${S.succeeded})`,
        [tenant, id],
      ),
    depStates: (tx, tenant, id) =>
      rows<{ id: string; state: number | null }>(
        tx,
        `SELECT d.depends_on AS id, t.state AS state FROM task_dependencies d LEFT JOIN tasks t ON t.tenant = d.tenant AND t.id = d.depends_on
        WHERE d.tenant = $1 AND d.task_id = $2`,
        [tenant, id],
        [],
      ),
    *insertEdge(tx, tenant, taskId, dep) {
      yield* step(sql(tx).unsafe(`INSERT INTO task_dependencies (tenant, task_id, depends_on) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [tenant, taskId, dep]));
    },
    *markHasDependents(tx, tenant, id) {
      yield* step(sql(tx).unsafe(`UPDATE tasks SET has_dependents = 1 WHERE tenant = $1 AND id = $2 AND has_dependents = 0`, [tenant, id]));
    },
    expired: (tx, now) =>
      rows<TaskRow>(tx, `SELECT * FROM tasks WHERE state = ${S.running} AND lease_expires_at <= $1 ORDER BY lease_expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED`, [now]),
    pastDeadline: (tx, now) => rows<TaskRow>(tx, `SELECT * FROM tasks WHERE state = ${S.running} AND deadline_at <= $1 ORDER BY seq LIMIT 1000 FOR UPDATE SKIP LOCKED`, [now]),

    unblock: (tx, seq, now) => one<TaskRow>(tx, `UPDATE tasks SET state = ${S.pending}, updated_at = $1 WHERE seq = $2 AND state = ${S.blocked} RETURNING *`, [now, seq]),
    cancelBlocked: (tx, seq, error, now) =>
      one<TaskRow>(tx, `UPDATE tasks SET state = ${S.cancelled}, error = $1, finished_at = $2, updated_at = $2 WHERE seq = $3 AND state = ${S.blocked} RETURNING *`, [error, now, seq]),
    reap: (tx, g, state, error, now, finishedAt, retryInc) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = $1, error = $2, lease_expires_at = NULL, deadline_at = NULL, run_at = $3, updated_at = $3,
        finished_at = $4, retry_count = retry_count + $5 WHERE ${GUARD(6)} AND lease_expires_at <= $3 RETURNING *`,
        [state, error, now, finishedAt, retryInc, g.seq, g.state, g.fencing_token],
      ),
    timeOut: (tx, g, error, now) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = ${S.timed_out}, error = $1, lease_expires_at = NULL, deadline_at = NULL, finished_at = $2, updated_at = $2
        WHERE ${GUARD(3)} AND deadline_at <= $2 RETURNING *`,
        [error, now, g.seq, g.state, g.fencing_token],
      ),
    *failMalformed(tx, seq, error, now) {
      return (yield* one<TaskRow>(tx, `UPDATE tasks SET state = ${S.failed}, result = NULL, error = $1, updated_at = $2 WHERE seq = $3 RETURNING *`, [error, now, seq]))!;
    },
    update(tx, g, patch) {
      const args: unknown[] = [];
      const sets = patchSets(patch, (v) => {
        args.push(v);
        // Typed so that `$n + timeout_ms` and NULLs resolve without guessing.
        return typeof v === "number" ? `$${args.length}::bigint` : `$${args.length}`;
      });
      args.push(g.seq, g.state, g.fencing_token);
      return one<TaskRow>(tx, `UPDATE tasks SET ${sets.join(", ")} WHERE ${GUARD(args.length - 2)} RETURNING *`, args);
    },
    *remove(tx, seq, tenant, id) {
      const row = yield* one<TaskRow>(tx, `DELETE FROM tasks WHERE seq = $1 RETURNING *`, [seq]);
      yield* step(sql(tx).unsafe(`DELETE FROM task_dependencies WHERE tenant = $1 AND task_id = $2`, [tenant, id]));
      return row;
    },
    *removeEdgesTo(tx, tenant, id) {
      yield* step(sql(tx).unsafe(`DELETE FROM task_dependencies WHERE tenant = $1 AND depends_on = $2`, [tenant, id]));
    },
    release: (tx, g, runAt, now) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = ${S.pending}, attempt = greatest(0, attempt - 1), run_at = $1, lease_expires_at = NULL, deadline_at = NULL, updated_at = $2
        WHERE ${GUARD(3)} RETURNING *`,
        [runAt, now, g.seq, g.state, g.fencing_token],
      ),
    cancel: (tx, g, error, now) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = ${S.cancelled}, error = $1, finished_at = $2, updated_at = $2, lease_expires_at = NULL, deadline_at = NULL WHERE ${GUARD(3)} RETURNING *`,
        [error, now, g.seq, g.state, g.fencing_token],
      ),
    retry: (tx, g, state, runAt, now) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = $1, attempt = 0, error = NULL, result = NULL, finished_at = NULL, progress = 0, progress_message = '',
        run_at = $2, updated_at = $3, retry_count = retry_count + 1 WHERE ${GUARD(4)} RETURNING *`,
        [state, runAt, now, g.seq, g.state, g.fencing_token],
      ),
    scheduleRetry: (tx, g, error, runAt, now) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = ${S.pending}, error = $1, run_at = $2, lease_expires_at = NULL, deadline_at = NULL, updated_at = $3, retry_count = retry_count + 1
        WHERE ${GUARD(4)} RETURNING *`,
        [error, runAt, now, g.seq, g.state, g.fencing_token],
      ),
    fail: (tx, g, error, now) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = ${S.failed}, error = $1, finished_at = $2, lease_expires_at = NULL, deadline_at = NULL, updated_at = $2 WHERE ${GUARD(3)} RETURNING *`,
        [error, now, g.seq, g.state, g.fencing_token],
      ),
    releaseHeldBy: (tx, tenant, holder, now) =>
      rows<TaskRow>(
        tx,
        `UPDATE tasks SET state = ${S.pending}, attempt = greatest(0, attempt - 1), run_at = $1, lease_expires_at = NULL, deadline_at = NULL, updated_at = $1
        WHERE tenant = $2 AND state = ${S.running} AND worker_id = $3 RETURNING *`,
        [now, tenant, holder],
      ),
    releaseUnpushed: (tx, tenant, id, token, now) =>
      one<TaskRow>(
        tx,
        `UPDATE tasks SET state = ${S.pending}, attempt = attempt - 1, lease_expires_at = NULL, deadline_at = NULL, run_at = $1, updated_at = $1
        WHERE tenant = $2 AND id = $3 AND state = ${S.running} AND fencing_token = $4 RETURNING *`,
        [now, tenant, id, token],
      ),

    list(tx, tenant, f) {
      const args: unknown[] = [tenant];
      const p = (v: unknown) => (args.push(v), `$${args.length}`);
      const where: string[] = ["tenant = $1"];
      if (f.queues.length) where.push(`queue = ANY(${p(f.queues)}::text[])`);
      if (f.states.length) where.push(`state IN (${f.states.map(Number).join(",")})`);
      if (f.states.length && !f.queues.length) where.push(`queue IN ${tenantQueues("$1")}`);
      if (f.type) where.push(`type = ${p(f.type)}`);
      if (f.workerId) {
        const w = p(f.workerId);
        where.push(`(worker_id = ${w} OR server_id = ${w})`);
      }
      if (f.capability) where.push(`EXISTS (SELECT 1 FROM jsonb_array_elements_text(capabilities::jsonb) c(v) WHERE c.v = ${p(f.capability)})`);
      if (f.tag) where.push(`EXISTS (SELECT 1 FROM jsonb_array_elements_text(tags::jsonb) c(v) WHERE c.v = ${p(f.tag)})`);
      if (f.createdAfter !== undefined) where.push(`created_at >= ${p(f.createdAfter)}`);
      if (f.createdBefore !== undefined) where.push(`created_at < ${p(f.createdBefore)}`);
      if (f.beforeSeq !== undefined) where.push(`seq < ${p(f.beforeSeq)}`);
      return rows<TaskRow>(tx, `SELECT * FROM tasks WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ${Number(f.limit)}`, args);
    },
    listReady(tx, tenant, f) {
      const args: unknown[] = [tenant, f.now];
      const p = (v: unknown) => (args.push(v), `$${args.length}`);
      const where = [`t.tenant = $1`, `t.state = ${S.pending}`, `t.run_at <= $2`, `t.queue NOT IN (SELECT name FROM task_queues WHERE tenant = t.tenant AND paused = 1)`];
      if (f.queues.length) where.push(`t.queue = ANY(${p(f.queues)}::text[])`);
      if (f.capsJson !== undefined) {
        where.push(`(t.capabilities IS NULL OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(t.capabilities::jsonb) c(v)
          WHERE c.v NOT IN (SELECT jsonb_array_elements_text(${p(f.capsJson)}::text::jsonb))))`);
      }
      if (f.after) {
        const pr = p(f.after[0]);
        where.push(`(t.priority < ${pr} OR (t.priority = ${pr} AND t.seq > ${p(f.after[1])}))`);
      }
      return rows<TaskRow>(tx, `SELECT t.* FROM tasks t WHERE ${where.join(" AND ")} ORDER BY t.priority DESC, t.seq LIMIT ${Number(f.limit)}`, args);
    },
    runningHolders: (tx, tenant) =>
      rows<{ id: string; worker_id: string }>(
        tx,
        `SELECT id, worker_id FROM tasks WHERE state = ${S.running} AND worker_id IS NOT NULL${tenant === undefined ? "" : " AND tenant = $1"}`,
        tenant === undefined ? [] : [tenant],
        [],
      ),
    *holderCounts(tx, tenant, holder, range) {
      const where = range ? ` AND finished_at >= $3 AND finished_at < $4` : "";
      const r = yield* one<{ done: number; ok: number | null; avg: number | null }>(
        tx,
        `SELECT count(*) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
        avg(CASE WHEN started_at IS NOT NULL THEN finished_at - started_at END)::float8 AS avg
        FROM tasks WHERE tenant = $1 AND coalesce(server_id, worker_id) = $2 AND state IN (${S.succeeded}, ${S.failed}, ${S.timed_out}) AND finished_at IS NOT NULL${where}`,
        range ? [tenant, holder, range.start, range.end] : [tenant, holder],
        ["done", "ok"],
      );
      return r!;
    },
    *tenantsWithWork(tx, queues) {
      const r = yield* rows<{ tenant: string }>(
        tx,
        `${TENANT_SKIP_SCAN} SELECT tenant FROM tenants t WHERE tenant IS NOT NULL AND EXISTS (SELECT 1 FROM tasks x WHERE x.tenant = t.tenant
          AND x.queue = ANY($1::text[]) AND x.state IN (${S.pending}, ${S.blocked}, ${S.running}))`,
        [queues],
        [],
      );
      return r.map((x) => x.tenant);
    },

    pauses: (tx, tenant) => rows<PauseRow>(tx, `SELECT name, paused, pause_updated_at FROM task_queues WHERE tenant = $1`, [tenant], ["pause_updated_at"]),
    queueStateCounts: (tx, tenant, queue) =>
      rows<{ state: number; n: number }>(tx, `SELECT state, count(*) AS n FROM tasks WHERE tenant = $1 AND queue = $2 GROUP BY state`, [tenant, queue], ["n"]),
    delayedCount: (tx, tenant, queue, now) =>
      count(tx, `SELECT count(*) AS n FROM tasks WHERE tenant = $1 AND queue = $2 AND state = ${S.pending} AND run_at > $3`, [tenant, queue, now]),
    *oldestPendingCreatedAt(tx, tenant, queue) {
      const r = yield* one<{ created_at: number }>(
        tx,
        `SELECT created_at FROM tasks WHERE tenant = $1 AND queue = $2 AND state = ${S.pending} ORDER BY seq LIMIT 1`,
        [tenant, queue],
        ["created_at"],
      );
      return r?.created_at ?? null;
    },
    *queueNames(tx, tenant) {
      const r = yield* rows<{ name: string }>(
        tx,
        `SELECT name FROM (SELECT DISTINCT queue AS name FROM tasks WHERE tenant = $1 UNION SELECT name FROM task_queues WHERE tenant = $1
          UNION SELECT name FROM task_queue_configs WHERE tenant = $1) n ORDER BY name COLLATE "C"`,
        [tenant],
        [],
      );
      return r.map((x) => x.name);
    },
    *setPaused(tx, tenant, name, paused, now) {
      yield* step(
        sql(tx).unsafe(
          `INSERT INTO task_queues (tenant, name, paused, pause_updated_at) VALUES ($1, $2, $3, $4)
          ON CONFLICT (tenant, name) DO UPDATE SET paused = excluded.paused, pause_updated_at = excluded.pause_updated_at`,
          [tenant, name, paused ? 1 : 0, now],
        ),
      );
    },

    configs: (tx, tenant) =>
      tenant === undefined
        ? rows<ConfigRow>(tx, `SELECT * FROM task_queue_configs`, [], CONFIG_INTS)
        : rows<ConfigRow>(tx, `SELECT * FROM task_queue_configs WHERE tenant = $1`, [tenant], CONFIG_INTS),
    configByName: (tx, tenant, name) => one<ConfigRow>(tx, `SELECT * FROM task_queue_configs WHERE tenant = $1 AND name = $2`, [tenant, name], CONFIG_INTS),
    *anyConcurrencyLimit(tx) {
      return (yield* rows(tx, `SELECT 1 AS x FROM task_queue_configs WHERE concurrency_limit > 0 LIMIT 1`, [], [])).length > 0;
    },
    *putConfig(tx, v) {
      yield* step(
        sql(tx).unsafe(
          `INSERT INTO task_queue_configs (name, priority, mode, default_timeout_ms, default_max_attempts, concurrency_limit, deployment, source, request_id, created_at, updated_at, tenant)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
          ON CONFLICT (tenant, name) DO UPDATE SET priority = excluded.priority, mode = excluded.mode, default_timeout_ms = excluded.default_timeout_ms,
            default_max_attempts = excluded.default_max_attempts, concurrency_limit = excluded.concurrency_limit, deployment = excluded.deployment,
            source = excluded.source, request_id = excluded.request_id, updated_at = excluded.updated_at`,
          v,
        ),
      );
    },
    *removeConfig(tx, tenant, name) {
      yield* step(sql(tx).unsafe(`DELETE FROM task_queue_configs WHERE tenant = $1 AND name = $2`, [tenant, name]));
    },

    statsByState(tx, s, now) {
      const b = base(s);
      return rows<StateCountRow>(
        tx,
        `SELECT queue, state, count(*) AS n, sum(CASE WHEN state = ${S.pending} AND run_at > ${Number(now)} THEN 1 ELSE 0 END) AS delayed ${b.sql} GROUP BY queue, state`,
        b.args,
        ["n", "delayed"],
      );
    },
    *statsAggregate(tx, s) {
      const b = base(s);
      const r = yield* one<{ avg: number | null; retried: number | null; servers: number }>(
        tx,
        `SELECT ${AVG_OK}::float8 AS avg, sum(CASE WHEN retry_count > 0 THEN 1 ELSE 0 END) AS retried, count(DISTINCT ${PROCESSOR}) AS servers ${b.sql}`,
        b.args,
        ["retried", "servers"],
      );
      return r!;
    },
    statsTopProcessors(tx, s, limit) {
      const b = base(s);
      return rows<ProcessorRow>(
        tx,
        `SELECT ${PROCESSOR} AS w, sum(CASE WHEN ${TASK_FINISHED} THEN 1 ELSE 0 END) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
        sum(CASE WHEN ${TASK_BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK}::float8 AS avg ${b.sql} AND ${PROCESSOR} IS NOT NULL
        GROUP BY ${PROCESSOR} ORDER BY done DESC, ${PROCESSOR} COLLATE "C" LIMIT ${Number(limit)}`,
        b.args,
        ["done", "ok", "bad"],
      );
    },
    statsCreatedByHour(tx, s) {
      const b = base(s);
      return rows<{ hour: number; n: number }>(tx, `SELECT (created_at - ${Number(s.start)}) / 3600000 AS hour, count(*) AS n ${b.sql} GROUP BY 1 ORDER BY 1`, b.args, ["hour", "n"]);
    },
    statsQueueAverages(tx, s) {
      const b = base(s);
      return rows<{ queue: string; avg: number | null }>(tx, `SELECT queue, ${AVG_OK}::float8 AS avg ${b.sql} GROUP BY queue`, b.args, []);
    },
    statsFinishedByHour(tx, s) {
      const args: unknown[] = [s.tenant, s.start, s.end, ...(s.queue ? [s.queue] : [])];
      return rows<{ hour: number; ok: number; bad: number; avg: number | null }>(
        tx,
        `SELECT (finished_at - ${Number(s.start)}) / 3600000 AS hour, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
        sum(CASE WHEN ${TASK_BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK}::float8 AS avg
        FROM tasks WHERE tenant = $1 AND finished_at IS NOT NULL AND finished_at >= $2 AND finished_at < $3${s.queue ? " AND queue = $4" : ""} GROUP BY 1`,
        args,
        ["hour", "ok", "bad"],
      );
    },
    *statsOfProcessor(tx, tenant, processor, range) {
      const r = yield* one<{ done: number | null; ok: number | null; bad: number | null; avg: number | null }>(
        tx,
        `SELECT sum(CASE WHEN ${TASK_FINISHED} THEN 1 ELSE 0 END) AS done, sum(CASE WHEN state = ${S.succeeded} THEN 1 ELSE 0 END) AS ok,
        sum(CASE WHEN ${TASK_BAD} THEN 1 ELSE 0 END) AS bad, ${AVG_OK}::float8 AS avg FROM tasks
        WHERE tenant = $1 AND ${PROCESSOR} = $2${range ? " AND finished_at >= $3 AND finished_at < $4" : ""}`,
        range ? [tenant, processor, range.start, range.end] : [tenant, processor],
        ["done", "ok", "bad"],
      );
      return r!;
    },
    runningOfWorker: (tx, tenant, workerId) => count(tx, `SELECT count(*) AS n FROM tasks WHERE tenant = $1 AND state = ${S.running} AND worker_id = $2`, [tenant, workerId]),
  };
}

/** A create named an id that exists (found by the unique index, e.g. created by another instance meanwhile). */
export class DuplicateTaskError extends Error {
  constructor() {
    super("a task with this id exists");
    this.name = "DuplicateTaskError";
  }
}
