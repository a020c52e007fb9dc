import { createHash } from "node:crypto";
import type { Clock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { OpDatabase, Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import { EmbedderError, type Embedder } from "../embeddings/embedder.ts";
import type { VectorIndex, VectorItem } from "../vectors/vector-index.ts";
import type { MemoryRow, MemoryStore } from "./store.ts";
import type { MemoryTaskPort } from "./task-port.ts";
import type { ModelInfo } from "./types.ts";

/** What every part of the memory domain shares. */
export interface MemoryContext {
  database: OpDatabase;
  store: MemoryStore;
  clock: Clock;
  embedder: Embedder;
  vectors: VectorIndex;
  tasks: MemoryTaskPort;
  log: Logger;
  /** The current model's dimensions, preparing its vector collection on first use; undefined while unknown (endpoint never reached). */
  dimensions(): Promise<number | undefined>;
  info(): ModelInfo;
  /** Embeds texts; an unreachable embedder is EMBEDDER_UNAVAILABLE (unavailable) with the cause. */
  embed(texts: string[]): Promise<Float32Array[]>;
  /** Writes vectors and marks the rows READY (one write operation with sqlite-vec; Qdrant first, then the rows). */
  writeVectors(tenant: string, rows: MemoryRow[], vectors: Float32Array[], model: string): Promise<MemoryRow[]>;
  /** Deletes rows and their vectors (one write operation with sqlite-vec; Qdrant after the commit). */
  remove(tenant: string, seqs: number[], inOp?: (tx: Tx) => Op<void>): Promise<void>;
}

/** Content folded for case and whitespace, hashed: equal keys are exact duplicates. */
export function contentKey(content: string): string {
  return createHash("sha1").update(content.toLowerCase().replace(/\s+/g, " ").trim()).digest("base64url");
}

export function embedderUnavailable(error: unknown): AppError {
  const cause = error instanceof Error ? error.message : String(error);
  return new AppError("unavailable", "EMBEDDER_UNAVAILABLE", `the embedder could not embed the text: ${cause}`, { cause });
}

export function createMemoryContext(deps: { database: OpDatabase; store: MemoryStore; clock: Clock; embedder: Embedder; vectors: VectorIndex; tasks: MemoryTaskPort; log: Logger }): MemoryContext {
  const { embedder, vectors, database, store, clock } = deps;
  let ensured: number | undefined;
  let lastProbeFailure = 0;
  const ctx: MemoryContext = {
    ...deps,
    async dimensions() {
      if (ensured !== undefined) return ensured;
      let dims = embedder.dimensions();
      if (dims === undefined) {
        // An endpoint that is down is probed again at most every 5 s (not once per call).
        if (Date.now() - lastProbeFailure < 5000) return undefined;
        try {
          await embedder.embed(["dimension probe"]);
        } catch {
          lastProbeFailure = Date.now();
          return undefined;
        }
        dims = embedder.dimensions();
      }
      if (dims === undefined) return undefined;
      await vectors.ensure(embedder.model, dims);
      ensured = dims;
      return dims;
    },
    info: () => ({ model: embedder.model, dimensions: ensured ?? embedder.dimensions(), provider: embedder.provider, metric: "cosine", vectorIndex: vectors.kind }),
    async embed(texts) {
      try {
        const out = await embedder.embed(texts);
        await ctx.dimensions();
        return out;
      } catch (error) {
        if (error instanceof EmbedderError) throw embedderUnavailable(error);
        throw error;
      }
    },
    async writeVectors(tenant, rows, vecs, model) {
      if (rows.length === 0) return [];
      const items: VectorItem[] = rows.map((r, i) => ({ seq: r.seq, vector: vecs[i]!, type: r.type, agentId: r.agent_id, scope: r.scope }));
      function* mark(tx: Tx): Op<{ alive: MemoryRow[]; ids: Set<number> }> {
        const now = clock.now();
        // Only rows still there: a memory deleted meanwhile gets no vector.
        const alive = yield* store.bySeqs(tx, rows.map((r) => r.seq));
        const ids = new Set(alive.map((r) => r.seq));
        for (const r of alive) yield* store.setEmbedding(tx, r.seq, "ready", model, null, now);
        return { alive: yield* store.bySeqs(tx, [...ids]), ids };
      }
      if (vectors.transactional) {
        // sqlite-vec: the vectors join the rows' transaction (synchronous calls inside the operation).
        return database.write(function* (tx) {
          const m = yield* mark(tx);
          vectors.remove(tenant, model, [...m.ids]);
          vectors.upsert(tenant, model, items.filter((it) => m.ids.has(it.seq)));
          return m.alive;
        });
      }
      await vectors.upsert(tenant, model, items);
      const out = await database.write(mark);
      const gone = items.filter((it) => !out.ids.has(it.seq)).map((it) => it.seq);
      if (gone.length) await vectors.remove(tenant, model, gone);
      return out.alive;
    },
    async remove(tenant, seqs, inOp) {
      if (vectors.transactional) {
        await database.write(function* (tx) {
          if (inOp) yield* inOp(tx);
          yield* store.deleteSeqs(tx, seqs);
          vectors.removeEverywhere(tenant, seqs);
        });
        return;
      }
      await database.write(function* (tx) {
        if (inOp) yield* inOp(tx);
        yield* store.deleteSeqs(tx, seqs);
      });
      await vectors.removeEverywhere(tenant, seqs);
    },
  };
  return ctx;
}
