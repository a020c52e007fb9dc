// The memory domain on both dialects, without vectors (the relational part only: rows, full
// text, lists, compaction by exact duplicates): a SQLite file (FTS5) and a PostgreSQL database
// (tsvector + GIN, the server started by the test helper, fsync on; ANALYZE after the load).
// Same domain code, same data. Results: bench/results/2026-12-02-memory-dialects.md.
//
// Data: N memories of 20 words (14 from one of N/100 topics of 30 words, 6 from a 5,000-word
// vocabulary); 10 % are exact duplicates of another up to case (one merge group each).
//
//   bun bench/memory-dialects.ts [N=20000]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/core/clock.ts";
import { silentLogger } from "../src/core/logger.ts";
import { openDatabase, type Database } from "../src/db/client.ts";
import { openPostgresDatabase, type PgDatabase } from "../src/db/open.ts";
import { createLexicalEmbedder } from "../src/embeddings/lexical.ts";
import { createMemory } from "../src/memory/memory.ts";
import { engineTaskPort } from "../src/memory/module.ts";
import { createTaskEngine } from "../src/tasks/engine.ts";
import { startPostgres } from "../src/testing/postgres.ts";
import { createNoVectorIndex } from "../src/vectors/none.ts";

function rng(seed: number) {
  return () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 100) / 100;
};

function data(n: number) {
  const r = rng(7);
  const syll = ["ka", "lo", "mi", "ner", "tu", "sa", "vo", "rin", "de", "pax", "qui", "zo", "bel", "tor", "ful", "gen"];
  const vocab = new Set<string>();
  while (vocab.size < 5000) {
    let w = "";
    const k = 2 + Math.floor(r() * 3);
    for (let i = 0; i < k; i++) w += syll[Math.floor(r() * syll.length)];
    vocab.add(w);
  }
  const words = [...vocab];
  const pick = () => words[Math.floor(r() * words.length)]!;
  const topics = Array.from({ length: Math.max(10, Math.floor(n / 100)) }, () => Array.from({ length: 30 }, pick));
  const text = () => {
    const topic = topics[Math.floor(r() * topics.length)]!;
    return Array.from({ length: 20 }, (_, i) => (i < 14 ? topic[Math.floor(r() * topic.length)]! : pick())).join(" ");
  };
  const dups = Math.floor(n / 10);
  const originals = Array.from({ length: n - dups }, text);
  const texts = [...originals, ...originals.slice(0, dups).map((t) => t.toUpperCase())];
  for (let i = texts.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [texts[i], texts[j]] = [texts[j]!, texts[i]!];
  }
  return { texts, dups, pick };
}

async function run(name: string, database: Database, tasksDb: Database, n: number) {
  const engine = createTaskEngine({ database: tasksDb, clock: systemClock });
  engine.start();
  const memory = createMemory({ database, clock: systemClock, log: silentLogger, embedder: createLexicalEmbedder(), vectors: createNoVectorIndex(), tasks: engineTaskPort(engine), workerPollMs: 50, workerLeaseMs: 600_000 });
  memory.start();
  const { texts, dups, pick } = data(n);
  try {
    let t0 = performance.now();
    let next = 0;
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < texts.length) {
          const part = texts.slice(next, (next += 100));
          const out = await memory.memories.create("default", part.map((content, i) => ({ content, type: "bench", importance: ((i * 37) % 100) / 100 })), () => "");
          for (const m of out.memories) ids.push(m.id);
        }
      }),
    );
    const insertSeconds = (performance.now() - t0) / 1000;
    // What autovacuum does within a minute of a bulk load: statistics for the planner (without
    // them PostgreSQL reads a fresh table's list page by sorting every row of the tenant).
    if (database.dialect === "postgres") await (database as PgDatabase).pg.sql.unsafe("ANALYZE memories");
    const time = async (count: number, f: (i: number) => Promise<unknown>) => {
      const xs: number[] = [];
      for (let i = 0; i < count; i++) {
        const s = performance.now();
        await f(i);
        xs.push(performance.now() - s);
      }
      return { p50: pct(xs, 50), p99: pct(xs, 99) };
    };
    const word = await time(500, () => memory.search.fullText("default", { query: pick(), limit: 10 }));
    const two = await time(500, () => memory.search.fullText("default", { query: `${pick()} ${pick().slice(0, 4)}*`, limit: 10 }));
    const get = await time(500, (i) => memory.memories.get("default", ids[(i * 7919) % ids.length]!));
    const list = await time(200, () => memory.memories.list("default", { pageSize: 50 }));
    t0 = performance.now();
    const out = await memory.compact("default", { merge: { similarityThreshold: 0.95 } }, 300_000);
    const compactSeconds = (performance.now() - t0) / 1000;
    const merged = out.report!.merges.reduce((k, g) => k + g.mergedIds.length, 0);
    return {
      dialect: name,
      n: texts.length,
      insertPerSecond: Math.round(texts.length / insertSeconds),
      ftsOneWordMs: word,
      ftsWordAndPrefixMs: two,
      getMs: get,
      listPageMs: list,
      compaction: { seconds: Math.round(compactSeconds * 10) / 10, merged, expected: dups },
    };
  } finally {
    await memory.stop();
    engine.stop();
  }
}

if (import.meta.main) {
  const n = Number(process.argv[2] ?? 20_000);
  const dir = mkdtempSync(join(tmpdir(), "switchyard-memdialects-"));
  const results = [];
  try {
    const sqlite = openDatabase(join(dir, "switchyard.db"));
    results.push(await run("sqlite", sqlite, sqlite, n));
    await sqlite.close();
    const server = await startPostgres();
    try {
      const pg = await openPostgresDatabase(await server.createDatabase("bench"));
      const tasks = openDatabase(join(dir, "tasks.db"));
      results.push(await run("postgres", pg, tasks, n));
      await pg.close();
      await tasks.close();
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));
}
