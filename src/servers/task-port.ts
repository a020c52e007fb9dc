import type { ServerTaskCounts } from "./types.ts";

/** A task as the servers domain needs it to push it to a backend. */
export interface PortTask {
  id: string;
  queue: string;
  type: string;
  priority: number;
  payload: unknown;
  requiredCapabilities: string[];
  timeoutMs: number | undefined;
  attempt: number;
  maxAttempts: number;
  metadata: Record<string, unknown> | undefined;
}

/** A task claimed on behalf of a server, with the lease the server holds. */
export interface PortClaim {
  task: PortTask;
  fencingToken: number;
  leaseExpiresAt: number;
}

/** A change of who holds a task, as committed by the task engine. */
export interface HolderChange {
  taskId: string;
  /** The holder after a claim; undefined when the task left its holder. */
  claimedBy: string | undefined;
  /** True when the task stopped running (finished, released, reaped, cancelled…). */
  leftRunning: boolean;
}

/**
 * Everything the servers domain asks of the task engine, behind one port, so that the engine's
 * signature changes (tenancy) are absorbed in the adapter (`module.ts`), not here. Every call
 * carries the tenant of the server it is for.
 */
export interface TaskPort {
  /** The head of a queue's ready set (priority, then FIFO), at most `limit` tasks. */
  readyTasks(tenant: string, queue: string, limit: number): Promise<PortTask[]>;
  /** Claims one ready task by id for `serverId` (its lease, its fencing token); undefined when it was taken or is no longer ready. */
  claimFor(tenant: string, taskId: string, serverId: string, leaseMs: number): Promise<PortClaim | undefined>;
  /** Completes a task the server holds; false when the token is stale (someone else holds it now). */
  complete(tenant: string, taskId: string, fencingToken: number, result: unknown): Promise<boolean>;
  /** Fails an attempt the server holds: retried after `retryDelayMs` while attempts remain when retryable. */
  fail(tenant: string, taskId: string, fencingToken: number, error: { message: string; reason: string; retryable: boolean; details?: Record<string, unknown> }, retryDelayMs?: number): Promise<boolean>;
  /** Extends the lease of a task the server holds (an async backend accepted it); false when no longer held. */
  extendLease(tenant: string, taskId: string, fencingToken: number, leaseMs: number): Promise<boolean>;
  /** Puts every task `holder` runs back in its queue, the attempt not counted; answers their ids. */
  releaseHeldBy(tenant: string, holder: string): Promise<string[]>;
  /** Stops (true) or resumes (false) handing new tasks to a holder's claims and streams (maintenance drain). */
  setDrained(tenant: string, holder: string, drained: boolean): void;
  /** Running tasks by holder id, for the active counts after a restart. */
  runningByHolder(tenant: string | undefined): Promise<{ taskId: string; holder: string }[]>;
  /** Finished attempts of a holder in [start, end) by finish time (all time without a range). */
  countsFor(tenant: string, holder: string, range?: { start: number; end: number }): Promise<ServerTaskCounts>;
  /** Worker ids holding a live TaskService.ConnectWorker stream. */
  streamingWorkers(): Set<string>;
  /** Every committed change of who holds a task; answers an unsubscribe. */
  onHolderChange(listener: (change: HolderChange) => void): () => void;
  /** Called when ready work may have appeared in a queue (created, released, retried…). */
  onReady(listener: (queue: string) => void): () => void;
  /** Installs the chooser of the worker stream a dispatch round serves first (index into `streams`). */
  chooseStreams(choose: (streams: { workerId: string; credits: number }[]) => number | undefined): void;
  /** Queue settings for a registering worker; undefined when the queue has no config. */
  queueConfig(tenant: string, queue: string): Promise<QueueSettings | undefined>;
}

/** What a worker registering for a queue is told (seed 003 `queue`, `sub_queues`, `deployment`). */
export interface QueueSettings {
  name: string;
  priority: number;
  mode: "long_running" | "one_shot" | "unspecified";
  subQueues: { name: string; priority: number }[];
  deployment: Record<string, unknown> | undefined;
}
