import { hostname } from "node:os";
import type { Logger } from "../core/logger.ts";
import type { Backfill, EmbedPayload } from "./backfill.ts";
import type { CompactionReport, CompactionRequest } from "./compaction.ts";
import { COMPACTION_QUEUE, COMPACTION_TYPE, EMBED_TYPE, EMBEDDINGS_QUEUE, type HeldTask, type MemoryTaskPort } from "./task-port.ts";
import type { Json } from "./types.ts";

export const WORKER_ID = "switchyard-memory-worker";

/** This instance's worker id: every instance runs a memory worker; each claims under its own name. */
export const instanceWorkerId = () => `${WORKER_ID}@${hostname()}:${process.pid}`;

/** Payload of a `memory.compact` task. */
export interface CompactPayload {
  tenant: string;
  request: CompactionRequest;
}

/**
 * The in-process memory worker: claims `memory.compaction` and `memory.embeddings` tasks and
 * runs them (one at a time), reporting progress and noticing cancellation. A task left by a
 * crash is claimed again once its lease expires. Every instance runs one: the task engine's
 * claim hands each task to one of them (fenced by its lease), so several instances share the
 * work and none runs a task twice at a time.
 */
export function createMemoryWorker(deps: {
  tasks: MemoryTaskPort;
  log: Logger;
  compact: (tenant: string, req: CompactionRequest, progress: (pct: number, msg: string) => Promise<boolean>, taskId: string) => Promise<CompactionReport>;
  backfill: Backfill;
  pollMs?: number;
  leaseMs?: number;
  workerId?: string;
}) {
  const { tasks, log } = deps;
  const pollMs = deps.pollMs ?? 250;
  const leaseMs = deps.leaseMs ?? 30_000;
  const workerId = deps.workerId ?? instanceWorkerId();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let again = false;

  async function runOne(held: HeldTask): Promise<void> {
    const { task } = held;
    try {
      if (task.type === COMPACTION_TYPE) {
        const p = task.payload as unknown as CompactPayload;
        // Stops at the next merge group when the task is cancelled or the server is stopping
        // (then the task is claimed again after its lease; each group is whole either way).
        const report = await deps.compact(p.tenant, p.request, async (pct, msg) => stopped || (await tasks.progress(held, pct, msg)).cancelled, task.id);
        if (report.cancelled) return;
        await tasks.complete(held, report as unknown as Json);
      } else if (task.type === EMBED_TYPE) {
        const out = await deps.backfill.embedBatch(task.payload as unknown as EmbedPayload);
        await tasks.complete(held, out as unknown as Json);
      } else {
        await tasks.fail(held, `the memory worker does not run tasks of type ${task.type}`, false, "UNKNOWN_TASK_TYPE");
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log.warn("memory task failed", { task: task.id, type: task.type, error: message });
      await tasks.fail(held, message, false, (error as { reason?: string }).reason ?? "MEMORY_TASK_FAILED").catch(() => {});
    }
  }

  async function loop(): Promise<void> {
    do {
      again = false;
      const held = await tasks.claim([COMPACTION_QUEUE, EMBEDDINGS_QUEUE], workerId, 1, leaseMs).catch((error) => {
        log.error("memory worker could not claim", { error: String(error) });
        return [];
      });
      for (const h of held) await runOne(h);
      if (held.length) again = true;
    } while (again && !stopped);
  }

  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = loop().finally(() => {
      running = undefined;
      schedule();
    });
  }

  function schedule(): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(kick, pollMs);
  }

  return {
    start(): void {
      stopped = false;
      schedule();
    },
    /** A task was just created: look now rather than at the next poll. */
    wake: () => kick(),
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
