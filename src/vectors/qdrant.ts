import { QdrantClient } from "@qdrant/js-client-rest";
import type { VectorFilter, VectorHit, VectorIndex, VectorItem } from "./vector-index.ts";

export interface QdrantOptions {
  url: string;
  apiKey?: string;
  /** Prefix of collection names (tests use one of their own). */
  prefix?: string;
}

const collectionName = (prefix: string, model: string, dimensions: number) =>
  `${prefix}${model.toLowerCase().replace(/[^a-z0-9]+/g, "_").slice(0, 40)}_${dimensions}`;

/**
 * Qdrant through `@qdrant/js-client-rest`: one collection per model (cosine, the model's
 * dimension), with a keyword payload index on `tenant` that every search and delete filters
 * by. Point ids are the memories' `seq`. Not transactional: the domain writes the rows first
 * and re-reads every hit from SQLite, so a vector whose memory is gone is never returned.
 */
export function createQdrantIndex(options: QdrantOptions): VectorIndex {
  const client = new QdrantClient({ url: options.url, apiKey: options.apiKey, checkCompatibility: false });
  const prefix = options.prefix ?? "switchyard_memories_";
  const collections = new Map<string, { name: string; dimensions: number }>();
  const must = (tenant: string, filter: VectorFilter = {}) => {
    const m: { key: string; match: { value: string } }[] = [{ key: "tenant", match: { value: tenant } }];
    if (filter.type !== undefined) m.push({ key: "type", match: { value: filter.type } });
    if (filter.agentId !== undefined) m.push({ key: "agent_id", match: { value: filter.agentId } });
    if (filter.scope !== undefined) m.push({ key: "scope", match: { value: filter.scope } });
    return { must: m };
  };
  return {
    kind: "qdrant",
    transactional: false,
    async ensure(model, dimensions) {
      const known = collections.get(model);
      if (known) {
        if (known.dimensions !== dimensions) throw new Error(`model ${model} already has ${known.dimensions}-dimension vectors, not ${dimensions}`);
        return;
      }
      const name = collectionName(prefix, model, dimensions);
      const { exists } = await client.collectionExists(name);
      if (!exists) {
        try {
          await client.createCollection(name, { vectors: { size: dimensions, distance: "Cosine" } });
        } catch (error) {
          // Several instances start together: one creates the collection, the others find it made.
          if (!(await client.collectionExists(name)).exists) throw error;
        }
        // Idempotent: an instance that lost the race above (re)declares the same indexes.
        for (const field of ["tenant", "type", "agent_id", "scope"]) {
          await client.createPayloadIndex(name, { field_name: field, field_schema: "keyword", wait: true });
        }
      }
      collections.set(model, { name, dimensions });
    },
    async upsert(tenant, model, items: VectorItem[]) {
      const c = collections.get(model);
      if (!c) throw new Error(`no collection for model ${model}: ensure() it first`);
      if (items.length === 0) return;
      for (const it of items) if (it.vector.length !== c.dimensions) throw new Error(`vector of ${it.vector.length} dimensions for an index of ${c.dimensions}`);
      await client.upsert(c.name, {
        wait: true,
        points: items.map((it) => ({ id: it.seq, vector: Array.from(it.vector), payload: { tenant, type: it.type, agent_id: it.agentId, scope: it.scope } })),
      });
    },
    async remove(tenant, model, seqs) {
      const c = collections.get(model);
      if (!c || seqs.length === 0) return;
      await client.delete(c.name, { wait: true, filter: { must: [{ key: "tenant", match: { value: tenant } }, { has_id: seqs }] } });
    },
    async removeEverywhere(tenant, seqs) {
      if (seqs.length === 0) return;
      for (const c of collections.values()) {
        await client.delete(c.name, { wait: true, filter: { must: [{ key: "tenant", match: { value: tenant } }, { has_id: seqs }] } });
      }
    },
    async search(tenant, model, vector, k, filter) {
      const c = collections.get(model);
      if (!c) return [];
      if (vector.length !== c.dimensions) throw new Error(`vector of ${vector.length} dimensions for an index of ${c.dimensions}`);
      const out = await client.query(c.name, { query: Array.from(vector), limit: k, filter: must(tenant, filter), with_payload: false });
      return out.points.map((p): VectorHit => ({ seq: Number(p.id), score: p.score }));
    },
    async get(tenant, model, seq) {
      const c = collections.get(model);
      if (!c) return undefined;
      const points = await client.retrieve(c.name, { ids: [seq], with_vector: true, with_payload: true });
      const p = points[0];
      if (!p || (p.payload as { tenant?: string } | null)?.tenant !== tenant || !Array.isArray(p.vector)) return undefined;
      return Float32Array.from(p.vector as number[]);
    },
    async close() {},
  };
}
