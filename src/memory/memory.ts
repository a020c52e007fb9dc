import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Database } from "../db/client.ts";
import type { OpDatabase } from "../db/dialect.ts";
import type { Embedder } from "../embeddings/embedder.ts";
import type { VectorIndex } from "../vectors/vector-index.ts";
import { createBackfill } from "./backfill.ts";
import { checkCompaction, compactionInProgress, createCompaction, type CompactionReport, type CompactionRequest } from "./compaction.ts";
import { createMemoryContext } from "./context.ts";
import { createMemories } from "./memories.ts";
import { createSearch } from "./search.ts";
import { createPgMemoryStore, createSqliteMemoryStore } from "./store.ts";
import { COMPACTION_QUEUE, COMPACTION_TYPE, type MemoryTask, type MemoryTaskPort } from "./task-port.ts";
import type { MemoryStats } from "./types.ts";
import { createMemoryWorker, type CompactPayload } from "./worker.ts";

export interface MemoryDeps {
  /** SQLite (its `sqlite` handle feeds the SQLite store) or PostgreSQL. */
  database: OpDatabase;
  clock: Clock;
  log: Logger;
  embedder: Embedder;
  vectors: VectorIndex;
  tasks: MemoryTaskPort;
  workerPollMs?: number;
  workerLeaseMs?: number;
  /** This instance's worker id (default: `switchyard-memory-worker@<host>:<pid>`). */
  workerId?: string;
}

export interface CompactionAnswer {
  task: MemoryTask;
  /** Filled when the task succeeded before the answer. */
  report: CompactionReport | undefined;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);
/** How long a claimed compaction task waits for its creator to give it the tenant's slot. */
const SLOT_WAIT_MS = 10_000;

const notRun = (cancelled: boolean): CompactionReport => ({
  dryRun: false,
  examined: 0,
  expiredIds: [],
  lowImportanceIds: [],
  merges: [],
  overCapIds: [],
  decayed: 0,
  durationMs: 0,
  cancelled,
});

/** The memory domain: memories, search, compaction and backfill (as tasks), statistics. */
export function createMemory(deps: MemoryDeps) {
  const store = deps.database.dialect === "sqlite" ? createSqliteMemoryStore((deps.database as Database).sqlite) : createPgMemoryStore();
  const ctx = createMemoryContext({ ...deps, store });
  const memories = createMemories(ctx);
  const search = createSearch(ctx);
  const compaction = createCompaction(ctx);
  let wake = () => {};
  const backfill = createBackfill(ctx, () => wake());
  const worker = createMemoryWorker({ tasks: deps.tasks, log: deps.log, compact: compactHoldingSlot, backfill, pollMs: deps.workerPollMs, leaseMs: deps.workerLeaseMs, workerId: deps.workerId });
  wake = worker.wake;

  /**
   * Runs a compaction task once it holds its tenant's slot. Its creator takes the slot right
   * after creating it, so a worker (of any instance) that claimed it first waits a little; a task
   * whose creator lost the slot is cancelled by it (noticed here through the heartbeat); a task
   * whose creator stopped before taking it takes the slot itself if it is free.
   */
  async function compactHoldingSlot(tenant: string, req: CompactionRequest, progress: (pct: number, msg: string) => Promise<boolean>, taskId: string): Promise<CompactionReport> {
    const deadline = Date.now() + SLOT_WAIT_MS;
    for (;;) {
      if ((await deps.database.read((tx) => store.compactionSlot(tx, tenant))) === taskId) break;
      if (await progress(0, "waiting for the tenant's compaction slot")) return notRun(true);
      if (Date.now() >= deadline) {
        if (await takeSlot(tenant, taskId)) break;
        throw compactionInProgress();
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    return compaction.run(tenant, req, progress);
  }

  async function takeSlot(tenant: string, taskId: string): Promise<boolean> {
    const holder = await deps.database.read((tx) => store.compactionSlot(tx, tenant));
    if (holder !== undefined) {
      const held = await deps.tasks.get(tenant, holder);
      if (held && !TERMINAL.has(held.state)) return false;
    }
    return deps.database.write((tx) => store.takeCompactionSlot(tx, tenant, holder, taskId, deps.clock.now()));
  }

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
      // Several instances may all pass the check above before any task of theirs is visible:
      // the tenant's compaction slot decides. It is taken by compare-and-swap, from free or from
      // a task that ended; a task that does not get it gives up (cancelled).
      if (!(await takeSlot(tenant, task.id))) {
        await deps.tasks.cancel(tenant, task.id, "another compaction of this tenant started first").catch(() => {});
        throw compactionInProgress();
      }
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
      const s = await deps.database.read((tx) => store.stats(tx, tenant, f, deps.embedder.model, deps.clock.now()));
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
