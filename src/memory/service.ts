import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs, timestampMs, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  EmbeddingModelSchema,
  EmbeddingState as PbState,
  MemorySchema,
  MemorySearchResultSchema,
  MemoryStatsSchema,
  type Memory as PbMemory,
  type MemoryFilter as PbFilter,
} from "../../gen/switchyard/memory/v1/memory_pb.js";
import { MemoryService, type CreateMemoryRequest } from "../../gen/switchyard/memory/v1/memory_service_pb.js";
import { invalidArgument } from "../core/errors.ts";
import { tenantOf } from "../core/principal.ts";
import type { CompactionRequest } from "./compaction.ts";
import { LIMITS } from "./limits.ts";
import type { MemoryDomain } from "./memory.ts";
import type { EmbeddingState, JsonObject, Memory, MemoryFilter, ModelInfo, NewMemory, SearchHit } from "./types.ts";

const ms = (d: Duration | undefined) => (d ? durationMs(d) : undefined);
const at = (t: Timestamp | undefined) => (t ? timestampMs(t) : undefined);
const STATES: Record<EmbeddingState, PbState> = { missing: PbState.MISSING, pending: PbState.PENDING, ready: PbState.READY };
const FROM_STATE: Record<number, EmbeddingState | undefined> = { [PbState.MISSING]: "missing", [PbState.PENDING]: "pending", [PbState.READY]: "ready" };

/** A domain memory as the proto Memory (embedding only when given). */
export function memoryMessage(m: Memory, embedding?: Float32Array): PbMemory {
  return create(MemorySchema, {
    id: m.id,
    content: m.content,
    type: m.type,
    agentId: m.agentId,
    scope: m.scope,
    importance: m.importance,
    metadata: m.metadata as never,
    tags: m.tags,
    embedding: embedding ? Array.from(embedding) : [],
    embeddingModel: m.embeddingModel ?? "",
    embeddingState: STATES[m.embeddingState],
    expireTime: m.expiresAt === undefined ? undefined : timestampFromMs(m.expiresAt),
    sizeBytes: BigInt(m.sizeBytes),
    mergedIds: m.mergedIds,
    createTime: timestampFromMs(m.createdAt),
    updateTime: timestampFromMs(m.updatedAt),
    source: m.source,
    accessCount: BigInt(m.accessCount),
    lastAccessTime: timestampFromMs(m.lastAccessAt),
  });
}

const hitMessage = (h: SearchHit) =>
  create(MemorySearchResultSchema, {
    memory: memoryMessage(h.memory),
    score: h.score,
    snippet: h.snippet,
    textScore: h.textScore,
    semanticScore: h.semanticScore,
    rankers: h.rankers,
    textRank: h.textRank,
    semanticRank: h.semanticRank,
  });

const modelMessage = (i: ModelInfo) => create(EmbeddingModelSchema, { model: i.model, dimensions: i.dimensions ?? 0, provider: i.provider, metric: i.metric, vectorIndex: i.vectorIndex });

const structJson = (s: unknown): JsonObject | undefined => (s ? (s as JsonObject) : undefined);

function filterOf(f: PbFilter | undefined): MemoryFilter {
  if (!f) return {};
  return { types: f.types, agentId: f.agentId || undefined, scope: f.scope || undefined, tags: f.tags, minImportance: f.minImportance };
}

function newMemoryOf(r: CreateMemoryRequest, field: string): NewMemory {
  const m = r.memory;
  if (!m) throw invalidArgument(`${field}memory`, "is required");
  return {
    content: m.content,
    type: m.type,
    agentId: m.agentId,
    scope: m.scope,
    importance: m.importance,
    metadata: structJson(m.metadata),
    tags: m.tags,
    source: m.source,
    embedding: m.embedding,
    embeddingModel: m.embeddingModel || undefined,
    ttlMs: r.expiration.case === "ttl" ? durationMs(r.expiration.value) : undefined,
    expiresAt: r.expiration.case === "expireTime" ? timestampMs(r.expiration.value) : undefined,
    requestId: r.requestId || undefined,
  };
}

const marks = (s: string, e: string): [string, string] => [s || "<mark>", e || "</mark>"];

/** MemoryService: thin mappings from RPCs onto the memory domain. */
export function memoryService(memory: MemoryDomain): Partial<ServiceImpl<typeof MemoryService>> {
  const { memories, search } = memory;
  return {
    async createMemory(req, ctx) {
      const out = await memories.create(tenantOf(ctx), [newMemoryOf(req, "")], () => "memory.");
      return { memory: memoryMessage(out.memories[0]!), embeddingError: out.embeddingError };
    },
    async batchCreateMemories(req, ctx) {
      if (req.requests.length === 0) throw invalidArgument("requests", "at least one is required");
      if (req.requests.length > LIMITS.batchCreate) throw invalidArgument("requests", `at most ${LIMITS.batchCreate} per call`);
      const inputs = req.requests.map((r, i) => newMemoryOf(r, `requests[${i}].`));
      const out = await memories.create(tenantOf(ctx), inputs, (i) => `requests[${i}].memory.`);
      return { memories: out.memories.map((m) => memoryMessage(m)), embeddingError: out.embeddingError };
    },
    async updateMemory(req, ctx) {
      if (!req.id) throw invalidArgument("id", "is required");
      const paths = req.updateMask?.paths ?? [];
      for (const p of paths) if (!["importance", "metadata", "tags"].includes(p)) throw invalidArgument("update_mask", `cannot change ${p}; only importance, metadata, tags`);
      const all = paths.length === 0;
      const patch = {
        importance: all || paths.includes("importance") ? req.importance : undefined,
        metadata: all ? structJson(req.metadata) : paths.includes("metadata") ? (structJson(req.metadata) ?? {}) : undefined,
        tags: paths.includes("tags") || (all && req.tags.length > 0) ? req.tags : undefined,
      };
      return { memory: memoryMessage(await memories.update(tenantOf(ctx), req.id, patch)) };
    },
    async getMemory(req, ctx) {
      const m = await memories.get(tenantOf(ctx), req.id);
      return { memory: memoryMessage(m, req.includeEmbedding ? await memories.embeddingOf(m) : undefined) };
    },
    async listMemories(req, ctx) {
      const page = await memories.list(tenantOf(ctx), {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        type: req.type || undefined,
        agentId: req.agentId || undefined,
        scope: req.scope || undefined,
        tag: req.tag || undefined,
        embeddingState: FROM_STATE[req.embeddingState],
        createdAfter: at(req.createdAfter),
        createdBefore: at(req.createdBefore),
      });
      return { memories: page.memories.map((m) => memoryMessage(m)), nextPageToken: page.nextPageToken };
    },
    async deleteMemory(req, ctx) {
      return { id: (await memories.delete(tenantOf(ctx), req.id)).id };
    },
    async searchMemories(req, ctx) {
      const hits = await search.fullText(tenantOf(ctx), {
        query: req.query,
        filter: filterOf(req.filter),
        limit: req.limit,
        raw: req.rawQuery,
        marks: marks(req.highlightStart, req.highlightEnd),
      });
      return { results: hits.map(hitMessage) };
    },
    async semanticSearchMemories(req, ctx) {
      const hits = await search.semantic(tenantOf(ctx), { queryText: req.queryText, queryEmbedding: req.queryEmbedding, topK: req.topK, minScore: req.minScore, filter: filterOf(req.filter) });
      return { results: hits.map(hitMessage) };
    },
    async hybridSearchMemories(req, ctx) {
      const hits = await search.hybrid(tenantOf(ctx), {
        query: req.query,
        queryEmbedding: req.queryEmbedding,
        textWeight: req.textWeight,
        semanticWeight: req.semanticWeight,
        topK: req.topK,
        minScore: req.minScore,
        filter: filterOf(req.filter),
        marks: marks(req.highlightStart, req.highlightEnd),
        rrfK: req.rrfK,
      });
      return { results: hits.map(hitMessage) };
    },
    async compactMemories(req, ctx) {
      const r: CompactionRequest = {
        filter: filterOf(req.filter),
        expire: req.expire ? { expired: req.expire.expired, importanceBelow: req.expire.importanceBelow, olderThanMs: ms(req.expire.olderThan) } : undefined,
        merge: req.merge ? { similarityThreshold: req.merge.similarityThreshold } : undefined,
        cap: req.cap ? { maxPerScope: req.cap.maxPerScope } : undefined,
        decay: req.decay ? { halfLifeMs: ms(req.decay.halfLife) ?? 0, accessBoost: req.decay.accessBoost } : undefined,
        dryRun: req.dryRun,
      };
      const out = await memory.compact(tenantOf(ctx), r, req.wait ? (ms(req.waitTimeout) ?? 30_000) || 30_000 : undefined);
      const rep = out.report;
      const merged = rep ? rep.merges.reduce((n, g) => n + g.mergedIds.length, 0) : 0;
      return {
        dryRun: req.dryRun,
        taskId: out.task.id,
        taskState: out.task.state,
        completed: rep !== undefined,
        examinedCount: BigInt(rep?.examined ?? 0),
        expiredCount: BigInt(rep?.expiredIds.length ?? 0),
        lowImportanceCount: BigInt(rep?.lowImportanceIds.length ?? 0),
        mergedCount: BigInt(merged),
        overCapCount: BigInt(rep?.overCapIds.length ?? 0),
        deletedCount: BigInt(rep ? rep.expiredIds.length + rep.lowImportanceIds.length + merged + rep.overCapIds.length : 0),
        expiredIds: rep?.expiredIds ?? [],
        lowImportanceIds: rep?.lowImportanceIds ?? [],
        merges: rep?.merges ?? [],
        overCapIds: rep?.overCapIds ?? [],
        duration: rep ? durationFromMs(rep.durationMs) : undefined,
        decayedCount: BigInt(rep?.decayed ?? 0),
      };
    },
    async getMemoryStats(req, ctx) {
      const s = await memory.stats(tenantOf(ctx), { agentId: req.agentId || undefined, scope: req.scope || undefined });
      const big = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, BigInt(v)]));
      return {
        stats: create(MemoryStatsSchema, {
          totalCount: BigInt(s.total),
          countByType: big(s.byType),
          countByAgent: big(s.byAgent),
          countByScope: big(s.byScope),
          countByModel: big(s.byModel),
          withEmbeddingCount: BigInt(s.withEmbedding),
          withoutEmbeddingCount: BigInt(s.withoutEmbedding),
          pendingEmbeddingCount: BigInt(s.pending),
          expiredCount: BigInt(s.expired),
          contentBytes: BigInt(s.contentBytes),
          embeddingBytes: BigInt(s.embeddingBytes),
          oldestCreateTime: s.oldest === undefined ? undefined : timestampFromMs(s.oldest),
          newestCreateTime: s.newest === undefined ? undefined : timestampFromMs(s.newest),
          embeddingModel: modelMessage(s.model),
          averageImportance: s.averageImportance,
          totalAccessCount: BigInt(s.totalAccesses),
        }),
      };
    },
    async backfillEmbeddings(req, ctx) {
      const a = await memory.backfill(tenantOf(ctx), {
        filter: filterOf(req.filter),
        batchSize: req.batchSize,
        maxMemories: Number(req.maxMemories),
        includeOtherModels: req.includeOtherModels,
        dryRun: req.dryRun,
        requestId: req.requestId || undefined,
      });
      return { jobId: a.jobId, taskIds: a.taskIds, scheduledCount: BigInt(a.scheduled), alreadyPendingCount: BigInt(a.alreadyPending), remainingCount: BigInt(a.remaining), queue: a.queue, dryRun: a.dryRun };
    },
    async setMemoryEmbeddings(req, ctx) {
      const out = await memories.setEmbeddings(
        tenantOf(ctx),
        req.embeddings.map((e) => ({ memoryId: e.memoryId, embedding: e.embedding, model: e.model })),
      );
      return { updatedCount: out.updated, missingIds: out.missing };
    },
    async getEmbeddingModel() {
      return { embeddingModel: modelMessage(await memory.model()) };
    },
  };
}
