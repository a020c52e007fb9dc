import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Agent sessions: one row per session, beside the task that runs it (tasks domain). States are
 * the proto's numbers (1 queued … 5 ended). Credentials are sealed with the secret box, never
 * plain; a session's own key is erased when the session is final.
 */
export const agentSessions = sqliteTable(
  "agent_sessions",
  {
    tenant: text("tenant").notNull(),
    id: text("id").notNull(),
    kind: integer("kind").notNull(),
    state: integer("state").notNull(),
    prompt: text("prompt").notNull(),
    /** `{ url, name, branch }` */
    repository: text("repository").notNull(),
    /** `{ maxTurns, permissionMode, createPr }` */
    options: text("options").notNull(),
    taskId: text("task_id").notNull(),
    workerId: text("worker_id"),
    issueNumber: integer("issue_number").notNull().default(0),
    /** `owner/repo#n` while an issue session is queued or processing (one at a time per issue). */
    activeIssueKey: text("active_issue_key"),
    pullRequestUrl: text("pull_request_url").notNull().default(""),
    currentTurn: integer("current_turn").notNull().default(0),
    lastSeq: integer("last_seq").notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    lastActivityAt: integer("last_activity_at").notNull(),
    completedAt: integer("completed_at"),
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

/** Events of a session in order (`seq` from 1, no gaps): what a reconnecting watcher replays. */
export const agentSessionEvents = sqliteTable(
  "agent_session_events",
  {
    tenant: text("tenant").notNull(),
    sessionId: text("session_id").notNull(),
    seq: integer("seq").notNull(),
    time: integer("time").notNull(),
    /** The seed's SSE event name (`status`, `claude_delta`, …). */
    name: text("name").notNull(),
    /** The payload as JSON (camelCase fields of the proto payload). */
    data: text("data").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.sessionId, t.seq] })],
);

/** Tokens and cost used per tenant and UTC day (the daily quota). */
export const agentUsageDays = sqliteTable(
  "agent_usage_days",
  {
    tenant: text("tenant").notNull(),
    day: text("day").notNull(),
    tokens: integer("tokens").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.day] })],
);

/**
 * Integration state by name: `claude` (sealed key, setup time), `github` (installation, owner,
 * repositories, webhook counters), `setup:<state>` (one-time GitHub setup states).
 */
export const agentIntegrations = sqliteTable(
  "agent_integrations",
  {
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    /** JSON document. */
    value: text("value").notNull(),
    /** A sealed secret belonging to the row (the Claude key). */
    sealed: text("sealed"),
    updatedAt: integer("updated_at").notNull(),
    expiresAt: integer("expires_at"),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.name] })],
);

/** GitHub deliveries received (verified ones), to ignore redeliveries by `X-GitHub-Delivery`. */
export const githubDeliveries = sqliteTable(
  "agent_github_deliveries",
  {
    tenant: text("tenant").notNull(),
    deliveryId: text("delivery_id").notNull(),
    event: text("event").notNull(),
    action: text("action").notNull(),
    outcome: integer("outcome").notNull(),
    sessionId: text("session_id").notNull().default(""),
    receivedAt: integer("received_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.deliveryId] }), index("agent_github_deliveries_time").on(t.receivedAt)],
);
