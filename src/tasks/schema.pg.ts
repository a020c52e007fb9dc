import { sql } from "drizzle-orm";
import { bigint, bigserial, index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";

/**
 * PostgreSQL twin of schema.ts: same tables, same columns. Millisecond times and `seq` are
 * int8 (the store converts them to numbers); JSON stays text, so row mapping is shared.
 */
export const tasks = pgTable(
  "tasks",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    tenant: text("tenant").notNull().default("default"),
    id: text("id").notNull(),
    queue: text("queue").notNull(),
    type: text("type").notNull().default(""),
    priority: integer("priority").notNull().default(0),
    payload: text("payload"),
    capabilities: text("capabilities"),
    runAt: bigint("run_at", { mode: "number" }).notNull(),
    timeoutMs: bigint("timeout_ms", { mode: "number" }),
    maxAttempts: integer("max_attempts").notNull(),
    attempt: integer("attempt").notNull().default(0),
    fencingToken: bigint("fencing_token", { mode: "number" }).notNull().default(0),
    dependsOn: text("depends_on"),
    hasDependents: integer("has_dependents").notNull().default(0),
    progress: integer("progress").notNull().default(0),
    progressMessage: text("progress_message").notNull().default(""),
    result: text("result"),
    error: text("error"),
    state: integer("state").notNull(),
    workerId: text("worker_id"),
    serverId: text("server_id"),
    leaseExpiresAt: bigint("lease_expires_at", { mode: "number" }),
    leaseDurationMs: bigint("lease_duration_ms", { mode: "number" }),
    deadlineAt: bigint("deadline_at", { mode: "number" }),
    metadata: text("metadata"),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
    startedAt: bigint("started_at", { mode: "number" }),
    finishedAt: bigint("finished_at", { mode: "number" }),
    requestId: text("request_id"),
    title: text("title").notNull().default(""),
    description: text("description").notNull().default(""),
    tags: text("tags"),
    retryCount: integer("retry_count").notNull().default(0),
  },
  (t) => [
    uniqueIndex("tasks_id_unique").on(t.tenant, t.id),
    index("tasks_claim_idx").on(t.tenant, t.queue, t.state, sql`${t.priority} desc`, t.seq),
    // The reaper's scans: running tasks (state 3, STATE_CODES.running) by lease expiry and by
    // deadline. Partial, so only claims and completions write them (as in schema.ts).
    index("tasks_running_lease_idx").on(t.leaseExpiresAt).where(sql`${t.state} = 3`),
    index("tasks_running_deadline_idx").on(t.deadlineAt).where(sql`${t.state} = 3`),
    index("tasks_created_idx").on(t.createdAt),
    index("tasks_finished_idx").on(t.finishedAt).where(sql`${t.finishedAt} is not null`),
    uniqueIndex("tasks_request_id_unique").on(t.tenant, t.requestId).where(sql`${t.requestId} is not null`),
  ],
);

export const taskDependencies = pgTable(
  "task_dependencies",
  {
    tenant: text("tenant").notNull().default("default"),
    taskId: text("task_id").notNull(),
    dependsOn: text("depends_on").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.taskId, t.dependsOn] }), index("task_dependencies_depends_on_idx").on(t.tenant, t.dependsOn)],
);

export const taskQueues = pgTable(
  "task_queues",
  {
    tenant: text("tenant").notNull().default("default"),
    name: text("name").notNull(),
    paused: integer("paused").notNull().default(0),
    pauseUpdatedAt: bigint("pause_updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.name] })],
);

export const taskQueueConfigs = pgTable(
  "task_queue_configs",
  {
    tenant: text("tenant").notNull().default("default"),
    name: text("name").notNull(),
    priority: integer("priority").notNull().default(0),
    mode: integer("mode").notNull().default(0),
    defaultTimeoutMs: bigint("default_timeout_ms", { mode: "number" }),
    defaultMaxAttempts: integer("default_max_attempts").notNull().default(0),
    concurrencyLimit: integer("concurrency_limit").notNull().default(0),
    deployment: text("deployment"),
    source: text("source").notNull(),
    requestId: text("request_id"),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.name] })],
);

/**
 * Holders in maintenance (PostgreSQL only): instances share them, so a drain set through one
 * instance stops claims on every instance. SQLite keeps drains in memory (one process).
 */
export const taskDrainedHolders = pgTable(
  "task_drained_holders",
  {
    tenant: text("tenant").notNull(),
    holder: text("holder").notNull(),
    since: bigint("since", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.holder] })],
);
