import { toJson } from "@bufbuild/protobuf";
import { timestampMs, ValueSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import type { Memory as PbMemory } from "../../../../gen/switchyard/memory/v1/memory_pb.js";
import { MemoryService } from "../../../../gen/switchyard/memory/v1/memory_service_pb.js";
import { TaskService } from "../../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { TaskState } from "../../../../gen/switchyard/tasks/v1/tasks_pb.js";
import { AppError, invalidArgument } from "../../../core/errors.ts";
import { errorInfo } from "../../errors.ts";
import { jetpackError } from "../jetpack.ts";
import { route, type LegacyFamily, type LegacyReply, type LegacyRequest } from "../table.ts";

const iso = (t: Timestamp | undefined) => (t ? new Date(timestampMs(t)).toISOString() : undefined);

/** A memory as Jetpack's MemoryEntry (`packages/shared/src/types/memory.ts`), with Switchyard's extra fields after. */
export function memoryEntry(m: PbMemory): Record<string, unknown> {
  return {
    id: m.id,
    type: m.type,
    content: m.content,
    ...(m.embedding.length ? { embedding: m.embedding } : {}),
    ...(m.metadata ? { metadata: m.metadata } : {}),
    importance: m.importance ?? 0.5,
    createdAt: iso(m.createTime),
    lastAccessed: iso(m.lastAccessTime),
    accessCount: Number(m.accessCount),
    agentId: m.agentId || undefined,
    scope: m.scope || undefined,
    tags: m.tags,
    hasEmbedding: m.embeddingState === 3,
  };
}

function object(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) throw invalidArgument("body", "request body must be a JSON object");
  return body as Record<string, unknown>;
}

function limitOf(raw: unknown, field: string, fallback: number, max: number): number {
  if (raw === undefined || raw === null || raw === "") return fallback;
  const n = typeof raw === "string" ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > max) throw invalidArgument(field, `must be a whole number from 1 to ${max}`);
  return n;
}

function jetpackMemoryError(error: ConnectError, status: number): LegacyReply {
  if (errorInfo(error)?.reason === "MEMORY_NOT_FOUND") return { status: 404, body: { error: "Memory not found" } };
  return jetpackError(error, status);
}

const TERMINAL = new Set([TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMED_OUT]);

/**
 * Seed 000's memory routes (Jetpack worker API, and every method of its HttpMemoryStore client).
 * Shapes are documented in docs/legacy-routes.md.
 */
export function jetpackMemoryFamily(): LegacyFamily {
  const entries = (out: { memories: PbMemory[] }) => ({ body: out.memories.map(memoryEntry) });
  const hits = (out: { results: { memory?: PbMemory }[] }) => ({ body: out.results.map((r) => memoryEntry(r.memory!)) });
  return {
    name: "seed-000-memory",
    error: jetpackMemoryError,
    routes: [
      route({
        method: "POST",
        path: "/api/memory",
        rpc: MemoryService.method.createMemory,
        request(req) {
          const b = object(req.body);
          if (typeof b.content !== "string") throw invalidArgument("content", "is required");
          if (typeof b.type !== "string") throw invalidArgument("type", "is required");
          if (b.importance !== undefined && typeof b.importance !== "number") throw invalidArgument("importance", "must be a number from 0 to 1");
          if (b.embedding !== undefined && (!Array.isArray(b.embedding) || !b.embedding.every((x) => typeof x === "number"))) throw invalidArgument("embedding", "must be an array of numbers");
          if (b.metadata !== undefined && (typeof b.metadata !== "object" || b.metadata === null || Array.isArray(b.metadata))) throw invalidArgument("metadata", "must be a JSON object");
          const tags = b.tags === undefined ? [] : b.tags;
          if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) throw invalidArgument("tags", "must be an array of strings");
          return {
            memory: {
              content: b.content,
              type: b.type,
              importance: b.importance as number | undefined,
              embedding: (b.embedding as number[] | undefined) ?? [],
              metadata: b.metadata as never,
              tags: tags as string[],
              agentId: typeof b.agentId === "string" ? b.agentId : "",
              scope: typeof b.scope === "string" ? b.scope : "",
            },
          };
        },
        response: (out) => ({ status: 201, body: { id: out.memory!.id } }),
      }),
      route({
        method: "GET",
        path: "/api/memory",
        rpc: MemoryService.method.listMemories,
        request: (req) => ({ pageSize: limitOf(req.query.get("limit") ?? undefined, "limit", 50, 1000) }),
        response: entries,
      }),
      route({ method: "GET", path: "/api/memory/stats", rpc: MemoryService.method.getMemoryStats, response: (out) => ({ body: legacyStats(out.stats!) }) }),
      route({
        method: "GET",
        path: "/api/memory/type/:type",
        rpc: MemoryService.method.listMemories,
        request: (req) => ({ type: req.params.type!, pageSize: limitOf(req.query.get("limit") ?? undefined, "limit", 100, 1000) }),
        response: entries,
      }),
      route({
        method: "GET",
        path: "/api/memory/:id",
        rpc: MemoryService.method.getMemory,
        request: (req) => ({ id: req.params.id!, includeEmbedding: true }),
        response: (out) => ({ body: memoryEntry(out.memory!) }),
      }),
      route({
        method: "PATCH",
        path: "/api/memory/:id",
        rpc: MemoryService.method.updateMemory,
        request(req) {
          const b = object(req.body);
          const paths: string[] = [];
          let importance: number | undefined;
          if (b.importance !== undefined) {
            if (typeof b.importance !== "number" || !Number.isFinite(b.importance)) throw invalidArgument("importance", "must be a number");
            importance = Math.max(0, Math.min(1, b.importance)); // Jetpack clamps
            paths.push("importance");
          }
          if (b.metadata !== undefined) paths.push("metadata");
          if (b.tags !== undefined) paths.push("tags");
          if (paths.length === 0) throw invalidArgument("importance", "nothing to update: give importance, metadata or tags");
          return { id: req.params.id!, importance, metadata: b.metadata as never, tags: (b.tags as string[]) ?? [], updateMask: { paths } };
        },
        response: (out) => ({ body: memoryEntry(out.memory!) }),
      }),
      route({
        method: "DELETE",
        path: "/api/memory/:id",
        rpc: MemoryService.method.deleteMemory,
        request: (req) => ({ id: req.params.id! }),
        response: () => ({ body: { deleted: true } }),
      }),
      route({
        method: "POST",
        path: "/api/memory/search",
        rpc: MemoryService.method.searchMemories,
        request(req) {
          const b = object(req.body);
          if (typeof b.query !== "string" || b.query === "") throw new AppError("invalid_argument", "INVALID_SEARCH_QUERY", "query is required", { field: "query" });
          return { query: b.query, limit: limitOf(b.limit, "limit", 10, 100) };
        },
        response: hits,
      }),
      route({
        method: "POST",
        path: "/api/memory/semantic",
        rpc: MemoryService.method.semanticSearchMemories,
        request(req) {
          const b = object(req.body);
          const limit = limitOf(b.limit, "limit", 10, 100);
          if (Array.isArray(b.embedding) && b.embedding.length > 0) {
            if (!b.embedding.every((x) => typeof x === "number")) throw invalidArgument("embedding", "must be an array of numbers");
            return { queryEmbedding: b.embedding as number[], topK: limit };
          }
          if (typeof b.query === "string" && b.query !== "") return { queryText: b.query, topK: limit };
          throw invalidArgument("query", "embedding or query is required");
        },
        response: hits,
      }),
      route({
        method: "POST",
        path: "/api/memory/compact",
        rpc: MemoryService.method.compactMemories,
        request(req) {
          const b = object(req.body);
          // Jetpack: a threshold removes memories less important than it; none runs the adaptive (default) compaction.
          if (b.threshold !== undefined && b.threshold !== null && b.threshold !== 0) {
            if (typeof b.threshold !== "number" || b.threshold < 0 || b.threshold > 1) throw invalidArgument("threshold", "must be a number from 0 to 1");
            return { expire: { expired: true, importanceBelow: b.threshold }, wait: true, waitTimeout: { seconds: 120n } };
          }
          return { wait: true, waitTimeout: { seconds: 120n } };
        },
        response: (out) => ({ body: { removed: Number(out.deletedCount), taskId: out.taskId, completed: out.completed } }),
      }),
      route({
        method: "POST",
        path: "/api/memory/backfill",
        rpc: MemoryService.method.backfillEmbeddings,
        request(req: LegacyRequest) {
          const b = object(req.body);
          const n = limitOf(b.batchSize, "batchSize", 50, 1000);
          return { batchSize: n, maxMemories: BigInt(n) };
        },
        // Jetpack embeds synchronously and answers how many it processed: wait for the batch tasks.
        async response(out, _req, call) {
          let processed = 0;
          const deadline = Date.now() + 60_000;
          for (const id of out.taskIds) {
            for (;;) {
              const { task } = await call(TaskService.method.getTask, { id });
              if (task && TERMINAL.has(task.state)) {
                const r = task.result ? (toJson(ValueSchema, task.result) as { updated?: number }) : {};
                processed += r.updated ?? 0;
                break;
              }
              if (Date.now() > deadline) break;
              await new Promise((r) => setTimeout(r, 20));
            }
          }
          return { body: { processed, jobId: out.jobId, taskIds: out.taskIds } };
        },
      }),
    ],
  };
}

/** Jetpack's MemoryStats: total, byType, avgImportance, totalAccesses, withEmbedding, withoutEmbedding. */
function legacyStats(s: { totalCount: bigint; countByType: Record<string, bigint>; averageImportance: number; totalAccessCount: bigint; withEmbeddingCount: bigint; withoutEmbeddingCount: bigint }) {
  return {
    total: Number(s.totalCount),
    byType: Object.fromEntries(Object.entries(s.countByType).map(([k, v]) => [k, Number(v)])),
    avgImportance: s.averageImportance,
    totalAccesses: Number(s.totalAccessCount),
    withEmbedding: Number(s.withEmbeddingCount),
    withoutEmbedding: Number(s.withoutEmbeddingCount),
  };
}
