import { create, fromJson, toJson, type JsonObject as PbJsonObject, type JsonValue } from "@bufbuild/protobuf";
import {
  durationFromMs,
  durationMs,
  timestampFromMs,
  timestampMs,
  ValueSchema,
  type Duration,
  type Timestamp,
  type Value,
} from "@bufbuild/protobuf/wkt";
import {
  CancelReason as PbCancelReason,
  LeaseSchema,
  QueueConfigSchema,
  QueueMode as PbQueueMode,
  QueueSchema,
  TaskCountsSchema,
  TaskErrorSchema,
  TaskEventKind as PbEventKind,
  TaskEventSchema,
  TaskSchema,
  WorkerStatSchema,
  type Lease as PbLease,
  type QueueConfig as PbQueueConfig,
  type Task as PbTask,
  type TaskError as PbTaskError,
  type TaskEvent as PbTaskEvent,
} from "../../gen/switchyard/tasks/v1/tasks_pb.js";
import { ConnectWorkerResponseSchema, type ConnectWorkerResponse } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import type { WorkerStat } from "./stats.ts";
import {
  STATE_CODES,
  STATE_NAMES,
  type Json,
  type JsonObject,
  type Lease,
  type QueueConfig,
  type QueueInfo,
  type Task,
  type TaskCounts,
  type TaskError,
  type TaskEvent,
  type TaskEventKind,
  type TaskState,
  type WorkerMessage,
} from "./types.ts";

// Mappings between the tasks domain's plain types and the protobuf messages. Times are
// milliseconds in the domain, Timestamp/Duration on the wire; JSON is Value/Struct.

export const ms = (d: Duration | undefined): number | undefined => (d ? durationMs(d) : undefined);
export const at = (t: Timestamp | undefined): number | undefined => (t ? timestampMs(t) : undefined);
const ts = (m: number | undefined): Timestamp | undefined => (m === undefined ? undefined : timestampFromMs(m));
const dur = (m: number | undefined): Duration | undefined => (m === undefined ? undefined : durationFromMs(m));

export const jsonOf = (v: Value | undefined): Json | undefined => (v ? (toJson(ValueSchema, v) as Json) : undefined);
/** Struct fields are plain JSON objects in protobuf-es v2. */
export const objectOf = (s: PbJsonObject | undefined): JsonObject | undefined => s as JsonObject | undefined;
const value = (j: Json | undefined): Value | undefined => (j === undefined ? undefined : fromJson(ValueSchema, j as JsonValue));
const struct = (o: JsonObject | undefined): PbJsonObject | undefined => o as PbJsonObject | undefined;

export function stateOf(code: number): TaskState | undefined {
  return code === 0 ? undefined : STATE_NAMES[code];
}
export const stateCode = (s: TaskState | undefined): number => (s ? STATE_CODES[s] : 0);

const EVENT_KINDS: TaskEventKind[] = [
  "created",
  "unblocked",
  "claimed",
  "updated",
  "succeeded",
  "retry_scheduled",
  "failed",
  "released",
  "lease_expired",
  "cancelled",
  "timed_out",
  "retried",
  "deleted",
];
export const eventKindOf = (k: PbEventKind): TaskEventKind => EVENT_KINDS[k - 1]!;
const eventKindCode = (k: TaskEventKind): PbEventKind => EVENT_KINDS.indexOf(k) + 1;

export function taskErrorOf(e: PbTaskError | undefined): TaskError | undefined {
  if (!e) return undefined;
  return { message: e.message, retryable: e.retryable, details: objectOf(e.details), reason: e.reason || undefined };
}

function taskErrorMessage(e: TaskError | undefined): PbTaskError | undefined {
  if (!e) return undefined;
  return create(TaskErrorSchema, { message: e.message, retryable: e.retryable, details: struct(e.details), reason: e.reason ?? "" });
}

export function leaseMessage(l: Lease | undefined): PbLease | undefined {
  if (!l) return undefined;
  return create(LeaseSchema, {
    fencingToken: BigInt(l.fencingToken),
    expireTime: ts(l.expiresAt),
    leaseDuration: dur(l.leaseDurationMs),
    workerId: l.workerId,
  });
}

export function taskMessage(t: Task): PbTask {
  return create(TaskSchema, {
    id: t.id,
    queue: t.queue,
    type: t.type,
    priority: t.priority,
    payload: value(t.payload),
    requiredCapabilities: t.requiredCapabilities,
    runAt: ts(t.runAt),
    timeout: dur(t.timeoutMs),
    maxAttempts: t.maxAttempts,
    attempt: t.attempt,
    dependsOn: t.dependsOn,
    progress: t.progress,
    progressMessage: t.progressMessage,
    result: value(t.result),
    error: taskErrorMessage(t.error),
    state: STATE_CODES[t.state],
    workerId: t.workerId ?? "",
    serverId: t.serverId ?? "",
    lease: leaseMessage(t.lease),
    metadata: struct(t.metadata),
    createTime: ts(t.createdAt),
    updateTime: ts(t.updatedAt),
    startTime: ts(t.startedAt),
    finishTime: ts(t.finishedAt),
    requestId: t.requestId ?? "",
    title: t.title,
    description: t.description,
    tags: t.tags,
    retryCount: t.retryCount,
  });
}

export function eventMessage(e: TaskEvent): PbTaskEvent {
  return create(TaskEventSchema, {
    sequence: BigInt(e.sequence),
    time: ts(e.time),
    kind: eventKindCode(e.kind),
    task: taskMessage(e.task),
    previousState: stateCode(e.previousState),
  });
}

const MODES = { unspecified: PbQueueMode.UNSPECIFIED, long_running: PbQueueMode.LONG_RUNNING, one_shot: PbQueueMode.ONE_SHOT } as const;
export const modeOf = (m: PbQueueMode): QueueConfig["mode"] =>
  m === PbQueueMode.LONG_RUNNING ? "long_running" : m === PbQueueMode.ONE_SHOT ? "one_shot" : "unspecified";

export function queueConfigMessage(c: QueueConfig): PbQueueConfig {
  return create(QueueConfigSchema, {
    name: c.name,
    priority: c.priority,
    mode: MODES[c.mode],
    defaultTimeout: dur(c.defaultTimeoutMs),
    defaultMaxAttempts: c.defaultMaxAttempts,
    concurrencyLimit: c.concurrencyLimit,
    deployment: struct(c.deployment),
    source: c.source,
    createTime: ts(c.createdAt),
    updateTime: ts(c.updatedAt),
  });
}

export function queueConfigOf(c: PbQueueConfig): Partial<QueueConfig> & { name: string } {
  return {
    name: c.name,
    priority: c.priority,
    mode: modeOf(c.mode),
    defaultTimeoutMs: ms(c.defaultTimeout),
    defaultMaxAttempts: c.defaultMaxAttempts,
    concurrencyLimit: c.concurrencyLimit,
    deployment: objectOf(c.deployment),
  };
}

export function countsMessage(c: TaskCounts) {
  return create(TaskCountsSchema, {
    pending: BigInt(c.pending),
    delayed: BigInt(c.delayed),
    blocked: BigInt(c.blocked),
    running: BigInt(c.running),
    succeeded: BigInt(c.succeeded),
    failed: BigInt(c.failed),
    cancelled: BigInt(c.cancelled),
    timedOut: BigInt(c.timedOut),
    total: BigInt(c.total),
  });
}

export function queueMessage(q: QueueInfo) {
  return create(QueueSchema, {
    name: q.name,
    paused: q.paused,
    counts: countsMessage(q.counts),
    oldestPendingAge: dur(q.oldestPendingAgeMs),
    config: q.config ? queueConfigMessage(q.config) : undefined,
    pauseUpdateTime: ts(q.pauseUpdatedAt),
  });
}

export function workerStatMessage(w: WorkerStat) {
  return create(WorkerStatSchema, {
    workerId: w.workerId,
    tasksProcessed: BigInt(w.tasksProcessed),
    successCount: BigInt(w.successCount),
    failureCount: BigInt(w.failureCount),
    successRate: w.successRate,
    averageProcessingTime: dur(w.averageProcessingTimeMs),
  });
}

const CANCEL_REASONS = {
  cancelled: PbCancelReason.CANCELLED,
  lease_expired: PbCancelReason.LEASE_EXPIRED,
  timed_out: PbCancelReason.TIMED_OUT,
  deleted: PbCancelReason.DELETED,
} as const;

/** A worker-stream message as sent on ConnectWorker. */
export function workerMessage(m: WorkerMessage): ConnectWorkerResponse {
  switch (m.kind) {
    case "session":
      return create(ConnectWorkerResponseSchema, {
        message: {
          case: "session",
          value: { sessionId: m.sessionId, pingInterval: dur(m.pingIntervalMs), serverTime: ts(m.serverTime), credits: m.credits },
        },
      });
    case "assigned":
      return create(ConnectWorkerResponseSchema, {
        message: { case: "assigned", value: { task: taskMessage(m.assignment.task), lease: leaseMessage(m.assignment.lease) } },
      });
    case "ping":
      return create(ConnectWorkerResponseSchema, { message: { case: "ping", value: { serverTime: ts(m.serverTime), credits: m.credits } } });
    case "cancel":
      return create(ConnectWorkerResponseSchema, {
        message: { case: "cancel", value: { taskId: m.taskId, fencingToken: BigInt(m.fencingToken), reason: CANCEL_REASONS[m.reason] } },
      });
  }
}
