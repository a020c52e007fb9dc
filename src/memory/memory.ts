import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Database } from "../db/client.ts";
import type { Embedder } from "../embeddings/embedder.ts";
import type { VectorIndex } from "../vectors/vector-index.ts";
import { createBackfill } from "./backfill.ts";
import { checkCompaction, compactionInProgress, createCompaction, type CompactionReport, type CompactionRequest } from "./compaction.ts";
import { createMemoryContext } from "./context.ts";
import { createMemories } from "./memories.ts";
import { createSearch } from "./search.ts";
import { createMemoryStore } from "./store.ts";
import { COMPACTION_QUEUE, COMPACTION_TYPE, type MemoryTask, type MemoryTaskPort } from "./task-port.ts";
import type { MemoryStats } from "./types.ts";
import { createMemoryWorker, type CompactPayload } from "./worker.ts";

export interface MemoryDeps {
  database: Database;
  clock: Clock;
  log: Logger;
  embedder: Embedder;
  vectors: VectorIndex;
  tasks: MemoryTaskPort;
  workerPollMs?: number;
  workerLeaseMs?: number;
}

export interface CompactionAnswer {
  task: MemoryTask;
  /** Filled when the task succeeded before the answer. */
  report: CompactionReport | undefined;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

/** The memory domain: memories, search, compaction and backfill (as tasks), statistics. */
export function createMemory(deps: MemoryDeps) {
  const store = createMemoryStore(deps.database.sqlite);
  const ctx = createMemoryContext({ ...deps, store });
  const memories = createMemories(ctx);
  const search = createSearch(ctx);
  const compaction = createCompaction(ctx);
  let wake = () => {};
  const backfill = createBackfill(ctx, () => wake());
  const worker = createMemoryWorker({ tasks: deps.tasks, log: deps.log, compact: compaction.run, backfill, pollMs: deps.workerPollMs, leaseMs: deps.workerLeaseMs });
  wake = worker.wake;

  async function waitFor(tenant: string, id: string, timeoutMs: number): Promise<MemoryTask> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = await deps.tasks.get(tenant, id);
      if (!t) throw notFound("TASK_NOT_FOUND", `task ${id} not found`, { id });
      if (TERMINAL.has(t.state) || Date.now() >= deadline) return t;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  return {
    ctx,
    memories,
    search,
    worker,
    model: () => ctx.dimensions().then(() => ctx.info()),

    /** Starts a compaction task; with `waitMs` answers once it ended (or the wait ran out). */
    async compact(tenant: string, req: CompactionRequest, waitMs: number | undefined): Promise<CompactionAnswer> {
      const checked = checkCompaction(req);
      if (waitMs !== undefined && !(waitMs >= 0 && waitMs <= 300_000)) throw invalidArgument("wait_timeout", "must be at most 300 s");
      if ((await deps.tasks.active(tenant, COMPACTION_QUEUE)).length > 0) throw compactionInProgress();
      const payload: CompactPayload = { tenant, request: checked };
      let task = await deps.tasks.create(tenant, {
        queue: COMPACTION_QUEUE,
        type: COMPACTION_TYPE,
        payload: payload as never,
        title: checked.dryRun ? "memory compaction (dry run)" : "memory compaction",
        maxAttempts: 3,
        timeoutMs: 30 * 60_000,
        tags: ["memory"],
      });
      worker.wake();
      if (waitMs === undefined) return { task, report: undefined };
      task = await waitFor(tenant, task.id, waitMs);
      if (task.state === "failed" || task.state === "timed_out") {
        throw new AppError("internal", "COMPACTION_FAILED", `compaction task ${task.id} ${task.state}: ${task.error ?? "no reason given"}`, { task_id: task.id });
      }
      return { task, report: task.state === "succeeded" ? (task.result as unknown as CompactionReport) : undefined };
    },
    backfill: backfill.schedule,
    waitForTask: waitFor,

    async stats(tenant: string, f: { agentId?: string; scope?: string }): Promise<MemoryStats> {
      const info = await ctx.dimensions().then(() => ctx.info());
      const s = store.stats(tenant, f, deps.embedder.model, deps.clock.now());
      const rec = (rows: { k: string | null; n: number }[]) => Object.fromEntries(rows.map((r) => [r.k ?? "", r.n]));
      return {
        total: s.total,
        byType: rec(s.byType),
        byAgent: rec(s.byAgent),
        byScope: rec(s.byScope),
        byModel: rec(s.byModel),
        withEmbedding: s.withEmbedding,
        withoutEmbedding: s.total - s.withEmbedding,
        pending: s.pending,
        expired: s.expired,
        contentBytes: s.contentBytes,
        embeddingBytes: s.withEmbedding * (info.dimensions ?? 0) * 4,
        oldest: s.oldest ?? undefined,
        newest: s.newest ?? undefined,
        averageImportance: s.averageImportance,
        totalAccesses: s.totalAccesses,
        model: info,
      };
    },
    start: () => worker.start(),
    stop: () => worker.stop(),
  };
}

export type MemoryDomain = ReturnType<typeof createMemory>;
