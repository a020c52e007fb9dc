import type { Database as Sqlite, SQLQueryBindings } from "bun:sqlite";
import { intColumns, type PgTx, type Tx } from "../db/dialect.ts";
import { done, step, type Op } from "../db/op.ts";
import { words } from "../embeddings/lexical.ts";
import { EMBEDDING_STATE_CODES, EMBEDDING_STATE_NAMES, type EmbeddingState, type Memory, type MemoryFilter } from "./types.ts";

/** A memories row (as SQLite returns it; the PostgreSQL store converts its int8 columns to numbers). */
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

/** `AND …` clauses for a filter over alias `m` (live rows only, of one tenant). SQLite. */
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


/**
 * A full-text query as the domain means it, rendered by each store in its engine's syntax:
 * plain terms (a word, a word with a trailing `*` = prefix, or a quoted phrase) joined by AND
 * or OR, or a raw query in the engine's own syntax (FTS5 on SQLite; web-search syntax —
 * `websearch_to_tsquery` — on PostgreSQL).
 */
export type TextQuery = { raw: string } | PlainQuery;
export interface PlainQuery {
  terms: TextTerm[];
  join: "AND" | "OR";
}
export interface TextTerm {
  words: string[];
  /** A phrase: the words adjacent, in order. */
  phrase: boolean;
  /** The last word matches as a prefix. */
  prefix: boolean;
}

/** Plain words to terms: each word a term (a trailing `*` keeps a prefix match), text in double quotes a phrase. */
export function parseQuery(text: string, join: "AND" | "OR"): PlainQuery {
  const terms: TextTerm[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1] !== undefined) {
      const ws = words(m[1]);
      if (ws.length) terms.push({ words: ws, phrase: true, prefix: false });
    } else {
      const prefix = m[2]!.endsWith("*");
      const ws = words(m[2]!);
      ws.forEach((w, i) => terms.push({ words: [w], phrase: false, prefix: prefix && i === ws.length - 1 }));
    }
  }
  return { terms, join };
}

/** Terms as an FTS5 query: quoted terms (`"w"*` for a prefix), phrases quoted whole. */
export function fts5Query(q: TextQuery): string {
  if ("raw" in q) return q.raw;
  return q.terms.map((t) => (t.phrase ? `"${t.words.join(" ")}"` : `"${t.words[0]}"${t.prefix ? "*" : ""}`)).join(` ${q.join} `);
}

/** Terms as a `to_tsquery('simple', …)` text: `'w'`, `'w':*`, phrases `'a' <-> 'b'`, joined by `&` or `|`. */
export function tsQuery(q: PlainQuery): string {
  // words() leaves letters and digits only, so quoting needs no escaping.
  const term = (t: TextTerm) => (t.phrase ? `(${t.words.map((w) => `'${w}'`).join(" <-> ")})` : `'${t.words[0]}'${t.prefix ? ":*" : ""}`);
  return q.terms.map(term).join(q.join === "AND" ? " & " : " | ");
}

/** What the PostgreSQL full-text index holds for a content: the same words FTS5's unicode61 (diacritics removed) and the query side see. */
export const ftsText = (content: string) => words(content).join(" ");

/** All SQL of the memory domain, once per dialect, behind one interface of operations. */
export interface MemoryStore {
  /**
   * Inserts a memory; undefined when a memory with its request id exists already (PostgreSQL:
   * another instance inserted it meanwhile; the caller reads that one).
   */
  insert(tx: Tx, r: NewRow): Op<MemoryRow | undefined>;
  byRequestId(tx: Tx, tenant: string, requestId: string): Op<MemoryRow | undefined>;
  /** A live memory of the tenant. */
  get(tx: Tx, tenant: string, id: string, now: number): Op<MemoryRow | undefined>;
  /** Any row of the tenant, live or expired. */
  getAny(tx: Tx, tenant: string, id: string): Op<MemoryRow | undefined>;
  touch(tx: Tx, seq: number, now: number): Op<MemoryRow>;
  update(tx: Tx, seq: number, set: { importance?: number; metadata?: string | null; tags?: string[] }, now: number): Op<MemoryRow>;
  deleteSeqs(tx: Tx, seqs: number[]): Op<void>;
  list(tx: Tx, tenant: string, f: ListRowsFilter, now: number, limit: number): Op<MemoryRow[]>;
  /** Ranked full-text hits (best first) with snippets; throws the engine's error for a query it cannot parse. */
  fullText(tx: Tx, tenant: string, query: TextQuery, f: MemoryFilter, now: number, limit: number, marks: [string, string]): Op<FtsHit[]>;
  /** Live rows among `seqs` that match the filter and hold a vector of `model`. */
  liveWithVector(tx: Tx, tenant: string, seqs: number[], f: MemoryFilter, model: string, now: number): Op<Map<number, MemoryRow>>;
  bySeqs(tx: Tx, seqs: number[]): Op<MemoryRow[]>;
  byIds(tx: Tx, tenant: string, ids: string[], now: number): Op<MemoryRow[]>;
  setEmbedding(tx: Tx, seq: number, state: EmbeddingState, model: string | null, job: string | null, now: number): Op<void>;
  /** PENDING memories of a job back to MISSING (the job's task failed for good). */
  releaseJob(tx: Tx, job: string, seqs: number[], now: number): Op<number>;
  /** Live memories to embed: MISSING (and, optionally, READY under another model), oldest first. */
  toEmbed(tx: Tx, tenant: string, f: MemoryFilter, model: string, includeOther: boolean, now: number, limit: number): Op<MemoryRow[]>;
  countToEmbed(tx: Tx, tenant: string, f: MemoryFilter, model: string, includeOther: boolean, now: number): Op<{ todo: number; pending: number }>;
  stats(tx: Tx, tenant: string, f: { agentId?: string; scope?: string }, model: string, now: number): Op<StatsRows>;
  /** Every row the filter selects, including expired ones (compaction deletes those). */
  compactionRows(tx: Tx, tenant: string, f: MemoryFilter): Op<MemoryRow[]>;
  /** Applies one merge to the survivor (the caller deletes the others in the same operation). */
  mergeInto(
    tx: Tx,
    survivorSeq: number,
    set: { importance: number; tags: string[]; expiresAt: number | null; accessCount: number; lastAccessAt: number; mergedIds: string[]; metadata: string | null },
    now: number,
  ): Op<MemoryRow>;
  setImportance(tx: Tx, seq: number, importance: number, now: number): Op<void>;
  /** The saved answer of an idempotent call that is not one memory (backfill jobs). */
  answer(tx: Tx, tenant: string, kind: string, requestId: string): Op<string | undefined>;
  saveAnswer(tx: Tx, tenant: string, kind: string, requestId: string, answer: string, now: number): Op<void>;
  /** The task holding the tenant's compaction slot, if any. */
  compactionSlot(tx: Tx, tenant: string): Op<string | undefined>;
  /** Gives the slot to `taskId` if it is still held by `expected` (undefined: free); whether it did. */
  takeCompactionSlot(tx: Tx, tenant: string, expected: string | undefined, taskId: string, now: number): Op<boolean>;
}

export interface ListRowsFilter {
  type?: string;
  agentId?: string;
  scope?: string;
  tag?: string;
  state?: number;
  after?: number;
  before?: number;
  beforeSeq?: number;
}

/** The memory store of SQLite: prepared statements over the one connection (FTS5 for full text). */
/** The values of a new row, in the column order both dialects' INSERT statements list. */
function insertValues(r: NewRow): unknown[] {
  return [
    r.id, r.tenant, r.content, r.type, r.agentId, r.scope, r.importance, r.metadata, JSON.stringify(r.tags), r.source,
    EMBEDDING_STATE_CODES[r.embeddingState], r.embeddingModel, r.now, r.expiresAt, Buffer.byteLength(r.content),
    r.contentKey, r.requestId, r.now, r.now,
  ];
}

export function createSqliteMemoryStore(sqlite: Sqlite): MemoryStore {
  const cache = new Map<string, ReturnType<Sqlite["query"]>>();
  const q = (s: string) => {
    let st = cache.get(s);
    if (!st) cache.set(s, (st = sqlite.query(s)));
    return st;
  };
  const live = "(expires_at IS NULL OR expires_at > ?)";
  const row = (r: unknown) => done((r as MemoryRow | null) ?? undefined);

  return {
    insert(_tx, r) {
      return done(
        q(
          `INSERT INTO memories (id, tenant, content, type, agent_id, scope, importance, metadata, tags, source, embedding_state, embedding_model,
          access_count, last_access_at, expires_at, size_bytes, content_key, merged_ids, request_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, '[]', ?, ?, ?) RETURNING *`,
        ).get(...(insertValues(r) as never[])) as MemoryRow,
      );
    },
    byRequestId: (_tx, tenant, requestId) => row(q(`SELECT * FROM memories WHERE tenant = ? AND request_id = ?`).get(tenant, requestId)),
    get: (_tx, tenant, id, now) => row(q(`SELECT * FROM memories WHERE id = ? AND tenant = ? AND ${live}`).get(id, tenant, now)),
    getAny: (_tx, tenant, id) => row(q(`SELECT * FROM memories WHERE id = ? AND tenant = ?`).get(id, tenant)),
    touch: (_tx, seq, now) => done(q(`UPDATE memories SET access_count = access_count + 1, last_access_at = ? WHERE seq = ? RETURNING *`).get(now, seq) as MemoryRow),
    update(_tx, seq, set, now) {
      const cols: string[] = ["updated_at = ?"];
      const args: Args = [now];
      if (set.importance !== undefined) (cols.push("importance = ?"), args.push(set.importance));
      if (set.metadata !== undefined) (cols.push("metadata = ?"), args.push(set.metadata));
      if (set.tags !== undefined) (cols.push("tags = ?"), args.push(JSON.stringify(set.tags)));
      return done(sqlite.query(`UPDATE memories SET ${cols.join(", ")} WHERE seq = ? RETURNING *`).get(...args, seq) as MemoryRow);
    },
    deleteSeqs(_tx, seqs) {
      const del = q(`DELETE FROM memories WHERE seq = ?`);
      for (const s of seqs) del.run(s);
      return done(undefined);
    },
    list(_tx, tenant, f, now, limit) {
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
      return done(sqlite.query(`SELECT * FROM memories WHERE ${w.join(" AND ")} ORDER BY seq DESC LIMIT ${limit}`).all(...args) as MemoryRow[]);
    },
    /** FTS5 BM25 search; throws SQLite's error for a query FTS5 cannot parse. */
    fullText(_tx, tenant, query, f, now, limit, marks) {
      const { where, args } = filterSql(tenant, f, now);
      const rows = sqlite
        .query(
          `SELECT m.*, -bm25(memory_fts) AS _score, snippet(memory_fts, 0, ?, ?, '…', 16) AS _snippet
           FROM memory_fts JOIN memories m ON m.seq = memory_fts.rowid
           WHERE memory_fts MATCH ? AND ${where} ORDER BY bm25(memory_fts) LIMIT ${limit}`,
        )
        .all(marks[0], marks[1], fts5Query(query), ...args) as (MemoryRow & { _score: number; _snippet: string })[];
      return done(rows.map(({ _score, _snippet, ...row }) => ({ row, score: _score, snippet: _snippet })));
    },
    liveWithVector(_tx, tenant, seqs, f, model, now) {
      if (seqs.length === 0) return done(new Map());
      const { where, args } = filterSql(tenant, f, now);
      const rows = sqlite
        .query(`SELECT m.* FROM memories m WHERE m.seq IN (${seqs.map(() => "?").join(",")}) AND m.embedding_state = 3 AND m.embedding_model = ? AND ${where}`)
        .all(...seqs, model, ...args) as MemoryRow[];
      return done(new Map(rows.map((r) => [r.seq, r])));
    },
    bySeqs(_tx, seqs) {
      if (seqs.length === 0) return done([]);
      return done(sqlite.query(`SELECT * FROM memories WHERE seq IN (${seqs.map(() => "?").join(",")})`).all(...seqs) as MemoryRow[]);
    },
    byIds(_tx, tenant, ids, now) {
      if (ids.length === 0) return done([]);
      return done(sqlite.query(`SELECT * FROM memories WHERE tenant = ? AND ${live} AND id IN (${ids.map(() => "?").join(",")})`).all(tenant, now, ...ids) as MemoryRow[]);
    },
    setEmbedding(_tx, seq, state, model, job, now) {
      q(`UPDATE memories SET embedding_state = ?, embedding_model = ?, backfill_job = ?, updated_at = ? WHERE seq = ?`).run(EMBEDDING_STATE_CODES[state], model, job, now, seq);
      return done(undefined);
    },
    releaseJob(_tx, job, seqs, now) {
      let n = 0;
      const st = q(`UPDATE memories SET embedding_state = 1, backfill_job = NULL, updated_at = ? WHERE seq = ? AND embedding_state = 2 AND backfill_job = ?`);
      for (const s of seqs) n += st.run(now, s, job).changes;
      return done(n);
    },
    toEmbed(_tx, tenant, f, model, includeOther, now, limit) {
      const { where, args } = filterSql(tenant, f, now);
      const state = includeOther ? `(m.embedding_state = 1 OR (m.embedding_state = 3 AND m.embedding_model <> ?))` : `m.embedding_state = 1`;
      const extra: Args = includeOther ? [model] : [];
      return done(sqlite.query(`SELECT m.* FROM memories m WHERE ${state} AND ${where} ORDER BY m.seq LIMIT ${limit}`).all(...extra, ...args) as MemoryRow[]);
    },
    countToEmbed(_tx, tenant, f, model, includeOther, now) {
      const { where, args } = filterSql(tenant, f, now);
      const state = includeOther ? `(m.embedding_state = 1 OR (m.embedding_state = 3 AND m.embedding_model <> ?))` : `m.embedding_state = 1`;
      const extra: Args = includeOther ? [model] : [];
      const todo = (sqlite.query(`SELECT count(*) AS n FROM memories m WHERE ${state} AND ${where}`).get(...extra, ...args) as { n: number }).n;
      const pending = (sqlite.query(`SELECT count(*) AS n FROM memories m WHERE m.embedding_state = 2 AND ${where}`).get(...args) as { n: number }).n;
      return done({ todo, pending });
    },
    stats(_tx, tenant, f, model, now) {
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
      return done({
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
      });
    },
    compactionRows(_tx, tenant, f) {
      const { where, args } = filterSql(tenant, f, "with-expired");
      return done(sqlite.query(`SELECT m.* FROM memories m WHERE ${where} ORDER BY m.seq`).all(...args) as MemoryRow[]);
    },
    mergeInto(_tx, survivorSeq, set, now) {
      return done(
        q(
          `UPDATE memories SET importance = ?, tags = ?, expires_at = ?, access_count = ?, last_access_at = ?, merged_ids = ?, metadata = ?, updated_at = ? WHERE seq = ? RETURNING *`,
        ).get(set.importance, JSON.stringify(set.tags), set.expiresAt, set.accessCount, set.lastAccessAt, JSON.stringify(set.mergedIds), set.metadata, now, survivorSeq) as MemoryRow,
      );
    },
    setImportance(_tx, seq, importance, now) {
      q(`UPDATE memories SET importance = ?, updated_at = ? WHERE seq = ?`).run(importance, now, seq);
      return done(undefined);
    },
    answer: (_tx, tenant, kind, requestId) =>
      done((q(`SELECT answer FROM memory_requests WHERE tenant = ? AND kind = ? AND request_id = ?`).get(tenant, kind, requestId) as { answer: string } | null)?.answer),
    saveAnswer(_tx, tenant, kind, requestId, answer, now) {
      q(`INSERT INTO memory_requests (tenant, kind, request_id, answer, created_at) VALUES (?, ?, ?, ?, ?)`).run(tenant, kind, requestId, answer, now);
      return done(undefined);
    },
    compactionSlot: (_tx, tenant) => done((q(`SELECT task_id FROM memory_compaction_slots WHERE tenant = ?`).get(tenant) as { task_id: string } | null)?.task_id),
    takeCompactionSlot(_tx, tenant, expected, taskId, now) {
      const r =
        expected === undefined
          ? q(`INSERT INTO memory_compaction_slots (tenant, task_id, updated_at) VALUES (?, ?, ?) ON CONFLICT (tenant) DO NOTHING`).run(tenant, taskId, now)
          : q(`UPDATE memory_compaction_slots SET task_id = ?, updated_at = ? WHERE tenant = ? AND task_id = ?`).run(taskId, now, tenant, expected);
      return done(r.changes === 1);
    },
  };
}

// ------------------------------------------------------------------ PostgreSQL

/** The int8 columns of a memories row (Bun's driver answers int8 as strings). */
const INTS = ["seq", "last_access_at", "expires_at", "created_at", "updated_at"] as const;
/** Every column but the full-text vector (`fts`, PostgreSQL only). */
const COLS = `seq, id, tenant, content, type, agent_id, scope, importance, metadata, tags, source, embedding_state, embedding_model, backfill_job,
  access_count, last_access_at, expires_at, size_bytes, content_key, merged_ids, request_id, created_at, updated_at`;
const MCOLS = COLS.split(",")
  .map((c) => `m.${c.trim()}`)
  .join(", ");

/** Placeholders `$n` as arguments are pushed. */
class PgArgs {
  readonly list: unknown[] = [];
  add(v: unknown): string {
    this.list.push(v);
    return `$${this.list.length}`;
  }
}

/** The filter's clauses over alias `m` (PostgreSQL), its arguments appended to `a`. */
function pgFilter(a: PgArgs, tenant: string, f: MemoryFilter, now: number | "with-expired"): string {
  const w = [`m.tenant = ${a.add(tenant)}`];
  if (now !== "with-expired") w.push(`(m.expires_at IS NULL OR m.expires_at > ${a.add(now)})`);
  if (f.types?.length) w.push(`m.type = ANY(${a.add(f.types)}::text[])`);
  if (f.agentId) w.push(`m.agent_id = ${a.add(f.agentId)}`);
  if (f.scope) w.push(`m.scope = ${a.add(f.scope)}`);
  for (const t of f.tags ?? []) w.push(`m.tags::jsonb @> jsonb_build_array(${a.add(t)}::text)`);
  if (f.minImportance !== undefined) w.push(`m.importance >= ${a.add(f.minImportance)}`);
  return w.join(" AND ");
}

/** Private-use characters around highlighted words (replaced by the caller's marks afterwards). */
const SEL_START = "\uE000";
const SEL_STOP = "\uE001";

/**
 * A `ts_headline` fragment as FTS5's `snippet()` would give it: at most 16 words, the caller's
 * marks around matches, `…` where the fragment does not reach the start or the end of the text.
 */
function headline(content: string, h: string, marks: [string, string]): string {
  const plain = h.replaceAll(SEL_START, "").replaceAll(SEL_STOP, "");
  const body = h.replaceAll(SEL_START, marks[0]).replaceAll(SEL_STOP, marks[1]);
  const lead = content.trimStart().startsWith(plain.trimStart()) ? "" : "…";
  const tail = content.trimEnd().endsWith(plain.trimEnd()) ? "" : "…";
  return `${lead}${body}${tail}`;
}

/**
 * The memory store of PostgreSQL. Full text: a `tsvector` column (`fts`, GIN index) that the store
 * fills at insert with `to_tsvector('simple', …)` of the same words FTS5 indexes (letters and
 * digits, lower-cased, diacritics removed), queried with `to_tsquery` (terms, prefixes, phrases)
 * or `websearch_to_tsquery` (raw queries), ranked by `ts_rank_cd`, snippets by `ts_headline`.
 */
export function createPgMemoryStore(): MemoryStore {
  const pg = (tx: Tx) => (tx as PgTx).sql;
  function* rows(tx: Tx, sql: string, args: unknown[]): Op<MemoryRow[]> {
    return intColumns((yield* step(pg(tx).unsafe(sql, args))) as MemoryRow[], INTS);
  }
  function* one(tx: Tx, sql: string, args: unknown[]): Op<MemoryRow | undefined> {
    return (yield* rows(tx, sql, args))[0];
  }
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const live = (a: PgArgs, now: number) => `(expires_at IS NULL OR expires_at > ${a.add(now)})`;

  return {
    *insert(tx, r) {
      const row = yield* one(
        tx,
        `INSERT INTO memories (id, tenant, content, type, agent_id, scope, importance, metadata, tags, source, embedding_state, embedding_model,
          access_count, last_access_at, expires_at, size_bytes, content_key, merged_ids, request_id, created_at, updated_at, fts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14, $15, $16, '[]', $17, $18, $19, to_tsvector('simple', $20))
         ON CONFLICT (tenant, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING ${COLS}`,
        [...insertValues(r), ftsText(r.content)],
      );
      return row;
    },
    byRequestId: (tx, tenant, requestId) => one(tx, `SELECT ${COLS} FROM memories WHERE tenant = $1 AND request_id = $2`, [tenant, requestId]),
    get: (tx, tenant, id, now) => one(tx, `SELECT ${COLS} FROM memories WHERE id = $1 AND tenant = $2 AND (expires_at IS NULL OR expires_at > $3)`, [id, tenant, now]),
    getAny: (tx, tenant, id) => one(tx, `SELECT ${COLS} FROM memories WHERE id = $1 AND tenant = $2`, [id, tenant]),
    *touch(tx, seq, now) {
      return (yield* one(tx, `UPDATE memories SET access_count = access_count + 1, last_access_at = $1 WHERE seq = $2 RETURNING ${COLS}`, [now, seq]))!;
    },
    *update(tx, seq, set, now) {
      const a = new PgArgs();
      const cols = [`updated_at = ${a.add(now)}`];
      if (set.importance !== undefined) cols.push(`importance = ${a.add(set.importance)}`);
      if (set.metadata !== undefined) cols.push(`metadata = ${a.add(set.metadata)}`);
      if (set.tags !== undefined) cols.push(`tags = ${a.add(JSON.stringify(set.tags))}`);
      return (yield* one(tx, `UPDATE memories SET ${cols.join(", ")} WHERE seq = ${a.add(seq)} RETURNING ${COLS}`, a.list))!;
    },
    *deleteSeqs(tx, seqs) {
      if (seqs.length) yield* step(pg(tx).unsafe(`DELETE FROM memories WHERE seq = ANY($1::bigint[])`, [seqs]));
    },
    list(tx, tenant, f, now, limit) {
      const a = new PgArgs();
      const w = [`tenant = ${a.add(tenant)}`, live(a, now)];
      if (f.type) w.push(`type = ${a.add(f.type)}`);
      if (f.agentId) w.push(`agent_id = ${a.add(f.agentId)}`);
      if (f.scope) w.push(`scope = ${a.add(f.scope)}`);
      if (f.tag) w.push(`tags::jsonb @> jsonb_build_array(${a.add(f.tag)}::text)`);
      if (f.state) w.push(`embedding_state = ${a.add(f.state)}`);
      if (f.after !== undefined) w.push(`created_at >= ${a.add(f.after)}`);
      if (f.before !== undefined) w.push(`created_at < ${a.add(f.before)}`);
      if (f.beforeSeq !== undefined) w.push(`seq < ${a.add(f.beforeSeq)}`);
      return rows(tx, `SELECT ${COLS} FROM memories WHERE ${w.join(" AND ")} ORDER BY seq DESC LIMIT ${Number(limit)}`, a.list);
    },
    *fullText(tx, tenant, query, f, now, limit, marks) {
      const a = new PgArgs();
      const tsq = "raw" in query ? `websearch_to_tsquery('simple', ${a.add(query.raw)})` : `to_tsquery('simple', ${a.add(tsQuery(query))})`;
      const where = pgFilter(a, tenant, f, now);
      const opts = a.add(`StartSel=${SEL_START}, StopSel=${SEL_STOP}, MaxWords=16, MinWords=6, ShortWord=0, HighlightAll=false`);
      // Ranked first (the GIN index finds the candidates), headlines only for the page returned.
      const got = (yield* step(
        pg(tx).unsafe(
          `WITH q AS (SELECT ${tsq} AS q),
             hits AS (SELECT ${MCOLS}, ts_rank_cd(m.fts, q.q, 1) AS _score FROM memories m, q WHERE m.fts @@ q.q AND ${where}
                      ORDER BY _score DESC, m.seq LIMIT ${Number(limit)})
           SELECT hits.*, ts_headline('simple', hits.content, q.q, ${opts}) AS _snippet FROM hits, q ORDER BY _score DESC, seq`,
          a.list,
        ),
      )) as (MemoryRow & { _score: number; _snippet: string })[];
      return intColumns(got, INTS).map(({ _score, _snippet, ...row }) => ({ row, score: Number(_score), snippet: headline(row.content, _snippet, marks) }));
    },
    *liveWithVector(tx, tenant, seqs, f, model, now) {
      if (seqs.length === 0) return new Map();
      const a = new PgArgs();
      const s = a.add(seqs);
      const mdl = a.add(model);
      const where = pgFilter(a, tenant, f, now);
      const got = yield* rows(tx, `SELECT ${MCOLS} FROM memories m WHERE m.seq = ANY(${s}::bigint[]) AND m.embedding_state = 3 AND m.embedding_model = ${mdl} AND ${where}`, a.list);
      return new Map(got.map((r) => [r.seq, r]));
    },
    *bySeqs(tx, seqs) {
      if (seqs.length === 0) return [];
      return yield* rows(tx, `SELECT ${COLS} FROM memories WHERE seq = ANY($1::bigint[])`, [seqs]);
    },
    *byIds(tx, tenant, ids, now) {
      if (ids.length === 0) return [];
      return yield* rows(tx, `SELECT ${COLS} FROM memories WHERE tenant = $1 AND (expires_at IS NULL OR expires_at > $2) AND id = ANY($3::text[])`, [tenant, now, ids]);
    },
    *setEmbedding(tx, seq, state, model, job, now) {
      yield* step(
        pg(tx).unsafe(`UPDATE memories SET embedding_state = $1, embedding_model = $2, backfill_job = $3, updated_at = $4 WHERE seq = $5`, [
          EMBEDDING_STATE_CODES[state],
          model,
          job,
          now,
          seq,
        ]),
      );
    },
    *releaseJob(tx, job, seqs, now) {
      if (seqs.length === 0) return 0;
      const got = (yield* step(
        pg(tx).unsafe(`UPDATE memories SET embedding_state = 1, backfill_job = NULL, updated_at = $1 WHERE seq = ANY($2::bigint[]) AND embedding_state = 2 AND backfill_job = $3 RETURNING seq`, [
          now,
          seqs,
          job,
        ]),
      )) as unknown[];
      return got.length;
    },
    toEmbed(tx, tenant, f, model, includeOther, now, limit) {
      const a = new PgArgs();
      const state = includeOther ? `(m.embedding_state = 1 OR (m.embedding_state = 3 AND m.embedding_model <> ${a.add(model)}))` : `m.embedding_state = 1`;
      const where = pgFilter(a, tenant, f, now);
      return rows(tx, `SELECT ${MCOLS} FROM memories m WHERE ${state} AND ${where} ORDER BY m.seq LIMIT ${Number(limit)}`, a.list);
    },
    *countToEmbed(tx, tenant, f, model, includeOther, now) {
      const a = new PgArgs();
      const state = includeOther ? `(m.embedding_state = 1 OR (m.embedding_state = 3 AND m.embedding_model <> ${a.add(model)}))` : `m.embedding_state = 1`;
      const where = pgFilter(a, tenant, f, now);
      const [r] = (yield* step(
        pg(tx).unsafe(`SELECT count(*) FILTER (WHERE ${state}) AS todo, count(*) FILTER (WHERE m.embedding_state = 2) AS pending FROM memories m WHERE ${where}`, a.list),
      )) as { todo: unknown; pending: unknown }[];
      return { todo: Number(r!.todo), pending: Number(r!.pending) };
    },
    *stats(tx, tenant, f, model, now) {
      const a = new PgArgs();
      const mdl = a.add(model);
      const where = pgFilter(a, tenant, f, now);
      const [agg] = (yield* step(
        pg(tx).unsafe(
          `SELECT count(*) AS total, coalesce(sum(size_bytes), 0) AS bytes, min(created_at) AS oldest, max(created_at) AS newest,
             coalesce(avg(importance), 0) AS imp, coalesce(sum(access_count), 0) AS acc,
             count(*) FILTER (WHERE embedding_state = 3 AND embedding_model = ${mdl}) AS withe, count(*) FILTER (WHERE embedding_state = 2) AS pending
           FROM memories m WHERE ${where}`,
          a.list,
        ),
      )) as Record<string, unknown>[];
      const g = new PgArgs();
      const gwhere = pgFilter(g, tenant, f, now);
      const groups = (yield* step(
        pg(tx).unsafe(
          `SELECT 't' AS g, m.type AS k, count(*) AS n FROM memories m WHERE ${gwhere} GROUP BY m.type
           UNION ALL SELECT 'a', m.agent_id, count(*) FROM memories m WHERE ${gwhere} GROUP BY m.agent_id
           UNION ALL SELECT 's', m.scope, count(*) FROM memories m WHERE ${gwhere} GROUP BY m.scope
           UNION ALL SELECT 'm', m.embedding_model, count(*) FROM memories m WHERE ${gwhere} AND m.embedding_state = 3 GROUP BY m.embedding_model`,
          g.list,
        ),
      )) as { g: string; k: string; n: unknown }[];
      const of = (kind: string) => groups.filter((r) => r.g === kind).map((r) => ({ k: r.k, n: Number(r.n) }));
      const e = new PgArgs();
      const ew = [`tenant = ${e.add(tenant)}`, `expires_at <= ${e.add(now)}`];
      if (f.agentId) ew.push(`agent_id = ${e.add(f.agentId)}`);
      if (f.scope) ew.push(`scope = ${e.add(f.scope)}`);
      const [ex] = (yield* step(pg(tx).unsafe(`SELECT count(*) AS n FROM memories WHERE ${ew.join(" AND ")}`, e.list))) as { n: unknown }[];
      return {
        total: Number(agg!.total),
        contentBytes: Number(agg!.bytes),
        oldest: num(agg!.oldest),
        newest: num(agg!.newest),
        averageImportance: Number(agg!.imp),
        totalAccesses: Number(agg!.acc),
        withEmbedding: Number(agg!.withe),
        pending: Number(agg!.pending),
        expired: Number(ex!.n),
        byType: of("t"),
        byAgent: of("a"),
        byScope: of("s"),
        byModel: of("m"),
      };
    },
    compactionRows(tx, tenant, f) {
      const a = new PgArgs();
      const where = pgFilter(a, tenant, f, "with-expired");
      return rows(tx, `SELECT ${MCOLS} FROM memories m WHERE ${where} ORDER BY m.seq`, a.list);
    },
    *mergeInto(tx, survivorSeq, set, now) {
      return (yield* one(
        tx,
        `UPDATE memories SET importance = $1, tags = $2, expires_at = $3, access_count = $4, last_access_at = $5, merged_ids = $6, metadata = $7, updated_at = $8 WHERE seq = $9 RETURNING ${COLS}`,
        [set.importance, JSON.stringify(set.tags), set.expiresAt, set.accessCount, set.lastAccessAt, JSON.stringify(set.mergedIds), set.metadata, now, survivorSeq],
      ))!;
    },
    *setImportance(tx, seq, importance, now) {
      yield* step(pg(tx).unsafe(`UPDATE memories SET importance = $1, updated_at = $2 WHERE seq = $3`, [importance, now, seq]));
    },
    *answer(tx, tenant, kind, requestId) {
      const got = (yield* step(pg(tx).unsafe(`SELECT answer FROM memory_requests WHERE tenant = $1 AND kind = $2 AND request_id = $3`, [tenant, kind, requestId]))) as { answer: string }[];
      return got[0]?.answer;
    },
    *saveAnswer(tx, tenant, kind, requestId, answer, now) {
      // Two instances answering one request id: the first answer stays.
      yield* step(
        pg(tx).unsafe(`INSERT INTO memory_requests (tenant, kind, request_id, answer, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, kind, request_id) DO NOTHING`, [
          tenant,
          kind,
          requestId,
          answer,
          now,
        ]),
      );
    },
    *compactionSlot(tx, tenant) {
      const got = (yield* step(pg(tx).unsafe(`SELECT task_id FROM memory_compaction_slots WHERE tenant = $1`, [tenant]))) as { task_id: string }[];
      return got[0]?.task_id;
    },
    *takeCompactionSlot(tx, tenant, expected, taskId, now) {
      const got = (yield* step(
        expected === undefined
          ? pg(tx).unsafe(`INSERT INTO memory_compaction_slots (tenant, task_id, updated_at) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO NOTHING RETURNING tenant`, [tenant, taskId, now])
          : pg(tx).unsafe(`UPDATE memory_compaction_slots SET task_id = $1, updated_at = $2 WHERE tenant = $3 AND task_id = $4 RETURNING tenant`, [taskId, now, tenant, expected]),
      )) as unknown[];
      return got.length === 1;
    },
  };
}
