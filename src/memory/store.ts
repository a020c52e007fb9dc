import type { Database as Sqlite, SQLQueryBindings } from "bun:sqlite";
import { EMBEDDING_STATE_CODES, EMBEDDING_STATE_NAMES, type EmbeddingState, type Memory, type MemoryFilter } from "./types.ts";

/** A memories row as SQLite returns it. */
export interface MemoryRow {
  seq: number;
  id: string;
  tenant: string;
  content: string;
  type: string;
  agent_id: string;
  scope: string;
  importance: number;
  metadata: string | null;
  tags: string;
  source: string;
  embedding_state: number;
  embedding_model: string | null;
  backfill_job: string | null;
  access_count: number;
  last_access_at: number;
  expires_at: number | null;
  size_bytes: number;
  content_key: string;
  merged_ids: string;
  request_id: string | null;
  created_at: number;
  updated_at: number;
}

export function rowToMemory(r: MemoryRow): Memory {
  return {
    id: r.id,
    seq: r.seq,
    tenant: r.tenant,
    content: r.content,
    type: r.type,
    agentId: r.agent_id,
    scope: r.scope,
    importance: r.importance,
    metadata: r.metadata === null ? undefined : JSON.parse(r.metadata),
    tags: JSON.parse(r.tags),
    source: r.source,
    embeddingState: EMBEDDING_STATE_NAMES[r.embedding_state]!,
    embeddingModel: r.embedding_model ?? undefined,
    accessCount: r.access_count,
    lastAccessAt: r.last_access_at,
    expiresAt: r.expires_at ?? undefined,
    sizeBytes: r.size_bytes,
    mergedIds: JSON.parse(r.merged_ids),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface NewRow {
  id: string;
  tenant: string;
  content: string;
  type: string;
  agentId: string;
  scope: string;
  importance: number;
  metadata: string | null;
  tags: string[];
  source: string;
  embeddingState: EmbeddingState;
  embeddingModel: string | null;
  expiresAt: number | null;
  contentKey: string;
  requestId: string | null;
  now: number;
}

type Args = SQLQueryBindings[];

/** `AND …` clauses for a filter over alias `m` (live rows only, of one tenant). */
function filterSql(tenant: string, f: MemoryFilter, now: number | "with-expired"): { where: string; args: Args } {
  const w = ["m.tenant = ?"];
  const args: Args = [tenant];
  if (now !== "with-expired") (w.push("(m.expires_at IS NULL OR m.expires_at > ?)"), args.push(now));
  if (f.types?.length) (w.push(`m.type IN (${f.types.map(() => "?").join(",")})`), args.push(...f.types));
  if (f.agentId) (w.push("m.agent_id = ?"), args.push(f.agentId));
  if (f.scope) (w.push("m.scope = ?"), args.push(f.scope));
  for (const t of f.tags ?? []) (w.push("EXISTS (SELECT 1 FROM json_each(m.tags) WHERE value = ?)"), args.push(t));
  if (f.minImportance !== undefined) (w.push("m.importance >= ?"), args.push(f.minImportance));
  return { where: w.join(" AND "), args };
}

export interface FtsHit {
  row: MemoryRow;
  score: number;
  snippet: string;
}

export interface StatsRows {
  total: number;
  contentBytes: number;
  oldest: number | null;
  newest: number | null;
  averageImportance: number;
  totalAccesses: number;
  withEmbedding: number;
  pending: number;
  expired: number;
  byType: { k: string; n: number }[];
  byAgent: { k: string; n: number }[];
  byScope: { k: string; n: number }[];
  byModel: { k: string; n: number }[];
}

/** All SQL of the memory domain (SQLite dialect; a PostgreSQL store would implement the same). */
export function createMemoryStore(sqlite: Sqlite) {
  const cache = new Map<string, ReturnType<Sqlite["query"]>>();
  const q = (s: string) => {
    let st = cache.get(s);
    if (!st) cache.set(s, (st = sqlite.query(s)));
    return st;
  };
  const live = "(expires_at IS NULL OR expires_at > ?)";

  return {
    q,
    insert(r: NewRow): MemoryRow {
      return q(
        `INSERT INTO memories (id, tenant, content, type, agent_id, scope, importance, metadata, tags, source, embedding_state, embedding_model,
          access_count, last_access_at, expires_at, size_bytes, content_key, merged_ids, request_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, '[]', ?, ?, ?) RETURNING *`,
      ).get(
        r.id,
        r.tenant,
        r.content,
        r.type,
        r.agentId,
        r.scope,
        r.importance,
        r.metadata,
        JSON.stringify(r.tags),
        r.source,
        EMBEDDING_STATE_CODES[r.embeddingState],
        r.embeddingModel,
        r.now,
        r.expiresAt,
        Buffer.byteLength(r.content),
        r.contentKey,
        r.requestId,
        r.now,
        r.now,
      ) as MemoryRow;
    },
    byRequestId: (tenant: string, requestId: string) => q(`SELECT * FROM memories WHERE tenant = ? AND request_id = ?`).get(tenant, requestId) as MemoryRow | null,
    /** A live memory of the tenant. */
    get: (tenant: string, id: string, now: number) => q(`SELECT * FROM memories WHERE id = ? AND tenant = ? AND ${live}`).get(id, tenant, now) as MemoryRow | null,
    /** Any row of the tenant, live or expired. */
    getAny: (tenant: string, id: string) => q(`SELECT * FROM memories WHERE id = ? AND tenant = ?`).get(id, tenant) as MemoryRow | null,
    touch: (seq: number, now: number) => q(`UPDATE memories SET access_count = access_count + 1, last_access_at = ? WHERE seq = ? RETURNING *`).get(now, seq) as MemoryRow,
    update(seq: number, set: { importance?: number; metadata?: string | null; tags?: string[] }, now: number): MemoryRow {
      const cols: string[] = ["updated_at = ?"];
      const args: Args = [now];
      if (set.importance !== undefined) (cols.push("importance = ?"), args.push(set.importance));
      if (set.metadata !== undefined) (cols.push("metadata = ?"), args.push(set.metadata));
      if (set.tags !== undefined) (cols.push("tags = ?"), args.push(JSON.stringify(set.tags)));
      return sqlite.query(`UPDATE memories SET ${cols.join(", ")} WHERE seq = ? RETURNING *`).get(...args, seq) as MemoryRow;
    },
    deleteSeqs(seqs: number[]): void {
      const del = q(`DELETE FROM memories WHERE seq = ?`);
      for (const s of seqs) del.run(s);
    },
    list(tenant: string, f: { type?: string; agentId?: string; scope?: string; tag?: string; state?: number; after?: number; before?: number; beforeSeq?: number }, now: number, limit: number): MemoryRow[] {
      const w = ["tenant = ?", live];
      const args: Args = [tenant, now];
      if (f.type) (w.push("type = ?"), args.push(f.type));
      if (f.agentId) (w.push("agent_id = ?"), args.push(f.agentId));
      if (f.scope) (w.push("scope = ?"), args.push(f.scope));
      if (f.tag) (w.push("EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)"), args.push(f.tag));
      if (f.state) (w.push("embedding_state = ?"), args.push(f.state));
      if (f.after !== undefined) (w.push("created_at >= ?"), args.push(f.after));
      if (f.before !== undefined) (w.push("created_at < ?"), args.push(f.before));
      if (f.beforeSeq !== undefined) (w.push("seq < ?"), args.push(f.beforeSeq));
      return sqlite.query(`SELECT * FROM memories WHERE ${w.join(" AND ")} ORDER BY seq DESC LIMIT ${limit}`).all(...args) as MemoryRow[];
    },
    /** FTS5 BM25 search; throws SQLite's error for a query FTS5 cannot parse. */
    fullText(tenant: string, match: string, f: MemoryFilter, now: number, limit: number, marks: [string, string]): FtsHit[] {
      const { where, args } = filterSql(tenant, f, now);
      const rows = sqlite
        .query(
          `SELECT m.*, -bm25(memory_fts) AS _score, snippet(memory_fts, 0, ?, ?, '…', 16) AS _snippet
           FROM memory_fts JOIN memories m ON m.seq = memory_fts.rowid
           WHERE memory_fts MATCH ? AND ${where} ORDER BY bm25(memory_fts) LIMIT ${limit}`,
        )
        .all(marks[0], marks[1], match, ...args) as (MemoryRow & { _score: number; _snippet: string })[];
      return rows.map(({ _score, _snippet, ...row }) => ({ row, score: _score, snippet: _snippet }));
    },
    /** Live rows among `seqs` that match the filter and hold a vector of `model`. */
    liveWithVector(tenant: string, seqs: number[], f: MemoryFilter, model: string, now: number): Map<number, MemoryRow> {
      if (seqs.length === 0) return new Map();
      const { where, args } = filterSql(tenant, f, now);
      const rows = sqlite
        .query(`SELECT m.* FROM memories m WHERE m.seq IN (${seqs.map(() => "?").join(",")}) AND m.embedding_state = 3 AND m.embedding_model = ? AND ${where}`)
        .all(...seqs, model, ...args) as MemoryRow[];
      return new Map(rows.map((r) => [r.seq, r]));
    },
    bySeqs(seqs: number[]): MemoryRow[] {
      if (seqs.length === 0) return [];
      return sqlite.query(`SELECT * FROM memories WHERE seq IN (${seqs.map(() => "?").join(",")})`).all(...seqs) as MemoryRow[];
    },
    byIds(tenant: string, ids: string[], now: number): MemoryRow[] {
      if (ids.length === 0) return [];
      return sqlite.query(`SELECT * FROM memories WHERE tenant = ? AND ${live} AND id IN (${ids.map(() => "?").join(",")})`).all(tenant, now, ...ids) as MemoryRow[];
    },
    setEmbedding(seq: number, state: EmbeddingState, model: string | null, job: string | null, now: number): void {
      q(`UPDATE memories SET embedding_state = ?, embedding_model = ?, backfill_job = ?, updated_at = ? WHERE seq = ?`).run(EMBEDDING_STATE_CODES[state], model, job, now, seq);
    },
    /** PENDING memories of a job back to MISSING (the job's task failed for good). */
    releaseJob(job: string, seqs: number[], now: number): number {
      let n = 0;
      const st = q(`UPDATE memories SET embedding_state = 1, backfill_job = NULL, updated_at = ? WHERE seq = ? AND embedding_state = 2 AND backfill_job = ?`);
      for (const s of seqs) n += st.run(now, s, job).changes;
      return n;
    },
    /** Live memories to embed: MISSING (and, optionally, READY under another model), oldest first. */
    toEmbed(tenant: string, f: MemoryFilter, model: string, includeOther: boolean, now: number, limit: number): MemoryRow[] {
      const { where, args } = filterSql(tenant, f, now);
      const state = includeOther ? `(m.embedding_state = 1 OR (m.embedding_state = 3 AND m.embedding_model <> ?))` : `m.embedding_state = 1`;
      const extra: Args = includeOther ? [model] : [];
      return sqlite.query(`SELECT m.* FROM memories m WHERE ${state} AND ${where} ORDER BY m.seq LIMIT ${limit}`).all(...extra, ...args) as MemoryRow[];
    },
    countToEmbed(tenant: string, f: MemoryFilter, model: string, includeOther: boolean, now: number): { todo: number; pending: number } {
      const { where, args } = filterSql(tenant, f, now);
      const state = includeOther ? `(m.embedding_state = 1 OR (m.embedding_state = 3 AND m.embedding_model <> ?))` : `m.embedding_state = 1`;
      const extra: Args = includeOther ? [model] : [];
      const todo = (sqlite.query(`SELECT count(*) AS n FROM memories m WHERE ${state} AND ${where}`).get(...extra, ...args) as { n: number }).n;
      const pending = (sqlite.query(`SELECT count(*) AS n FROM memories m WHERE m.embedding_state = 2 AND ${where}`).get(...args) as { n: number }).n;
      return { todo, pending };
    },
    stats(tenant: string, f: { agentId?: string; scope?: string }, model: string, now: number): StatsRows {
      const { where, args } = filterSql(tenant, f, now);
      const agg = sqlite
        .query(
          `SELECT count(*) AS total, coalesce(sum(size_bytes), 0) AS bytes, min(created_at) AS oldest, max(created_at) AS newest,
             coalesce(avg(importance), 0) AS imp, coalesce(sum(access_count), 0) AS acc,
             coalesce(sum(embedding_state = 3 AND embedding_model = ?), 0) AS withE, coalesce(sum(embedding_state = 2), 0) AS pending
           FROM memories m WHERE ${where}`,
        )
        .get(model, ...args) as { total: number; bytes: number; oldest: number | null; newest: number | null; imp: number; acc: number; withE: number; pending: number };
      const group = (col: string, extra = "") =>
        sqlite.query(`SELECT ${col} AS k, count(*) AS n FROM memories m WHERE ${where} ${extra} GROUP BY ${col}`).all(...args) as { k: string; n: number }[];
      const expiredArgs: Args = [tenant, now];
      if (f.agentId) expiredArgs.push(f.agentId);
      if (f.scope) expiredArgs.push(f.scope);
      const expired = (
        sqlite
          .query(`SELECT count(*) AS n FROM memories WHERE tenant = ? AND expires_at <= ?${f.agentId ? " AND agent_id = ?" : ""}${f.scope ? " AND scope = ?" : ""}`)
          .get(...expiredArgs) as { n: number }
      ).n;
      return {
        total: agg.total,
        contentBytes: agg.bytes,
        oldest: agg.oldest,
        newest: agg.newest,
        averageImportance: agg.imp,
        totalAccesses: agg.acc,
        withEmbedding: agg.withE,
        pending: agg.pending,
        expired,
        byType: group("m.type"),
        byAgent: group("m.agent_id"),
        byScope: group("m.scope"),
        byModel: group("m.embedding_model", "AND m.embedding_state = 3"),
      };
    },
    // ------------------------------------------------------------ compaction
    /** Every row the filter selects, including expired ones (compaction deletes those). */
    compactionRows(tenant: string, f: MemoryFilter): MemoryRow[] {
      const { where, args } = filterSql(tenant, f, "with-expired");
      return sqlite.query(`SELECT m.* FROM memories m WHERE ${where} ORDER BY m.seq`).all(...args) as MemoryRow[];
    },
    /** Applies one merge: survivor updated, the others deleted (inside one committer operation). */
    mergeInto(survivorSeq: number, set: { importance: number; tags: string[]; expiresAt: number | null; accessCount: number; lastAccessAt: number; mergedIds: string[]; metadata: string | null }, now: number): MemoryRow {
      return q(
        `UPDATE memories SET importance = ?, tags = ?, expires_at = ?, access_count = ?, last_access_at = ?, merged_ids = ?, metadata = ?, updated_at = ? WHERE seq = ? RETURNING *`,
      ).get(set.importance, JSON.stringify(set.tags), set.expiresAt, set.accessCount, set.lastAccessAt, JSON.stringify(set.mergedIds), set.metadata, now, survivorSeq) as MemoryRow;
    },
    setImportance: (seq: number, importance: number, now: number) => q(`UPDATE memories SET importance = ?, updated_at = ? WHERE seq = ?`).run(importance, now, seq),
    // ------------------------------------------------------------ idempotent answers
    answer: (tenant: string, kind: string, requestId: string) =>
      (q(`SELECT answer FROM memory_requests WHERE tenant = ? AND kind = ? AND request_id = ?`).get(tenant, kind, requestId) as { answer: string } | null)?.answer,
    saveAnswer: (tenant: string, kind: string, requestId: string, answer: string, now: number) =>
      q(`INSERT INTO memory_requests (tenant, kind, request_id, answer, created_at) VALUES (?, ?, ?, ?, ?)`).run(tenant, kind, requestId, answer, now),
  };
}

export type MemoryStore = ReturnType<typeof createMemoryStore>;
