import { AppError, invalidArgument } from "../core/errors.ts";
import { vectorEngineMissing } from "../vectors/none.ts";
import type { MemoryContext } from "./context.ts";
import { checkFilter, checkLimit, checkVector, LIMITS } from "./limits.ts";
import { parseQuery, rowToMemory, type MemoryRow, type TextQuery } from "./store.ts";
import type { MemoryFilter, Ranker, SearchHit } from "./types.ts";

const badQuery = (message: string) => new AppError("invalid_argument", "INVALID_SEARCH_QUERY", `query: ${message}`, { field: "query" });

/** Full-text (FTS5 BM25 on SQLite, tsvector + ts_rank_cd on PostgreSQL), semantic (vector kNN) and hybrid (weighted RRF) search. */
export function createSearch(ctx: MemoryContext) {
  const { store, clock, vectors, embedder, database } = ctx;

  async function fullText(tenant: string, match: TextQuery, filter: MemoryFilter, limit: number, marks: [string, string]) {
    try {
      return await database.read((tx) => store.fullText(tx, tenant, match, filter, clock.now(), limit, marks));
    } catch (error) {
      const msg = (error as Error).message;
      if (/fts5|syntax error|unterminated|no such column|unknown special query/i.test(msg)) throw badQuery(`FTS5 cannot parse it (${msg})`);
      throw error;
    }
  }

  /** Without a vector engine semantic ranking is refused before the query is embedded. */
  function refuseWithoutEngine(): void {
    if (vectors.kind === "none") throw vectorEngineMissing();
  }

  async function queryVector(text: string | undefined, given: number[] | undefined, field: string): Promise<Float32Array> {
    if (given && given.length > 0) return checkVector(given, await ctx.dimensions(), field);
    return (await ctx.embed([text!]))[0]!;
  }

  /** The k nearest live memories matching the filter, asking the index for more while filters drop hits. */
  async function nearest(tenant: string, vector: Float32Array, k: number, filter: MemoryFilter): Promise<{ row: MemoryRow; score: number }[]> {
    const idx = { type: filter.types?.length === 1 ? filter.types[0] : undefined, agentId: filter.agentId || undefined, scope: filter.scope || undefined };
    let want = k * 2;
    for (;;) {
      const hits = await vectors.search(tenant, embedder.model, vector, want, idx);
      const rows = await database.read((tx) => store.liveWithVector(tx, tenant, hits.map((h) => h.seq), filter, embedder.model, clock.now()));
      const out = hits.filter((h) => rows.has(h.seq)).map((h) => ({ row: rows.get(h.seq)!, score: h.score }));
      if (out.length >= k || hits.length < want || want >= 4096) return out.slice(0, k);
      want = Math.min(4096, want * 4);
    }
  }

  return {
    async fullText(tenant: string, req: { query: string; filter?: MemoryFilter; limit?: number; raw?: boolean; marks?: [string, string] }): Promise<SearchHit[]> {
      if (!req.query || req.query.trim() === "") throw badQuery("is required");
      if (req.query.length > LIMITS.queryLength) throw badQuery(`must be at most ${LIMITS.queryLength} characters`);
      const filter = checkFilter(req.filter);
      const limit = checkLimit(req.limit, "limit");
      const match: TextQuery = req.raw ? { raw: req.query } : parseQuery(req.query, "AND");
      if ("terms" in match && match.terms.length === 0) throw badQuery("has no word to search for");
      return (await fullText(tenant, match, filter, limit, req.marks ?? ["<mark>", "</mark>"])).map((h) => ({
        memory: rowToMemory(h.row),
        score: h.score,
        snippet: h.snippet,
        textScore: h.score,
        textRank: undefined,
        rankers: ["text"],
      }));
    },

    async semantic(tenant: string, req: { queryText?: string; queryEmbedding?: number[]; topK?: number; minScore?: number; filter?: MemoryFilter }): Promise<SearchHit[]> {
      const hasText = !!req.queryText && req.queryText.trim() !== "";
      const hasVec = !!req.queryEmbedding && req.queryEmbedding.length > 0;
      if (hasText === hasVec) throw invalidArgument("query_text", "give exactly one of query_text and query_embedding");
      if (hasText && req.queryText!.length > LIMITS.queryLength) throw invalidArgument("query_text", `must be at most ${LIMITS.queryLength} characters`);
      const filter = checkFilter(req.filter);
      const k = checkLimit(req.topK, "top_k");
      refuseWithoutEngine();
      const v = await queryVector(req.queryText, req.queryEmbedding, "query_embedding");
      const hits = await nearest(tenant, v, k, filter);
      return hits
        .filter((h) => req.minScore === undefined || h.score >= req.minScore)
        .map((h, i) => ({ memory: rowToMemory(h.row), score: h.score, snippet: "", semanticScore: h.score, semanticRank: i + 1, rankers: ["semantic"] }));
    },

    async hybrid(
      tenant: string,
      req: { query: string; queryEmbedding?: number[]; textWeight?: number; semanticWeight?: number; topK?: number; minScore?: number; filter?: MemoryFilter; marks?: [string, string]; rrfK?: number },
    ): Promise<SearchHit[]> {
      if (!req.query || req.query.trim() === "") throw badQuery("is required");
      if (req.query.length > LIMITS.queryLength) throw badQuery(`must be at most ${LIMITS.queryLength} characters`);
      const tw = req.textWeight ?? 0.5;
      const sw = req.semanticWeight ?? 0.5;
      if (!(tw >= 0)) throw invalidArgument("text_weight", "must be at least 0");
      if (!(sw >= 0)) throw invalidArgument("semantic_weight", "must be at least 0");
      if (tw === 0 && sw === 0) throw invalidArgument("text_weight", "text_weight and semantic_weight must not both be 0");
      const rrfK = req.rrfK === undefined || req.rrfK === 0 ? 60 : req.rrfK;
      if (!Number.isInteger(rrfK) || rrfK < 1 || rrfK > 10_000) throw invalidArgument("rrf_k", "must be between 1 and 10000");
      const filter = checkFilter(req.filter);
      const k = checkLimit(req.topK, "top_k");
      const n = Math.min(4 * k, 400);
      if (sw > 0) refuseWithoutEngine();
      const match = parseQuery(req.query, "OR");
      const text = match.terms.length ? await fullText(tenant, match, filter, n, req.marks ?? ["<mark>", "</mark>"]) : [];
      const v = sw > 0 ? await queryVector(req.query, req.queryEmbedding, "query_embedding") : undefined;
      const sem = v ? await nearest(tenant, v, n, filter) : [];
      const fused = new Map<number, SearchHit & { row: MemoryRow }>();
      const entry = (row: MemoryRow) => {
        let e = fused.get(row.seq);
        if (!e) fused.set(row.seq, (e = { row, memory: rowToMemory(row), score: 0, snippet: "", rankers: [] as Ranker[] }));
        return e;
      };
      text.forEach((h, i) => {
        const e = entry(h.row);
        e.textRank = i + 1;
        e.textScore = h.score;
        e.snippet = h.snippet;
        e.rankers.push("text");
        e.score += tw / (rrfK + i + 1);
      });
      sem.forEach((h, i) => {
        const e = entry(h.row);
        e.semanticRank = i + 1;
        e.semanticScore = h.score;
        e.rankers.push("semantic");
        e.score += sw / (rrfK + i + 1);
      });
      return [...fused.values()]
        .filter((e) => req.minScore === undefined || e.score >= req.minScore)
        .sort((a, b) => b.score - a.score || b.row.seq - a.row.seq)
        .slice(0, k)
        .map(({ row: _row, ...hit }) => hit);
    },
  };
}

export type Search = ReturnType<typeof createSearch>;
