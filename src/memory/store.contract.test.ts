import { beforeAll, expect, it } from "bun:test";
import type { Database } from "../db/client.ts";
import { describeDialects } from "../testing/dialects.ts";
import { contentKey } from "./context.ts";
import { createPgMemoryStore, createSqliteMemoryStore, parseQuery, tsQuery, fts5Query, type MemoryRow, type MemoryStore, type NewRow } from "./store.ts";

/**
 * The store's contract on both dialects, for what the domain tests cannot reach on PostgreSQL
 * without a vector engine (embedding states, backfill jobs, vector hits re-read from the rows),
 * and the rendering of one query for each engine.
 */
describeDialects("memory store", (open) => {
  let db: Database;
  let store: MemoryStore;
  const now = 1_700_000_000_000;
  const T = "tenant-store";
  const seqs: Record<string, number> = {};
  const row = (name: string, over: Partial<NewRow> = {}): NewRow => ({
    id: `mem_${name}`,
    tenant: T,
    content: `content of ${name}`,
    type: "note",
    agentId: "",
    scope: "",
    importance: 0.5,
    metadata: null,
    tags: [],
    source: "",
    embeddingState: "missing",
    embeddingModel: null,
    expiresAt: null,
    contentKey: contentKey(`content of ${name}`),
    requestId: null,
    now,
    ...over,
  });

  beforeAll(async () => {
    db = await open();
    store = db.dialect === "sqlite" ? createSqliteMemoryStore(db.sqlite) : createPgMemoryStore();
    const rows = [
      row("a", { tags: ["x", "y"], importance: 0.9, agentId: "ag" }),
      row("b", { type: "fact", scope: "s" }),
      row("c", { embeddingState: "ready", embeddingModel: "m1" }),
      row("d", { embeddingState: "ready", embeddingModel: "m0", tags: ["x"] }),
      row("e", { expiresAt: now + 10 }),
      row("f", { tenant: "other" }),
    ];
    await db.write(function* (tx) {
      for (const r of rows) seqs[r.id.slice(4)] = (yield* store.insert(tx, r))!.seq;
    });
  }, 60_000);

  const ids = (rows: MemoryRow[]) => rows.map((r) => r.id.slice(4));

  it("inserts rows with numbers where SQLite has integers", async () => {
    const r = (await db.read((tx) => store.getAny(tx, T, "mem_a")))!;
    expect(r).toMatchObject({ id: "mem_a", tenant: T, importance: 0.9, tags: '["x","y"]', embedding_state: 1, access_count: 0, created_at: now, last_access_at: now, expires_at: null, size_bytes: 12 });
    expect(typeof r.seq).toBe("number");
    expect((await db.read((tx) => store.getAny(tx, T, "mem_f")))).toBeUndefined();
    expect((await db.read((tx) => store.get(tx, T, "mem_e", now + 10)))).toBeUndefined();
    expect((await db.read((tx) => store.get(tx, T, "mem_e", now + 9)))?.id).toBe("mem_e");
  });

  it("selects what to embed, oldest first, with or without other models' vectors, and counts it", async () => {
    expect(ids(await db.read((tx) => store.toEmbed(tx, T, {}, "m1", false, now, 10)))).toEqual(["a", "b", "e"]);
    expect(ids(await db.read((tx) => store.toEmbed(tx, T, {}, "m1", true, now, 10)))).toEqual(["a", "b", "d", "e"]);
    expect(ids(await db.read((tx) => store.toEmbed(tx, T, { tags: ["x"] }, "m1", true, now, 10)))).toEqual(["a", "d"]);
    expect(ids(await db.read((tx) => store.toEmbed(tx, T, {}, "m1", true, now + 10, 2)))).toEqual(["a", "b"]);
    expect(await db.read((tx) => store.countToEmbed(tx, T, {}, "m1", true, now + 10))).toEqual({ todo: 3, pending: 0 });
  });

  it("holds memories PENDING for a job and releases only that job's", async () => {
    await db.write(function* (tx) {
      yield* store.setEmbedding(tx, seqs.a!, "pending", null, "job1", now);
      yield* store.setEmbedding(tx, seqs.b!, "pending", null, "job2", now);
    });
    expect(await db.read((tx) => store.countToEmbed(tx, T, {}, "m1", false, now))).toEqual({ todo: 1, pending: 2 });
    expect(await db.write((tx) => store.releaseJob(tx, "job1", [seqs.a!, seqs.b!], now + 1))).toBe(1);
    const [a, b] = await db.read((tx) => store.bySeqs(tx, [seqs.a!, seqs.b!]));
    expect([a!.embedding_state, a!.backfill_job, b!.embedding_state, b!.backfill_job].sort()).toEqual([1, 2, "job2", null].sort());
  });

  it("re-reads vector hits: live rows of the tenant with the model's vector, filtered", async () => {
    await db.write((tx) => store.setEmbedding(tx, seqs.e!, "ready", "m1", null, now));
    const all = Object.values(seqs);
    const hit = async (f: object, at = now) => [...(await db.read((tx) => store.liveWithVector(tx, T, all, f, "m1", at))).values()].map((r) => r.id.slice(4)).sort();
    expect(await hit({})).toEqual(["c", "e"]);
    expect(await hit({}, now + 10)).toEqual(["c"]);
    expect(await hit({ types: ["fact"] })).toEqual([]);
    expect(await hit({ minImportance: 0.6 })).toEqual([]);
    expect((await db.read((tx) => store.liveWithVector(tx, "other", all, {}, "m1", now))).size).toBe(0);
    expect(ids(await db.read((tx) => store.byIds(tx, T, ["mem_c", "mem_f", "mem_zz"], now)))).toEqual(["c"]);
  });

  it("counts per model and group in stats", async () => {
    const s = await db.read((tx) => store.stats(tx, T, {}, "m1", now));
    expect(s).toMatchObject({ total: 5, withEmbedding: 2, pending: 1, expired: 0, oldest: now, newest: now });
    const rec = (xs: { k: string | null; n: number }[]) => Object.fromEntries(xs.map((x) => [x.k ?? "", x.n]));
    expect(rec(s.byModel)).toEqual({ m0: 1, m1: 2 });
    expect(rec(s.byType)).toEqual({ note: 4, fact: 1 });
    expect((await db.read((tx) => store.stats(tx, T, { scope: "s" }, "m1", now))).total).toBe(1);
  });

  it("merges into a survivor and keeps idempotent answers first-wins where the engine allows", async () => {
    const m = await db.write((tx) =>
      store.mergeInto(tx, seqs.c!, { importance: 1, tags: ["t"], expiresAt: now + 5, accessCount: 7, lastAccessAt: now + 3, mergedIds: ["mem_d"], metadata: '{"k":1}' }, now + 4),
    );
    expect(m).toMatchObject({ importance: 1, tags: '["t"]', expires_at: now + 5, access_count: 7, last_access_at: now + 3, merged_ids: '["mem_d"]', metadata: '{"k":1}', updated_at: now + 4 });
    await db.write((tx) => store.saveAnswer(tx, T, "backfill", "r1", '{"a":1}', now));
    expect(await db.read((tx) => store.answer(tx, T, "backfill", "r1"))).toBe('{"a":1}');
    expect(await db.read((tx) => store.answer(tx, "other", "backfill", "r1"))).toBeUndefined();
  });

  it("renders one query for each engine", () => {
    const q = parseQuery('Tokenizer "String  ESCAPES" caf* ü', "AND");
    expect(fts5Query(q)).toBe('"tokenizer" AND "string escapes" AND "caf"* AND "u"');
    expect(tsQuery(q)).toBe("'tokenizer' & ('string' <-> 'escapes') & 'caf':* & 'u'");
    expect(tsQuery(parseQuery("a b", "OR"))).toBe("'a' | 'b'");
  });
});
