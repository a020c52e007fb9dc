import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { AppError } from "../core/errors.ts";
import { describeDialects } from "../testing/dialects.ts";
import { openMemoryOn } from "./testing.ts";
import type { NewMemory } from "./types.ts";

// On both dialects: SQLite (FTS5, sqlite-vec) and PostgreSQL (tsvector; no vector engine without
// QDRANT_URL, so what needs vectors runs where there are some: see memory.contract.test.ts for
// PostgreSQL's answers without them).
describeDialects("memory", (open, dialect) => {
  const vectors = dialect === "sqlite";
  let t: Awaited<ReturnType<typeof openMemoryOn>>;
  beforeAll(async () => {
    t = await openMemoryOn(await open());
  }, 60_000);
  afterAll(() => t?.close());

  const A = "tenant-a";
  const B = "tenant-b";
  const mk = (tenant: string, m: Partial<NewMemory> & { content: string }) => t.memory.memories.create(tenant, [{ type: "note", ...m }], () => "memory.").then((r) => r.memories[0]!);
  const reason = (p: Promise<unknown>) => p.then(() => "ok", (e: AppError) => `${e.reason}:${e.metadata.field ?? ""}`);

  describe("memories", () => {
    it("stores, reads (counting accesses), updates and deletes a memory", async () => {
      const m = await mk(A, { content: "The deploy script lives in ops/deploy.sh", importance: 0.7, tags: ["ops", "ops"], metadata: { file: "ops/deploy.sh" }, source: "agent-1" });
      expect(m.id).toStartWith("mem_");
      expect(m.tags).toEqual(["ops"]);
      // PostgreSQL without QDRANT_URL has no vector engine: the memory waits for one, MISSING.
      expect(m.embeddingState).toBe(vectors ? "ready" : "missing");
      expect(m.embeddingModel).toBe(vectors ? "builtin-lexical-v1" : undefined);
      const got = await t.memory.memories.get(A, m.id);
      expect(got.accessCount).toBe(1);
      expect((await t.memory.memories.get(A, m.id)).accessCount).toBe(2);
      const up = await t.memory.memories.update(A, m.id, { importance: 0.9, tags: ["ops", "deploy"] });
      expect(up.importance).toBe(0.9);
      expect(up.tags).toEqual(["ops", "deploy"]);
      expect(up.metadata).toEqual({ file: "ops/deploy.sh" });
      await t.memory.memories.delete(A, m.id);
      expect(await reason(t.memory.memories.get(A, m.id))).toBe("MEMORY_NOT_FOUND:");
      expect(await reason(t.memory.memories.delete(A, m.id))).toBe("MEMORY_NOT_FOUND:");
    });

    it("answers the first memory to a retried create with the same request_id", async () => {
      const a = await mk(A, { content: "idempotent create", requestId: "req-1" });
      const b = await mk(A, { content: "idempotent create, retried", requestId: "req-1" });
      expect(b.id).toBe(a.id);
      expect(b.content).toBe("idempotent create");
      const other = await mk(B, { content: "same key, other tenant", requestId: "req-1" });
      expect(other.id).not.toBe(a.id);
    });

    it("refuses bad input with the field named", async () => {
      const cases: [Partial<NewMemory>, string][] = [
        [{ content: "" }, "INVALID_ARGUMENT:memory.content"],
        [{ content: "x".repeat(64 * 1024 + 1) }, "INVALID_ARGUMENT:memory.content"],
        [{ content: "x", type: "Bad Type" }, "INVALID_ARGUMENT:memory.type"],
        [{ content: "x", importance: 1.5 }, "INVALID_ARGUMENT:memory.importance"],
        [{ content: "x", tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, "INVALID_ARGUMENT:memory.tags"],
        [{ content: "x", metadata: { big: "y".repeat(17 * 1024) } }, "INVALID_ARGUMENT:memory.metadata"],
        [{ content: "x", embedding: [1, 2, 3] }, "EMBEDDING_DIMENSION_MISMATCH:memory.embedding"],
        [{ content: "x", embedding: new Array(384).fill(0.1), embeddingModel: "other-model" }, "EMBEDDING_MODEL_MISMATCH:memory.embedding_model"],
        [{ content: "x", ttlMs: 1000, expiresAt: Date.now() + 5000 }, "INVALID_ARGUMENT:memory.ttl"],
      ];
      for (const [m, want] of cases) expect(await reason(mk(A, { content: "", ...m } as NewMemory))).toBe(want);
      const err = (await mk(A, { content: "x", embedding: [1, 2, 3] }).catch((e) => e)) as AppError;
      expect(err.message).toContain("3 dimensions, the index has 384");
    });

    it.if(vectors)("stores a memory without embedding when the embedder is down, and a backfill task embeds it later", async () => {
      t.embedder.down = true;
      let out;
      try {
        out = await t.memory.memories.create(A, [{ type: "note", content: "written while the embedder was down" }], () => "memory.");
      } finally {
        t.embedder.down = false;
      }
      const m = out.memories[0]!;
      expect(m.embeddingState).toBe("missing");
      expect(out.embeddingError).toContain("connection refused");
      t.embedder.down = true;
      await expect(t.memory.search.semantic(A, { queryText: "anything" })).rejects.toMatchObject({ code: "unavailable", reason: "EMBEDDER_UNAVAILABLE" });
      t.embedder.down = false;
      const job = await t.memory.backfill(A, { batchSize: 10 });
      expect(job.scheduled).toBeGreaterThanOrEqual(1);
      expect(job.queue).toBe("memory.embeddings");
      for (const id of job.taskIds) expect((await t.memory.waitForTask(A, id, 10_000)).state).toBe("succeeded");
      expect((await t.memory.memories.get(A, m.id)).embeddingState).toBe("ready");
      const hits = await t.memory.search.semantic(A, { queryText: "written while the embedder was down", topK: 1 });
      expect(hits[0]!.memory.id).toBe(m.id);
      expect((await t.memory.stats(A, {})).withoutEmbedding).toBe(0);
    });

    it("lists newest first with pagination and filters", async () => {
      for (let i = 0; i < 5; i++) await mk(A, { content: `list item ${i}`, type: "listing", scope: i % 2 ? "odd" : "even", tags: [`n${i}`] });
      const p1 = await t.memory.memories.list(A, { type: "listing", pageSize: 2 });
      expect(p1.memories.map((m) => m.content)).toEqual(["list item 4", "list item 3"]);
      const p2 = await t.memory.memories.list(A, { type: "listing", pageSize: 2, pageToken: p1.nextPageToken });
      expect(p2.memories.map((m) => m.content)).toEqual(["list item 2", "list item 1"]);
      expect((await t.memory.memories.list(A, { type: "listing", scope: "odd" })).memories).toHaveLength(2);
      expect((await t.memory.memories.list(A, { tag: "n0" })).memories.map((m) => m.content)).toEqual(["list item 0"]);
      expect((await t.memory.memories.list(B, { type: "listing" })).memories).toHaveLength(0);
      await expect(t.memory.memories.list(A, { type: "other", pageToken: p1.nextPageToken })).rejects.toThrow(/page_token/);
      const before = t.clock.now();
      t.clock.advance(10);
      const late = await mk(A, { content: "created later", type: "listing" });
      expect((await t.memory.memories.list(A, { type: "listing", createdAfter: before + 1 })).memories.map((m) => m.id)).toEqual([late.id]);
      expect((await t.memory.memories.list(A, { type: "listing", createdBefore: before + 1 })).memories).toHaveLength(5);
    });
  });

  describe("search", () => {
    beforeAll(async () => {
      await mk(A, { type: "search", content: "The tokenizer splits identifiers on camelCase boundaries", tags: ["lexer"] });
      await mk(A, { type: "search", content: "Bread dough rises when the yeast is warm", importance: 0.2 });
      await mk(A, { type: "search", content: "A tokenizer bug broke string escapes", agentId: "agent-7" });
      await mk(B, { type: "search", content: "Tenant B also has a tokenizer memory" });
    });

    it("ranks full-text hits by BM25 with highlighted snippets, prefix and phrase queries", async () => {
      const hits = await t.memory.search.fullText(A, { query: "tokenizer", filter: { types: ["search"] } });
      expect(hits.map((h) => h.memory.content).sort()).toEqual(["A tokenizer bug broke string escapes", "The tokenizer splits identifiers on camelCase boundaries"]);
      expect(hits[0]!.snippet).toContain("<mark>tokenizer</mark>");
      expect(hits[0]!.score).toBeGreaterThan(0);
      expect(hits[0]!.rankers).toEqual(["text"]);
      expect(await t.memory.search.fullText(A, { query: "token*", filter: { types: ["search"] } })).toHaveLength(2);
      expect(await t.memory.search.fullText(A, { query: '"string escapes"' })).toHaveLength(1);
      expect(await t.memory.search.fullText(A, { query: '"escapes string"' })).toHaveLength(0);
      expect(await t.memory.search.fullText(A, { query: "tokenizer", filter: { agentId: "agent-7" } })).toHaveLength(1);
      expect(await t.memory.search.fullText(A, { query: "tokenizer", filter: { tags: ["lexer"] } })).toHaveLength(1);
      expect(await t.memory.search.fullText(A, { query: "bread", filter: { minImportance: 0.5 } })).toHaveLength(0);
      const marked = await t.memory.search.fullText(A, { query: "yeast", marks: ["[", "]"] });
      expect(marked[0]!.snippet).toContain("[yeast]");
    });

    it("refuses a query FTS5 cannot parse with a 400 naming query", async () => {
      // PostgreSQL reads raw queries as web-search syntax, which has no parse error (memory.contract.test.ts).
      if (dialect === "sqlite") expect(await reason(t.memory.search.fullText(A, { query: "AND OR (", raw: true }))).toBe("INVALID_SEARCH_QUERY:query");
      expect(await reason(t.memory.search.fullText(A, { query: "   " }))).toBe("INVALID_SEARCH_QUERY:query");
      expect(await reason(t.memory.search.fullText(A, { query: "x", limit: 101 }))).toBe("INVALID_ARGUMENT:limit");
    });

    it.if(vectors)("finds by vector, refusing a vector of the wrong dimension with both dimensions", async () => {
      const hits = await t.memory.search.semantic(A, { queryText: "tokenizer splits identifiers", topK: 2, filter: { types: ["search"] } });
      expect(hits[0]!.memory.content).toContain("camelCase");
      expect(hits[0]!.semanticScore).toBeGreaterThan(hits[1]!.semanticScore!);
      const err = (await t.memory.search.semantic(A, { queryEmbedding: [0.1, 0.2] }).catch((e) => e)) as AppError;
      expect(err.reason).toBe("EMBEDDING_DIMENSION_MISMATCH");
      expect(err.metadata).toMatchObject({ field: "query_embedding", dimensions: "2", expected_dimensions: "384" });
      expect(await reason(t.memory.search.semantic(A, {}))).toBe("INVALID_ARGUMENT:query_text");
      expect(await reason(t.memory.search.semantic(A, { queryText: "x", topK: 1000 }))).toBe("INVALID_ARGUMENT:top_k");
    });

    it.if(vectors)("fuses both rankers by weighted RRF and says which found each result", async () => {
      const hits = await t.memory.search.hybrid(A, { query: "tokenizer bug", filter: { types: ["search"] } });
      const top = hits[0]!;
      expect(top.memory.content).toBe("A tokenizer bug broke string escapes");
      expect(top.rankers.sort()).toEqual(["semantic", "text"]);
      expect(top.textRank).toBe(1);
      expect(top.score).toBeCloseTo(0.5 / 61 + 0.5 / (60 + top.semanticRank!), 10);
      const textOnly = await t.memory.search.hybrid(A, { query: "tokenizer", semanticWeight: 0, filter: { types: ["search"] } });
      expect(textOnly.every((h) => h.rankers.join() === "text")).toBe(true);
      expect(await reason(t.memory.search.hybrid(A, { query: "x", textWeight: 0, semanticWeight: 0 }))).toBe("INVALID_ARGUMENT:text_weight");
    });

    it("never shows one tenant's memories to another, in any read or search", async () => {
      const b = (await t.memory.search.fullText(B, { query: "tokenizer" })).map((h) => h.memory.tenant);
      expect(b).toEqual([B]);
      if (vectors) expect((await t.memory.search.semantic(B, { queryText: "tokenizer", topK: 50 })).every((h) => h.memory.tenant === B)).toBe(true);
      expect((await t.memory.search.hybrid(B, { query: "tokenizer", topK: 50, semanticWeight: vectors ? undefined : 0 })).every((h) => h.memory.tenant === B)).toBe(true);
      const a = (await t.memory.search.fullText(A, { query: "tokenizer" }))[0]!.memory;
      expect(await reason(t.memory.memories.get(B, a.id))).toBe("MEMORY_NOT_FOUND:");
      expect(await reason(t.memory.memories.update(B, a.id, { importance: 0 }))).toBe("MEMORY_NOT_FOUND:");
      expect(await reason(t.memory.memories.delete(B, a.id))).toBe("MEMORY_NOT_FOUND:");
      expect((await t.memory.stats(B, {})).total).toBe(2);
    });
  });

  describe("compaction (a task on the task engine)", () => {
    it("merges near-duplicates into the most important, folding tags and access counts; dry run changes nothing", async () => {
      const scope = "compact-1";
      const low = await mk(A, { scope, content: "Run the migrations before the tests", importance: 0.3, tags: ["db"] });
      const high = await mk(A, { scope, content: "run the migrations   before the TESTS", importance: 0.9, tags: ["ci"] });
      await t.memory.memories.get(A, low.id);
      const other = await mk(A, { scope, content: "Completely different: the cache is warm", importance: 0.1 });
      const dry = await t.memory.compact(A, { filter: { scope }, merge: { similarityThreshold: 0.95 }, dryRun: true }, 10_000);
      expect(dry.task.state).toBe("succeeded");
      expect(dry.report!.merges).toEqual([{ survivorId: high.id, mergedIds: [low.id], minSimilarity: 1 }]);
      expect((await t.memory.memories.get(A, low.id)).id).toBe(low.id);
      const out = await t.memory.compact(A, { filter: { scope } }, 10_000);
      expect(out.report!.merges.map((g) => g.survivorId)).toEqual([high.id]);
      const kept = await t.memory.memories.get(A, high.id);
      expect(kept.tags.sort()).toEqual(["ci", "db"]);
      expect(kept.mergedIds).toEqual([low.id]);
      expect(kept.accessCount).toBe(3); // low's 2 (one read above, one in the dry-run check) + this read
      expect(await reason(t.memory.memories.get(A, low.id))).toBe("MEMORY_NOT_FOUND:");
      expect((await t.memory.memories.get(A, other.id)).id).toBe(other.id);
      const task = await t.engine.scoped(A).getTask(out.task.id);
      expect(task.queue).toBe("memory.compaction");
      expect(task.progress).toBeGreaterThan(0);
      expect((await t.engine.scoped(A).listTasks({ queues: ["memory.compaction"] })).items.length).toBeGreaterThanOrEqual(2);
      expect((await t.engine.scoped(B).listTasks({ queues: ["memory.compaction"] })).items.length).toBe(0); // another tenant sees none of them
    });

    it("expires past TTL and low importance, caps each scope, decays importance", async () => {
      const scope = "compact-2";
      const short = await mk(A, { scope, content: "short lived", ttlMs: 1000 });
      const trivial = await mk(A, { scope, content: "trivial", importance: 0.05 });
      for (let i = 0; i < 4; i++) await mk(A, { scope, content: `keeper number ${i} about topic ${i * 7}`, importance: 0.5 + i / 10 });
      t.clock.advance(2000);
      expect(await reason(t.memory.memories.get(A, short.id))).toBe("MEMORY_NOT_FOUND:");
      expect((await t.memory.stats(A, { scope })).expired).toBe(1);
      const out = await t.memory.compact(A, { filter: { scope }, expire: { expired: true, importanceBelow: 0.1 }, cap: { maxPerScope: 3 }, decay: { halfLifeMs: 2000, accessBoost: 0 } }, 10_000);
      const r = out.report!;
      expect(r.expiredIds).toEqual([short.id]);
      expect(r.lowImportanceIds).toEqual([trivial.id]);
      expect(r.overCapIds).toHaveLength(1);
      expect(r.decayed).toBe(3);
      const left = (await t.memory.memories.list(A, { scope })).memories;
      expect(left).toHaveLength(3);
      expect(Math.max(...left.map((m) => m.importance))).toBeCloseTo(0.8 * 0.5, 5);
    });

    it("runs one compaction at a time and refuses bad policies", async () => {
      expect(await reason(t.memory.compact(A, { merge: { similarityThreshold: 2 } }, 0))).toBe("INVALID_ARGUMENT:merge.similarity_threshold");
      expect(await reason(t.memory.compact(A, { cap: { maxPerScope: 0 } }, 0))).toBe("INVALID_ARGUMENT:cap.max_per_scope");
      await t.memory.stop(); // hold the task pending
      try {
        const first = await t.memory.compact(A, {}, undefined);
        expect(first.task.state).toBe("pending");
        expect(await reason(t.memory.compact(A, {}, undefined))).toBe("COMPACTION_IN_PROGRESS:");
        expect((await t.memory.compact(B, { dryRun: true }, undefined)).task.state).toBe("pending"); // another tenant is not blocked
        await t.engine.scoped(A).cancelTask({ id: first.task.id });
      } finally {
        t.memory.start();
      }
    });
  });

  describe("a change of embedding model", () => {
    it.if(dialect === "sqlite")("never mixes two models' vectors in one search; stats count per model; a backfill re-embeds the old ones", async () => {
      const T = "tenant-model";
      const old = await mk(T, { content: "vectors from the first model", type: "models" });
      await t.memory.stop();
      const lexical = (await import("../embeddings/lexical.ts")).createLexicalEmbedder();
      const embedder = { ...lexical, model: "builtin-lexical-alt" };
      const { createMemory } = await import("./memory.ts");
      const { createSqliteVecIndex } = await import("../vectors/sqlite-vec.ts");
      const { engineTaskPort } = await import("./module.ts");
      const { silentLogger } = await import("../core/logger.ts");
      const second = createMemory({ database: t.database, clock: t.clock, log: silentLogger, embedder, vectors: createSqliteVecIndex(t.database.sqlite), tasks: engineTaskPort(t.engine), workerPollMs: 20 });
      second.start();
      try {
        expect(await second.search.semantic(T, { queryText: "vectors from the first model" })).toEqual([]);
        const stats = await second.stats(T, {});
        expect(stats.byModel).toEqual({ "builtin-lexical-v1": 1 });
        expect(stats.withEmbedding).toBe(0);
        const job = await second.backfill(T, { includeOtherModels: true });
        expect(job.scheduled).toBe(1);
        for (const id of job.taskIds) expect((await second.waitForTask(T, id, 10_000)).state).toBe("succeeded");
        const hits = await second.search.semantic(T, { queryText: "vectors from the first model" });
        expect(hits.map((h) => h.memory.id)).toEqual([old.id]);
        expect(hits[0]!.memory.embeddingModel).toBe("builtin-lexical-alt");
        expect((await second.stats(T, {})).byModel).toEqual({ "builtin-lexical-alt": 1 });
      } finally {
        await second.stop();
        t.memory.start();
      }
    });

    it("a cancelled compaction task stops", async () => {
      const T = "tenant-cancel";
      await t.memory.stop();
      try {
        const { task } = await t.memory.compact(T, {}, undefined);
        await t.engine.scoped(T).cancelTask({ id: task.id });
      } finally {
        t.memory.start();
      }
      const done = (await t.engine.scoped(T).listTasks({ queues: ["memory.compaction"], states: ["cancelled"] })).items;
      expect(done.length).toBeGreaterThanOrEqual(1);
      // the tenant can compact again at once
      expect((await t.memory.compact(T, {}, 10_000)).task.state).toBe("succeeded");
    });
  });

  describe("cancelling a running compaction", () => {
    it("stops the worker between merge groups, leaving whole groups only", async () => {
      const T = "tenant-cancel-running";
      for (let g = 0; g < 3000; g += 50) {
        const inputs: NewMemory[] = [];
        for (let i = g; i < g + 50; i++) {
          inputs.push({ type: "c", content: `cancel fact ${i} on subsystem ${i % 31}`, importance: 0.9 });
          inputs.push({ type: "c", content: `CANCEL fact ${i} on subsystem ${i % 31}`, importance: 0.1 });
        }
        await t.memory.memories.create(T, inputs, () => "");
      }
      const { task } = await t.memory.compact(T, { merge: { similarityThreshold: 0.99 } }, undefined);
      const deadline = Date.now() + 60_000;
      while ((await t.engine.scoped(T).getTask(task.id)).progress <= 12) {
        if (Date.now() > deadline || (await t.engine.scoped(T).getTask(task.id)).state === "succeeded") throw new Error("compaction did not run long enough to cancel");
        await Bun.sleep(2);
      }
      await t.engine.scoped(T).cancelTask({ id: task.id });
      const final = await t.memory.waitForTask(T, task.id, 10_000);
      expect(final.state).toBe("cancelled");
      // the worker noticed: no merge commits after the cancel's next heartbeat
      await Bun.sleep(300);
      const count = async () => (await t.memory.stats(T, {})).total;
      const left = await count();
      await Bun.sleep(300);
      expect(await count()).toBe(left);
      expect(left).toBeGreaterThan(3000);
      // Whole merges only: every merged id is gone, and nothing else is.
      const rows: { id: string; mergedIds: string[] }[] = [];
      for (let pageToken = "", first = true; first || pageToken; first = false) {
        const page = await t.memory.memories.list(T, { pageSize: 1000, pageToken });
        rows.push(...page.memories);
        pageToken = page.nextPageToken;
      }
      expect(rows).toHaveLength(left);
      const ids = new Set(rows.map((r) => r.id));
      const absorbed = rows.flatMap((r) => r.mergedIds);
      for (const id of absorbed) expect(ids.has(id)).toBe(false);
      expect(rows.length + absorbed.length).toBe(6000);
      expect(absorbed.length).toBeGreaterThan(0);
      expect(absorbed.length).toBeLessThan(3000);
    }, 90_000);
  });
});
