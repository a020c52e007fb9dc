import { createHash } from "node:crypto";
import { AppError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Json, Task } from "../tasks/types.ts";
import { DEPLOY_QUEUE, INSIGHTS_QUEUE, type InsightsDomain, type TaskKind } from "./context.ts";
import type { Call } from "./types.ts";

const FINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);
const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;

/** A task-backed call to make: a task of `type` with `payload`, about `subject` (a project, workspace…). */
export interface CallSpec {
  type: string;
  subject: string;
  payload: Json;
  title: string;
  /** Client idempotency key: the same key, type and subject answer the first call's task. */
  requestId?: string;
  /** A chosen task id (for records written before the task, e.g. a conversation's reply). */
  taskId?: string;
  timeoutMs?: number;
  /** Tasks this one waits for (a chain: a failed one cancels this one). */
  dependsOn?: string[];
  /** A secret (already sealed) the task's holder may fetch with GetTaskCredential. */
  sealedSecret?: string;
}

/** Checks an idempotency key (≤ 128 characters). */
export function checkRequestId(requestId: string | undefined): void {
  if (requestId && requestId.length > 128) throw new AppError("invalid_argument", "INVALID_ARGUMENT", "request_id: at most 128 characters", { field: "request_id" });
}

/**
 * Starts a task-backed call: the call's record first (so the follower always finds it), then
 * the task on queue `insights`. A retry with the same request id finds the first call's task.
 * `inWrite` runs in the same write as the record (records the task will fill).
 */
export async function startCall(d: InsightsDomain, tenant: string, spec: CallSpec, inWrite?: (taskId: string, now: number) => void): Promise<{ taskId: string; call: Call; created: boolean }> {
  checkRequestId(spec.requestId);
  const taskId = spec.taskId ?? (spec.requestId ? "task_" + createHash("sha256").update(`${tenant}\u0000${spec.type}\u0000${spec.subject}\u0000${spec.requestId}`).digest("hex").slice(0, 32) : newId("task"));
  const existing = d.store.getCall(tenant, taskId);
  if (existing) return { taskId, call: existing, created: false };
  const now = d.clock.now();
  await d.database.committer.run(() => {
    d.store.insertCall({ tenant, taskId, type: spec.type, subject: spec.subject, status: "pending", output: undefined, error: undefined, createdAt: now, finishedAt: undefined }, spec.sealedSecret);
    inWrite?.(taskId, now);
  });
  try {
    await d.tasks.createTask(tenant, {
      id: taskId, queue: d.kinds.get(spec.type)?.queue ?? INSIGHTS_QUEUE, type: spec.type, payload: spec.payload, title: spec.title, maxAttempts: d.kinds.get(spec.type)?.maxAttempts ?? 1,
      timeoutMs: spec.timeoutMs, dependsOn: spec.dependsOn,
    });
  } catch (e) {
    await finish(d, tenant, taskId, { status: "failed", error: { reason: "TASK_NOT_CREATED", message: e instanceof Error ? e.message : String(e) } });
    throw e;
  }
  return { taskId, call: d.store.getCall(tenant, taskId)!, created: true };
}

/**
 * Waits until the call is finished or the deadline passes. Answers the finished call, or throws
 * `unavailable`: `NO_WORKER` when no worker took the task (it stays queued, a worker may still
 * run it and a retry with the same request id then answers its result), `WORKER_TIMEOUT` when a
 * worker holds it but has not finished; `WORKER_TASK_FAILED` when the worker failed it or its
 * result was malformed.
 */
export async function awaitCall(d: InsightsDomain, tenant: string, taskId: string, deadlineMs = d.deadlineMs, signal?: AbortSignal): Promise<Call> {
  const k = key(tenant, taskId);
  const deadline = Date.now() + deadlineMs;
  let call = d.store.getCall(tenant, taskId);
  while (call && call.status === "pending" && Date.now() < deadline && !signal?.aborted) {
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    let set = d.callWaiters.get(k);
    if (!set) d.callWaiters.set(k, (set = new Set()));
    set.add(wake);
    const timer = setTimeout(wake, Math.min(deadline - Date.now(), 1000));
    call = d.store.getCall(tenant, taskId);
    if (call?.status === "pending") await woken;
    clearTimeout(timer);
    set.delete(wake);
    if (set.size === 0) d.callWaiters.delete(k);
    call = d.store.getCall(tenant, taskId);
  }
  if (!call) throw new AppError("not_found", "TASK_NOT_FOUND", `task ${taskId} not found`, { task_id: taskId });
  if (call.status === "done") return call;
  if (call.status === "failed") {
    throw new AppError("unavailable", "WORKER_TASK_FAILED", `the worker failed the task: ${call.error?.message ?? ""}`, { task_id: taskId, cause: call.error?.reason ?? "" });
  }
  const task = await d.tasks.getTask(tenant, taskId);
  if (!task || task.state === "pending" || task.state === "blocked") {
    const queue = task?.queue ?? INSIGHTS_QUEUE;
    throw new AppError("unavailable", "NO_WORKER", `no worker took task ${taskId} (queue ${queue}) within ${deadlineMs} ms; it stays queued`, { task_id: taskId, queue });
  }
  throw new AppError("unavailable", "WORKER_TIMEOUT", `the worker has not finished task ${taskId} within ${deadlineMs} ms; a retry with the same request_id answers its result`, { task_id: taskId });
}

/** Marks a pending call finished, runs the kind's side effects in the same write, wakes its waiters. */
async function finish(d: InsightsDomain, tenant: string, taskId: string, set: { status: "done" | "failed"; error?: { reason: string; message: string } }, task?: Task): Promise<void> {
  const call = d.store.getCall(tenant, taskId);
  if (!call || call.status !== "pending") return;
  const kind = d.kinds.get(call.type);
  const now = d.clock.now();
  const later: (() => void)[] = [];
  const after = (f: () => void) => void later.push(f);
  const fail = (error: { reason: string; message: string }) => {
    kind?.failed?.(tenant, call, error, now, after, task);
    d.store.finishCall(tenant, taskId, { status: "failed", error }, now);
  };
  try {
    const prepared = set.status === "done" && kind?.prepare ? await kind.prepare(tenant, call, task?.result) : undefined;
    await d.database.committer.run(() => {
      if (set.status === "done" && kind) {
        const output = kind.apply(tenant, call, task?.result, now, after, task, prepared);
        d.store.finishCall(tenant, taskId, { status: "done", output }, now);
      } else fail(set.error ?? { reason: "WORKER_TASK_FAILED", message: "failed" });
    });
  } catch (e) {
    // Applying a (checked) result failed here: the call fails, it never stays pending.
    later.length = 0;
    await d.database.committer.run(() => fail({ reason: "RESULT_NOT_APPLIED", message: e instanceof Error ? e.message : String(e) }));
  }
  for (const f of later) f();
  for (const w of d.callWaiters.get(key(tenant, taskId)) ?? []) w();
}

/** Applies one task's final state or progress to its call (the follower and the startup sweep). */
export async function onTask(d: InsightsDomain, task: Task): Promise<void> {
  const call = d.store.getCall(task.tenant, task.id);
  if (!call || call.status !== "pending") return;
  if (!FINAL.has(task.state)) {
    const kind = d.kinds.get(call.type);
    if (task.state === "running" && kind?.progress) {
      const now = d.clock.now();
      const later: (() => void)[] = [];
      await d.database.committer.run(() => kind.progress!(task.tenant, call, task, now, (f) => void later.push(f)));
      for (const f of later) f();
    }
    return;
  }
  if (task.state === "succeeded") return finish(d, task.tenant, task.id, { status: "done" }, task);
  const reason = task.error?.reason || (task.state === "cancelled" ? "CANCELLED" : task.state === "timed_out" ? "TIMED_OUT" : "WORKER_TASK_FAILED");
  return finish(d, task.tenant, task.id, { status: "failed", error: { reason, message: task.error?.message ?? task.state } });
}

/** Follows every tenant's tasks of the insights queue until `signal`; first sweeps calls whose task finished while nobody followed. */
export async function followTasks(d: InsightsDomain, signal: AbortSignal): Promise<void> {
  // Registered before the sweep (the first next() runs the watch up to its first wait): no event slips between.
  const events = d.tasks.follow([INSIGHTS_QUEUE, DEPLOY_QUEUE], signal)[Symbol.asyncIterator]();
  const first = events.next();
  for (const call of d.store.pendingCalls(10_000)) {
    const task = await d.tasks.getTask(call.tenant, call.taskId);
    if (!task) await finish(d, call.tenant, call.taskId, { status: "failed", error: { reason: "TASK_NOT_FOUND", message: "the task is gone" } });
    else await onTask(d, task).catch(() => {});
  }
  try {
    for (let next = await first; !next.done; next = await events.next()) {
      const e = next.value;
      if (e.kind === "updated" || e.kind === "claimed" || FINAL.has(e.task.state)) await onTask(d, e.task).catch(() => {});
    }
  } catch {
    // overflow or shutdown: a restart of the follower resweeps
    if (!signal.aborted) setTimeout(() => void followTasks(d, signal), 1000).unref?.();
  }
}

/** Registers a task kind: its result check on the engine, its effects here. */
export function registerKind(d: InsightsDomain, kind: TaskKind): void {
  d.kinds.set(kind.type, kind);
  d.tasks.checkResults(kind.type, kind.check);
}
