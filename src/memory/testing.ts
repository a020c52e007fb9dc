import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { openDatabase } from "../db/client.ts";
import { EmbedderError, type Embedder } from "../embeddings/embedder.ts";
import { createLexicalEmbedder } from "../embeddings/lexical.ts";
import { createTaskEngine } from "../tasks/engine.ts";
import { createSqliteVecIndex } from "../vectors/sqlite-vec.ts";
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

/** A memory domain over a fresh SQLite file (sqlite-vec), a real task engine and its in-process worker. */
export async function openTestMemory() {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-memory-"));
  const database = openDatabase(join(dir, "switchyard.db"));
  const clock = createManualClock(Date.now());
  const engine = createTaskEngine({ database, clock });
  const embedder = switchableEmbedder();
  const vectors = createSqliteVecIndex(database.sqlite);
  const memory = createMemory({ database, clock, log: silentLogger, embedder, vectors, tasks: engineTaskPort(engine), workerPollMs: 20 });
  await memory.ctx.dimensions();
  memory.start();
  return {
    dir,
    database,
    clock,
    engine,
    embedder,
    memory,
    async close() {
      await memory.stop();
      engine.stop();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
