import { bigint, doublePrecision, index, integer, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";

/* PostgreSQL twin of schema.ts: same tables, same columns; ms timestamps, sequences and counters are int8; `rowid` (an identity) keeps insertion order where SQLite's rowid did. */

/**
 * Task-backed calls: one row per task this domain created (next steps, decisions, drift
 * analysis, conversation turns…). `status` pending → done | failed once the task is final and
 * its result applied; `output` is what the call answers (JSON), `error` the refusal (JSON).
 */
export const insCalls = pgTable(
  "ins_calls",
  {
    tenant: text("tenant").notNull(),
    taskId: text("task_id").notNull(),
    type: text("type").notNull(),
    subject: text("subject").notNull(),
    status: text("status").notNull(),
    output: text("output"),
    error: text("error"),
    /** A secret the task's holder may fetch (a credential being validated), sealed; erased when finished. */
    secret: text("secret"),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    finishedAt: bigint("finished_at", { mode: "number" }),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.taskId] }), index("ins_calls_pending").on(t.status)],
);

/** Next-step suggestions of a project. */
export const insNextSteps = pgTable(
  "ins_next_steps",
  {
    rowid: bigint("rowid", { mode: "number" }).generatedAlwaysAsIdentity(),
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    title: text("title").notNull(),
    description: text("description").notNull(),
    rationale: text("rationale").notNull(),
    priority: text("priority").notNull(),
    category: text("category").notNull(),
    status: text("status").notNull(),
    /** 1 helpful, 0 not, null no feedback. */
    helpful: integer("helpful"),
    taskId: text("task_id").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ins_next_steps_project").on(t.tenant, t.projectId, t.status, t.createdAt)],
);

/** Decisions extracted from a project's conversations; `concepts` a JSON list of concept names. */
export const insDecisions = pgTable(
  "ins_decisions",
  {
    rowid: bigint("rowid", { mode: "number" }).generatedAlwaysAsIdentity(),
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    title: text("title").notNull(),
    decision: text("decision").notNull(),
    rationale: text("rationale").notNull(),
    conversationId: text("conversation_id").notNull(),
    messageId: text("message_id").notNull(),
    concepts: text("concepts").notNull(),
    taskId: text("task_id").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ins_decisions_project").on(t.tenant, t.projectId, t.createdAt)],
);

/** Conversations with an agent about a workspace. */
export const insConversations = pgTable(
  "ins_conversations",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    title: text("title").notNull(),
    manifestHash: text("manifest_hash").notNull(),
    status: text("status").notNull(),
    /** Messages before this time are cleared (not shown, not given to the agent). */
    clearedAt: bigint("cleared_at", { mode: "number" }).notNull().default(0),
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ins_conversations_updated").on(t.tenant, t.updatedAt)],
);

/** Messages of a conversation; `seq` orders them. */
export const insMessages = pgTable(
  "ins_messages",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    conversationId: text("conversation_id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    role: text("role").notNull(),
    content: text("content").notNull(),
    status: text("status").notNull(),
    error: text("error").notNull().default(""),
    changedFiles: text("changed_files").notNull().default("[]"),
    taskId: text("task_id").notNull().default(""),
    cleared: integer("cleared").notNull().default(0),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    completedAt: bigint("completed_at", { mode: "number" }),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), uniqueIndex("ins_messages_seq").on(t.tenant, t.conversationId, t.seq)],
);

/** A conversation's events (stream replay and timeline); `data` is JSON. */
export const insConversationEvents = pgTable(
  "ins_conversation_events",
  {
    tenant: text("tenant").notNull(),
    conversationId: text("conversation_id").notNull(),
    sequence: bigint("sequence", { mode: "number" }).notNull(),
    type: text("type").notNull(),
    messageId: text("message_id").notNull().default(""),
    data: text("data").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.conversationId, t.sequence] })],
);

/** Dismissed action items (any kind, including drift and deployment ones). */
export const insDismissals = pgTable(
  "ins_dismissals",
  {
    tenant: text("tenant").notNull(),
    itemId: text("item_id").notNull(),
    dismissedAt: bigint("dismissed_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.itemId] })],
);

/** Action items found by analysis (ids `ai_…`); drift and deployment items are derived, not stored. */
export const insActionItems = pgTable(
  "ins_action_items",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    type: text("type").notNull(),
    severity: text("severity").notNull(),
    workspaceId: text("workspace_id").notNull(),
    projectId: text("project_id").notNull(),
    title: text("title").notNull(),
    description: text("description").notNull(),
    files: text("files").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ins_action_items_ws").on(t.tenant, t.workspaceId)],
);

/** Runs of action items (`action_item.run` tasks); `result` JSON `{ summary, report, patch, checks, files }`. */
export const insActionRuns = pgTable(
  "ins_action_runs",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    itemId: text("item_id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    status: text("status").notNull(),
    attemptCount: integer("attempt_count").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    result: text("result"),
    error: text("error").notNull().default(""),
    baseManifestHash: text("base_manifest_hash").notNull(),
    resultManifestHash: text("result_manifest_hash").notNull().default(""),
    taskId: text("task_id").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
    completedAt: bigint("completed_at", { mode: "number" }),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ins_action_runs_item").on(t.tenant, t.itemId, t.createdAt)],
);

/** Provider credentials: the token sealed by the secret box, never stored or returned plain. */
export const insCredentials = pgTable(
  "ins_credentials",
  {
    tenant: text("tenant").notNull(),
    provider: text("provider").notNull(),
    id: text("id").notNull(),
    userId: text("user_id").notNull(),
    sealed: text("sealed").notNull(),
    metadata: text("metadata").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.provider] })],
);

/** Per-workspace deployment settings. */
export const insDeploySettings = pgTable(
  "ins_deploy_settings",
  {
    tenant: text("tenant").notNull(),
    workspaceId: text("workspace_id").notNull(),
    autoDeploy: integer("auto_deploy").notNull(),
    runtimeOverride: text("runtime_override").notNull(),
    buildCommand: text("build_command").notNull(),
    startCommand: text("start_command").notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.workspaceId] })],
);

/** Deployments; `tasks` JSON of the pipeline's task ids `{ detect, provision, deploy }`. */
export const insDeployments = pgTable(
  "ins_deployments",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    workspaceId: text("workspace_id").notNull(),
    projectId: text("project_id").notNull(),
    snapshotId: text("snapshot_id").notNull(),
    status: text("status").notNull(),
    trigger: text("trigger").notNull(),
    url: text("url").notNull().default(""),
    error: text("error").notNull().default(""),
    conversationId: text("conversation_id").notNull().default(""),
    taskId: text("task_id").notNull(),
    tasks: text("tasks").notNull(),
    requestId: text("request_id"),
    startedAt: bigint("started_at", { mode: "number" }).notNull(),
    completedAt: bigint("completed_at", { mode: "number" }),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ins_deployments_ws").on(t.tenant, t.workspaceId, t.startedAt), uniqueIndex("ins_deployments_request").on(t.tenant, t.requestId)],
);

/** Provisioned resources; `connection` JSON sealed by the secret box. */
export const insResources = pgTable(
  "ins_resources",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    type: text("type").notNull(),
    provider: text("provider").notNull(),
    name: text("name").notNull(),
    status: text("status").notNull(),
    providerResourceId: text("provider_resource_id").notNull(),
    connection: text("connection").notNull(),
    envVarKeys: text("env_var_keys").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ins_resources_project").on(t.tenant, t.projectId, t.createdAt)],
);

/** A project's Atlas concepts (replaced as a whole by each index). */
export const insAtlasConcepts = pgTable(
  "ins_atlas_concepts",
  {
    rowid: bigint("rowid", { mode: "number" }).generatedAlwaysAsIdentity(),
    tenant: text("tenant").notNull(),
    projectId: text("project_id").notNull(),
    id: text("id").notNull(),
    name: text("name").notNull(),
    description: text("description").notNull(),
    layer: text("layer").notNull(),
    path: text("path").notNull(),
    parentId: text("parent_id").notNull(),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.projectId, t.id] })],
);

export const insAtlasEdges = pgTable(
  "ins_atlas_edges",
  {
    rowid: bigint("rowid", { mode: "number" }).generatedAlwaysAsIdentity(),
    tenant: text("tenant").notNull(),
    projectId: text("project_id").notNull(),
    id: text("id").notNull(),
    sourceId: text("source_id").notNull(),
    targetId: text("target_id").notNull(),
    type: text("type").notNull(),
    weight: doublePrecision("weight").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.projectId, t.id] })],
);

/** The snapshot each project's Atlas was built from. */
export const insAtlasIndex = pgTable(
  "ins_atlas_index",
  {
    tenant: text("tenant").notNull(),
    projectId: text("project_id").notNull(),
    snapshotId: text("snapshot_id").notNull(),
    concepts: integer("concepts").notNull(),
    edges: integer("edges").notNull(),
    truncated: integer("truncated").notNull(),
    indexedAt: bigint("indexed_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.projectId] })],
);

/** Diagrams generated by `atlas.diagram` tasks; `nodes`/`edges` JSON. */
export const insDiagrams = pgTable(
  "ins_diagrams",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    projectId: text("project_id").notNull(),
    conceptId: text("concept_id").notNull(),
    type: text("type").notNull(),
    title: text("title").notNull(),
    nodes: text("nodes").notNull(),
    edges: text("edges").notNull(),
    taskId: text("task_id").notNull(),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), index("ins_diagrams_project").on(t.tenant, t.projectId, t.createdAt)],
);

/** Periodic tasks: a task from the template at each cron tick (UTC). */
export const insSchedules = pgTable(
  "ins_schedules",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    name: text("name").notNull(),
    cron: text("cron").notNull(),
    queue: text("queue").notNull(),
    type: text("type").notNull(),
    payload: text("payload"),
    paused: integer("paused").notNull().default(0),
    nextRunAt: bigint("next_run_at", { mode: "number" }),
    lastRunAt: bigint("last_run_at", { mode: "number" }),
    lastTaskId: text("last_task_id").notNull().default(""),
    runCount: bigint("run_count", { mode: "number" }).notNull().default(0),
    /** The tick one instance claimed (next_run_at already moved on) and has not yet recorded as run; null when none. */
    claimedTick: bigint("claimed_tick", { mode: "number" }),
    /** Until when that claim holds: past it, another pass (any instance) takes the tick over. */
    claimedUntil: bigint("claimed_until", { mode: "number" }),
    requestId: text("request_id"),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] }), uniqueIndex("ins_schedules_name").on(t.tenant, t.name), uniqueIndex("ins_schedules_request").on(t.tenant, t.requestId), index("ins_schedules_due").on(t.paused, t.nextRunAt)],
);

/** Questions an agent asked during a turn; `questions`/`answers` JSON. */
export const insQuestions = pgTable(
  "ins_questions",
  {
    tenant: text("tenant").notNull(),
    conversationId: text("conversation_id").notNull(),
    id: text("id").notNull(),
    messageId: text("message_id").notNull(),
    taskId: text("task_id").notNull(),
    questions: text("questions").notNull(),
    status: text("status").notNull(),
    answers: text("answers"),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.conversationId, t.id] })],
);
