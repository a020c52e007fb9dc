// Memory benchmark at the domain level: the memory domain over a real SQLite file (WAL,
// group commit answered after an fdatasync of the WAL), sqlite-vec in the same file, the real task engine and its
// in-process memory worker. No transport (see the transport benchmark for that cost).
//
// Data: N generated memories of 20 words (14 from one of N/100 topics of 30 words, 6 from a
// 5,000-word vocabulary); 10 % of them are near-duplicates of another (the same words plus one). Vectors: a fixed random projection of
// the bag of words to 384 dimensions (each word a fixed Gaussian vector; a memory the unit sum
// of its words'), so texts sharing words are close, as with a sentence model.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../src/core/logger.ts";
import { systemClock } from "../src/core/clock.ts";
import { openDatabase } from "../src/db/client.ts";
import { normalize, type Embedder } from "../src/embeddings/embedder.ts";
import { createMemory } from "../src/memory/memory.ts";
import { engineTaskPort } from "../src/memory/module.ts";
import { createTaskEngine } from "../src/tasks/engine.ts";
import { createSqliteVecIndex } from "../src/vectors/sqlite-vec.ts";

const DIMS = 384;
const VOCAB = 5000;

function rng(seed: number) {
  return () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

function wordList(): string[] {
  const r = rng(7);
  const syll = ["ka", "lo", "mi", "ner", "tu", "sa", "vo", "rin", "de", "pax", "qui", "zo", "bel", "tor", "ful", "gen"];
  const out = new Set<string>();
  while (out.size < VOCAB) {
    let w = "";
    const n = 2 + Math.floor(r() * 3);
    for (let i = 0; i < n; i++) w += syll[Math.floor(r() * syll.length)];
    out.add(w);
  }
  return [...out];
}

/** The fixed random projection: word → Gaussian vector (Box-Muller), a text → unit sum. */
function projectionEmbedder(words: string[]): Embedder {
  const r = rng(42);
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const table = new Map(words.map((w) => [w, Float32Array.from({ length: DIMS }, gauss)]));
  const one = (text: string) => {
    const v = new Float32Array(DIMS);
    for (const w of text.split(" ")) {
      const x = table.get(w);
      if (x) for (let d = 0; d < DIMS; d++) v[d]! += x[d]!;
    }
    return normalize(v);
  };
  return { model: "bench-random-projection-384", provider: "builtin", dimensions: () => DIMS, embed: async (texts) => texts.map(one) };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export interface MemoryBenchResult {
  n: number;
  duplicates: number;
  insertSeconds: number;
  insertPerSecond: number;
  fts: { p50: number; p99: number; queries: number };
  knn: { name: string; p50: number; p99: number; recall: number; queries: number }[];
  semanticDomain: { p50: number; p99: number };
  hybrid: { p50: number; p99: number; queries: number };
  compaction: { seconds: number; merged: number; groupsExpected: number; allMerged: boolean; examined: number };
  fileMb: number;
}

export async function memoryBench(n = Number(process.env.MEMORY_BENCH_N ?? 100_000)): Promise<MemoryBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-membench-"));
  const database = openDatabase(join(dir, "switchyard.db"));
  const engine = createTaskEngine({ database, clock: systemClock });
  engine.start();
  const words = wordList();
  const embedder = projectionEmbedder(words);
  const vectors = createSqliteVecIndex(database.sqlite);
  const memory = createMemory({ database, clock: systemClock, log: silentLogger, embedder, vectors, tasks: engineTaskPort(engine), workerPollMs: 50, workerLeaseMs: 600_000 });
  await memory.ctx.dimensions();
  memory.start();
  const r = rng(1);
  const pick = () => words[Math.floor(r() * VOCAB)]!;
  // Memories are about topics (as an agent's are): 14 of the 20 words from one of n/100 topics
  // of 30 words each, 6 from anywhere.
  const topics = Array.from({ length: Math.max(10, Math.floor(n / 100)) }, () => Array.from({ length: 30 }, pick));
  const text = () => {
    const topic = topics[Math.floor(r() * topics.length)]!;
    return Array.from({ length: 20 }, (_, i) => (i < 14 ? topic[Math.floor(r() * topic.length)]! : pick())).join(" ");
  };
  const dupCount = Math.floor(n / 10);
  const originals: string[] = [];
  const texts: string[] = [];
  for (let i = 0; i < n - dupCount; i++) originals.push(text());
  texts.push(...originals);
  for (let i = 0; i < dupCount; i++) texts.push(`${originals[i]!} ${pick()}`);
  // shuffle so duplicates arrive interleaved
  for (let i = texts.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [texts[i], texts[j]] = [texts[j]!, texts[i]!];
  }

  try {
    // 1. insert, batched (100 per call), 8 calls in flight (they share group commits)
    let t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < texts.length) {
          const part = texts.slice(next, (next += 100));
          await memory.memories.create("default", part.map((content, i) => ({ content, type: "bench", importance: ((i * 37) % 100) / 100 })), () => "");
        }
      }),
    );
    const insertSeconds = (performance.now() - t0) / 1000;
    console.error(`inserted ${texts.length} in ${insertSeconds.toFixed(1)} s`);

    // 2. full-text
    const fts: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const q = i % 2 ? pick() : `${pick()} ${pick()}*`.slice(0, -1);
      const s = performance.now();
      await memory.search.fullText("default", { query: q, limit: 10 });
      fts.push(performance.now() - s);
    }

    // 3. kNN k=10: exact (float, brute force) vs 1-bit quantized + float re-ranking
    // Queries about stored memories: a stored text with half of its words replaced.
    const queries = Array.from({ length: 200 }, () => {
      const ws = texts[Math.floor(r() * texts.length)]!.split(" ");
      return ws.map((w) => (r() < 0.5 ? pick() : w)).join(" ");
    });
    const qv = await embedder.embed(queries);
    const exact: number[][] = [];
    const floatT: number[] = [];
    for (const v of qv) {
      const s = performance.now();
      const hits = await vectors.search("default", embedder.model, v, 10);
      floatT.push(performance.now() - s);
      exact.push(hits.map((h) => h.seq));
    }
    const knn: MemoryBenchResult["knn"] = [{ name: "float32, exact (sqlite-vec brute force)", p50: pct(floatT, 50), p99: pct(floatT, 99), recall: 1, queries: qv.length }];
    t0 = performance.now();
    const bitIndex = createSqliteVecIndex(database.sqlite, { quantization: "bit" });
    await bitIndex.ensure("bench-bit", DIMS);
    const table = (database.sqlite.query(`SELECT table_name FROM memory_vector_models WHERE model = ?`).get(embedder.model) as { table_name: string }).table_name;
    for (let from = 0; ; from += 5000) {
      const rows = database.sqlite.query(`SELECT seq, embedding FROM ${table} WHERE seq > ? ORDER BY seq LIMIT 5000`).all(from === 0 ? 0 : from) as { seq: number; embedding: Uint8Array }[];
      if (rows.length === 0) break;
      database.sqlite.exec("BEGIN");
      bitIndex.upsert("default", "bench-bit", rows.map((x) => ({ seq: x.seq, vector: new Float32Array(x.embedding.slice().buffer), type: "bench", agentId: "", scope: "" })));
      database.sqlite.exec("COMMIT");
      from = rows[rows.length - 1]!.seq - 5000;
    }
    console.error(`bit index built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const over of [3, 5, 10, 20]) {
      const ix = createSqliteVecIndex(database.sqlite, { quantization: "bit", oversample: over });
      await ix.ensure("bench-bit", DIMS);
      const times: number[] = [];
      let found = 0;
      for (const [i, v] of qv.entries()) {
        const s = performance.now();
        const hits = await ix.search("default", "bench-bit", v, 10);
        times.push(performance.now() - s);
        const want = new Set(exact[i]);
        found += hits.filter((h) => want.has(h.seq)).length;
      }
      knn.push({ name: `1-bit quantized, ${over * 10} candidates re-ranked on float32`, p50: pct(times, 50), p99: pct(times, 99), recall: found / (qv.length * 10), queries: qv.length });
    }
    const sem: number[] = [];
    for (const v of qv.slice(0, 100)) {
      const s = performance.now();
      await memory.search.semantic("default", { queryEmbedding: Array.from(v), topK: 10 });
      sem.push(performance.now() - s);
    }

    // 4. hybrid
    const hyb: number[] = [];
    for (let i = 0; i < 100; i++) {
      const s = performance.now();
      await memory.search.hybrid("default", { query: `${pick()} ${pick()} ${pick()}`, topK: 10 });
      hyb.push(performance.now() - s);
    }

    // 5. compaction with 10 % near-duplicates (one merge group per duplicate)
    t0 = performance.now();
    const out = await memory.compact("default", { merge: { similarityThreshold: 0.95 } }, 300_000);
    const seconds = (performance.now() - t0) / 1000;
    const rep = out.report!;
    const merged = rep.merges.reduce((k, g) => k + g.mergedIds.length, 0);
    const fileMb = Bun.file(join(dir, "switchyard.db")).size / 1e6;
    return {
      n: texts.length,
      duplicates: dupCount,
      insertSeconds,
      insertPerSecond: Math.round(texts.length / insertSeconds),
      fts: { p50: pct(fts, 50), p99: pct(fts, 99), queries: fts.length },
      knn,
      semanticDomain: { p50: pct(sem, 50), p99: pct(sem, 99) },
      hybrid: { p50: pct(hyb, 50), p99: pct(hyb, 99), queries: hyb.length },
      compaction: { seconds, merged, groupsExpected: dupCount, allMerged: merged === dupCount && rep.merges.length === dupCount, examined: rep.examined },
      fileMb,
    };
  } finally {
    await memory.stop();
    engine.stop();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(JSON.stringify(await memoryBench(Number(process.argv[2] ?? 10_000)), null, 2));
