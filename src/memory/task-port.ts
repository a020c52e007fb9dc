import type { Json } from "./types.ts";

/** A task as the memory domain sees it. */
export interface MemoryTask {
  id: string;
  tenant: string;
  queue: string;
  type: string;
  state: "pending" | "blocked" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out";
  payload: Json | undefined;
  result: Json | undefined;
  error: string | undefined;
  progress: number;
  attempt: number;
  maxAttempts: number;
}

/** A task the memory worker holds, with the fencing token its calls must quote. */
export interface HeldTask {
  task: MemoryTask;
  fencingToken: number;
}

/**
 * What the memory domain needs from the task engine: compaction and backfill are ordinary
 * tasks (visible in ListTasks, cancellable, with progress). One small port, so a change of
 * the engine's signature (e.g. a tenant parameter) is adapted in one place (module.ts).
 */
export interface MemoryTaskPort {
  create(tenant: string, task: { queue: string; type: string; payload: Json; title: string; maxAttempts: number; timeoutMs: number; tags: string[] }): Promise<MemoryTask>;
  get(tenant: string, id: string): Promise<MemoryTask | undefined>;
  /** Pending, blocked or running tasks of a queue in the tenant. */
  active(tenant: string, queue: string): Promise<MemoryTask[]>;
  /** Claims up to `max` ready tasks of the queues for the in-process worker. */
  claim(queues: string[], workerId: string, max: number, leaseMs: number): Promise<HeldTask[]>;
  /** Reports progress (0–100) and extends the lease; `cancelled` when the task was cancelled. */
  progress(held: HeldTask, percent: number, message: string): Promise<{ cancelled: boolean }>;
  complete(held: HeldTask, result: Json): Promise<void>;
  fail(held: HeldTask, message: string, retryable: boolean, reason: string): Promise<void>;
}

export const COMPACTION_QUEUE = "memory.compaction";
export const COMPACTION_TYPE = "memory.compact";
export const EMBEDDINGS_QUEUE = "memory.embeddings";
export const EMBED_TYPE = "memory.embed";
