/** Plain types of the tasks domain; the service layer maps them to and from the protos. */

/** Where a task is in its life; see README.md for every transition. */
export type TaskState = "pending" | "blocked" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out";

/** Integer codes stored in `tasks.state` (also the proto enum numbers). */
export const STATE_CODES: Record<TaskState, number> = {
  pending: 1,
  blocked: 2,
  running: 3,
  succeeded: 4,
  failed: 5,
  cancelled: 6,
  timed_out: 7,
};
export const STATE_NAMES: TaskState[] = ["pending", "pending", "blocked", "running", "succeeded", "failed", "cancelled", "timed_out"];
export const ALL_STATES: TaskState[] = ["pending", "blocked", "running", "succeeded", "failed", "cancelled", "timed_out"];

/** Free JSON. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface TaskError {
  message: string;
  retryable: boolean;
  details?: JsonObject;
  /** Stable cause: `LEASE_EXPIRED`, `TIMED_OUT`, `CANCELLED`, `DEPENDENCY_FAILED` or the worker's own. */
  reason?: string;
}

export interface Lease {
  /** Strictly increasing per task across all claims. */
  fencingToken: number;
  /** Server clock, ms. */
  expiresAt: number;
  leaseDurationMs: number;
  workerId: string;
}

export interface Task {
  id: string;
  /** The tenant the task belongs to; every read and write is scoped to it. */
  tenant: string;
  queue: string;
  type: string;
  priority: number;
  payload: Json | undefined;
  requiredCapabilities: string[];
  runAt: number;
  timeoutMs: number | undefined;
  maxAttempts: number;
  attempt: number;
  dependsOn: string[];
  progress: number;
  progressMessage: string;
  result: Json | undefined;
  error: TaskError | undefined;
  state: TaskState;
  workerId: string | undefined;
  serverId: string | undefined;
  /** Present while running. */
  lease: Lease | undefined;
  metadata: JsonObject | undefined;
  createdAt: number;
  updatedAt: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  requestId: string | undefined;
  title: string;
  description: string;
  tags: string[];
  retryCount: number;
}

/** What a client gives to create a task. */
export interface NewTask {
  /** Client-chosen id (optional). */
  id?: string;
  queue: string;
  type?: string;
  priority?: number;
  payload?: Json;
  requiredCapabilities?: string[];
  runAt?: number;
  /** Alternative to runAt: start this many ms from now. */
  delayMs?: number;
  timeoutMs?: number;
  maxAttempts?: number;
  dependsOn?: string[];
  metadata?: JsonObject;
  title?: string;
  description?: string;
  tags?: string[];
  /** Idempotency key, ≤ 128 characters. */
  requestId?: string;
}

export type TaskEventKind =
  | "created"
  | "unblocked"
  | "claimed"
  | "updated"
  | "succeeded"
  | "retry_scheduled"
  | "failed"
  | "released"
  | "lease_expired"
  | "cancelled"
  | "timed_out"
  | "retried"
  | "deleted";

/** One committed change of one task. */
export interface TaskEvent {
  sequence: number;
  time: number;
  kind: TaskEventKind;
  task: Task;
  /** undefined for `created`. */
  previousState: TaskState | undefined;
  /** The task's fencing token after the change (the last holder's, once it ended). */
  fencingToken?: number;
}

export type QueueMode = "unspecified" | "long_running" | "one_shot";

export interface QueueConfig {
  name: string;
  priority: number;
  mode: QueueMode;
  defaultTimeoutMs: number | undefined;
  /** 0: server default. */
  defaultMaxAttempts: number;
  /** 0: no limit. */
  concurrencyLimit: number;
  deployment: JsonObject | undefined;
  source: "api" | "yaml";
  createdAt: number;
  updatedAt: number;
}

export interface TaskCounts {
  pending: number;
  delayed: number;
  blocked: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  timedOut: number;
  total: number;
}

export interface QueueInfo {
  name: string;
  paused: boolean;
  counts: TaskCounts;
  oldestPendingAgeMs: number;
  /** The config that applies (own or parent's). */
  config: QueueConfig | undefined;
  pauseUpdatedAt: number | undefined;
}

/** A page of a list. */
export interface Page<T> {
  items: T[];
  /** Empty on the last page. */
  nextPageToken: string;
}

/** A task claimed for a worker, with the lease to quote. */
export interface Assignment {
  task: Task;
  lease: Lease;
}

export type CancelReason = "cancelled" | "lease_expired" | "timed_out" | "deleted";

/** What the dispatcher pushes on a worker stream. */
export type WorkerMessage =
  | { kind: "session"; sessionId: string; pingIntervalMs: number; serverTime: number; credits: number }
  | { kind: "assigned"; assignment: Assignment }
  | { kind: "ping"; serverTime: number; credits: number }
  | { kind: "cancel"; taskId: string; fencingToken: number; reason: CancelReason };
