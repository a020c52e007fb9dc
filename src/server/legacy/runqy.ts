import { fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampDate, timestampMs, ValueSchema, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { QueueService } from "../../../gen/switchyard/tasks/v1/queues_service_pb.js";
import { QueueMode, TaskState, type Queue, type QueueConfig, type Task } from "../../../gen/switchyard/tasks/v1/tasks_pb.js";
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { AppError } from "../../core/errors.ts";
import { errorInfo } from "../errors.ts";
import { route, type LegacyCall, type LegacyFamily, type LegacyReply, type LegacyRequest } from "./table.ts";

// Seed 003 (runqy server): `/queue/add`, `/queue/{task_id}/{queue_name}` and the CLI API
// under `/api/cli/…`. Task states are asynq's words (pending, active, scheduled, retry,
// archived, completed); errors are `{ "errors": [message] }` as runqy answers them.
// See docs/legacy-routes.md for the shapes chosen where the seed is silent.

const RUNQY_STATES = ["pending", "active", "scheduled", "retry", "archived", "completed"] as const;
type RunqyState = (typeof RUNQY_STATES)[number];
const STATE_FILTER: Record<RunqyState, TaskState[]> = {
  pending: [TaskState.PENDING],
  active: [TaskState.RUNNING],
  scheduled: [TaskState.PENDING, TaskState.BLOCKED],
  retry: [TaskState.PENDING],
  archived: [TaskState.FAILED, TaskState.TIMED_OUT, TaskState.CANCELLED],
  completed: [TaskState.SUCCEEDED],
};

/** Our state as asynq's word: a PENDING task not yet due is `scheduled`, or `retry` after a failure. */
export function runqyState(t: Task, now = Date.now()): RunqyState {
  switch (t.state) {
    case TaskState.PENDING:
      if (t.runAt && timestampMs(t.runAt) > now) return t.retryCount > 0 ? "retry" : "scheduled";
      return "pending";
    case TaskState.BLOCKED:
      return "scheduled";
    case TaskState.RUNNING:
      return "active";
    case TaskState.SUCCEEDED:
      return "completed";
    default:
      return "archived";
  }
}

const json = (v: Task["payload"]) => (v ? toJson(ValueSchema, v) : null);
const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);
/** runqy's CLI API prints times as Go's `2006-01-02 15:04:05` (UTC here). */
const cliTime = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString().slice(0, 19).replace("T", " ") : undefined);
const secs = (d: Duration | undefined) => (d ? Math.round(durationMs(d) / 1000) : 0);

/** A duration as Go's `time.Duration.String()` prints it (`5m0s`, `1h0m0s`, `0s`). */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${s}s`;
}

/** The task `info` of `/queue/add` and `/queue/{id}/{queue}` (runqy's task info document). */
function taskInfo(t: Task) {
  return {
    id: t.id,
    type: t.type,
    queue: t.queue,
    state: runqyState(t),
    payload: json(t.payload),
    max_retry: Math.max(0, (t.maxAttempts ?? 3) - 1),
    retried: t.retryCount,
    last_err: t.error?.message ?? "",
    timeout: secs(t.timeout),
    next_process_at: iso(t.runAt),
    completed_at: t.state === TaskState.SUCCEEDED ? iso(t.finishTime) : null,
    result: json(t.result),
  };
}

/** A task as runqy's CLI API lists it: payload and result as JSON text, Go-style times. */
function cliTask(t: Task) {
  const state = runqyState(t);
  return {
    id: t.id,
    type: t.type,
    queue: t.queue,
    state,
    payload: JSON.stringify(json(t.payload)),
    max_retry: Math.max(0, (t.maxAttempts ?? 3) - 1),
    retried: t.retryCount,
    last_err: t.error?.message || undefined,
    timeout: goDuration(t.timeout ? Math.round(durationMs(t.timeout)) : 0),
    deadline: t.state === TaskState.RUNNING ? cliTime(t.lease?.expireTime) : undefined,
    next_process_at: state === "scheduled" || state === "retry" || state === "pending" ? cliTime(t.runAt) : undefined,
    completed_at: t.state === TaskState.SUCCEEDED ? cliTime(t.finishTime) : undefined,
    result: t.result ? JSON.stringify(json(t.result)) : undefined,
  };
}

/** A queue as runqy's CLI API shows it (asynq's counters). */
function queueInfo(q: Queue) {
  const c = q.counts;
  const n = (v: bigint | undefined) => Number(v ?? 0n);
  return {
    queue: q.name,
    pending: n(c?.pending) - n(c?.delayed),
    active: n(c?.running),
    scheduled: n(c?.delayed) + n(c?.blocked),
    retry: 0,
    archived: n(c?.failed) + n(c?.cancelled) + n(c?.timedOut),
    completed: n(c?.succeeded),
    paused: q.paused,
    memory_usage: 0,
  };
}

const MODE_WORD: Record<number, string> = { [QueueMode.LONG_RUNNING]: "long_running", [QueueMode.ONE_SHOT]: "one_shot" };

function configView(c: QueueConfig) {
  return {
    name: c.name,
    priority: c.priority,
    mode: MODE_WORD[c.mode] ?? "long_running",
    default_timeout_secs: c.defaultTimeout ? secs(c.defaultTimeout) : undefined,
    max_attempts: c.defaultMaxAttempts || undefined,
    concurrency: c.concurrencyLimit || undefined,
    deployment: c.deployment,
    source: c.source,
  };
}

/** runqy's error body: `{ "errors": [message] }`. */
export function runqyError(error: ConnectError, status: number): LegacyReply {
  if (errorInfo(error)?.reason === "WAIT_TIMEOUT") return { status: 408, body: { errors: [error.rawMessage] } };
  if (status === 401) return { status, body: { errors: ["unauthorized: missing or invalid bearer token"] } };
  if (status >= 500) return { status, body: { errors: ["internal server error"] } };
  return { status, body: { errors: [error.rawMessage] } };
}

// ---- input checks: 400 `{ errors: ["<field> …"] }` ----

const bad = (field: string, message: string) => new AppError("invalid_argument", "INVALID_ARGUMENT", `${field} ${message}`, { field });

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("body", "must be a JSON object");
  return body as Record<string, unknown>;
}
function optInt(b: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw bad(field, `must be an integer from ${min} to ${max}`);
  return v;
}

/** `/queue/add` and `POST /api/cli/tasks`: `{queue, timeout, data}`, or flat fields as the data. */
function enqueueRequest(req: LegacyRequest) {
  const b = bodyObject(req.body);
  const queue = b.queue;
  if (queue === undefined || queue === null || queue === "") throw bad("queue", "is required");
  if (typeof queue !== "string") throw bad("queue", "must be a string");
  const timeout = optInt(b, "timeout", 0, 31_536_000);
  let data: unknown;
  if ("data" in b) data = b.data;
  else data = Object.fromEntries(Object.entries(b).filter(([k]) => k !== "queue" && k !== "timeout"));
  return {
    task: {
      queue,
      payload: data === undefined ? undefined : fromJson(ValueSchema, data as JsonValue),
      timeout: timeout ? durationFromMs(timeout * 1000) : undefined,
    },
  };
}
const dataOf = (req: LegacyRequest) => {
  const b = bodyObject(req.body);
  return "data" in b ? b.data : Object.fromEntries(Object.entries(b).filter(([k]) => k !== "queue" && k !== "timeout"));
};

function taskInQueue(t: Task, queue: string): Task {
  if (t.queue !== queue) throw new AppError("not_found", "TASK_NOT_FOUND", "task not found", { id: t.id, queue });
  return t;
}

function listTasksQuery(req: LegacyRequest) {
  const state = req.query.get("state") || "pending";
  if (!(RUNQY_STATES as readonly string[]).includes(state)) {
    throw new AppError("invalid_argument", "INVALID_ARGUMENT", `invalid state: ${state}`, { field: "state" });
  }
  const raw = req.query.get("limit");
  const limit = raw === null || raw === "" ? 10 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw bad("limit", "must be an integer from 1 to 1000");
  return { state: state as RunqyState, limit };
}

/** How long `GET /queue/{id}?wait=true` waits for completed/archived (runqy: 30 s, then 408). */
const WAIT_MS = 30_000;
const WAIT_POLL_MS = 100;

/** Answers the task once completed or archived (runqy's long poll), or WAIT_TIMEOUT. */
async function waitForResult(task: Task, call: LegacyCall): Promise<Task> {
  const deadline = Date.now() + WAIT_MS;
  let t = task;
  while (runqyState(t) !== "completed" && runqyState(t) !== "archived") {
    if (Date.now() >= deadline) throw new AppError("deadline_exceeded", "WAIT_TIMEOUT", "timeout waiting for task result", { id: t.id });
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    t = (await call(TaskService.method.getTask, { id: t.id })).task!;
  }
  return t;
}

/** runqy's task status answer, waiting first when `?wait=true`. */
async function taskStatus(task: Task, req: LegacyRequest, call: LegacyCall): Promise<LegacyReply> {
  const wait = req.query.get("wait");
  if (wait !== null && wait !== "true" && wait !== "false" && wait !== "") throw bad("wait", "must be true or false");
  return { body: { info: taskInfo(wait === "true" ? await waitForResult(task, call) : task) } };
}

/**
 * Seed 003's queue and CLI routes. Each route declares the seed's path and, as an alias, the
 * path the public runqy server and its CLI (`app/cmd/apiclient.go`) use: `/api/queues…`,
 * `POST /api/tasks/:id/cancel`, `/workers/queues`, `/workers/reload`.
 */
export function runqyFamily(): LegacyFamily {
  return {
    name: "seed-003-runqy",
    error: runqyError,
    routes: [
      route({
        method: "POST",
        path: "/queue/add",
        rpc: TaskService.method.createTask,
        request: enqueueRequest,
        response: (out, req) => ({ body: { info: taskInfo(out.task!), data: dataOf(req) } }),
      }),
      route({
        method: "GET",
        path: "/queue/:task_id/:queue_name",
        waits: true,
        rpc: TaskService.method.getTask,
        request: (req) => ({ id: req.params.task_id }),
        response: (out, req, call) => taskStatus(taskInQueue(out.task!, req.params.queue_name!), req, call),
      }),
      // runqy-python's get_task and the public server: one segment, the queue is looked up.
      route({
        method: "GET",
        path: "/queue/:task_id",
        waits: true,
        rpc: TaskService.method.getTask,
        request: (req) => ({ id: req.params.task_id }),
        response: (out, req, call) => taskStatus(out.task!, req, call),
      }),
      route({
        method: "GET",
        path: "/api/cli/queues",
        aliases: [{ path: "/api/queues" }],
        rpc: QueueService.method.listQueues,
        request: () => ({ pageSize: 1000 }),
        async response(out, _req, call) {
          const queues = [...out.queues];
          let token = out.nextPageToken;
          while (token) {
            const page = await call(QueueService.method.listQueues, { pageSize: 1000, pageToken: token });
            queues.push(...page.queues);
            token = page.nextPageToken;
          }
          return { body: { queues: queues.map(queueInfo) } };
        },
      }),
      route({
        method: "GET",
        path: "/api/cli/queues/:queue",
        aliases: [{ path: "/api/queues/:queue" }],
        rpc: QueueService.method.getQueue,
        request: (req) => ({ name: req.params.queue }),
        response: (out) => ({ body: queueInfo(out.queue!) }),
      }),
      route({
        method: "POST",
        path: "/api/cli/queues/:queue/pause",
        aliases: [{ path: "/api/queues/:queue/pause" }],
        rpc: QueueService.method.pauseQueue,
        request: (req) => ({ name: req.params.queue }),
        response: (out) => ({ body: { message: "queue paused", queue: out.queue!.name } }),
      }),
      route({
        method: "POST",
        path: "/api/cli/queues/:queue/unpause",
        aliases: [{ path: "/api/queues/:queue/unpause" }],
        rpc: QueueService.method.resumeQueue,
        request: (req) => ({ name: req.params.queue }),
        response: (out) => ({ body: { message: "queue unpaused", queue: out.queue!.name } }),
      }),
      route({
        method: "POST",
        path: "/api/cli/tasks",
        rpc: TaskService.method.createTask,
        request: enqueueRequest,
        response: (out, req) => ({ body: { info: taskInfo(out.task!), data: dataOf(req) } }),
      }),
      route({
        method: "GET",
        path: "/api/cli/queues/:queue/tasks",
        aliases: [{ path: "/api/queues/:queue/tasks" }],
        rpc: TaskService.method.listTasks,
        request(req) {
          const q = listTasksQuery(req);
          return { pageSize: 1000, queues: [req.params.queue!], states: STATE_FILTER[q.state] };
        },
        async response(out, req, call) {
          const q = listTasksQuery(req);
          const now = Date.now();
          const tasks: Task[] = [];
          let page = out;
          for (;;) {
            for (const t of page.tasks) if (tasks.length < q.limit && runqyState(t, now) === q.state) tasks.push(t);
            if (!page.nextPageToken || tasks.length >= q.limit) break;
            page = await call(TaskService.method.listTasks, { pageSize: 1000, pageToken: page.nextPageToken, queues: [req.params.queue!], states: STATE_FILTER[q.state] });
          }
          return { body: { tasks: tasks.map(cliTask) } };
        },
      }),
      route({
        method: "GET",
        path: "/api/cli/queues/:queue/tasks/:task_id",
        aliases: [{ path: "/api/queues/:queue/tasks/:task_id" }],
        rpc: TaskService.method.getTask,
        request: (req) => ({ id: req.params.task_id }),
        response: (out, req) => ({ body: cliTask(taskInQueue(out.task!, req.params.queue!)) }),
      }),
      route({
        method: "DELETE",
        path: "/api/cli/queues/:queue/tasks/:task_id",
        aliases: [{ path: "/api/queues/:queue/tasks/:task_id" }],
        rpc: TaskService.method.getTask,
        request: (req) => ({ id: req.params.task_id }),
        async response(out, req, call) {
          const t = taskInQueue(out.task!, req.params.queue!);
          await call(TaskService.method.deleteTask, { id: t.id });
          return { body: { message: "task deleted", task_id: t.id } };
        },
      }),
      route({
        method: "DELETE",
        path: "/api/cli/tasks/:task_id",
        aliases: [{ method: "POST", path: "/api/tasks/:task_id/cancel" }],
        rpc: TaskService.method.cancelTask,
        request: (req) => ({ id: req.params.task_id, reason: "cancelled through the runqy CLI API" }),
        response: (out) => ({ body: { message: "task cancelled", task_id: out.task!.id } }),
      }),
      route({
        method: "GET",
        path: "/api/cli/configs",
        aliases: [{ path: "/workers/queues" }],
        rpc: QueueService.method.listQueueConfigs,
        request: () => ({ pageSize: 1000 }),
        async response(out, _req, call) {
          const configs = [...out.configs];
          let token = out.nextPageToken;
          while (token) {
            const page = await call(QueueService.method.listQueueConfigs, { pageSize: 1000, pageToken: token });
            configs.push(...page.configs);
            token = page.nextPageToken;
          }
          return { body: { queues: configs.map(configView), count: configs.length } };
        },
      }),
      route({
        method: "POST",
        path: "/api/cli/configs/reload",
        aliases: [{ path: "/workers/reload" }],
        rpc: QueueService.method.reloadQueueConfigs,
        response: (out) => ({
          body: {
            reloaded: [...out.added, ...out.updated],
            added: out.added,
            updated: out.updated,
            removed: out.removed,
            errors: [] as string[],
            timestamp: Math.floor(Date.now() / 1000),
            queues: out.configs.map(configView),
          },
        }),
      }),
      route({
        method: "POST",
        path: "/api/cli/configs",
        aliases: [{ path: "/workers/queues" }],
        rpc: QueueService.method.createQueueConfig,
        request(req) {
          const b = bodyObject(req.body);
          if (typeof b.name !== "string" || b.name === "") throw bad("name", "is required");
          const mode = b.mode;
          if (mode !== undefined && mode !== "long_running" && mode !== "one_shot") throw bad("mode", "must be long_running or one_shot");
          if (b.deployment !== undefined && (typeof b.deployment !== "object" || b.deployment === null || Array.isArray(b.deployment))) {
            throw bad("deployment", "must be a JSON object");
          }
          const maxRetry = optInt(b, "max_retry", 0, 99);
          const timeout = optInt(b, "default_timeout_secs", 0, 31_536_000);
          return {
            config: {
              name: b.name,
              priority: optInt(b, "priority", -1_000_000, 1_000_000) ?? 0,
              mode: mode === "one_shot" ? QueueMode.ONE_SHOT : mode === "long_running" ? QueueMode.LONG_RUNNING : QueueMode.UNSPECIFIED,
              deployment: b.deployment as JsonObject | undefined,
              defaultTimeout: timeout ? durationFromMs(timeout * 1000) : undefined,
              defaultMaxAttempts: optInt(b, "max_attempts", 1, 100) ?? (maxRetry === undefined ? 0 : maxRetry + 1),
              concurrencyLimit: optInt(b, "concurrency", 0, 1_000_000) ?? 0,
            },
          };
        },
        response: (out) => ({ status: 201, body: { queue: configView(out.config!), message: "queue created" } }),
      }),
      route({
        method: "DELETE",
        path: "/api/cli/configs/:name",
        aliases: [{ path: "/workers/queues/:name" }],
        rpc: QueueService.method.deleteQueueConfig,
        request: (req) => ({ name: req.params.name }),
        response: (out) => ({ body: { message: "queue deleted", queue: out.config!.name } }),
      }),
    ],
  };
}
