import { intColumns, type PgTx, type Tx } from "../db/dialect.ts";
import { step, type Op } from "../db/op.ts";
import {
  callOf, conversationOf, credentialOf, decisionOf, deploymentOf, diagramOf, eventOf, messageOf, resourceOf, runOf, scheduleOf, stepOf,
  type InsightsStore, type Row,
} from "./store.ts";
import type { ConversationEvent, Message } from "./types.ts";

/** Columns that PostgreSQL holds as int8 (Bun's driver answers them as strings). */
const INTS = [
  "created_at", "updated_at", "finished_at", "completed_at", "started_at", "seq", "sequence", "last_seq", "cleared_at", "next_run_at", "last_run_at",
  "run_count", "indexed_at", "dismissed_at", "claimed_tick", "claimed_until", "n", "t", "s", "rowid",
] as const;

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

/**
 * The PostgreSQL store: the twin of every query of `store.ts`, over the operation's `Tx`
 * (`$n` parameters; `ON CONFLICT DO NOTHING` for `INSERT OR IGNORE`; `RETURNING` for `changes`;
 * text ordered `COLLATE "C"` like SQLite's binary order; an identity `rowid` where SQLite's
 * rowid ordered rows). Rows map through the same functions as on SQLite.
 */
export function createPgInsightsStore(): InsightsStore {
  function* all(tx: Tx, sql: string, args: unknown[] = []): Op<Row[]> {
    const rows = (yield* step((tx as PgTx).sql.unsafe(sql, args as never[]))) as Row[];
    return intColumns([...rows], INTS);
  }
  function* one(tx: Tx, sql: string, args: unknown[] = []): Op<Row | undefined> {
    return (yield* all(tx, sql, args))[0];
  }
  function* count(tx: Tx, sql: string, args: unknown[] = []): Op<number> {
    return (yield* all(tx, sql, args)).length;
  }
  const map = <T>(f: (r: Row) => T) =>
    function* (rows: Op<Row[]>): Op<T[]> {
      return (yield* rows).map(f);
    };
  const maybe = <T>(f: (r: Row) => T) =>
    function* (row: Op<Row | undefined>): Op<T | undefined> {
      const r = yield* row;
      return r ? f(r) : undefined;
    };

  const store: InsightsStore = {
    // ------------------------------------------------------------ calls
    *insertCall(tx, c, sealedSecret) {
      return (
        (yield* count(tx, `INSERT INTO ins_calls (tenant, task_id, type, subject, status, secret, created_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6) ON CONFLICT DO NOTHING RETURNING task_id`, [
          c.tenant, c.taskId, c.type, c.subject, sealedSecret ?? null, c.createdAt,
        ])) > 0
      );
    },
    *callSecret(tx, tenant, taskId) {
      const r = yield* one(tx, `SELECT secret FROM ins_calls WHERE tenant = $1 AND task_id = $2 AND status = 'pending'`, [tenant, taskId]);
      return r?.secret ?? undefined;
    },
    lockPendingCall: (tx, tenant, taskId) => maybe(callOf)(one(tx, `SELECT * FROM ins_calls WHERE tenant = $1 AND task_id = $2 AND status = 'pending' FOR UPDATE`, [tenant, taskId])),
    getCall: (tx, tenant, taskId) => maybe(callOf)(one(tx, `SELECT * FROM ins_calls WHERE tenant = $1 AND task_id = $2`, [tenant, taskId])),
    *finishCall(tx, tenant, taskId, set, now) {
      return (
        (yield* count(tx, `UPDATE ins_calls SET status = $1, output = $2, error = $3, secret = NULL, finished_at = $4 WHERE tenant = $5 AND task_id = $6 AND status = 'pending' RETURNING task_id`, [
          set.status, json(set.output), set.error ? JSON.stringify(set.error) : null, now, tenant, taskId,
        ])) > 0
      );
    },
    pendingCalls: (tx, limit) => map(callOf)(all(tx, `SELECT * FROM ins_calls WHERE status = 'pending' ORDER BY created_at LIMIT ${Number(limit)}`)),

    // ------------------------------------------------------------ next steps
    *insertNextStep(tx, tenant, s) {
      yield* all(tx, `INSERT INTO ins_next_steps (tenant, id, project_id, title, description, rationale, priority, category, status, helpful, task_id, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, $12)`, [tenant, s.id, s.projectId, s.title, s.description, s.rationale, s.priority, s.category, s.status, s.taskId, s.createdAt, s.updatedAt]);
    },
    getNextStep: (tx, tenant, projectId, id) => maybe(stepOf)(one(tx, `SELECT * FROM ins_next_steps WHERE tenant = $1 AND project_id = $2 AND id = $3`, [tenant, projectId, id])),
    listNextSteps: (tx, tenant, projectId, status, limit, offset) =>
      map(stepOf)(all(tx, `SELECT * FROM ins_next_steps WHERE tenant = $1 AND project_id = $2 AND status = $3 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant, projectId, status])),
    nextStepsOfTask: (tx, tenant, taskId) => map(stepOf)(all(tx, `SELECT * FROM ins_next_steps WHERE tenant = $1 AND task_id = $2 ORDER BY rowid`, [tenant, taskId])),
    *updateNextStep(tx, tenant, projectId, id, set, now) {
      return (
        (yield* count(tx, `UPDATE ins_next_steps SET status = coalesce($1, status), helpful = coalesce($2::integer, helpful), updated_at = $3 WHERE tenant = $4 AND project_id = $5 AND id = $6 RETURNING id`, [
          set.status ?? null, set.helpful === undefined ? null : set.helpful ? 1 : 0, now, tenant, projectId, id,
        ])) > 0
      );
    },

    // ------------------------------------------------------------ decisions
    *insertDecision(tx, tenant, d) {
      yield* all(tx, `INSERT INTO ins_decisions (tenant, id, project_id, title, decision, rationale, conversation_id, message_id, concepts, task_id, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [tenant, d.id, d.projectId, d.title, d.decision, d.rationale, d.conversationId, d.messageId, JSON.stringify(d.concepts), d.taskId, d.createdAt]);
    },
    listDecisions: (tx, tenant, projectId, limit, offset) =>
      map(decisionOf)(all(tx, `SELECT * FROM ins_decisions WHERE tenant = $1 AND project_id = $2 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant, projectId])),
    decisionsOfTask: (tx, tenant, taskId) => map(decisionOf)(all(tx, `SELECT * FROM ins_decisions WHERE tenant = $1 AND task_id = $2 ORDER BY rowid`, [tenant, taskId])),
    *lastExtraction(tx, tenant, projectId) {
      const r = yield* one(tx, `SELECT max(finished_at) AS t FROM ins_calls WHERE tenant = $1 AND subject = $2 AND type = 'decisions.extract' AND status = 'done'`, [tenant, projectId]);
      return (r?.t as number | null) ?? 0;
    },

    // ------------------------------------------------------------ conversations
    *insertConversation(tx, tenant, c) {
      yield* all(tx, `INSERT INTO ins_conversations (tenant, id, project_id, workspace_id, title, manifest_hash, status, cleared_at, last_seq, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, $9)`, [tenant, c.id, c.projectId, c.workspaceId, c.title, c.manifestHash, c.status, c.createdAt, c.updatedAt]);
    },
    getConversation: (tx, tenant, id) => maybe(conversationOf)(one(tx, `SELECT * FROM ins_conversations WHERE tenant = $1 AND id = $2`, [tenant, id])),
    listConversations: (tx, tenant, limit, offset) =>
      map(conversationOf)(all(tx, `SELECT * FROM ins_conversations WHERE tenant = $1 ORDER BY updated_at DESC, id COLLATE "C" DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant])),
    conversationsOfProject: (tx, tenant, projectId) => map(conversationOf)(all(tx, `SELECT * FROM ins_conversations WHERE tenant = $1 AND project_id = $2 ORDER BY created_at`, [tenant, projectId])),
    *countConversations(tx, tenant) {
      return ((yield* one(tx, `SELECT count(*)::int8 AS n FROM ins_conversations WHERE tenant = $1`, [tenant]))!.n as number);
    },
    *updateConversation(tx, tenant, id, set, now) {
      yield* all(tx, `UPDATE ins_conversations SET title = coalesce($1, title), workspace_id = coalesce($2, workspace_id), manifest_hash = coalesce($3, manifest_hash),
        cleared_at = coalesce($4::int8, cleared_at), status = coalesce($5, status), updated_at = $6 WHERE tenant = $7 AND id = $8`, [
        set.title ?? null, set.workspaceId ?? null, set.manifestHash ?? null, set.clearedAt ?? null, set.status ?? null, now, tenant, id,
      ]);
    },
    *insertMessage(tx, tenant, m) {
      // The conversation's row is locked first: two instances adding messages to one conversation take turns for `seq`.
      yield* all(tx, `SELECT 1 FROM ins_conversations WHERE tenant = $1 AND id = $2 FOR UPDATE`, [tenant, m.conversationId]);
      const r = (yield* one(tx, `SELECT coalesce(max(seq), 0) + 1 AS s FROM ins_messages WHERE tenant = $1 AND conversation_id = $2`, [tenant, m.conversationId]))!;
      yield* all(tx, `INSERT INTO ins_messages (tenant, id, conversation_id, seq, role, content, status, error, changed_files, task_id, created_at, completed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
        tenant, m.id, m.conversationId, r.s, m.role, m.content, m.status, m.error, JSON.stringify(m.changedFiles), m.taskId, m.createdAt, m.completedAt ?? null,
      ]);
      return { ...m, seq: r.s as number } as Message;
    },
    getMessage: (tx, tenant, id) => maybe(messageOf)(one(tx, `SELECT * FROM ins_messages WHERE tenant = $1 AND id = $2`, [tenant, id])),
    messageOfTask: (tx, tenant, taskId) => maybe(messageOf)(one(tx, `SELECT * FROM ins_messages WHERE tenant = $1 AND task_id = $2 AND role = 'assistant'`, [tenant, taskId])),
    *updateMessage(tx, tenant, id, set) {
      yield* all(tx, `UPDATE ins_messages SET content = coalesce($1, content), status = coalesce($2, status), error = coalesce($3, error),
        changed_files = coalesce($4, changed_files), completed_at = coalesce($5::int8, completed_at) WHERE tenant = $6 AND id = $7`, [
        set.content ?? null, set.status ?? null, set.error ?? null, set.changedFiles ? JSON.stringify(set.changedFiles) : null, set.completedAt ?? null, tenant, id,
      ]);
    },
    *listMessages(tx, tenant, conversationId, limit, before, beforeSeq) {
      const rows = yield* all(tx, `SELECT * FROM ins_messages WHERE tenant = $1 AND conversation_id = $2 AND cleared = 0 AND ($3::int8 = 0 OR created_at < $3::int8) AND ($4::int8 = 0 OR seq < $4::int8)
        ORDER BY seq DESC LIMIT ${Number(limit)}`, [tenant, conversationId, before, beforeSeq]);
      return rows.map(messageOf).reverse();
    },
    messagesSince: (tx, tenant, conversationId, since) =>
      map(messageOf)(all(tx, `SELECT * FROM ins_messages WHERE tenant = $1 AND conversation_id = $2 AND cleared = 0 AND created_at > $3 ORDER BY seq`, [tenant, conversationId, since])),
    *countMessages(tx, tenant, conversationId) {
      return ((yield* one(tx, `SELECT count(*)::int8 AS n FROM ins_messages WHERE tenant = $1 AND conversation_id = $2 AND cleared = 0`, [tenant, conversationId]))!.n as number);
    },
    clearMessages: (tx, tenant, conversationId) => count(tx, `UPDATE ins_messages SET cleared = 1 WHERE tenant = $1 AND conversation_id = $2 AND cleared = 0 RETURNING id`, [tenant, conversationId]),
    *appendEvent(tx, tenant, e) {
      const r = (yield* one(tx, `UPDATE ins_conversations SET last_seq = last_seq + 1 WHERE tenant = $1 AND id = $2 RETURNING last_seq`, [tenant, e.conversationId]))!;
      yield* all(tx, `INSERT INTO ins_conversation_events (tenant, conversation_id, sequence, type, message_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
        tenant, e.conversationId, r.last_seq, e.type, e.messageId, JSON.stringify(e.data), e.createdAt,
      ]);
      return { ...e, sequence: r.last_seq as number } as ConversationEvent;
    },
    eventsAfter: (tx, tenant, conversationId, after, limit) =>
      map(eventOf)(all(tx, `SELECT * FROM ins_conversation_events WHERE tenant = $1 AND conversation_id = $2 AND sequence > $3 ORDER BY sequence LIMIT ${Number(limit)}`, [tenant, conversationId, after])),

    *insertQuestion(tx, tenant, x) {
      return (
        (yield* count(tx, `INSERT INTO ins_questions (tenant, conversation_id, id, message_id, task_id, questions, status, answers, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', NULL, $7)
          ON CONFLICT DO NOTHING RETURNING id`, [tenant, x.conversationId, x.id, x.messageId, x.taskId, JSON.stringify(x.questions), x.createdAt])) > 0
      );
    },
    *getQuestion(tx, tenant, conversationId, id) {
      const r = yield* one(tx, `SELECT * FROM ins_questions WHERE tenant = $1 AND conversation_id = $2 AND id = $3`, [tenant, conversationId, id]);
      return r
        ? { conversationId: r.conversation_id, id: r.id, messageId: r.message_id, taskId: r.task_id, questions: JSON.parse(r.questions), status: r.status, answers: r.answers === null ? undefined : JSON.parse(r.answers), createdAt: r.created_at }
        : undefined;
    },
    *resolveQuestion(tx, tenant, conversationId, id, status, answers) {
      return (
        (yield* count(tx, `UPDATE ins_questions SET status = $1, answers = $2 WHERE tenant = $3 AND conversation_id = $4 AND id = $5 AND status = 'pending' RETURNING id`, [
          status, answers === undefined ? null : JSON.stringify(answers), tenant, conversationId, id,
        ])) > 0
      );
    },
    *clearQuestions(tx, tenant, conversationId) {
      yield* all(tx, `DELETE FROM ins_questions WHERE tenant = $1 AND conversation_id = $2`, [tenant, conversationId]);
    },
    *streamingMessages(tx, tenant, conversationId) {
      return ((yield* one(tx, `SELECT count(*)::int8 AS n FROM ins_messages WHERE tenant = $1 AND conversation_id = $2 AND status = 'streaming'`, [tenant, conversationId]))!.n as number);
    },

    // ------------------------------------------------------------ action items
    *dismiss(tx, tenant, itemId, now) {
      yield* all(tx, `INSERT INTO ins_dismissals (tenant, item_id, dismissed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [tenant, itemId, now]);
    },
    *dismissed(tx, tenant) {
      return new Set((yield* all(tx, `SELECT item_id FROM ins_dismissals WHERE tenant = $1`, [tenant])).map((r) => r.item_id as string));
    },
    *insertActionItem(tx, tenant, a) {
      yield* all(tx, `INSERT INTO ins_action_items (tenant, id, type, severity, workspace_id, project_id, title, description, files, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT DO NOTHING`, [tenant, a.id, a.type, a.severity, a.workspaceId, a.projectId, a.title, a.description, JSON.stringify(a.files), a.createdAt]);
    },
    *actionItems(tx, tenant) {
      return (yield* all(tx, `SELECT * FROM ins_action_items WHERE tenant = $1 ORDER BY created_at DESC`, [tenant])).map((r) => ({
        id: r.id, type: r.type, severity: r.severity, workspaceId: r.workspace_id, projectId: r.project_id, title: r.title, description: r.description, files: JSON.parse(r.files), createdAt: r.created_at,
      }));
    },
    *lockActionItem(tx, tenant, id) {
      return (yield* count(tx, `SELECT id FROM ins_action_items WHERE tenant = $1 AND id = $2 FOR UPDATE`, [tenant, id])) > 0;
    },
    *insertRun(tx, tenant, r) {
      yield* all(tx, `INSERT INTO ins_action_runs (tenant, id, item_id, workspace_id, status, attempt_count, max_attempts, result, error, base_manifest_hash, result_manifest_hash, task_id, created_at, updated_at, completed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '', $8, '', $9, $10, $11, NULL)`, [tenant, r.id, r.itemId, r.workspaceId, r.status, r.attemptCount, r.maxAttempts, r.baseManifestHash, r.taskId, r.createdAt, r.updatedAt]);
    },
    getRun: (tx, tenant, id) => maybe(runOf)(one(tx, `SELECT * FROM ins_action_runs WHERE tenant = $1 AND id = $2`, [tenant, id])),
    runOfTask: (tx, tenant, taskId) => maybe(runOf)(one(tx, `SELECT * FROM ins_action_runs WHERE tenant = $1 AND task_id = $2`, [tenant, taskId])),
    runsOfItem: (tx, tenant, itemId, limit, offset) =>
      map(runOf)(all(tx, `SELECT * FROM ins_action_runs WHERE tenant = $1 AND item_id = $2 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant, itemId])),
    *latestRuns(tx, tenant) {
      const rows = yield* all(tx, `SELECT item_id, id FROM ins_action_runs WHERE tenant = $1 ORDER BY created_at`, [tenant]);
      return new Map(rows.map((r) => [r.item_id as string, r.id as string]));
    },
    *updateRun(tx, tenant, id, set, now) {
      yield* all(tx, `UPDATE ins_action_runs SET status = coalesce($1, status), attempt_count = coalesce($2::integer, attempt_count), result = coalesce($3, result), error = coalesce($4, error),
        result_manifest_hash = coalesce($5, result_manifest_hash), completed_at = coalesce($6::int8, completed_at), updated_at = $7 WHERE tenant = $8 AND id = $9`, [
        set.status ?? null, set.attemptCount ?? null, set.result === undefined ? null : JSON.stringify(set.result), set.error ?? null, set.resultManifestHash ?? null, set.completedAt ?? null, now, tenant, id,
      ]);
    },

    // ------------------------------------------------------------ atlas
    *replaceAtlas(tx, tenant, projectId, g, now) {
      yield* all(tx, `DELETE FROM ins_atlas_concepts WHERE tenant = $1 AND project_id = $2`, [tenant, projectId]);
      yield* all(tx, `DELETE FROM ins_atlas_edges WHERE tenant = $1 AND project_id = $2`, [tenant, projectId]);
      // Up to 5000 concepts and 20,000 edges: one multi-row insert per chunk (in order, so `rowid` keeps the order).
      for (let i = 0; i < g.concepts.length; i += 500) {
        const chunk = g.concepts.slice(i, i + 500);
        const args: unknown[] = [];
        const values = chunk.map((x) => {
          args.push(tenant, projectId, x.id, x.name, x.description, x.layer, x.path, x.parentId, now);
          const b = args.length - 9;
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`;
        });
        yield* all(tx, `INSERT INTO ins_atlas_concepts (tenant, project_id, id, name, description, layer, path, parent_id, updated_at) VALUES ${values.join(", ")}`, args);
      }
      for (let i = 0; i < g.edges.length; i += 1000) {
        const chunk = g.edges.slice(i, i + 1000);
        const args: unknown[] = [];
        const values = chunk.map((x) => {
          args.push(tenant, projectId, x.id, x.sourceId, x.targetId, x.type, x.weight);
          const b = args.length - 7;
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}::float8)`;
        });
        yield* all(tx, `INSERT INTO ins_atlas_edges (tenant, project_id, id, source_id, target_id, type, weight) VALUES ${values.join(", ")} ON CONFLICT DO NOTHING`, args);
      }
      yield* all(tx, `INSERT INTO ins_atlas_index (tenant, project_id, snapshot_id, concepts, edges, truncated, indexed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (tenant, project_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, concepts = excluded.concepts, edges = excluded.edges, truncated = excluded.truncated, indexed_at = excluded.indexed_at`, [
        tenant, projectId, g.snapshotId, g.concepts.length, g.edges.length, g.truncated ? 1 : 0, now,
      ]);
    },
    *atlasIndex(tx, tenant, projectId) {
      const r = yield* one(tx, `SELECT * FROM ins_atlas_index WHERE tenant = $1 AND project_id = $2`, [tenant, projectId]);
      return r ? { snapshotId: r.snapshot_id, concepts: r.concepts, edges: r.edges, truncated: r.truncated === 1 } : undefined;
    },
    *concepts(tx, tenant, projectId) {
      return (yield* all(tx, `SELECT * FROM ins_atlas_concepts WHERE tenant = $1 AND project_id = $2 ORDER BY rowid`, [tenant, projectId])).map((r) => ({
        id: r.id, name: r.name, description: r.description, layer: r.layer, path: r.path, parentId: r.parent_id, updatedAt: r.updated_at,
      }));
    },
    *edges(tx, tenant, projectId) {
      return (yield* all(tx, `SELECT * FROM ins_atlas_edges WHERE tenant = $1 AND project_id = $2 ORDER BY rowid`, [tenant, projectId])).map((r) => ({
        id: r.id, sourceId: r.source_id, targetId: r.target_id, type: r.type, weight: r.weight,
      }));
    },
    *insertDiagram(tx, tenant, x) {
      yield* all(tx, `INSERT INTO ins_diagrams (tenant, id, project_id, concept_id, type, title, nodes, edges, task_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
        tenant, x.id, x.projectId, x.conceptId, x.type, x.title, JSON.stringify(x.nodes), JSON.stringify(x.edges), x.taskId, x.createdAt,
      ]);
    },
    diagramOfTask: (tx, tenant, taskId) => maybe(diagramOf)(one(tx, `SELECT * FROM ins_diagrams WHERE tenant = $1 AND task_id = $2`, [tenant, taskId])),
    listDiagrams: (tx, tenant, projectId, limit, offset) =>
      map(diagramOf)(all(tx, `SELECT * FROM ins_diagrams WHERE tenant = $1 AND project_id = $2 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant, projectId])),

    // ------------------------------------------------------------ infrastructure
    *upsertCredential(tx, tenant, c) {
      yield* all(tx, `INSERT INTO ins_credentials (tenant, provider, id, user_id, sealed, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (tenant, provider) DO UPDATE SET sealed = excluded.sealed, metadata = excluded.metadata, user_id = excluded.user_id, updated_at = excluded.updated_at`, [
        tenant, c.provider, c.id, c.userId, c.sealed, JSON.stringify(c.metadata), c.createdAt, c.updatedAt,
      ]);
    },
    getCredential: (tx, tenant, provider) => maybe(credentialOf)(one(tx, `SELECT * FROM ins_credentials WHERE tenant = $1 AND provider = $2`, [tenant, provider])),
    listCredentials: (tx, tenant) => map(credentialOf)(all(tx, `SELECT * FROM ins_credentials WHERE tenant = $1 ORDER BY provider COLLATE "C"`, [tenant])),
    *deleteCredential(tx, tenant, provider) {
      return (yield* count(tx, `DELETE FROM ins_credentials WHERE tenant = $1 AND provider = $2 RETURNING id`, [tenant, provider])) > 0;
    },
    *getSettings(tx, tenant, workspaceId) {
      const r = yield* one(tx, `SELECT * FROM ins_deploy_settings WHERE tenant = $1 AND workspace_id = $2`, [tenant, workspaceId]);
      return r
        ? { workspaceId: r.workspace_id, autoDeploy: r.auto_deploy === 1, runtimeOverride: r.runtime_override, buildCommand: r.build_command, startCommand: r.start_command, updatedAt: r.updated_at }
        : undefined;
    },
    *putSettings(tx, tenant, s) {
      yield* all(tx, `INSERT INTO ins_deploy_settings (tenant, workspace_id, auto_deploy, runtime_override, build_command, start_command, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (tenant, workspace_id) DO UPDATE SET auto_deploy = excluded.auto_deploy, runtime_override = excluded.runtime_override, build_command = excluded.build_command,
        start_command = excluded.start_command, updated_at = excluded.updated_at`, [tenant, s.workspaceId, s.autoDeploy ? 1 : 0, s.runtimeOverride, s.buildCommand, s.startCommand, s.updatedAt]);
    },
    *insertDeployment(tx, tenant, x, requestId) {
      yield* all(tx, `INSERT INTO ins_deployments (tenant, id, workspace_id, project_id, snapshot_id, status, trigger, url, error, conversation_id, task_id, tasks, request_id, started_at, completed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, '', '', $8, $9, $10, $11, $12, NULL)`, [
        tenant, x.id, x.workspaceId, x.projectId, x.snapshotId, x.status, x.trigger, x.conversationId, x.taskId, JSON.stringify(x.tasks), requestId, x.startedAt,
      ]);
    },
    lockDeployment: (tx, tenant, id) => maybe(deploymentOf)(one(tx, `SELECT * FROM ins_deployments WHERE tenant = $1 AND id = $2 FOR UPDATE`, [tenant, id])),
    getDeployment: (tx, tenant, id) => maybe(deploymentOf)(one(tx, `SELECT * FROM ins_deployments WHERE tenant = $1 AND id = $2`, [tenant, id])),
    deploymentByRequest: (tx, tenant, requestId) => maybe(deploymentOf)(one(tx, `SELECT * FROM ins_deployments WHERE tenant = $1 AND request_id = $2`, [tenant, requestId])),
    listDeployments: (tx, tenant, workspaceId, limit, offset) =>
      map(deploymentOf)(all(tx, `SELECT * FROM ins_deployments WHERE tenant = $1 AND workspace_id = $2 ORDER BY started_at DESC, id COLLATE "C" DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant, workspaceId])),
    deploymentsOfConversation: (tx, tenant, conversationId, limit, offset) =>
      map(deploymentOf)(all(tx, `SELECT * FROM ins_deployments WHERE tenant = $1 AND conversation_id = $2 ORDER BY started_at DESC, id COLLATE "C" DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant, conversationId])),
    failedDeployments: (tx, tenant) => map(deploymentOf)(all(tx, `SELECT * FROM ins_deployments WHERE tenant = $1 AND status = 'failed' ORDER BY started_at DESC LIMIT 1000`, [tenant])),
    *updateDeployment(tx, tenant, id, set) {
      yield* all(tx, `UPDATE ins_deployments SET status = coalesce($1, status), url = coalesce($2, url), error = coalesce($3, error), completed_at = coalesce($4::int8, completed_at) WHERE tenant = $5 AND id = $6`, [
        set.status ?? null, set.url ?? null, set.error ?? null, set.completedAt ?? null, tenant, id,
      ]);
    },
    *insertResource(tx, tenant, r) {
      yield* all(tx, `INSERT INTO ins_resources (tenant, id, project_id, type, provider, name, status, provider_resource_id, connection, env_var_keys, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
        tenant, r.id, r.projectId, r.type, r.provider, r.name, r.status, r.providerResourceId, r.sealedConnection, JSON.stringify(r.envVarKeys), r.createdAt, r.updatedAt,
      ]);
    },
    getResource: (tx, tenant, projectId, id) => maybe(resourceOf)(one(tx, `SELECT * FROM ins_resources WHERE tenant = $1 AND project_id = $2 AND id = $3`, [tenant, projectId, id])),
    listResources: (tx, tenant, projectId, limit, offset) =>
      map(resourceOf)(all(tx, `SELECT * FROM ins_resources WHERE tenant = $1 AND project_id = $2 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant, projectId])),
    *setResourceStatus(tx, tenant, id, status, now) {
      yield* all(tx, `UPDATE ins_resources SET status = $1, updated_at = $2 WHERE tenant = $3 AND id = $4`, [status, now, tenant, id]);
    },
    *deleteResource(tx, tenant, id) {
      yield* all(tx, `DELETE FROM ins_resources WHERE tenant = $1 AND id = $2`, [tenant, id]);
    },

    // ------------------------------------------------------------ schedules
    *insertSchedule(tx, s, requestId) {
      yield* all(tx, `INSERT INTO ins_schedules (tenant, id, name, cron, queue, type, payload, paused, next_run_at, last_run_at, last_task_id, run_count, request_id, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, NULL, '', 0, $9, $10)`, [s.tenant, s.id, s.name, s.cron, s.queue, s.type, json(s.payload), s.nextRunAt ?? null, requestId, s.createdAt]);
    },
    getSchedule: (tx, tenant, id) => maybe(scheduleOf)(one(tx, `SELECT * FROM ins_schedules WHERE tenant = $1 AND id = $2`, [tenant, id])),
    scheduleByName: (tx, tenant, name) => maybe(scheduleOf)(one(tx, `SELECT * FROM ins_schedules WHERE tenant = $1 AND name = $2`, [tenant, name])),
    scheduleByRequest: (tx, tenant, requestId) => maybe(scheduleOf)(one(tx, `SELECT * FROM ins_schedules WHERE tenant = $1 AND request_id = $2`, [tenant, requestId])),
    *countSchedules(tx, tenant) {
      return ((yield* one(tx, `SELECT count(*)::int8 AS n FROM ins_schedules WHERE tenant = $1`, [tenant]))!.n as number);
    },
    listSchedules: (tx, tenant, limit, offset) =>
      map(scheduleOf)(all(tx, `SELECT * FROM ins_schedules WHERE tenant = $1 ORDER BY name COLLATE "C" LIMIT ${Number(limit)} OFFSET ${Number(offset)}`, [tenant])),
    dueSchedules: (tx, now, limit) =>
      map(scheduleOf)(all(tx, `SELECT * FROM ins_schedules WHERE paused = 0 AND ((claimed_tick IS NULL AND next_run_at IS NOT NULL AND next_run_at <= $1) OR (claimed_tick IS NOT NULL AND claimed_until <= $1))
        ORDER BY coalesce(claimed_tick, next_run_at) LIMIT ${Number(limit)}`, [now])),
    *setSchedulePaused(tx, tenant, id, paused, nextRunAt) {
      yield* all(tx, `UPDATE ins_schedules SET paused = $1, next_run_at = $2 WHERE tenant = $3 AND id = $4`, [paused ? 1 : 0, nextRunAt, tenant, id]);
    },
    *claimTick(tx, tenant, id, tick, next, until) {
      return (
        (yield* count(tx, `UPDATE ins_schedules SET next_run_at = $1, claimed_tick = $2, claimed_until = $3 WHERE tenant = $4 AND id = $5 AND paused = 0 AND claimed_tick IS NULL AND next_run_at = $2 RETURNING id`, [
          next, tick, until, tenant, id,
        ])) > 0
      );
    },
    *reclaimTick(tx, tenant, id, tick, was, until) {
      return (yield* count(tx, `UPDATE ins_schedules SET claimed_until = $1 WHERE tenant = $2 AND id = $3 AND paused = 0 AND claimed_tick = $4 AND claimed_until = $5 RETURNING id`, [until, tenant, id, tick, was])) > 0;
    },
    *releaseTick(tx, tenant, id, tick) {
      yield* all(tx, `UPDATE ins_schedules SET claimed_until = 0 WHERE tenant = $1 AND id = $2 AND claimed_tick = $3`, [tenant, id, tick]);
    },
    *scheduleRan(tx, tenant, id, tick, taskId, now) {
      return (
        (yield* count(tx, `UPDATE ins_schedules SET last_run_at = $1, last_task_id = $2, run_count = run_count + 1, claimed_tick = NULL, claimed_until = NULL WHERE tenant = $3 AND id = $4 AND claimed_tick = $5 RETURNING id`, [
          now, taskId, tenant, id, tick,
        ])) > 0
      );
    },
    *deleteSchedule(tx, tenant, id) {
      return (yield* count(tx, `DELETE FROM ins_schedules WHERE tenant = $1 AND id = $2 RETURNING id`, [tenant, id])) > 0;
    },
  };
  return store;
}
