import type { Database } from "../db/client.ts";
import {
  KIND_CODES,
  STATE_BY_CODE,
  STATE_CODES,
  type AgentSession,
  type JsonObject,
  type SessionEvent,
  type SessionEventName,
  type SessionKind,
  type SessionState,
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

/** Every SQL statement of the agents domain (SQLite); writes are called inside the group commit. */
export function createAgentStore(database: Database) {
  const db = database.sqlite;
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

  return {
    insertSession(s: {
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
    }): void {
      q.insert.run({
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
    },
    getSession(tenant: string, id: string): SessionRecord | undefined {
      const r = q.get.get(tenant, id) as Row | null;
      return r ? toSession(r) : undefined;
    },
    sessionByRequestId(tenant: string, requestId: string): SessionRecord | undefined {
      const r = q.byRequest.get(tenant, requestId) as Row | null;
      return r ? toSession(r) : undefined;
    },
    activeIssueSession(tenant: string, key: string): SessionRecord | undefined {
      const r = q.byIssue.get(tenant, key) as Row | null;
      return r ? toSession(r) : undefined;
    },
    sessionByTask(taskId: string): SessionRecord | undefined {
      const r = q.byTask.get(taskId) as Row | null;
      return r ? toSession(r) : undefined;
    },
    countActive(tenant: string): number {
      return (q.active.get(tenant) as { n: number }).n;
    },
    activeSessions(): { tenant: string; id: string }[] {
      return q.activeAll.all() as { tenant: string; id: string }[];
    },
    /** Sessions newest first, after the cursor `(createdAt, id)`. */
    listSessions(tenant: string, f: { state?: SessionState; kind?: SessionKind; after?: [number, string]; limit: number }): SessionRecord[] {
      const where = ["tenant = ?"];
      const args: (string | number)[] = [tenant];
      if (f.state) (where.push("state = ?"), args.push(STATE_CODES[f.state]));
      if (f.kind) (where.push("kind = ?"), args.push(KIND_CODES[f.kind]));
      if (f.after) (where.push("(created_at < ? OR (created_at = ? AND id < ?))"), args.push(f.after[0], f.after[0], f.after[1]));
      const rows = db.query(`SELECT * FROM agent_sessions WHERE ${where.join(" AND ")} ORDER BY created_at DESC, id DESC LIMIT ?`).all(...args, f.limit) as Row[];
      return rows.map(toSession);
    },
    /** Updates the named columns of a session (snake_case column → value). */
    updateSession(tenant: string, id: string, patch: Record<string, string | number | null>): void {
      const cols = Object.keys(patch);
      if (cols.length === 0) return;
      db.query(`UPDATE agent_sessions SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE tenant = ? AND id = ?`).run(...cols.map((c) => patch[c]!), tenant, id);
    },
    addSessionUsage(tenant: string, id: string, input: number, output: number, cost: number): void {
      db.query(`UPDATE agent_sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ? WHERE tenant = ? AND id = ?`).run(
        input,
        output,
        cost,
        tenant,
        id,
      );
    },
    insertEvent(tenant: string, e: SessionEvent): void {
      q.event.run(tenant, e.sessionId, e.seq, e.time, e.name, JSON.stringify(e.data));
    },
    eventsAfter(tenant: string, sessionId: string, afterSeq: number, limit: number): SessionEvent[] {
      return (q.eventsAfter.all(tenant, sessionId, afterSeq, limit) as Row[]).map((r) => ({
        sessionId: r.session_id as string,
        seq: r.seq as number,
        time: r.time as number,
        name: r.name as SessionEventName,
        data: JSON.parse(r.data as string),
      }));
    },
    usage(tenant: string, day: string): { tokens: number; costUsd: number } {
      const r = q.usage.get(tenant, day) as { tokens: number; cost_usd: number } | null;
      return { tokens: r?.tokens ?? 0, costUsd: r?.cost_usd ?? 0 };
    },
    addUsage(tenant: string, day: string, tokens: number, cost: number): void {
      q.addUsage.run(tenant, day, tokens, cost);
    },
    integration(tenant: string, name: string): IntegrationRow | undefined {
      const r = q.integration.get(tenant, name) as Row | null;
      if (!r) return undefined;
      return { value: JSON.parse(r.value as string), sealed: (r.sealed as string | null) ?? undefined, updatedAt: r.updated_at as number, expiresAt: (r.expires_at as number | null) ?? undefined };
    },
    putIntegration(tenant: string, name: string, row: IntegrationRow): void {
      q.putIntegration.run(tenant, name, JSON.stringify(row.value), row.sealed ?? null, row.updatedAt, row.expiresAt ?? null);
    },
    deleteIntegration(tenant: string, name: string): void {
      q.deleteIntegration.run(tenant, name);
    },
    delivery(tenant: string, id: string): { outcome: number; event: string; action: string; sessionId: string } | undefined {
      const r = q.delivery.get(tenant, id) as Row | null;
      return r ? { outcome: r.outcome as number, event: r.event as string, action: r.action as string, sessionId: r.session_id as string } : undefined;
    },
    setDeliveryOutcome(tenant: string, deliveryId: string, outcome: number, sessionId: string): void {
      q.setOutcome.run(outcome, sessionId, tenant, deliveryId);
    },
    putDelivery(tenant: string, d: { deliveryId: string; event: string; action: string; outcome: number; sessionId: string; receivedAt: number }): void {
      q.putDelivery.run(tenant, d.deliveryId, d.event, d.action, d.outcome, d.sessionId, d.receivedAt);
    },
  };
}

export type AgentStore = ReturnType<typeof createAgentStore>;
