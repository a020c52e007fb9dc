import { invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { MemoryContext } from "./context.ts";
import { vectorEngineMissing } from "../vectors/none.ts";
import { checkFilter, LIMITS } from "./limits.ts";
import { EMBED_TYPE, EMBEDDINGS_QUEUE } from "./task-port.ts";
import type { MemoryFilter } from "./types.ts";

export interface BackfillRequest {
  filter?: MemoryFilter;
  batchSize?: number;
  maxMemories?: number;
  includeOtherModels?: boolean;
  dryRun?: boolean;
  requestId?: string;
}

export interface BackfillAnswer {
  jobId: string;
  taskIds: string[];
  scheduled: number;
  alreadyPending: number;
  remaining: number;
  queue: string;
  dryRun: boolean;
}

/** Payload of a `memory.embed` task. */
export interface EmbedPayload {
  tenant: string;
  job: string;
  model: string;
  memory_ids: string[];
}

/** Embedding backfill: MISSING memories in batches, one task per batch, embedded by the memory worker. */
export function createBackfill(ctx: MemoryContext, wake: () => void) {
  const { store, clock, database, embedder, tasks } = ctx;
  return {
    async schedule(tenant: string, req: BackfillRequest): Promise<BackfillAnswer> {
      const filter = checkFilter(req.filter);
      const batch = req.batchSize === undefined || req.batchSize === 0 ? 100 : req.batchSize;
      if (!Number.isInteger(batch) || batch < 1 || batch > LIMITS.backfillBatch) throw invalidArgument("batch_size", `must be between 1 and ${LIMITS.backfillBatch}`);
      const max = req.maxMemories ?? 0;
      if (!Number.isInteger(max) || max < 0) throw invalidArgument("max_memories", "must be 0 (no limit) or positive");
      if (req.requestId) {
        const prior = await database.read((tx) => store.answer(tx, tenant, "backfill", req.requestId!));
        if (prior) return JSON.parse(prior) as BackfillAnswer;
      }
      const now = clock.now();
      const counts = await database.read((tx) => store.countToEmbed(tx, tenant, filter, embedder.model, !!req.includeOtherModels, now));
      const take = max > 0 ? Math.min(max, counts.todo) : counts.todo;
      const answer: BackfillAnswer = { jobId: "", taskIds: [], scheduled: take, alreadyPending: counts.pending, remaining: counts.todo - take, queue: EMBEDDINGS_QUEUE, dryRun: !!req.dryRun };
      if (req.dryRun || take === 0) return answer;
      // Without a vector engine a backfill task could only fail: refused before any task exists.
      if (ctx.vectors.kind === "none") throw vectorEngineMissing();
      const rows = await database.read((tx) => store.toEmbed(tx, tenant, filter, embedder.model, !!req.includeOtherModels, now, take));
      const job = newId("bkf", now);
      answer.jobId = job;
      answer.scheduled = rows.length;
      for (let i = 0; i < rows.length; i += batch) {
        const part = rows.slice(i, i + batch);
        // The task first: a crash before the rows turn PENDING leaves a task that embeds them anyway.
        const payload: EmbedPayload = { tenant, job, model: embedder.model, memory_ids: part.map((r) => r.id) };
        const task = await tasks.create(tenant, {
          queue: EMBEDDINGS_QUEUE,
          type: EMBED_TYPE,
          payload: payload as never,
          title: `embed ${part.length} memories (${job})`,
          maxAttempts: 3,
          timeoutMs: 10 * 60_000,
          tags: [job],
        });
        answer.taskIds.push(task.id);
        await database.write(function* (tx) {
          for (const r of part) yield* store.setEmbedding(tx, r.seq, "pending", r.embedding_model, job, clock.now());
        });
      }
      if (req.requestId) await database.write((tx) => store.saveAnswer(tx, tenant, "backfill", req.requestId!, JSON.stringify(answer), clock.now()));
      wake();
      return answer;
    },

    /** Runs one `memory.embed` task's batch with the server's embedder. */
    async embedBatch(p: EmbedPayload): Promise<{ updated: number; missing: string[] }> {
      const rows = await database.read((tx) => store.byIds(tx, p.tenant, p.memory_ids, clock.now()));
      try {
        const vecs = await ctx.embed(rows.map((r) => r.content));
        const written = await ctx.writeVectors(p.tenant, rows, vecs, embedder.model);
        const ok = new Set(written.map((w) => w.id));
        return { updated: ok.size, missing: p.memory_ids.filter((id) => !ok.has(id)) };
      } catch (error) {
        // Nothing is lost: the memories are MISSING again, for a later backfill.
        await database.write((tx) => store.releaseJob(tx, p.job, rows.map((r) => r.seq), clock.now()));
        throw error;
      }
    },
  };
}

export type Backfill = ReturnType<typeof createBackfill>;
