import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/**
 * Tasks. `seq` (the rowid) gives FIFO order inside a priority; `id` is the public identifier.
 * Times are milliseconds since the epoch (server clock); JSON columns hold text.
 * `state` is a small integer (see STATE_CODES in types.ts) to keep the hot indexes compact.
 */
export const tasks = sqliteTable(
  "tasks",
  {
    seq: integer("seq").primaryKey(),
    /** Every task belongs to a tenant; ids, request ids and queues are per tenant. */
    tenant: text("tenant").notNull().default("default"),
    id: text("id").notNull(),
    queue: text("queue").notNull(),
    type: text("type").notNull().default(""),
    priority: integer("priority").notNull().default(0),
    /** JSON value, or NULL when none. */
    payload: text("payload"),
    /** JSON array of required capabilities, NULL when none (the claim query skips the check). */
    capabilities: text("capabilities"),
    runAt: integer("run_at").notNull(),
    timeoutMs: integer("timeout_ms"),
    maxAttempts: integer("max_attempts").notNull(),
    attempt: integer("attempt").notNull().default(0),
    /** Last fencing token handed out; the next claim gets this plus one. */
    fencingToken: integer("fencing_token").notNull().default(0),
    /** JSON array of task ids this task waits for, NULL when none. */
    dependsOn: text("depends_on"),
    /** 1 once some task depends on this one: completion and failure then look for dependents. */
    hasDependents: integer("has_dependents").notNull().default(0),
    progress: integer("progress").notNull().default(0),
    progressMessage: text("progress_message").notNull().default(""),
    result: text("result"),
    /** JSON TaskError. */
    error: text("error"),
    state: integer("state").notNull(),
    workerId: text("worker_id"),
    serverId: text("server_id"),
    leaseExpiresAt: integer("lease_expires_at"),
    leaseDurationMs: integer("lease_duration_ms"),
    /** started_at + timeout of the running attempt. */
    deadlineAt: integer("deadline_at"),
    metadata: text("metadata"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    requestId: text("request_id"),
    title: text("title").notNull().default(""),
    description: text("description").notNull().default(""),
    /** JSON array of tags, NULL when none. */
    tags: text("tags"),
    retryCount: integer("retry_count").notNull().default(0),
  },
  (t) => [
    uniqueIndex("tasks_id_unique").on(t.tenant, t.id),
    // The claim path: ready tasks of one queue in priority order, then FIFO. The DESC must be
    // declared or SQLite sorts in a temporary B-tree on every claim.
    index("tasks_claim_idx").on(t.tenant, t.queue, t.state, sql`${t.priority} desc`, t.seq),
    // The reaper: running tasks (state 3, STATE_CODES.running) by lease expiry. Partial, so a task
    // enters it when claimed and leaves it when it ends: creating a task writes no entry here,
    // and claim and completion one each, where (state, lease) had a delete and an insert for
    // every state change. Queries name `state = 3` as a literal so SQLite can use it.
    index("tasks_running_lease_idx").on(t.leaseExpiresAt).where(sql`${t.state} = 3`),
    index("tasks_created_idx").on(t.createdAt),
    index("tasks_finished_idx").on(t.finishedAt).where(sql`${t.finishedAt} is not null`),
    uniqueIndex("tasks_request_id_unique").on(t.tenant, t.requestId).where(sql`${t.requestId} is not null`),
  ],
);

/** Edges of the dependency graph: `taskId` waits for `dependsOn`. */
export const taskDependencies = sqliteTable(
  "task_dependencies",
  {
    tenant: text("tenant").notNull().default("default"),
    taskId: text("task_id").notNull(),
    dependsOn: text("depends_on").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.taskId, t.dependsOn] }), index("task_dependencies_depends_on_idx").on(t.tenant, t.dependsOn)],
);

/** Queues that were paused or resumed at least once (other queues exist implicitly). */
export const taskQueues = sqliteTable(
  "task_queues",
  {
    /** Queues are per tenant: two tenants may both have `default`. */
    tenant: text("tenant").notNull().default("default"),
    name: text("name").notNull(),
    paused: integer("paused").notNull().default(0),
    pauseUpdatedAt: integer("pause_updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.name] })],
);

/** Queue configs, created through the API (`source = 'api'`) or loaded from YAML (`'yaml'`). */
export const taskQueueConfigs = sqliteTable("task_queue_configs", {
  tenant: text("tenant").notNull().default("default"),
  name: text("name").notNull(),
  priority: integer("priority").notNull().default(0),
  /** 0 unspecified, 1 long_running, 2 one_shot. */
  mode: integer("mode").notNull().default(0),
  defaultTimeoutMs: integer("default_timeout_ms"),
  defaultMaxAttempts: integer("default_max_attempts").notNull().default(0),
  concurrencyLimit: integer("concurrency_limit").notNull().default(0),
  /** JSON object passed on to workers (runqy `deployment`). */
  deployment: text("deployment"),
  source: text("source").notNull(),
  requestId: text("request_id"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
}, (t) => [primaryKey({ columns: [t.tenant, t.name] })]);
