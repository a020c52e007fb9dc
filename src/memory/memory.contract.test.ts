import { afterAll, beforeAll, expect, it } from "bun:test";
import type { AppError } from "../core/errors.ts";
import { describeDialects } from "../testing/dialects.ts";
import { openMemoryOn } from "./testing.ts";
import type { NewMemory } from "./types.ts";

/**
 * The memory domain's contract on both dialects: the same domain code over the SQLite store
 * (FTS5, sqlite-vec) and the PostgreSQL store (tsvector, no vector engine without QDRANT_URL).
 * Where the engines differ (scores' scale, raw query syntax, vectors) the test says so and
 * pins what holds on each.
 */
describeDialects("memory contract", (open, dialect) => {
  let t: Awaited<ReturnType<typeof openMemoryOn>>;
  beforeAll(async () => {
    t = await openMemoryOn(await open());
  }, 60_000);
  afterAll(() => t?.close());

  const A = "tenant-a";
  const B = "tenant-b";
  const mk = (tenant: string, m: Partial<NewMemory> & { content: string }) => t.memory.memories.create(tenant, [{ type: "note", ...m }], () => "memory.").then((r) => r.memories[0]!);
  const reason = (p: Promise<unknown>) => p.then(() => "ok", (e: AppError) => `${e.code}:${e.reason}:${e.metadata?.field ?? ""}`);

  it("stores, reads (counting accesses), updates, lists newest first by pages and deletes", async () => {
    const m = await mk(A, { content: "The deploy script lives in ops/deploy.sh", importance: 0.7, tags: ["ops", "ops"], metadata: { file: "ops/deploy.sh" }, type: "crud" });
    expect(m.tags).toEqual(["ops"]);
    expect(m.importance).toBe(0.7);
    expect(m.embeddingState).toBe(dialect === "sqlite" ? "ready" : "missing");
    expect((await t.memory.memories.get(A, m.id)).accessCount).toBe(1);
    expect((await t.memory.memories.get(A, m.id)).accessCount).toBe(2);
    const up = await t.memory.memories.update(A, m.id, { importance: 0.9, tags: ["ops", "deploy"] });
    expect(up).toMatchObject({ importance: 0.9, tags: ["ops", "deploy"], metadata: { file: "ops/deploy.sh" } });
    for (let i = 0; i < 3; i++) await mk(A, { content: `crud item ${i}`, type: "crud", tags: [`n${i}`] });
    const p1 = await t.memory.memories.list(A, { type: "crud", pageSize: 2 });
    expect(p1.memories.map((x) => x.content)).toEqual(["crud item 2", "crud item 1"]);
    const p2 = await t.memory.memories.list(A, { type: "crud", pageSize: 2, pageToken: p1.nextPageToken });
    expect(p2.memories.map((x) => x.content)).toEqual(["crud item 0", m.content]);
    expect(p2.nextPageToken).toBe("");
    expect((await t.memory.memories.list(A, { tag: "n1" })).memories.map((x) => x.content)).toEqual(["crud item 1"]);
    expect((await t.memory.memories.list(B, { type: "crud" })).memories).toEqual([]);
    await t.memory.memories.delete(A, m.id);
    expect(await reason(t.memory.memories.get(A, m.id))).toBe("not_found:MEMORY_NOT_FOUND:");
    expect(await reason(t.memory.memories.delete(A, m.id))).toBe("not_found:MEMORY_NOT_FOUND:");
  });

  it("answers a retried create with the first memory, per tenant", async () => {
    const a = await mk(A, { content: "idempotent create", requestId: "req-1" });
    const b = await mk(A, { content: "idempotent create, retried", requestId: "req-1" });
    expect(b.id).toBe(a.id);
    expect(b.content).toBe("idempotent create");
    expect((await mk(B, { content: "same key, other tenant", requestId: "req-1" })).id).not.toBe(a.id);
  });

  it("full text: every word must match, prefix and phrase queries, filters, snippets with the caller's marks", async () => {
    await mk(A, { type: "fts", content: "The tokenizer splits identifiers on camelCase boundaries", tags: ["lexer"] });
    await mk(A, { type: "fts", content: "Bread dough rises when the yeast is warm", importance: 0.2 });
    await mk(A, { type: "fts", content: "A tokenizer bug broke string escapes", agentId: "agent-7" });
    await mk(A, { type: "fts", content: "Le café crème, the deploy of ops/deploy.sh and e-mail" });
    await mk(B, { type: "fts", content: "Tenant B also has a tokenizer memory" });
    const only = { types: ["fts"] };
    const contents = async (query: string, filter: object = only) => (await t.memory.search.fullText(A, { query, filter })).map((h) => h.memory.content).sort();
    expect(await contents("tokenizer")).toEqual(["A tokenizer bug broke string escapes", "The tokenizer splits identifiers on camelCase boundaries"]);
    expect(await contents("tokenizer bug")).toEqual(["A tokenizer bug broke string escapes"]);
    expect(await contents("token*")).toHaveLength(2);
    expect(await contents("token")).toEqual([]);
    expect(await contents('"string escapes"')).toHaveLength(1);
    expect(await contents('"escapes string"')).toEqual([]);
    expect(await contents("tokenizer", { ...only, agentId: "agent-7" })).toHaveLength(1);
    expect(await contents("tokenizer", { ...only, tags: ["lexer"] })).toHaveLength(1);
    expect(await contents("bread", { ...only, minImportance: 0.5 })).toEqual([]);
    // Words as FTS5's unicode61 tokenizer (diacritics removed) cuts them, on both engines.
    expect(await contents("cafe")).toHaveLength(1);
    expect(await contents("CAFÉ deploy sh")).toHaveLength(1);
    expect(await contents("mail")).toHaveLength(1);
    const hits = await t.memory.search.fullText(A, { query: "tokenizer", filter: only });
    expect(hits[0]!.snippet).toContain("<mark>tokenizer</mark>");
    expect(hits[0]!.score).toBeGreaterThan(0);
    expect(hits[0]!.rankers).toEqual(["text"]);
    expect((await t.memory.search.fullText(A, { query: "yeast", marks: ["[", "]"] }))[0]!.snippet).toContain("[yeast]");
    expect((await t.memory.search.fullText(B, { query: "tokenizer" })).map((h) => h.memory.tenant)).toEqual([B]);
    expect(await reason(t.memory.search.fullText(A, { query: "  " }))).toBe("invalid_argument:INVALID_SEARCH_QUERY:query");
    expect(await reason(t.memory.search.fullText(A, { query: "***" }))).toBe("invalid_argument:INVALID_SEARCH_QUERY:query");
  });

  it("full text ranks denser, shorter matches first (BM25 on SQLite, ts_rank_cd on PostgreSQL)", async () => {
    const filler = Array.from({ length: 40 }, (_, i) => `filler${i}`).join(" ");
    const once = await mk(A, { type: "rank", content: `${filler} parser ${filler}` });
    const twice = await mk(A, { type: "rank", content: "parser errors: the parser stops" });
    const hits = await t.memory.search.fullText(A, { query: "parser", filter: { types: ["rank"] } });
    expect(hits.map((h) => h.memory.id)).toEqual([twice.id, once.id]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    // A long text gives a fragment around the match, elided on the sides it does not reach.
    expect(hits[1]!.snippet).toContain("<mark>parser</mark>");
    expect(hits[1]!.snippet.startsWith("…")).toBe(true);
    expect(hits[1]!.snippet.endsWith("…")).toBe(true);
    expect(hits[1]!.snippet.length).toBeLessThan(once.content.length);
  });

  it("never returns an expired or deleted memory; stats count what is live", async () => {
    const T = "tenant-live";
    const short = await mk(T, { content: "ephemeral fact", ttlMs: 1000, type: "live", agentId: "x" });
    const gone = await mk(T, { content: "deleted fact", type: "live" });
    const kept = await mk(T, { content: "lasting fact", type: "other", scope: "s1", importance: 0.4 });
    await t.memory.memories.delete(T, gone.id);
    t.clock.advance(2000);
    expect(await reason(t.memory.memories.get(T, short.id))).toBe("not_found:MEMORY_NOT_FOUND:");
    expect((await t.memory.search.fullText(T, { query: "fact" })).map((h) => h.memory.id)).toEqual([kept.id]);
    expect((await t.memory.memories.list(T, {})).memories.map((m) => m.id)).toEqual([kept.id]);
    const s = await t.memory.stats(T, {});
    expect(s).toMatchObject({ total: 1, expired: 1, byType: { other: 1 }, byScope: { s1: 1 }, byAgent: { "": 1 }, contentBytes: "lasting fact".length });
    expect(s.averageImportance).toBeCloseTo(0.4, 10);
    expect(s.oldest).toBe(kept.createdAt);
    expect((await t.memory.stats(T, { agentId: "x" })).expired).toBe(1);
    expect((await t.memory.stats("nobody", {})).total).toBe(0);
  });

  it("compaction (a task the memory worker runs): exact duplicates merge, TTL and low importance expire, caps and decay apply", async () => {
    const T = "tenant-compact";
    const low = await mk(T, { scope: "c", content: "Run the migrations before the tests", importance: 0.3, tags: ["db"] });
    const high = await mk(T, { scope: "c", content: "run the migrations   before the TESTS", importance: 0.9, tags: ["ci"] });
    await t.memory.memories.get(T, low.id);
    const short = await mk(T, { scope: "c", content: "short lived", ttlMs: 1000 });
    const trivial = await mk(T, { scope: "c", content: "trivial", importance: 0.05 });
    for (let i = 0; i < 3; i++) await mk(T, { scope: "c", content: `keeper ${i} on topic ${i * 7}`, importance: 0.5 + i / 10 });
    t.clock.advance(2000);
    const dry = await t.memory.compact(T, { filter: { scope: "c" }, merge: { similarityThreshold: 0.95 }, dryRun: true }, 20_000);
    expect(dry.task.state).toBe("succeeded");
    expect(dry.report!.merges).toEqual([{ survivorId: high.id, mergedIds: [low.id], minSimilarity: 1 }]);
    expect((await t.memory.memories.get(T, low.id)).id).toBe(low.id);
    const out = await t.memory.compact(
      T,
      { filter: { scope: "c" }, expire: { expired: true, importanceBelow: 0.1 }, merge: { similarityThreshold: 0.95 }, cap: { maxPerScope: 3 }, decay: { halfLifeMs: 2000, accessBoost: 0 } },
      20_000,
    );
    const r = out.report!;
    expect(r.expiredIds).toEqual([short.id]);
    expect(r.lowImportanceIds).toEqual([trivial.id]);
    expect(r.merges.map((g) => g.survivorId)).toEqual([high.id]);
    expect(r.overCapIds).toHaveLength(1);
    expect(r.decayed).toBe(3);
    const survivor = await t.memory.memories.get(T, high.id);
    expect(survivor.tags.sort()).toEqual(["ci", "db"]);
    expect(survivor.mergedIds).toEqual([low.id]);
    expect(survivor.accessCount).toBe(3);
    expect(await reason(t.memory.memories.get(T, low.id))).toBe("not_found:MEMORY_NOT_FOUND:");
    expect((await t.memory.memories.list(T, { scope: "c" })).memories).toHaveLength(3);
    expect(await reason(t.memory.compact(T, { cap: { maxPerScope: 0 } }, 0))).toBe("invalid_argument:INVALID_ARGUMENT:cap.max_per_scope");
  });

  if (dialect === "sqlite") {
    it("semantic search, hybrid search and backfill work with sqlite-vec", async () => {
      const hits = await t.memory.search.semantic(A, { queryText: "tokenizer splits identifiers", topK: 2, filter: { types: ["fts"] } });
      expect(hits[0]!.memory.content).toContain("camelCase");
      expect((await t.memory.search.hybrid(A, { query: "tokenizer bug", filter: { types: ["fts"] } }))[0]!.rankers.sort()).toEqual(["semantic", "text"]);
      expect((await t.memory.backfill(A, { dryRun: true })).queue).toBe("memory.embeddings");
    });
    it("refuses a raw query FTS5 cannot parse, naming query", async () => {
      expect(await reason(t.memory.search.fullText(A, { query: "AND OR (", raw: true }))).toBe("invalid_argument:INVALID_SEARCH_QUERY:query");
    });
  } else {
    it("without QDRANT_URL: memories are stored MISSING saying why; semantic search, hybrid with semantic weight, vectors and backfill answer failed_precondition naming Qdrant", async () => {
      const out = await t.memory.memories.create(A, [{ type: "novec", content: "a memory with no vector engine" }], () => "memory.");
      expect(out.memories[0]!.embeddingState).toBe("missing");
      expect(out.embeddingError).toContain("QDRANT_URL");
      const missing = "failed_precondition:VECTOR_ENGINE_MISSING:";
      expect(await reason(t.memory.search.semantic(A, { queryText: "anything" }))).toBe(missing);
      expect(await reason(t.memory.search.hybrid(A, { query: "memory" }))).toBe(missing);
      expect(await reason(t.memory.memories.setEmbeddings(A, [{ memoryId: out.memories[0]!.id, embedding: new Array(384).fill(0.05), model: "" }]))).toBe(missing);
      expect(await reason(t.memory.backfill(A, {}))).toBe(missing);
      // What needs no vector keeps working: hybrid by text alone, a dry-run backfill's counts.
      const text = await t.memory.search.hybrid(A, { query: "vector engine", semanticWeight: 0 });
      expect(text.map((h) => h.memory.id)).toEqual([out.memories[0]!.id]);
      expect((await t.memory.backfill(A, { dryRun: true, filter: { types: ["novec"] } })).scheduled).toBe(1);
      const e = (await t.memory.search.semantic(A, { queryText: "x" }).catch((x) => x)) as AppError;
      expect(e.metadata).toMatchObject({ engine: "qdrant", variable: "QDRANT_URL" });
    });
    it("reads a raw query as web-search syntax (quoted phrases, -exclusions, or), never as a parse error", async () => {
      const got = async (query: string) => (await t.memory.search.fullText(A, { query, raw: true, filter: { types: ["fts"] } })).map((h) => h.memory.content).sort();
      expect(await got('"string escapes"')).toEqual(["A tokenizer bug broke string escapes"]);
      expect(await got("tokenizer -bug")).toEqual(["The tokenizer splits identifiers on camelCase boundaries"]);
      expect(await got("yeast or camelCase")).toHaveLength(2);
      // FTS5 refuses this one; web-search syntax reads the word "and" (the operator or has nothing after it).
      expect(await got("AND OR (")).toEqual(["Le café crème, the deploy of ops/deploy.sh and e-mail"]);
    });
  }
});
