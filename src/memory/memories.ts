import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { decodePageToken, encodePageToken, pageSize } from "../mail/pages.ts";
import { vectorEngineMissing } from "../vectors/none.ts";
import { contentKey, type MemoryContext } from "./context.ts";
import { checkImportance, checkLength, checkMetadata, checkTags, checkType, checkVector, LIMITS } from "./limits.ts";
import { rowToMemory, type MemoryRow, type NewRow } from "./store.ts";
import { EMBEDDING_STATE_CODES, type JsonObject, type ListFilter, type Memory, type NewMemory } from "./types.ts";

export const memoryNotFound = (id: string) => notFound("MEMORY_NOT_FOUND", `memory ${id} not found`, { id });

interface Checked {
  row: Omit<NewRow, "now" | "embeddingState" | "embeddingModel">;
  vector: Float32Array | undefined;
}

/** Creating, reading, changing, deleting and listing memories. */
export function createMemories(ctx: MemoryContext) {
  const { store, clock, database, vectors, embedder } = ctx;

  function check(tenant: string, m: NewMemory, f: string, now: number, dims: number | undefined): Checked {
    if (typeof m.content !== "string" || m.content.trim() === "") throw invalidArgument(`${f}content`, "is required");
    if (Buffer.byteLength(m.content) > LIMITS.contentBytes) throw invalidArgument(`${f}content`, `must be at most ${LIMITS.contentBytes} bytes`);
    checkType(m.type ?? "", `${f}type`);
    const agentId = checkLength(m.agentId ?? "", LIMITS.agentIdLength, `${f}agent_id`);
    const scope = checkLength(m.scope ?? "", LIMITS.scopeLength, `${f}scope`);
    const source = checkLength(m.source ?? "", LIMITS.sourceLength, `${f}source`);
    const importance = m.importance === undefined ? 0.5 : checkImportance(m.importance, `${f}importance`);
    const metadata = checkMetadata(m.metadata, `${f}metadata`);
    const tags = checkTags(m.tags ?? [], `${f}tags`);
    if (m.requestId !== undefined) checkLength(m.requestId, LIMITS.requestIdLength, `${f}request_id`);
    if (m.ttlMs !== undefined && m.expiresAt !== undefined) throw invalidArgument(`${f}ttl`, "give ttl or expire_time, not both");
    if (m.ttlMs !== undefined && !(m.ttlMs > 0)) throw invalidArgument(`${f}ttl`, "must be positive");
    if (m.expiresAt !== undefined && m.expiresAt <= now) throw invalidArgument(`${f}expire_time`, "must be in the future");
    const expiresAt = m.ttlMs !== undefined ? now + m.ttlMs : (m.expiresAt ?? null);
    let vector: Float32Array | undefined;
    if (m.embedding && m.embedding.length > 0) {
      if (m.embeddingModel && m.embeddingModel !== embedder.model) {
        throw new AppError("invalid_argument", "EMBEDDING_MODEL_MISMATCH", `${f}embedding_model: the index holds vectors of ${embedder.model}, not ${m.embeddingModel}`, {
          field: `${f}embedding_model`,
        });
      }
      vector = checkVector(m.embedding, dims, `${f}embedding`);
    }
    return {
      row: { id: newId("mem", now), tenant, content: m.content, type: m.type, agentId, scope, importance, metadata, tags, source, expiresAt, contentKey: contentKey(m.content), requestId: m.requestId || null },
      vector,
    };
  }

  /** Stores memories (all-or-nothing). Without a vector the embedder is asked; if it fails they are stored MISSING. */
  async function create(tenant: string, inputs: NewMemory[], fieldOf: (i: number) => string): Promise<{ memories: Memory[]; embeddingError: string }> {
    const now = clock.now();
    const dims = await ctx.dimensions();
    const checked = inputs.map((m, i) => check(tenant, m, fieldOf(i), now, dims));
    // Replays answer the first memory (no embedding call for them).
    const replays = await database.read(function* (tx) {
      const out: (MemoryRow | undefined)[] = [];
      for (const c of checked) out.push(c.row.requestId ? yield* store.byRequestId(tx, tenant, c.row.requestId) : undefined);
      return out;
    });
    const toEmbed = checked.map((c, i) => (!c.vector && !replays[i] ? i : -1)).filter((i) => i >= 0);
    let embeddingError = "";
    if (toEmbed.length > 0 && vectors.kind === "none") {
      // No vector engine (PostgreSQL without QDRANT_URL): nothing to embed into; stored MISSING.
      embeddingError = vectorEngineMissing().message;
    } else if (toEmbed.length > 0) {
      try {
        const out = await ctx.embed(toEmbed.map((i) => checked[i]!.row.content));
        toEmbed.forEach((i, j) => (checked[i]!.vector = out[j]));
      } catch (error) {
        embeddingError = (error as Error).message;
        ctx.log.warn("memory stored without embedding", { error: embeddingError, count: toEmbed.length });
      }
    }
    const model = embedder.model;
    const transactional = vectors.transactional;
    const rows = await database.write(function* (tx) {
      const t = clock.now();
      const out: { row: MemoryRow; fresh: boolean }[] = [];
      for (const c of checked) {
        const existing = c.row.requestId ? yield* store.byRequestId(tx, tenant, c.row.requestId) : undefined;
        if (existing) {
          out.push({ row: existing, fresh: false });
          continue;
        }
        const ready = c.vector !== undefined && transactional;
        const row = yield* store.insert(tx, { ...c.row, now: t, embeddingState: ready ? "ready" : "missing", embeddingModel: ready ? model : null });
        if (!row) {
          // Another instance stored this request id between our read and our insert.
          out.push({ row: (yield* store.byRequestId(tx, tenant, c.row.requestId!))!, fresh: false });
          continue;
        }
        if (ready) vectors.upsert(tenant, model, [{ seq: row.seq, vector: c.vector!, type: row.type, agentId: row.agent_id, scope: row.scope }]);
        out.push({ row, fresh: true });
      }
      return out;
    });
    let out = rows.map((r) => r.row);
    if (!transactional) {
      const pending = rows.map((r, i) => ({ r, v: checked[i]!.vector })).filter((x) => x.r.fresh && x.v);
      if (pending.length) {
        try {
          const written = await ctx.writeVectors(tenant, pending.map((p) => p.r.row), pending.map((p) => p.v!), model);
          const bySeq = new Map(written.map((w) => [w.seq, w]));
          out = out.map((r) => bySeq.get(r.seq) ?? r);
        } catch (error) {
          embeddingError = `vector index: ${(error as Error).message}`;
        }
      }
    }
    return { memories: out.map(rowToMemory), embeddingError };
  }

  return {
    create,
    /** A live memory; counts an access. */
    async get(tenant: string, id: string): Promise<Memory> {
      const row = await database.read((tx) => store.get(tx, tenant, id, clock.now()));
      if (!row) throw memoryNotFound(id);
      const touched = await database.write(function* (tx) {
        return (yield* store.getAny(tx, tenant, id)) ? yield* store.touch(tx, row.seq, clock.now()) : undefined;
      });
      if (!touched) throw memoryNotFound(id);
      return rowToMemory(touched);
    },
    async embeddingOf(m: Memory): Promise<Float32Array | undefined> {
      if (m.embeddingState !== "ready" || !m.embeddingModel) return undefined;
      return vectors.get(m.tenant, m.embeddingModel, m.seq);
    },
    async update(tenant: string, id: string, patch: { importance?: number; metadata?: JsonObject; tags?: string[] }): Promise<Memory> {
      const set: { importance?: number; metadata?: string | null; tags?: string[] } = {};
      if (patch.importance !== undefined) set.importance = checkImportance(patch.importance, "memory.importance");
      if (patch.metadata !== undefined) set.metadata = checkMetadata(patch.metadata, "memory.metadata");
      if (patch.tags !== undefined) set.tags = checkTags(patch.tags, "memory.tags");
      const row = await database.write(function* (tx) {
        const r = yield* store.get(tx, tenant, id, clock.now());
        return r ? yield* store.update(tx, r.seq, set, clock.now()) : undefined;
      });
      if (!row) throw memoryNotFound(id);
      return rowToMemory(row);
    },
    async delete(tenant: string, id: string): Promise<Memory> {
      const row = await database.read((tx) => store.get(tx, tenant, id, clock.now()));
      if (!row) throw memoryNotFound(id);
      await ctx.remove(tenant, [row.seq]);
      return rowToMemory(row);
    },
    async list(tenant: string, f: ListFilter): Promise<{ memories: Memory[]; nextPageToken: string }> {
      const size = pageSize(f.pageSize);
      const key = JSON.stringify([f.type, f.agentId, f.scope, f.tag, f.embeddingState, f.createdAfter, f.createdBefore]);
      const cursor = decodePageToken(f.pageToken, (c): c is { s: number; k: string } => typeof c.s === "number" && c.k === key);
      if (f.type) checkType(f.type, "type");
      const now = clock.now();
      const filter = {
        type: f.type,
        agentId: f.agentId,
        scope: f.scope,
        tag: f.tag,
        state: f.embeddingState ? EMBEDDING_STATE_CODES[f.embeddingState] : undefined,
        after: f.createdAfter,
        before: f.createdBefore,
        beforeSeq: cursor?.s,
      };
      const rows: MemoryRow[] = await database.read((tx) => store.list(tx, tenant, filter, now, size + 1));
      const more = rows.length > size;
      const page = more ? rows.slice(0, size) : rows;
      return { memories: page.map(rowToMemory), nextPageToken: more ? encodePageToken({ s: page[page.length - 1]!.seq, k: key }) : "" };
    },
    /** Vectors computed elsewhere; ids of memories gone meanwhile come back in `missing`. */
    async setEmbeddings(tenant: string, items: { memoryId: string; embedding: number[]; model: string }[]): Promise<{ updated: number; missing: string[] }> {
      if (items.length === 0) throw invalidArgument("embeddings", "at least one is required");
      if (items.length > LIMITS.setEmbeddings) throw invalidArgument("embeddings", `at most ${LIMITS.setEmbeddings} per call`);
      const dims = await ctx.dimensions();
      const vecs = items.map((it, i) => {
        if (it.model && it.model !== embedder.model) {
          throw new AppError("invalid_argument", "EMBEDDING_MODEL_MISMATCH", `embeddings[${i}].model: the index holds vectors of ${embedder.model}, not ${it.model}`, {
            field: `embeddings[${i}].model`,
          });
        }
        return checkVector(it.embedding, dims, `embeddings[${i}].embedding`);
      });
      const rows = await database.read((tx) => store.byIds(tx, tenant, items.map((i) => i.memoryId), clock.now()));
      const byId = new Map(rows.map((r) => [r.id, r]));
      const present = items.map((it, i) => ({ row: byId.get(it.memoryId), v: vecs[i]! })).filter((x) => x.row);
      const written = await ctx.writeVectors(tenant, present.map((p) => p.row!), present.map((p) => p.v), embedder.model);
      const ok = new Set(written.map((w) => w.id));
      return { updated: ok.size, missing: items.map((i) => i.memoryId).filter((id) => !ok.has(id)) };
    },
  };
}

export type Memories = ReturnType<typeof createMemories>;
