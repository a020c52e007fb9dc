import type { Database as Sqlite } from "bun:sqlite";
import type { Tx } from "../db/dialect.ts";
import { done, type Op } from "../db/op.ts";
import type { Question, Schedule } from "./types.ts";
import type { AnalysisItem, Call, Concept, Diagram, Edge, Conversation, ConversationEvent, Credential, Decision, Deployment, DeploySettings, Message, NextStep, Resource, Run } from "./types.ts";

export type Row = Record<string, any>;

export const scheduleOf = (r: Row): Schedule => ({
  tenant: r.tenant, id: r.id, name: r.name, cron: r.cron, queue: r.queue, type: r.type, payload: r.payload === null ? undefined : JSON.parse(r.payload),
  paused: r.paused === 1, nextRunAt: r.next_run_at ?? undefined, claimedTick: r.claimed_tick ?? undefined, claimedUntil: r.claimed_until ?? undefined, lastRunAt: r.last_run_at ?? undefined, lastTaskId: r.last_task_id, runCount: r.run_count, createdAt: r.created_at,
});


export const callOf = (r: Row): Call => ({
  tenant: r.tenant,
  taskId: r.task_id,
  type: r.type,
  subject: r.subject,
  status: r.status,
  output: r.output === null ? undefined : JSON.parse(r.output),
  error: r.error === null ? undefined : JSON.parse(r.error),
  createdAt: r.created_at,
  finishedAt: r.finished_at ?? undefined,
});
export const stepOf = (r: Row): NextStep => ({
  id: r.id, projectId: r.project_id, title: r.title, description: r.description, rationale: r.rationale, priority: r.priority,
  category: r.category, status: r.status, helpful: r.helpful === null ? undefined : r.helpful === 1, taskId: r.task_id, createdAt: r.created_at, updatedAt: r.updated_at,
});
export const decisionOf = (r: Row): Decision => ({
  id: r.id, projectId: r.project_id, title: r.title, decision: r.decision, rationale: r.rationale, conversationId: r.conversation_id,
  messageId: r.message_id, concepts: JSON.parse(r.concepts), taskId: r.task_id, createdAt: r.created_at,
});
export const conversationOf = (r: Row): Conversation => ({
  id: r.id, projectId: r.project_id, workspaceId: r.workspace_id, title: r.title, manifestHash: r.manifest_hash, status: r.status,
  clearedAt: r.cleared_at, lastSeq: r.last_seq, createdAt: r.created_at, updatedAt: r.updated_at,
});
export const messageOf = (r: Row): Message => ({
  id: r.id, conversationId: r.conversation_id, seq: r.seq, role: r.role, content: r.content, status: r.status, error: r.error,
  changedFiles: JSON.parse(r.changed_files), taskId: r.task_id, createdAt: r.created_at, completedAt: r.completed_at ?? undefined,
});
export const eventOf = (r: Row): ConversationEvent => ({
  conversationId: r.conversation_id, sequence: r.sequence, type: r.type, messageId: r.message_id, data: JSON.parse(r.data), createdAt: r.created_at,
});

export const runOf = (r: Row): Run => ({
  id: r.id, itemId: r.item_id, workspaceId: r.workspace_id, status: r.status, attemptCount: r.attempt_count, maxAttempts: r.max_attempts,
  result: r.result === null ? undefined : JSON.parse(r.result), error: r.error, baseManifestHash: r.base_manifest_hash, resultManifestHash: r.result_manifest_hash,
  taskId: r.task_id, createdAt: r.created_at, updatedAt: r.updated_at, completedAt: r.completed_at ?? undefined,
});
export const credentialOf = (r: Row): Credential => ({
  id: r.id, provider: r.provider, userId: r.user_id, sealed: r.sealed, metadata: JSON.parse(r.metadata), createdAt: r.created_at, updatedAt: r.updated_at,
});
export const deploymentOf = (r: Row): Deployment => ({
  id: r.id, workspaceId: r.workspace_id, projectId: r.project_id, snapshotId: r.snapshot_id, status: r.status, trigger: r.trigger, url: r.url, error: r.error,
  conversationId: r.conversation_id, taskId: r.task_id, tasks: JSON.parse(r.tasks), startedAt: r.started_at, completedAt: r.completed_at ?? undefined,
});
export const resourceOf = (r: Row): Resource => ({
  id: r.id, projectId: r.project_id, type: r.type, provider: r.provider, name: r.name, status: r.status, providerResourceId: r.provider_resource_id,
  sealedConnection: r.connection, envVarKeys: JSON.parse(r.env_var_keys), createdAt: r.created_at, updatedAt: r.updated_at,
});

export const diagramOf = (r: Row): Diagram => ({
  id: r.id, projectId: r.project_id, conceptId: r.concept_id, type: r.type, title: r.title, nodes: JSON.parse(r.nodes), edges: JSON.parse(r.edges), taskId: r.task_id, createdAt: r.created_at,
});

/** The SQLite queries of the insights domain (synchronous; wrapped as operations by `createSqliteInsightsStore`). */
function sqliteQueries(db: Sqlite) {
  const q = (sql: string) => db.query(sql);
  return {
    // ------------------------------------------------------------ calls
    /** Whether the call was written (false: a call with its task id exists). */
    insertCall(c: Call, sealedSecret?: string): boolean {
      return q(`INSERT OR IGNORE INTO ins_calls (tenant, task_id, type, subject, status, secret, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)`).run(c.tenant, c.taskId, c.type, c.subject, sealedSecret ?? null, c.createdAt).changes > 0;
    },
    callSecret(tenant: string, taskId: string): string | undefined {
      const r = q(`SELECT secret FROM ins_calls WHERE tenant = ? AND task_id = ? AND status = 'pending'`).get(tenant, taskId) as Row | null;
      return r?.secret ?? undefined;
    },
    /** The pending call, locked for the rest of the write (PostgreSQL: FOR UPDATE; another instance applying the same task waits, then finds it finished). */
    lockPendingCall(tenant: string, taskId: string): Call | undefined {
      const r = q(`SELECT * FROM ins_calls WHERE tenant = ? AND task_id = ? AND status = 'pending'`).get(tenant, taskId) as Row | null;
      return r ? callOf(r) : undefined;
    },
    getCall(tenant: string, taskId: string): Call | undefined {
      const r = q(`SELECT * FROM ins_calls WHERE tenant = ? AND task_id = ?`).get(tenant, taskId) as Row | null;
      return r ? callOf(r) : undefined;
    },
    finishCall(tenant: string, taskId: string, set: { status: "done" | "failed"; output?: unknown; error?: { reason: string; message: string } }, now: number): boolean {
      const r = q(`UPDATE ins_calls SET status = ?, output = ?, error = ?, secret = NULL, finished_at = ? WHERE tenant = ? AND task_id = ? AND status = 'pending'`).run(
        set.status, set.output === undefined ? null : JSON.stringify(set.output), set.error ? JSON.stringify(set.error) : null, now, tenant, taskId);
      return r.changes > 0;
    },
    pendingCalls(limit: number): Call[] {
      return (q(`SELECT * FROM ins_calls WHERE status = 'pending' ORDER BY created_at LIMIT ?`).all(limit) as Row[]).map(callOf);
    },

    // ------------------------------------------------------------ next steps
    insertNextStep(tenant: string, s: NextStep): void {
      q(`INSERT INTO ins_next_steps (tenant, id, project_id, title, description, rationale, priority, category, status, helpful, task_id, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`).run(tenant, s.id, s.projectId, s.title, s.description, s.rationale, s.priority, s.category, s.status, s.taskId, s.createdAt, s.updatedAt);
    },
    getNextStep(tenant: string, projectId: string, id: string): NextStep | undefined {
      const r = q(`SELECT * FROM ins_next_steps WHERE tenant = ? AND project_id = ? AND id = ?`).get(tenant, projectId, id) as Row | null;
      return r ? stepOf(r) : undefined;
    },
    listNextSteps(tenant: string, projectId: string, status: string, limit: number, offset: number): NextStep[] {
      return (q(`SELECT * FROM ins_next_steps WHERE tenant = ? AND project_id = ? AND status = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`)
        .all(tenant, projectId, status, limit, offset) as Row[]).map(stepOf);
    },
    nextStepsOfTask(tenant: string, taskId: string): NextStep[] {
      return (q(`SELECT * FROM ins_next_steps WHERE tenant = ? AND task_id = ? ORDER BY rowid`).all(tenant, taskId) as Row[]).map(stepOf);
    },
    updateNextStep(tenant: string, projectId: string, id: string, set: { status?: string; helpful?: boolean }, now: number): boolean {
      const r = q(`UPDATE ins_next_steps SET status = coalesce(?, status), helpful = coalesce(?, helpful), updated_at = ? WHERE tenant = ? AND project_id = ? AND id = ?`).run(
        set.status ?? null, set.helpful === undefined ? null : set.helpful ? 1 : 0, now, tenant, projectId, id);
      return r.changes > 0;
    },

    // ------------------------------------------------------------ decisions
    insertDecision(tenant: string, d: Decision): void {
      q(`INSERT INTO ins_decisions (tenant, id, project_id, title, decision, rationale, conversation_id, message_id, concepts, task_id, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(tenant, d.id, d.projectId, d.title, d.decision, d.rationale, d.conversationId, d.messageId, JSON.stringify(d.concepts), d.taskId, d.createdAt);
    },
    listDecisions(tenant: string, projectId: string, limit: number, offset: number): Decision[] {
      return (q(`SELECT * FROM ins_decisions WHERE tenant = ? AND project_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`).all(tenant, projectId, limit, offset) as Row[]).map(decisionOf);
    },
    decisionsOfTask(tenant: string, taskId: string): Decision[] {
      return (q(`SELECT * FROM ins_decisions WHERE tenant = ? AND task_id = ? ORDER BY rowid`).all(tenant, taskId) as Row[]).map(decisionOf);
    },
    /** When the last extraction of a project finished (its conversations since are read next). */
    lastExtraction(tenant: string, projectId: string): number {
      const r = q(`SELECT max(finished_at) AS t FROM ins_calls WHERE tenant = ? AND subject = ? AND type = 'decisions.extract' AND status = 'done'`).get(tenant, projectId) as Row;
      return r.t ?? 0;
    },

    // ------------------------------------------------------------ conversations
    insertConversation(tenant: string, c: Conversation): void {
      q(`INSERT INTO ins_conversations (tenant, id, project_id, workspace_id, title, manifest_hash, status, cleared_at, last_seq, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)`).run(tenant, c.id, c.projectId, c.workspaceId, c.title, c.manifestHash, c.status, c.createdAt, c.updatedAt);
    },
    getConversation(tenant: string, id: string): Conversation | undefined {
      const r = q(`SELECT * FROM ins_conversations WHERE tenant = ? AND id = ?`).get(tenant, id) as Row | null;
      return r ? conversationOf(r) : undefined;
    },
    listConversations(tenant: string, limit: number, offset: number): Conversation[] {
      return (q(`SELECT * FROM ins_conversations WHERE tenant = ? ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`).all(tenant, limit, offset) as Row[]).map(conversationOf);
    },
    conversationsOfProject(tenant: string, projectId: string): Conversation[] {
      return (q(`SELECT * FROM ins_conversations WHERE tenant = ? AND project_id = ? ORDER BY created_at`).all(tenant, projectId) as Row[]).map(conversationOf);
    },
    countConversations(tenant: string): number {
      return (q(`SELECT count(*) AS n FROM ins_conversations WHERE tenant = ?`).get(tenant) as Row).n;
    },
    updateConversation(tenant: string, id: string, set: { title?: string; workspaceId?: string; manifestHash?: string; clearedAt?: number; status?: string }, now: number): void {
      q(`UPDATE ins_conversations SET title = coalesce(?, title), workspace_id = coalesce(?, workspace_id), manifest_hash = coalesce(?, manifest_hash),
        cleared_at = coalesce(?, cleared_at), status = coalesce(?, status), updated_at = ? WHERE tenant = ? AND id = ?`).run(
        set.title ?? null, set.workspaceId ?? null, set.manifestHash ?? null, set.clearedAt ?? null, set.status ?? null, now, tenant, id);
    },
    insertMessage(tenant: string, m: Omit<Message, "seq">): Message {
      const r = q(`SELECT coalesce(max(seq), 0) + 1 AS s FROM ins_messages WHERE tenant = ? AND conversation_id = ?`).get(tenant, m.conversationId) as Row;
      q(`INSERT INTO ins_messages (tenant, id, conversation_id, seq, role, content, status, error, changed_files, task_id, created_at, completed_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(tenant, m.id, m.conversationId, r.s, m.role, m.content, m.status, m.error, JSON.stringify(m.changedFiles), m.taskId, m.createdAt, m.completedAt ?? null);
      return { ...m, seq: r.s };
    },
    getMessage(tenant: string, id: string): Message | undefined {
      const r = q(`SELECT * FROM ins_messages WHERE tenant = ? AND id = ?`).get(tenant, id) as Row | null;
      return r ? messageOf(r) : undefined;
    },
    messageOfTask(tenant: string, taskId: string): Message | undefined {
      const r = q(`SELECT * FROM ins_messages WHERE tenant = ? AND task_id = ? AND role = 'assistant'`).get(tenant, taskId) as Row | null;
      return r ? messageOf(r) : undefined;
    },
    updateMessage(tenant: string, id: string, set: { content?: string; status?: string; error?: string; changedFiles?: string[]; completedAt?: number }): void {
      q(`UPDATE ins_messages SET content = coalesce(?, content), status = coalesce(?, status), error = coalesce(?, error),
        changed_files = coalesce(?, changed_files), completed_at = coalesce(?, completed_at) WHERE tenant = ? AND id = ?`).run(
        set.content ?? null, set.status ?? null, set.error ?? null, set.changedFiles ? JSON.stringify(set.changedFiles) : null, set.completedAt ?? null, tenant, id);
    },
    /** Visible (not cleared) messages, oldest first: the newest `limit` created before `before` (0 = now), and `beforeSeq` (0 = none). */
    listMessages(tenant: string, conversationId: string, limit: number, before: number, beforeSeq: number): Message[] {
      const rows = q(`SELECT * FROM ins_messages WHERE tenant = ? AND conversation_id = ? AND cleared = 0 AND (? = 0 OR created_at < ?) AND (? = 0 OR seq < ?) ORDER BY seq DESC LIMIT ?`)
        .all(tenant, conversationId, before, before, beforeSeq, beforeSeq, limit) as Row[];
      return rows.map(messageOf).reverse();
    },
    messagesSince(tenant: string, conversationId: string, since: number): Message[] {
      return (q(`SELECT * FROM ins_messages WHERE tenant = ? AND conversation_id = ? AND cleared = 0 AND created_at > ? ORDER BY seq`).all(tenant, conversationId, since) as Row[]).map(messageOf);
    },
    countMessages(tenant: string, conversationId: string): number {
      return (q(`SELECT count(*) AS n FROM ins_messages WHERE tenant = ? AND conversation_id = ? AND cleared = 0`).get(tenant, conversationId) as Row).n;
    },
    clearMessages(tenant: string, conversationId: string): number {
      return q(`UPDATE ins_messages SET cleared = 1 WHERE tenant = ? AND conversation_id = ? AND cleared = 0`).run(tenant, conversationId).changes;
    },
    /** Appends an event with the conversation's next sequence. */
    appendEvent(tenant: string, e: Omit<ConversationEvent, "sequence">): ConversationEvent {
      const r = q(`UPDATE ins_conversations SET last_seq = last_seq + 1 WHERE tenant = ? AND id = ? RETURNING last_seq`).get(tenant, e.conversationId) as Row;
      q(`INSERT INTO ins_conversation_events (tenant, conversation_id, sequence, type, message_id, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
        tenant, e.conversationId, r.last_seq, e.type, e.messageId, JSON.stringify(e.data), e.createdAt);
      return { ...e, sequence: r.last_seq };
    },
    eventsAfter(tenant: string, conversationId: string, after: number, limit: number): ConversationEvent[] {
      return (q(`SELECT * FROM ins_conversation_events WHERE tenant = ? AND conversation_id = ? AND sequence > ? ORDER BY sequence LIMIT ?`).all(tenant, conversationId, after, limit) as Row[]).map(eventOf);
    },

    insertQuestion(tenant: string, x: Question): boolean {
      return q(`INSERT OR IGNORE INTO ins_questions (tenant, conversation_id, id, message_id, task_id, questions, status, answers, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, ?)`).run(
        tenant, x.conversationId, x.id, x.messageId, x.taskId, JSON.stringify(x.questions), x.createdAt).changes > 0;
    },
    getQuestion(tenant: string, conversationId: string, id: string): Question | undefined {
      const r = q(`SELECT * FROM ins_questions WHERE tenant = ? AND conversation_id = ? AND id = ?`).get(tenant, conversationId, id) as Row | null;
      return r ? { conversationId: r.conversation_id, id: r.id, messageId: r.message_id, taskId: r.task_id, questions: JSON.parse(r.questions), status: r.status, answers: r.answers === null ? undefined : JSON.parse(r.answers), createdAt: r.created_at } : undefined;
    },
    resolveQuestion(tenant: string, conversationId: string, id: string, status: string, answers: string[][] | undefined): boolean {
      return q(`UPDATE ins_questions SET status = ?, answers = ? WHERE tenant = ? AND conversation_id = ? AND id = ? AND status = 'pending'`).run(
        status, answers === undefined ? null : JSON.stringify(answers), tenant, conversationId, id).changes > 0;
    },
    clearQuestions(tenant: string, conversationId: string): void {
      q(`DELETE FROM ins_questions WHERE tenant = ? AND conversation_id = ?`).run(tenant, conversationId);
    },
    streamingMessages(tenant: string, conversationId: string): number {
      return (q(`SELECT count(*) AS n FROM ins_messages WHERE tenant = ? AND conversation_id = ? AND status = 'streaming'`).get(tenant, conversationId) as Row).n;
    },

    // ------------------------------------------------------------ action items
    dismiss(tenant: string, itemId: string, now: number): void {
      q(`INSERT OR IGNORE INTO ins_dismissals (tenant, item_id, dismissed_at) VALUES (?, ?, ?)`).run(tenant, itemId, now);
    },
    dismissed(tenant: string): Set<string> {
      return new Set((q(`SELECT item_id FROM ins_dismissals WHERE tenant = ?`).all(tenant) as Row[]).map((r) => r.item_id));
    },
    insertActionItem(tenant: string, a: AnalysisItem): void {
      q(`INSERT OR IGNORE INTO ins_action_items (tenant, id, type, severity, workspace_id, project_id, title, description, files, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        tenant, a.id, a.type, a.severity, a.workspaceId, a.projectId, a.title, a.description, JSON.stringify(a.files), a.createdAt);
    },
    actionItems(tenant: string): AnalysisItem[] {
      return (q(`SELECT * FROM ins_action_items WHERE tenant = ? ORDER BY created_at DESC`).all(tenant) as Row[]).map((r) => ({
        id: r.id, type: r.type, severity: r.severity, workspaceId: r.workspace_id, projectId: r.project_id, title: r.title, description: r.description, files: JSON.parse(r.files), createdAt: r.created_at,
      }));
    },
    /** Whether the analysis item exists; locks it for the rest of the write (PostgreSQL: FOR UPDATE; runs of one item start one at a time). */
    lockActionItem(tenant: string, id: string): boolean {
      return q(`SELECT id FROM ins_action_items WHERE tenant = ? AND id = ?`).get(tenant, id) !== null;
    },
    insertRun(tenant: string, r: Run): void {
      q(`INSERT INTO ins_action_runs (tenant, id, item_id, workspace_id, status, attempt_count, max_attempts, result, error, base_manifest_hash, result_manifest_hash, task_id, created_at, updated_at, completed_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, NULL, '', ?, '', ?, ?, ?, NULL)`).run(tenant, r.id, r.itemId, r.workspaceId, r.status, r.attemptCount, r.maxAttempts, r.baseManifestHash, r.taskId, r.createdAt, r.updatedAt);
    },
    getRun(tenant: string, id: string): Run | undefined {
      const r = q(`SELECT * FROM ins_action_runs WHERE tenant = ? AND id = ?`).get(tenant, id) as Row | null;
      return r ? runOf(r) : undefined;
    },
    runOfTask(tenant: string, taskId: string): Run | undefined {
      const r = q(`SELECT * FROM ins_action_runs WHERE tenant = ? AND task_id = ?`).get(tenant, taskId) as Row | null;
      return r ? runOf(r) : undefined;
    },
    runsOfItem(tenant: string, itemId: string, limit: number, offset: number): Run[] {
      return (q(`SELECT * FROM ins_action_runs WHERE tenant = ? AND item_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`).all(tenant, itemId, limit, offset) as Row[]).map(runOf);
    },
    latestRuns(tenant: string): Map<string, string> {
      const rows = q(`SELECT item_id, id FROM ins_action_runs WHERE tenant = ? ORDER BY created_at`).all(tenant) as Row[];
      return new Map(rows.map((r) => [r.item_id, r.id]));
    },
    updateRun(tenant: string, id: string, set: Partial<Pick<Run, "status" | "attemptCount" | "result" | "error" | "resultManifestHash" | "completedAt">>, now: number): void {
      q(`UPDATE ins_action_runs SET status = coalesce(?, status), attempt_count = coalesce(?, attempt_count), result = coalesce(?, result), error = coalesce(?, error),
        result_manifest_hash = coalesce(?, result_manifest_hash), completed_at = coalesce(?, completed_at), updated_at = ? WHERE tenant = ? AND id = ?`).run(
        set.status ?? null, set.attemptCount ?? null, set.result === undefined ? null : JSON.stringify(set.result), set.error ?? null, set.resultManifestHash ?? null, set.completedAt ?? null, now, tenant, id);
    },

    // ------------------------------------------------------------ atlas
    /** Replaces a project's graph (inside one write). */
    replaceAtlas(tenant: string, projectId: string, g: { concepts: Concept[]; edges: Edge[]; snapshotId: string; truncated: boolean }, now: number): void {
      q(`DELETE FROM ins_atlas_concepts WHERE tenant = ? AND project_id = ?`).run(tenant, projectId);
      q(`DELETE FROM ins_atlas_edges WHERE tenant = ? AND project_id = ?`).run(tenant, projectId);
      const c = q(`INSERT INTO ins_atlas_concepts (tenant, project_id, id, name, description, layer, path, parent_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const x of g.concepts) c.run(tenant, projectId, x.id, x.name, x.description, x.layer, x.path, x.parentId, now);
      const e = q(`INSERT OR IGNORE INTO ins_atlas_edges (tenant, project_id, id, source_id, target_id, type, weight) VALUES (?, ?, ?, ?, ?, ?, ?)`);
      for (const x of g.edges) e.run(tenant, projectId, x.id, x.sourceId, x.targetId, x.type, x.weight);
      q(`INSERT INTO ins_atlas_index (tenant, project_id, snapshot_id, concepts, edges, truncated, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (tenant, project_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, concepts = excluded.concepts, edges = excluded.edges, truncated = excluded.truncated, indexed_at = excluded.indexed_at`).run(
        tenant, projectId, g.snapshotId, g.concepts.length, g.edges.length, g.truncated ? 1 : 0, now);
    },
    atlasIndex(tenant: string, projectId: string): { snapshotId: string; concepts: number; edges: number; truncated: boolean } | undefined {
      const r = q(`SELECT * FROM ins_atlas_index WHERE tenant = ? AND project_id = ?`).get(tenant, projectId) as Row | null;
      return r ? { snapshotId: r.snapshot_id, concepts: r.concepts, edges: r.edges, truncated: r.truncated === 1 } : undefined;
    },
    concepts(tenant: string, projectId: string): Concept[] {
      return (q(`SELECT * FROM ins_atlas_concepts WHERE tenant = ? AND project_id = ? ORDER BY rowid`).all(tenant, projectId) as Row[]).map((r) => ({
        id: r.id, name: r.name, description: r.description, layer: r.layer, path: r.path, parentId: r.parent_id, updatedAt: r.updated_at,
      }));
    },
    edges(tenant: string, projectId: string): Edge[] {
      return (q(`SELECT * FROM ins_atlas_edges WHERE tenant = ? AND project_id = ? ORDER BY rowid`).all(tenant, projectId) as Row[]).map((r) => ({
        id: r.id, sourceId: r.source_id, targetId: r.target_id, type: r.type, weight: r.weight,
      }));
    },
    insertDiagram(tenant: string, x: Diagram): void {
      q(`INSERT INTO ins_diagrams (tenant, id, project_id, concept_id, type, title, nodes, edges, task_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        tenant, x.id, x.projectId, x.conceptId, x.type, x.title, JSON.stringify(x.nodes), JSON.stringify(x.edges), x.taskId, x.createdAt);
    },
    diagramOfTask(tenant: string, taskId: string): Diagram | undefined {
      const r = q(`SELECT * FROM ins_diagrams WHERE tenant = ? AND task_id = ?`).get(tenant, taskId) as Row | null;
      return r ? diagramOf(r) : undefined;
    },
    listDiagrams(tenant: string, projectId: string, limit: number, offset: number): Diagram[] {
      return (q(`SELECT * FROM ins_diagrams WHERE tenant = ? AND project_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`).all(tenant, projectId, limit, offset) as Row[]).map(diagramOf);
    },

    // ------------------------------------------------------------ infrastructure
    upsertCredential(tenant: string, c: Credential): void {
      q(`INSERT INTO ins_credentials (tenant, provider, id, user_id, sealed, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (tenant, provider) DO UPDATE SET sealed = excluded.sealed, metadata = excluded.metadata, user_id = excluded.user_id, updated_at = excluded.updated_at`).run(
        tenant, c.provider, c.id, c.userId, c.sealed, JSON.stringify(c.metadata), c.createdAt, c.updatedAt);
    },
    getCredential(tenant: string, provider: string): Credential | undefined {
      const r = q(`SELECT * FROM ins_credentials WHERE tenant = ? AND provider = ?`).get(tenant, provider) as Row | null;
      return r ? credentialOf(r) : undefined;
    },
    listCredentials(tenant: string): Credential[] {
      return (q(`SELECT * FROM ins_credentials WHERE tenant = ? ORDER BY provider`).all(tenant) as Row[]).map(credentialOf);
    },
    deleteCredential(tenant: string, provider: string): boolean {
      return q(`DELETE FROM ins_credentials WHERE tenant = ? AND provider = ?`).run(tenant, provider).changes > 0;
    },
    getSettings(tenant: string, workspaceId: string): DeploySettings | undefined {
      const r = q(`SELECT * FROM ins_deploy_settings WHERE tenant = ? AND workspace_id = ?`).get(tenant, workspaceId) as Row | null;
      return r ? { workspaceId: r.workspace_id, autoDeploy: r.auto_deploy === 1, runtimeOverride: r.runtime_override, buildCommand: r.build_command, startCommand: r.start_command, updatedAt: r.updated_at } : undefined;
    },
    putSettings(tenant: string, s: DeploySettings): void {
      q(`INSERT INTO ins_deploy_settings (tenant, workspace_id, auto_deploy, runtime_override, build_command, start_command, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (tenant, workspace_id) DO UPDATE SET auto_deploy = excluded.auto_deploy, runtime_override = excluded.runtime_override, build_command = excluded.build_command,
        start_command = excluded.start_command, updated_at = excluded.updated_at`).run(tenant, s.workspaceId, s.autoDeploy ? 1 : 0, s.runtimeOverride, s.buildCommand, s.startCommand, s.updatedAt);
    },
    insertDeployment(tenant: string, x: Deployment, requestId: string | null): void {
      q(`INSERT INTO ins_deployments (tenant, id, workspace_id, project_id, snapshot_id, status, trigger, url, error, conversation_id, task_id, tasks, request_id, started_at, completed_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, ?, ?, ?, NULL)`).run(tenant, x.id, x.workspaceId, x.projectId, x.snapshotId, x.status, x.trigger, x.conversationId, x.taskId, JSON.stringify(x.tasks), requestId, x.startedAt);
    },
    /** The deployment, locked for the rest of the write (PostgreSQL: FOR UPDATE; its status moves one writer at a time). */
    lockDeployment(tenant: string, id: string): Deployment | undefined {
      const r = q(`SELECT * FROM ins_deployments WHERE tenant = ? AND id = ?`).get(tenant, id) as Row | null;
      return r ? deploymentOf(r) : undefined;
    },
    getDeployment(tenant: string, id: string): Deployment | undefined {
      const r = q(`SELECT * FROM ins_deployments WHERE tenant = ? AND id = ?`).get(tenant, id) as Row | null;
      return r ? deploymentOf(r) : undefined;
    },
    deploymentByRequest(tenant: string, requestId: string): Deployment | undefined {
      const r = q(`SELECT * FROM ins_deployments WHERE tenant = ? AND request_id = ?`).get(tenant, requestId) as Row | null;
      return r ? deploymentOf(r) : undefined;
    },
    listDeployments(tenant: string, workspaceId: string, limit: number, offset: number): Deployment[] {
      return (q(`SELECT * FROM ins_deployments WHERE tenant = ? AND workspace_id = ? ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?`).all(tenant, workspaceId, limit, offset) as Row[]).map(deploymentOf);
    },
    deploymentsOfConversation(tenant: string, conversationId: string, limit: number, offset: number): Deployment[] {
      return (q(`SELECT * FROM ins_deployments WHERE tenant = ? AND conversation_id = ? ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?`).all(tenant, conversationId, limit, offset) as Row[]).map(deploymentOf);
    },
    failedDeployments(tenant: string): Deployment[] {
      return (q(`SELECT * FROM ins_deployments WHERE tenant = ? AND status = 'failed' ORDER BY started_at DESC LIMIT 1000`).all(tenant) as Row[]).map(deploymentOf);
    },
    updateDeployment(tenant: string, id: string, set: { status?: string; url?: string; error?: string; completedAt?: number }): void {
      q(`UPDATE ins_deployments SET status = coalesce(?, status), url = coalesce(?, url), error = coalesce(?, error), completed_at = coalesce(?, completed_at) WHERE tenant = ? AND id = ?`).run(
        set.status ?? null, set.url ?? null, set.error ?? null, set.completedAt ?? null, tenant, id);
    },
    insertResource(tenant: string, r: Resource): void {
      q(`INSERT INTO ins_resources (tenant, id, project_id, type, provider, name, status, provider_resource_id, connection, env_var_keys, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        tenant, r.id, r.projectId, r.type, r.provider, r.name, r.status, r.providerResourceId, r.sealedConnection, JSON.stringify(r.envVarKeys), r.createdAt, r.updatedAt);
    },
    getResource(tenant: string, projectId: string, id: string): Resource | undefined {
      const r = q(`SELECT * FROM ins_resources WHERE tenant = ? AND project_id = ? AND id = ?`).get(tenant, projectId, id) as Row | null;
      return r ? resourceOf(r) : undefined;
    },
    listResources(tenant: string, projectId: string, limit: number, offset: number): Resource[] {
      return (q(`SELECT * FROM ins_resources WHERE tenant = ? AND project_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`).all(tenant, projectId, limit, offset) as Row[]).map(resourceOf);
    },
    setResourceStatus(tenant: string, id: string, status: string, now: number): void {
      q(`UPDATE ins_resources SET status = ?, updated_at = ? WHERE tenant = ? AND id = ?`).run(status, now, tenant, id);
    },
    deleteResource(tenant: string, id: string): void {
      q(`DELETE FROM ins_resources WHERE tenant = ? AND id = ?`).run(tenant, id);
    },

    // ------------------------------------------------------------ schedules (table ins_schedules)
    insertSchedule(s: Schedule, requestId: string | null): void {
      q(`INSERT INTO ins_schedules (tenant, id, name, cron, queue, type, payload, paused, next_run_at, last_run_at, last_task_id, run_count, request_id, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, '', 0, ?, ?)`).run(s.tenant, s.id, s.name, s.cron, s.queue, s.type, s.payload === undefined ? null : JSON.stringify(s.payload), s.nextRunAt ?? null, requestId, s.createdAt);
    },
    getSchedule(tenant: string, id: string): Schedule | undefined {
      const r = q(`SELECT * FROM ins_schedules WHERE tenant = ? AND id = ?`).get(tenant, id) as Row | null;
      return r ? scheduleOf(r) : undefined;
    },
    scheduleByName(tenant: string, name: string): Schedule | undefined {
      const r = q(`SELECT * FROM ins_schedules WHERE tenant = ? AND name = ?`).get(tenant, name) as Row | null;
      return r ? scheduleOf(r) : undefined;
    },
    scheduleByRequest(tenant: string, requestId: string): Schedule | undefined {
      const r = q(`SELECT * FROM ins_schedules WHERE tenant = ? AND request_id = ?`).get(tenant, requestId) as Row | null;
      return r ? scheduleOf(r) : undefined;
    },
    countSchedules(tenant: string): number {
      return (q(`SELECT count(*) AS n FROM ins_schedules WHERE tenant = ?`).get(tenant) as Row).n;
    },
    listSchedules(tenant: string, limit: number, offset: number): Schedule[] {
      return (q(`SELECT * FROM ins_schedules WHERE tenant = ? ORDER BY name LIMIT ? OFFSET ?`).all(tenant, limit, offset) as Row[]).map(scheduleOf);
    },
    /** Schedules with a tick to run: unclaimed and due, or claimed by a pass whose claim ran out (a crashed or failed one). */
    dueSchedules(now: number, limit: number): Schedule[] {
      return (q(`SELECT * FROM ins_schedules WHERE paused = 0 AND ((claimed_tick IS NULL AND next_run_at IS NOT NULL AND next_run_at <= ?1) OR (claimed_tick IS NOT NULL AND claimed_until <= ?1))
        ORDER BY coalesce(claimed_tick, next_run_at) LIMIT ?2`).all(now, limit) as Row[]).map(scheduleOf);
    },
    setSchedulePaused(tenant: string, id: string, paused: boolean, nextRunAt: number | null): void {
      q(`UPDATE ins_schedules SET paused = ?, next_run_at = ? WHERE tenant = ? AND id = ?`).run(paused ? 1 : 0, nextRunAt, tenant, id);
    },
    /**
     * Claims the due tick `tick` (the conditional write that makes one pass of one instance the
     * tick's only runner): moves to `next` and holds the tick until `until`. False: another pass
     * claimed it first, or the schedule changed (paused, deleted, already moved on).
     */
    claimTick(tenant: string, id: string, tick: number, next: number | null, until: number): boolean {
      return q(`UPDATE ins_schedules SET next_run_at = ?, claimed_tick = ?, claimed_until = ? WHERE tenant = ? AND id = ? AND paused = 0 AND claimed_tick IS NULL AND next_run_at = ?`).run(
        next, tick, until, tenant, id, tick).changes > 0;
    },
    /** Takes over a claimed tick whose claim ran out (still at `tick` held until `was`). */
    reclaimTick(tenant: string, id: string, tick: number, was: number, until: number): boolean {
      return q(`UPDATE ins_schedules SET claimed_until = ? WHERE tenant = ? AND id = ? AND paused = 0 AND claimed_tick = ? AND claimed_until = ?`).run(until, tenant, id, tick, was).changes > 0;
    },
    /** Gives a claimed tick up at once (its task was refused): the next pass retries it. */
    releaseTick(tenant: string, id: string, tick: number): void {
      q(`UPDATE ins_schedules SET claimed_until = 0 WHERE tenant = ? AND id = ? AND claimed_tick = ?`).run(tenant, id, tick);
    },
    /** Records the claimed tick's task (counted even when paused meanwhile) and ends the claim. */
    scheduleRan(tenant: string, id: string, tick: number, taskId: string, now: number): boolean {
      return q(`UPDATE ins_schedules SET last_run_at = ?, last_task_id = ?, run_count = run_count + 1, claimed_tick = NULL, claimed_until = NULL WHERE tenant = ? AND id = ? AND claimed_tick = ?`).run(
        now, taskId, tenant, id, tick).changes > 0;
    },
    deleteSchedule(tenant: string, id: string): boolean {
      return q(`DELETE FROM ins_schedules WHERE tenant = ? AND id = ?`).run(tenant, id).changes > 0;
    },
  };
}

type Queries = ReturnType<typeof sqliteQueries>;

/** All SQL of the insights domain, once per dialect: every method is an operation over a `Tx`. */
export type InsightsStore = { [K in keyof Queries]: (tx: Tx, ...args: Parameters<Queries[K]>) => Op<ReturnType<Queries[K]>> };

/** The SQLite store: the prepared queries above, answering synchronously. */
export function createSqliteInsightsStore(db: Sqlite): InsightsStore {
  const sync = sqliteQueries(db) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const store: Record<string, (tx: Tx, ...args: unknown[]) => Op<unknown>> = {};
  for (const [name, f] of Object.entries(sync)) store[name] = (_tx, ...args) => done(f(...args));
  return store as unknown as InsightsStore;
}
