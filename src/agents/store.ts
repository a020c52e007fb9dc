import type { Database as Sqlite } from "bun:sqlite";
import { intColumns, type PgTx, type Tx } from "../db/dialect.ts";
import { done, step, type Op } from "../db/op.ts";
import {
  KIND_CODES,
  STATE_BY_CODE,
  STATE_CODES,
  type AgentSession,
  type SessionEvent,
  type SessionEventName,
  type SessionKind,
  type SessionState,
  type JsonObject,
} from "./types.ts";

/** A session row with its sealed credentials (never leaves the domain). */
export interface SessionRecord extends AgentSession {
  sealedApiKey: string | undefined;
  sealedGithubToken: string | undefined;
  requestId: string | undefined;
}

export interface IntegrationRow {
  value: JsonObject;
  sealed: string | undefined;
  updatedAt: number;
  expiresAt: number | undefined;
}

export interface NewSession {
  tenant: string;
  id: string;
  kind: SessionKind;
  prompt: string;
  repository: AgentSession["repository"];
  options: AgentSession["options"];
  taskId: string;
  issueNumber: number;
  activeIssueKey: string | undefined;
  now: number;
  requestId: string | undefined;
  baseUrl: string;
  sealedApiKey: string | undefined;
  sealedGithubToken: string | undefined;
}

export interface Delivery {
  deliveryId: string;
  event: string;
  action: string;
  outcome: number;
  sessionId: string;
  receivedAt: number;
}

export interface Usage {
  tokens: number;
  costUsd: number;
}

/**
 * Every SQL statement of the agents domain, once per dialect, as operations (`src/db/op.ts`).
 * Writes run inside a `database.write`. Every statement but `sessionByTask` and
 * `activeSessions` (the task follower's, across tenants) names its tenant.
 */
export interface AgentStore {
  insertSession(tx: Tx, s: NewSession): Op<void>;
  getSession(tx: Tx, tenant: string, id: string): Op<SessionRecord | undefined>;
  /** The session, locked until the write ends (PostgreSQL: writers of one session through several instances queue up). */
  lockSession(tx: Tx, tenant: string, id: string): Op<SessionRecord | undefined>;
  sessionByRequestId(tx: Tx, tenant: string, requestId: string): Op<SessionRecord | undefined>;
  activeIssueSession(tx: Tx, tenant: string, key: string): Op<SessionRecord | undefined>;
  sessionByTask(tx: Tx, taskId: string): Op<SessionRecord | undefined>;
  countActive(tx: Tx, tenant: string): Op<number>;
  activeSessions(tx: Tx): Op<{ tenant: string; id: string }[]>;
  /** Sessions newest first, after the cursor `(createdAt, id)`. */
  listSessions(tx: Tx, tenant: string, f: { state?: SessionState; kind?: SessionKind; after?: [number, string]; limit: number }): Op<SessionRecord[]>;
  /** Updates the named columns of a session (snake_case column → value). */
  updateSession(tx: Tx, tenant: string, id: string, patch: Record<string, string | number | null>): Op<void>;
  addSessionUsage(tx: Tx, tenant: string, id: string, input: number, output: number, cost: number): Op<void>;
  insertEvent(tx: Tx, tenant: string, e: SessionEvent): Op<void>;
  eventsAfter(tx: Tx, tenant: string, sessionId: string, afterSeq: number, limit: number): Op<SessionEvent[]>;
  usage(tx: Tx, tenant: string, day: string): Op<Usage>;
  /**
   * The day's usage, locked until the write ends: the admission of a session (quota check, then
   * insert) holds it, so two instances cannot both admit the last place. SQLite: one writer.
   */
  lockUsage(tx: Tx, tenant: string, day: string): Op<Usage>;
  addUsage(tx: Tx, tenant: string, day: string, tokens: number, cost: number): Op<void>;
  integration(tx: Tx, tenant: string, name: string): Op<IntegrationRow | undefined>;
  /** The integration row, locked until the write ends (read-modify-write of the GitHub state). */
  lockIntegration(tx: Tx, tenant: string, name: string): Op<IntegrationRow | undefined>;
  putIntegration(tx: Tx, tenant: string, name: string, row: IntegrationRow): Op<void>;
  deleteIntegration(tx: Tx, tenant: string, name: string): Op<void>;
  delivery(tx: Tx, tenant: string, id: string): Op<{ outcome: number; event: string; action: string; sessionId: string } | undefined>;
  /** Records a delivery unless its id is known; whether it was new. */
  claimDelivery(tx: Tx, tenant: string, d: Delivery): Op<boolean>;
  setDeliveryOutcome(tx: Tx, tenant: string, deliveryId: string, outcome: number, sessionId: string): Op<void>;
}

type Row = Record<string, unknown>;

function toSession(r: Row): SessionRecord {
  const kinds = Object.entries(KIND_CODES).find(([, c]) => c === r.kind)?.[0] as SessionKind;
  return {
    tenant: r.tenant as string,
    id: r.id as string,
    kind: kinds,
    state: STATE_BY_CODE[r.state as number] as SessionState,
    prompt: r.prompt as string,
    repository: JSON.parse(r.repository as string),
    options: JSON.parse(r.options as string),
    currentTurn: r.current_turn as number,
    taskId: r.task_id as string,
    workerId: (r.worker_id as string | null) ?? "",
    issueNumber: r.issue_number as number,
    pullRequestUrl: r.pull_request_url as string,
    lastSeq: r.last_seq as number,
    tokensUsed: (r.input_tokens as number) + (r.output_tokens as number),
    costUsd: r.cost_usd as number,
    createdAt: r.created_at as number,
    lastActivityAt: r.last_activity_at as number,
    completedAt: (r.completed_at as number | null) ?? undefined,
    errorMessage: r.error_message as string,
    baseUrl: r.base_url as string,
    sealedApiKey: (r.sealed_api_key as string | null) ?? undefined,
    sealedGithubToken: (r.sealed_github_token as string | null) ?? undefined,
    requestId: (r.request_id as string | null) ?? undefined,
  };
}

const toEvent = (r: Row): SessionEvent => ({
  sessionId: r.session_id as string,
  seq: r.seq as number,
  time: r.time as number,
  name: r.name as SessionEventName,
  data: JSON.parse(r.data as string),
});

const toIntegration = (r: Row): IntegrationRow => ({
  value: JSON.parse(r.value as string),
  sealed: (r.sealed as string | null) ?? undefined,
  updatedAt: r.updated_at as number,
  expiresAt: (r.expires_at as number | null) ?? undefined,
});

const toDelivery = (r: Row) => ({ outcome: r.outcome as number, event: r.event as string, action: r.action as string, sessionId: r.session_id as string });

const sessionParams = (s: NewSession) => ({
  tenant: s.tenant,
  id: s.id,
  kind: KIND_CODES[s.kind],
  state: STATE_CODES.queued,
  prompt: s.prompt,
  repository: JSON.stringify(s.repository),
  options: JSON.stringify(s.options),
  taskId: s.taskId,
  issueNumber: s.issueNumber,
  activeIssueKey: s.activeIssueKey ?? null,
  now: s.now,
  requestId: s.requestId ?? null,
  baseUrl: s.baseUrl,
  sealedApiKey: s.sealedApiKey ?? null,
  sealedGithubToken: s.sealedGithubToken ?? null,
});

/** The agents statements over SQLite (cached statements; they answer synchronously). */
export function createSqliteAgentStore(db: Sqlite): AgentStore {
  const q = {
    insert: db.query(
      `INSERT INTO agent_sessions (tenant, id, kind, state, prompt, repository, options, task_id, issue_number, active_issue_key,
         created_at, last_activity_at, request_id, base_url, sealed_api_key, sealed_github_token)
       VALUES ($tenant, $id, $kind, $state, $prompt, $repository, $options, $taskId, $issueNumber, $activeIssueKey,
         $now, $now, $requestId, $baseUrl, $sealedApiKey, $sealedGithubToken)`,
    ),
    get: db.query(`SELECT * FROM agent_sessions WHERE tenant = ? AND id = ?`),
    byRequest: db.query(`SELECT * FROM agent_sessions WHERE tenant = ? AND request_id = ?`),
    byIssue: db.query(`SELECT * FROM agent_sessions WHERE tenant = ? AND active_issue_key = ?`),
    byTask: db.query(`SELECT * FROM agent_sessions WHERE task_id = ?`),
    active: db.query(`SELECT count(*) AS n FROM agent_sessions WHERE tenant = ? AND state IN (1, 2)`),
    activeAll: db.query(`SELECT tenant, id FROM agent_sessions WHERE state IN (1, 2)`),
    event: db.query(`INSERT INTO agent_session_events (tenant, session_id, seq, time, name, data) VALUES (?, ?, ?, ?, ?, ?)`),
    eventsAfter: db.query(`SELECT * FROM agent_session_events WHERE tenant = ? AND session_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
    usage: db.query(`SELECT tokens, cost_usd FROM agent_usage_days WHERE tenant = ? AND day = ?`),
    addUsage: db.query(
      `INSERT INTO agent_usage_days (tenant, day, tokens, cost_usd) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant, day) DO UPDATE SET tokens = tokens + excluded.tokens, cost_usd = cost_usd + excluded.cost_usd`,
    ),
    integration: db.query(`SELECT * FROM agent_integrations WHERE tenant = ? AND name = ?`),
    putIntegration: db.query(
      `INSERT INTO agent_integrations (tenant, name, value, sealed, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value, sealed = excluded.sealed, updated_at = excluded.updated_at, expires_at = excluded.expires_at`,
    ),
    deleteIntegration: db.query(`DELETE FROM agent_integrations WHERE tenant = ? AND name = ?`),
    delivery: db.query(`SELECT * FROM agent_github_deliveries WHERE tenant = ? AND delivery_id = ?`),
    setOutcome: db.query(`UPDATE agent_github_deliveries SET outcome = ?, session_id = ? WHERE tenant = ? AND delivery_id = ?`),
    putDelivery: db.query(
      `INSERT INTO agent_github_deliveries (tenant, delivery_id, event, action, outcome, session_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
  };
  const session = (r: Row | null) => (r ? toSession(r) : undefined);
  const getSession = (tenant: string, id: string) => session(q.get.get(tenant, id) as Row | null);
  const usage = (tenant: string, day: string): Usage => {
    const r = q.usage.get(tenant, day) as { tokens: number; cost_usd: number } | null;
    return { tokens: r?.tokens ?? 0, costUsd: r?.cost_usd ?? 0 };
  };
  const integration = (tenant: string, name: string) => {
    const r = q.integration.get(tenant, name) as Row | null;
    return r ? toIntegration(r) : undefined;
  };
  const delivery = (tenant: string, id: string) => {
    const r = q.delivery.get(tenant, id) as Row | null;
    return r ? toDelivery(r) : undefined;
  };

  return {
    insertSession(_tx, s) {
      q.insert.run(sessionParams(s));
      return done(undefined);
    },
    getSession: (_tx, tenant, id) => done(getSession(tenant, id)),
    // One writer: the group transaction already excludes every other write.
    lockSession: (_tx, tenant, id) => done(getSession(tenant, id)),
    sessionByRequestId: (_tx, tenant, requestId) => done(session(q.byRequest.get(tenant, requestId) as Row | null)),
    activeIssueSession: (_tx, tenant, key) => done(session(q.byIssue.get(tenant, key) as Row | null)),
    sessionByTask: (_tx, taskId) => done(session(q.byTask.get(taskId) as Row | null)),
    countActive: (_tx, tenant) => done((q.active.get(tenant) as { n: number }).n),
    activeSessions: () => done(q.activeAll.all() as { tenant: string; id: string }[]),
    listSessions(_tx, tenant, f) {
      const where = ["tenant = ?"];
      const args: (string | number)[] = [tenant];
      if (f.state) (where.push("state = ?"), args.push(STATE_CODES[f.state]));
      if (f.kind) (where.push("kind = ?"), args.push(KIND_CODES[f.kind]));
      if (f.after) (where.push("(created_at < ? OR (created_at = ? AND id < ?))"), args.push(f.after[0], f.after[0], f.after[1]));
      const rows = db.query(`SELECT * FROM agent_sessions WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ?`).all(...args, f.limit) as Row[];
      return done(rows.map(toSession));
    },
    updateSession(_tx, tenant, id, patch) {
      const cols = Object.keys(patch);
      if (cols.length > 0) db.query(`UPDATE agent_sessions SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE tenant = ? AND id = ?`).run(...cols.map((c) => patch[c]!), tenant, id);
      return done(undefined);
    },
    addSessionUsage(_tx, tenant, id, input, output, cost) {
      db.query(`UPDATE agent_sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ? WHERE tenant = ? AND id = ?`).run(
        input,
        output,
        cost,
        tenant,
        id,
      );
      return done(undefined);
    },
    insertEvent(_tx, tenant, e) {
      q.event.run(tenant, e.sessionId, e.seq, e.time, e.name, JSON.stringify(e.data));
      return done(undefined);
    },
    eventsAfter: (_tx, tenant, sessionId, afterSeq, limit) => done((q.eventsAfter.all(tenant, sessionId, afterSeq, limit) as Row[]).map(toEvent)),
    usage: (_tx, tenant, day) => done(usage(tenant, day)),
    lockUsage: (_tx, tenant, day) => done(usage(tenant, day)),
    addUsage(_tx, tenant, day, tokens, cost) {
      q.addUsage.run(tenant, day, tokens, cost);
      return done(undefined);
    },
    integration: (_tx, tenant, name) => done(integration(tenant, name)),
    lockIntegration: (_tx, tenant, name) => done(integration(tenant, name)),
    putIntegration(_tx, tenant, name, row) {
      q.putIntegration.run(tenant, name, JSON.stringify(row.value), row.sealed ?? null, row.updatedAt, row.expiresAt ?? null);
      return done(undefined);
    },
    deleteIntegration(_tx, tenant, name) {
      q.deleteIntegration.run(tenant, name);
      return done(undefined);
    },
    delivery: (_tx, tenant, id) => done(delivery(tenant, id)),
    claimDelivery(_tx, tenant, d) {
      if (delivery(tenant, d.deliveryId)) return done(false);
      q.putDelivery.run(tenant, d.deliveryId, d.event, d.action, d.outcome, d.sessionId, d.receivedAt);
      return done(true);
    },
    setDeliveryOutcome(_tx, tenant, deliveryId, outcome, sessionId) {
      q.setOutcome.run(outcome, sessionId, tenant, deliveryId);
      return done(undefined);
    },
  };
}

const SESSION_INTS = ["issue_number", "last_seq", "input_tokens", "output_tokens", "created_at", "last_activity_at", "completed_at"] as const;
const EVENT_INTS = ["seq", "time"] as const;
const INTEGRATION_INTS = ["updated_at", "expires_at"] as const;
const USAGE_INTS = ["tokens"] as const;

/** The same statements over PostgreSQL (Bun's SQL, on the group's connection or the read pool). */
export function createPgAgentStore(): AgentStore {
  const pg = (tx: Tx) => (tx as PgTx).sql;
  function* rows(query: PromiseLike<unknown>, ints: readonly string[]): Op<Row[]> {
    return intColumns((yield* step(query)) as Row[], ints);
  }
  function* oneSession(query: PromiseLike<unknown>): Op<SessionRecord | undefined> {
    const r = (yield* rows(query, SESSION_INTS))[0];
    return r ? toSession(r) : undefined;
  }
  function* usageOf(query: PromiseLike<unknown>): Op<Usage> {
    const r = (yield* rows(query, USAGE_INTS))[0] as { tokens: number; cost_usd: number } | undefined;
    return { tokens: r?.tokens ?? 0, costUsd: r?.cost_usd ?? 0 };
  }
  function* oneIntegration(query: PromiseLike<unknown>): Op<IntegrationRow | undefined> {
    const r = (yield* rows(query, INTEGRATION_INTS))[0];
    return r ? toIntegration(r) : undefined;
  }
  return {
    *insertSession(tx, s) {
      const p = sessionParams(s);
      yield* step(pg(tx)`INSERT INTO agent_sessions (tenant, id, kind, state, prompt, repository, options, task_id, issue_number, active_issue_key,
          created_at, last_activity_at, request_id, base_url, sealed_api_key, sealed_github_token)
        VALUES (${p.tenant}, ${p.id}, ${p.kind}, ${p.state}, ${p.prompt}, ${p.repository}, ${p.options}, ${p.taskId}, ${p.issueNumber}, ${p.activeIssueKey},
          ${p.now}, ${p.now}, ${p.requestId}, ${p.baseUrl}, ${p.sealedApiKey}, ${p.sealedGithubToken})`);
    },
    getSession: (tx, tenant, id) => oneSession(pg(tx)`SELECT * FROM agent_sessions WHERE tenant = ${tenant} AND id = ${id}`),
    lockSession: (tx, tenant, id) => oneSession(pg(tx)`SELECT * FROM agent_sessions WHERE tenant = ${tenant} AND id = ${id} FOR UPDATE`),
    sessionByRequestId: (tx, tenant, requestId) => oneSession(pg(tx)`SELECT * FROM agent_sessions WHERE tenant = ${tenant} AND request_id = ${requestId}`),
    activeIssueSession: (tx, tenant, key) => oneSession(pg(tx)`SELECT * FROM agent_sessions WHERE tenant = ${tenant} AND active_issue_key = ${key}`),
    sessionByTask: (tx, taskId) => oneSession(pg(tx)`SELECT * FROM agent_sessions WHERE task_id = ${taskId}`),
    *countActive(tx, tenant) {
      const r = (yield* rows(pg(tx)`SELECT count(*) AS n FROM agent_sessions WHERE tenant = ${tenant} AND state IN (1, 2)`, ["n"]))[0] as { n: number };
      return r.n;
    },
    *activeSessions(tx) {
      return (yield* step(pg(tx)`SELECT tenant, id FROM agent_sessions WHERE state IN (1, 2)`)) as { tenant: string; id: string }[];
    },
    *listSessions(tx, tenant, f) {
      const args: unknown[] = [tenant];
      const where = ["tenant = $1"];
      if (f.state) (args.push(STATE_CODES[f.state]), where.push(`state = $${args.length}`));
      if (f.kind) (args.push(KIND_CODES[f.kind]), where.push(`kind = $${args.length}`));
      if (f.after) {
        args.push(f.after[0], f.after[1]);
        where.push(`(created_at < $${args.length - 1} OR (created_at = $${args.length - 1} AND id COLLATE "C" < $${args.length}))`);
      }
      args.push(f.limit);
      const sql = `SELECT * FROM agent_sessions WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $${args.length}`;
      return (yield* rows(pg(tx).unsafe(sql, args as never[]), SESSION_INTS)).map(toSession);
    },
    *updateSession(tx, tenant, id, patch) {
      const cols = Object.keys(patch);
      if (cols.length === 0) return;
      const args: unknown[] = cols.map((c) => patch[c]!);
      args.push(tenant, id);
      const sql = `UPDATE agent_sessions SET ${cols.map((c, i) => `${c} = $${i + 1}`).join(", ")} WHERE tenant = $${cols.length + 1} AND id = $${cols.length + 2}`;
      yield* step(pg(tx).unsafe(sql, args as never[]));
    },
    *addSessionUsage(tx, tenant, id, input, output, cost) {
      yield* step(pg(tx)`UPDATE agent_sessions SET input_tokens = input_tokens + ${input}, output_tokens = output_tokens + ${output}, cost_usd = cost_usd + ${cost}::float8
        WHERE tenant = ${tenant} AND id = ${id}`);
    },
    *insertEvent(tx, tenant, e) {
      yield* step(pg(tx)`INSERT INTO agent_session_events (tenant, session_id, seq, time, name, data) VALUES (${tenant}, ${e.sessionId}, ${e.seq}, ${e.time}, ${e.name}, ${JSON.stringify(e.data)})`);
    },
    *eventsAfter(tx, tenant, sessionId, afterSeq, limit) {
      return (yield* rows(pg(tx)`SELECT * FROM agent_session_events WHERE tenant = ${tenant} AND session_id = ${sessionId} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`, EVENT_INTS)).map(toEvent);
    },
    usage: (tx, tenant, day) => usageOf(pg(tx)`SELECT tokens, cost_usd FROM agent_usage_days WHERE tenant = ${tenant} AND day = ${day}`),
    *lockUsage(tx, tenant, day) {
      // The row must exist to be locked: a zero row is no usage.
      yield* step(pg(tx)`INSERT INTO agent_usage_days (tenant, day, tokens, cost_usd) VALUES (${tenant}, ${day}, 0, 0) ON CONFLICT (tenant, day) DO NOTHING`);
      return yield* usageOf(pg(tx)`SELECT tokens, cost_usd FROM agent_usage_days WHERE tenant = ${tenant} AND day = ${day} FOR UPDATE`);
    },
    *addUsage(tx, tenant, day, tokens, cost) {
      yield* step(pg(tx)`INSERT INTO agent_usage_days (tenant, day, tokens, cost_usd) VALUES (${tenant}, ${day}, ${tokens}, ${cost}::float8)
        ON CONFLICT (tenant, day) DO UPDATE SET tokens = agent_usage_days.tokens + excluded.tokens, cost_usd = agent_usage_days.cost_usd + excluded.cost_usd`);
    },
    integration: (tx, tenant, name) => oneIntegration(pg(tx)`SELECT * FROM agent_integrations WHERE tenant = ${tenant} AND name = ${name}`),
    lockIntegration: (tx, tenant, name) => oneIntegration(pg(tx)`SELECT * FROM agent_integrations WHERE tenant = ${tenant} AND name = ${name} FOR UPDATE`),
    *putIntegration(tx, tenant, name, row) {
      yield* step(pg(tx)`INSERT INTO agent_integrations (tenant, name, value, sealed, updated_at, expires_at)
        VALUES (${tenant}, ${name}, ${JSON.stringify(row.value)}, ${row.sealed ?? null}, ${row.updatedAt}, ${row.expiresAt ?? null})
        ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value, sealed = excluded.sealed, updated_at = excluded.updated_at, expires_at = excluded.expires_at`);
    },
    *deleteIntegration(tx, tenant, name) {
      yield* step(pg(tx)`DELETE FROM agent_integrations WHERE tenant = ${tenant} AND name = ${name}`);
    },
    *delivery(tx, tenant, id) {
      const r = (yield* step(pg(tx)`SELECT * FROM agent_github_deliveries WHERE tenant = ${tenant} AND delivery_id = ${id}`)) as Row[];
      return r[0] ? toDelivery(r[0]) : undefined;
    },
    *claimDelivery(tx, tenant, d) {
      // Two instances receiving one redelivery at once: the key decides, the loser inserts nothing.
      const r = (yield* step(pg(tx)`INSERT INTO agent_github_deliveries (tenant, delivery_id, event, action, outcome, session_id, received_at)
        VALUES (${tenant}, ${d.deliveryId}, ${d.event}, ${d.action}, ${d.outcome}, ${d.sessionId}, ${d.receivedAt})
        ON CONFLICT (tenant, delivery_id) DO NOTHING RETURNING delivery_id`)) as Row[];
      return r.length > 0;
    },
    *setDeliveryOutcome(tx, tenant, deliveryId, outcome, sessionId) {
      yield* step(pg(tx)`UPDATE agent_github_deliveries SET outcome = ${outcome}, session_id = ${sessionId} WHERE tenant = ${tenant} AND delivery_id = ${deliveryId}`);
    },
  };
}
