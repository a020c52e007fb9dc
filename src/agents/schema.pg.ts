import { bigint, doublePrecision, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";

/** PostgreSQL twins of schema.ts (same tables, columns and indexes; ms times and token counters as int8, cost as float8). */
export const agentSessions = pgTable(
  "agent_sessions",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    kind: integer("kind").notNull(),
    state: integer("state").notNull(),
    prompt: text("prompt").notNull(),
    repository: text("repository").notNull(),
    options: text("options").notNull(),
    taskId: text("task_id").notNull(),
    workerId: text("worker_id"),
    issueNumber: bigint("issue_number", { mode: "number" }).notNull().default(0),
    activeIssueKey: text("active_issue_key"),
    pullRequestUrl: text("pull_request_url").notNull().default(""),
    currentTurn: integer("current_turn").notNull().default(0),
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    inputTokens: bigint("input_tokens", { mode: "number" }).notNull().default(0),
    outputTokens: bigint("output_tokens", { mode: "number" }).notNull().default(0),
    costUsd: doublePrecision("cost_usd").notNull().default(0),
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    lastActivityAt: bigint("last_activity_at", { mode: "number" }).notNull(),
    completedAt: bigint("completed_at", { mode: "number" }),
    errorMessage: text("error_message").notNull().default(""),
    requestId: text("request_id"),
    baseUrl: text("base_url").notNull(),
    sealedApiKey: text("sealed_api_key"),
    sealedGithubToken: text("sealed_github_token"),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.id] }),
    index("agent_sessions_created").on(t.tenant, t.createdAt),
    index("agent_sessions_state").on(t.tenant, t.state),
    index("agent_sessions_task").on(t.taskId),
    index("agent_sessions_request").on(t.tenant, t.requestId),
    index("agent_sessions_issue").on(t.tenant, t.activeIssueKey),
  ],
);

export const agentSessionEvents = pgTable(
  "agent_session_events",
  {
    tenant: text("tenant").notNull(),
    sessionId: text("session_id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    time: bigint("time", { mode: "number" }).notNull(),
    name: text("name").notNull(),
    data: text("data").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.sessionId, t.seq] })],
);

export const agentUsageDays = pgTable(
  "agent_usage_days",
  {
    tenant: text("tenant").notNull(),
    day: text("day").notNull(),
    tokens: bigint("tokens", { mode: "number" }).notNull().default(0),
    costUsd: doublePrecision("cost_usd").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.day] })],
);

export const agentIntegrations = pgTable(
  "agent_integrations",
  {
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    value: text("value").notNull(),
    sealed: text("sealed"),
    updatedAt: bigint("updated_at", { mode: "number" }).notNull(),
    expiresAt: bigint("expires_at", { mode: "number" }),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.name] })],
);

export const githubDeliveries = pgTable(
  "agent_github_deliveries",
  {
    tenant: text("tenant").notNull(),
    deliveryId: text("delivery_id").notNull(),
    event: text("event").notNull(),
    action: text("action").notNull(),
    outcome: integer("outcome").notNull(),
    sessionId: text("session_id").notNull().default(""),
    receivedAt: bigint("received_at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.deliveryId] }), index("agent_github_deliveries_time").on(t.receivedAt)],
);
