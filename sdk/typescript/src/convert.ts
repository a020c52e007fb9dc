import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampDate, ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { TaskEventKind, TaskState, type Task, type TaskEvent as TaskEventMessage } from "./gen/switchyard/tasks/v1/tasks_pb.js";

export type TaskStateName = "PENDING" | "BLOCKED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED" | "TIMED_OUT" | "UNSPECIFIED";
export const FINAL_STATES: ReadonlySet<TaskStateName> = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]);

/** A task as the server last reported it, with JSON payload and result. */
export interface TaskInfo {
  id: string;
  queue: string;
  type: string;
  state: TaskStateName;
  payload: JsonValue | undefined;
  result: JsonValue | undefined;
  error?: { message: string; retryable: boolean; reason: string; details?: Record<string, JsonValue> };
  attempt: number;
  maxAttempts?: number;
  priority?: number;
  progress: number;
  progressMessage: string;
  workerId: string;
  tags: string[];
  createTime?: Date;
  finishTime?: Date;
}

/** One committed change of a task. */
export interface TaskEvent {
  sequence: bigint;
  kind: string;
  task: TaskInfo;
  previousState: TaskStateName;
}

export const stateName = (s: TaskState): TaskStateName => (TaskState[s] ?? "UNSPECIFIED") as TaskStateName;
export const stateValue = (s: TaskStateName): TaskState => TaskState[s as keyof typeof TaskState] as TaskState;

export const toValue = (v: JsonValue): Value => fromJson(ValueSchema, v);
export const fromValue = (v: Value | undefined): JsonValue | undefined => (v ? toJson(ValueSchema, v) : undefined);
export const duration = (ms: number | undefined) => (ms === undefined ? undefined : durationFromMs(ms));
export { durationMs };

export function taskInfo(t: Task): TaskInfo {
  return {
    id: t.id,
    queue: t.queue,
    type: t.type,
    state: stateName(t.state),
    payload: fromValue(t.payload),
    result: fromValue(t.result),
    error: t.error ? { message: t.error.message, retryable: t.error.retryable, reason: t.error.reason, details: t.error.details as Record<string, JsonValue> | undefined } : undefined,
    attempt: t.attempt,
    maxAttempts: t.maxAttempts,
    priority: t.priority,
    progress: t.progress,
    progressMessage: t.progressMessage,
    workerId: t.workerId,
    tags: t.tags,
    createTime: t.createTime ? timestampDate(t.createTime) : undefined,
    finishTime: t.finishTime ? timestampDate(t.finishTime) : undefined,
  };
}

export function taskEvent(e: TaskEventMessage): TaskEvent {
  return { sequence: e.sequence, kind: TaskEventKind[e.kind] ?? "UNSPECIFIED", task: taskInfo(e.task!), previousState: stateName(e.previousState) };
}
