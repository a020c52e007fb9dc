import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { openDatabase, type Database } from "../db/client.ts";
import { EmbedderError, type Embedder } from "../embeddings/embedder.ts";
import { createLexicalEmbedder } from "../embeddings/lexical.ts";
import { createTaskEngine } from "../tasks/engine.ts";
import { createNoVectorIndex } from "../vectors/none.ts";
import { createSqliteVecIndex } from "../vectors/sqlite-vec.ts";
import type { VectorIndex } from "../vectors/vector-index.ts";
import { createMemory } from "./memory.ts";
import { engineTaskPort } from "./module.ts";

/** The lexical embedder behind a switch that makes it fail as an unreachable endpoint would. */
export function switchableEmbedder(inner: Embedder = createLexicalEmbedder()): Embedder & { down: boolean; calls: number } {
  const e = {
    down: false,
    calls: 0,
    model: inner.model,
    provider: inner.provider,
    dimensions: () => inner.dimensions(),
    async embed(texts: string[]) {
      e.calls++;
      if (e.down) throw new EmbedderError("embeddings endpoint http://embedder.test/v1/embeddings: connection refused");
      return inner.embed(texts);
    },
  };
  return e;
}

/**
 * A memory domain over a database of either dialect: sqlite-vec on SQLite, no vector engine on
 * PostgreSQL (unless `vectors` is given). Its tasks run on a real task engine; on PostgreSQL,
 * until the task engine has its PostgreSQL store, that engine lives in a SQLite file beside it
 * (`engineOn`), which several memory domains may share as several instances share one engine.
 */
export async function openMemoryOn(
  database: Database,
  options: { engineOn?: Database; clock?: ReturnType<typeof createManualClock>; vectors?: VectorIndex; rediscoverMs?: number; workerId?: string; start?: boolean } = {},
) {
  const clock = options.clock ?? createManualClock(Date.now());
  let side: { database: Database; dir: string } | undefined;
  let engineDb = options.engineOn ?? (database.dialect === "sqlite" ? database : undefined);
  if (!engineDb) {
    const dir = mkdtempSync(join(tmpdir(), "switchyard-memory-tasks-"));
    side = { database: openDatabase(join(dir, "tasks.db")), dir };
    engineDb = side.database;
  }
  const engine = createTaskEngine({ database: engineDb, clock });
  const embedder = switchableEmbedder();
  const vectors = options.vectors ?? (database.dialect === "sqlite" ? createSqliteVecIndex(database.sqlite) : createNoVectorIndex());
  const memory = createMemory({
    database,
    clock,
    log: silentLogger,
    embedder,
    vectors,
    tasks: engineTaskPort(engine, { rediscoverMs: options.rediscoverMs }),
    workerPollMs: 20,
    workerId: options.workerId,
  });
  await memory.ctx.dimensions();
  if (options.start !== false) memory.start();
  return {
    database,
    engineDatabase: engineDb,
    clock,
    engine,
    embedder,
    vectors,
    memory,
    async close() {
      await memory.stop();
      engine.stop();
      if (side) {
        await side.database.close();
        rmSync(side.dir, { recursive: true, force: true });
      }
    },
  };
}
