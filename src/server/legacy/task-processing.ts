import type { Socket } from "node:net";
import { fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { durationMs, timestampMs, ValueSchema, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { WebSocketServer, type WebSocket } from "ws";
import { TaskEventKind, TaskState, type Task, type TaskEvent } from "../../../gen/switchyard/tasks/v1/tasks_pb.js";
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { AppError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { errorInfo } from "../errors.ts";
import type { UpgradeRoute } from "../http.ts";
import type { NodeRequest } from "../http-io.ts";
import { authenticateUpgrade, type PrincipalResolver } from "../interceptors/auth.ts";
import { route, type LegacyFamily, type LegacyReply } from "./table.ts";

// Seed 001 (Cloudflare Workers task processing system): `/api/task…`, `/api/stats/tasks`,
// `/api/stats/hourly` and the `/ws` WebSocket. Times are epoch milliseconds; statuses are
// PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED, TIMEOUT. See docs/legacy-routes.md.

/** Queue of tasks created here unless the body names one (seed 001 has no queues). */
export const TASK_PROCESSING_QUEUE = "default";

const STATUS: Record<number, string> = {
  [TaskState.PENDING]: "PENDING",
  [TaskState.BLOCKED]: "PENDING",
  [TaskState.RUNNING]: "PROCESSING",
  [TaskState.SUCCEEDED]: "COMPLETED",
  [TaskState.FAILED]: "FAILED",
  [TaskState.CANCELLED]: "CANCELLED",
  [TaskState.TIMED_OUT]: "TIMEOUT",
};
const REPORTABLE = ["PROCESSING", "COMPLETED", "FAILED", "CANCELLED"];

const epoch = (t: Timestamp | undefined) => (t ? timestampMs(t) : null);
const millis = (d: Duration | undefined) => (d ? Math.round(durationMs(d)) : 0);
const json = (v: Task["payload"]) => (v ? toJson(ValueSchema, v) : null);

/** A task as seed 001 shows it: the documented fields first, then what else Switchyard knows. */
export function taskView(t: Task) {
  return {
    id: t.id,
    status: STATUS[t.state] ?? "PENDING",
    progress: t.progress,
    serverId: t.serverId || t.workerId || null,
    createdAt: epoch(t.createTime),
    updatedAt: epoch(t.updateTime),
    type: t.type,
    priority: t.priority ?? 0,
    payload: json(t.payload),
    capabilities: t.requiredCapabilities,
    queue: t.queue,
    result: json(t.result),
    error: t.error?.message || null,
    attempts: t.attempt,
    retryCount: t.retryCount,
    startedAt: epoch(t.startTime),
    completedAt: epoch(t.finishTime),
  };
}

const ERROR_WORDS: Record<number, string> = {
  400: "Invalid request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  409: "Conflict",
  413: "Payload too large",
  429: "Too many requests",
  503: "Service unavailable",
};

/** Seed 001 error body: `{ error, details }` with the seed's words per status. */
export function taskProcessingError(error: ConnectError, status: number): LegacyReply {
  const info = errorInfo(error);
  if (status === 401) return { status, body: { error: "Unauthorized", details: "Invalid or expired token" } };
  if (info?.reason === "TASK_NOT_FOUND") return { status, body: { error: "Not found", details: `Task not found: ${info.metadata.id ?? ""}` } };
  if (status >= 500) return { status, body: { error: "Internal server error", details: "An unexpected error occurred" } };
  return { status, body: { error: ERROR_WORDS[status] ?? "Invalid request", details: error.rawMessage } };
}

// ---- input checks: 400 `{ error: "Invalid request", details }` naming the field ----

const bad = (field: string, message: string) => new AppError("invalid_argument", "INVALID_ARGUMENT", `${field}: ${message}`, { field });
const missing = (field: string) => new AppError("invalid_argument", "INVALID_ARGUMENT", `Missing required field: ${field}`, { field });

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("body", "must be a JSON object");
  return body as Record<string, unknown>;
}
function optString(b: Record<string, unknown>, field: string): string | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw bad(field, "must be a string");
  return v;
}
function optInt(b: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw bad(field, `must be an integer from ${min} to ${max}`);
  return v;
}
function optStrings(b: Record<string, unknown>, field: string): string[] | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw bad(field, "must be a list of strings");
  return v as string[];
}
function dateQuery(query: URLSearchParams): string {
  const date = query.get("date") ?? "";
  if (date !== "" && !/^\d{4}-\d\d-\d\d$/.test(date)) throw bad("date", "must be YYYY-MM-DD");
  return date;
}
function reportedStatus(b: Record<string, unknown>): string | undefined {
  const status = optString(b, "status");
  if (status !== undefined && !REPORTABLE.includes(status)) throw bad("status", `must be one of ${REPORTABLE.join(", ")} (use /retry to requeue)`);
  return status;
}
function errorOf(b: Record<string, unknown>) {
  const e = b.error;
  if (e === undefined || e === null) return { message: "reported failed", retryable: false };
  if (typeof e === "string") return { message: e, retryable: false };
  if (typeof e === "object" && !Array.isArray(e) && typeof (e as { message?: unknown }).message === "string") {
    const { message, ...details } = e as { message: string } & JsonObject;
    return { message, retryable: false, details: details as JsonObject };
  }
  throw bad("error", "must be a string or an object with a message");
}

/** Seed 001's task and statistics routes. */
export function taskProcessingFamily(): LegacyFamily {
  return {
    name: "seed-001-tasks",
    error: taskProcessingError,
    // The original's OpenAPI tags (chanfana): Tasks, Servers, Statistics, Load Balancer.
    docTag: (r) => (r.path.startsWith("/api/stats") ? "Statistics" : "Tasks"),
    routes: [
      route({
        method: "POST",
        path: "/api/task",
        rpc: TaskService.method.createTask,
        request(req) {
          const b = bodyObject(req.body);
          const type = optString(b, "type");
          if (!type) throw missing("type");
          const priority = optInt(b, "priority", -1_000_000, 1_000_000);
          if (priority === undefined) throw missing("priority");
          if (b.async !== undefined && typeof b.async !== "boolean") throw bad("async", "must be a boolean");
          if (b.payload !== undefined && (typeof b.payload !== "object" || b.payload === null || Array.isArray(b.payload))) throw bad("payload", "must be a JSON object");
          return {
            task: {
              queue: optString(b, "queue") ?? TASK_PROCESSING_QUEUE,
              type,
              priority,
              payload: b.payload === undefined ? undefined : fromJson(ValueSchema, b.payload as JsonValue),
              requiredCapabilities: optStrings(b, "capabilities") ?? [],
              // Seed 001's `async` flag: the push dispatcher waits for the backend's callback.
              metadata: b.async === true ? { async: true } : undefined,
            },
            requestId: optString(b, "requestId") ?? "",
          };
        },
        response(out) {
          const v = taskView(out.task!);
          // The original answers 200 (chanfana's CreateTask), not 201.
          return { status: 200, body: { id: v.id, status: v.status, createdAt: v.createdAt, updatedAt: v.updatedAt } };
        },
      }),
      route({
        method: "GET",
        path: "/api/task/:id",
        rpc: TaskService.method.getTask,
        request: (req) => ({ id: req.params.id }),
        response: (out) => ({ body: taskView(out.task!) }),
      }),
      route({
        method: "PUT",
        path: "/api/task/:id",
        rpc: TaskService.method.updateTask,
        request(req) {
          const b = bodyObject(req.body);
          const status = reportedStatus(b);
          const state = status === "COMPLETED" ? TaskState.SUCCEEDED : status === "FAILED" ? TaskState.FAILED : TaskState.UNSPECIFIED;
          return {
            id: req.params.id,
            state,
            progress: optInt(b, "progress", 0, 100),
            serverId: optString(b, "serverId") ?? "",
            result: state === TaskState.SUCCEEDED && b.result !== undefined ? fromJson(ValueSchema, b.result as JsonValue) : undefined,
            error: state === TaskState.FAILED ? errorOf(b) : undefined,
          };
        },
        async response(out, req, call) {
          let task = out.task!;
          const b = bodyObject(req.body);
          const status = reportedStatus(b);
          if (status === "PROCESSING" && task.state === TaskState.PENDING) {
            task = (await call(TaskService.method.updateTask, { id: task.id, state: TaskState.RUNNING, serverId: optString(b, "serverId") ?? "" })).task!;
          } else if (status === "CANCELLED") {
            task = (await call(TaskService.method.cancelTask, { id: task.id, reason: "cancelled by backend" })).task!;
          }
          // The original answers `{ id, status, updatedAt }`; the message says it was updated.
          return { body: { message: "Task updated", ...taskView(task) } };
        },
      }),
      route({
        method: "POST",
        path: "/api/task/:id/retry",
        rpc: TaskService.method.retryTask,
        request: (req) => ({ id: req.params.id }),
        response: (out) => ({ body: { message: "Task queued for retry", taskId: out.task!.id } }),
      }),
      route({
        method: "POST",
        path: "/api/task/:id/cancel",
        rpc: TaskService.method.cancelTask,
        request(req) {
          const reason = optString(bodyObject(req.body), "reason");
          return { id: req.params.id, reason: reason ?? "" };
        },
        response: (out) => ({ body: { message: "Task cancelled", taskId: out.task!.id } }),
      }),
      route({
        method: "GET",
        path: "/api/stats/tasks",
        rpc: TaskService.method.getTaskStats,
        request: (req) => ({ date: dateQuery(req.query), queue: req.query.get("queue") ?? "" }),
        response: (s) => ({
          body: {
            totalTasks: Number(s.totalTasks),
            pendingTasks: Number(s.pendingTasks),
            successfulTasks: Number(s.successfulTasks),
            failedTasks: Number(s.failedTasks),
            retriedTasks: Number(s.retriedTasks),
            averageProcessingTime: millis(s.averageProcessingTime),
            serverCount: Number(s.serverCount),
            topServers: s.topServers.map((w) => ({ serverId: w.workerId, tasksProcessed: Number(w.tasksProcessed), successRate: w.successRate })),
            hourlyTrend: s.hourlyTrend.map((h) => ({ hour: h.hour, tasks: Number(h.tasks) })),
            date: s.date,
            processingTasks: Number(s.runningTasks),
            cancelledTasks: Number(s.cancelledTasks),
          },
        }),
      }),
      route({
        method: "GET",
        path: "/api/stats/hourly",
        rpc: TaskService.method.getHourlyTaskStats,
        request: (req) => ({ date: dateQuery(req.query), queue: req.query.get("queue") ?? "" }),
        response: (h) => ({
          body: {
            date: h.date,
            // The seed's names, then the original's (GetHourlyReport: period, tasks, successful, avgDuration).
            hours: h.hours.map((x) => ({
              hour: x.hour,
              created: Number(x.created),
              completed: Number(x.completed),
              failed: Number(x.failed),
              averageTime: millis(x.averageTime),
              period: `${String(x.hour).padStart(2, "0")}:00-${String(x.hour).padStart(2, "0")}:59`,
              tasks: Number(x.created),
              successful: Number(x.completed),
              avgDuration: millis(x.averageTime),
            })),
          },
        }),
      }),
    ],
  };
}

// ---- the /ws WebSocket ----

/** What the socket needs from the tasks domain, in API messages. */
export interface TaskEventSource {
  /** The task now, in the caller's tenant; throws AppError TASK_NOT_FOUND. */
  getTask(tenant: string, id: string): Promise<Task>;
  /** Live events of these tasks of the tenant until the signal aborts. */
  watch(tenant: string, taskIds: string[], signal: AbortSignal): AsyncIterable<TaskEvent>;
}

const EVENT_NAME = (k: TaskEventKind) => TaskEventKind[k] ?? "UNSPECIFIED";

function refuse(socket: Socket, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const words = status === 401 ? "Unauthorized" : "Bad Request";
  socket.end(
    `HTTP/1.1 ${status} ${words}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

/**
 * Seed 001's `/ws`: a client sends `{"type":"subscribe","taskId":…}` and receives
 * `{"type":"subscribed","taskId","task"}`, then one `{"type":"task_update",…}` per event of that
 * task. With an API token set the handshake needs `Authorization: Bearer` or `?token=`.
 */
export function taskEventsSocket(deps: { source: TaskEventSource; auth: PrincipalResolver; log: Logger }): UpgradeRoute & { close(): void } {
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<WebSocket>();

  function serve(ws: WebSocket, tenant: string): void {
    sockets.add(ws);
    const subscriptions = new Map<string, AbortController>();
    const send = (m: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));
    const fail = (details: string, error = "Invalid request") => send({ type: "error", error, details });

    async function pump(taskId: string, abort: AbortController): Promise<void> {
      try {
        for await (const e of deps.source.watch(tenant, [taskId], abort.signal)) {
          const task = taskView(e.task!);
          send({ type: "task_update", taskId, event: EVENT_NAME(e.kind), status: task.status, progress: task.progress, timestamp: epoch(e.time), task });
        }
      } catch (error) {
        fail(error instanceof Error ? error.message : String(error), "Service unavailable");
        subscriptions.delete(taskId);
      }
    }

    ws.on("message", (data) => {
      let m: { type?: unknown; taskId?: unknown };
      try {
        m = JSON.parse(String(data));
      } catch {
        return fail("message: must be JSON");
      }
      if (typeof m !== "object" || m === null) return fail("message: must be a JSON object");
      if (m.type !== "subscribe" && m.type !== "unsubscribe") return fail("type: must be subscribe or unsubscribe");
      if (typeof m.taskId !== "string" || m.taskId === "") return fail("Missing required field: taskId");
      const taskId = m.taskId;
      if (m.type === "unsubscribe") {
        subscriptions.get(taskId)?.abort();
        subscriptions.delete(taskId);
        return send({ type: "unsubscribed", taskId });
      }
      if (subscriptions.has(taskId)) {
        void deps.source.getTask(tenant, taskId).then(
          (task) => send({ type: "subscribed", taskId, task: taskView(task) }),
          () => fail(`Task not found: ${taskId}`, "Not found"),
        );
        return;
      }
      // Watch first, then read: an event committed in between is sent, none is missed.
      const abort = new AbortController();
      subscriptions.set(taskId, abort);
      void pump(taskId, abort);
      deps.source.getTask(tenant, taskId).then(
        (task) => void send({ type: "subscribed", taskId, task: taskView(task) }),
        (error) => {
          abort.abort();
          subscriptions.delete(taskId);
          if (error instanceof AppError && error.reason === "TASK_NOT_FOUND") return void fail(`Task not found: ${taskId}`, "Not found");
          deps.log.error("ws subscribe failed", { error: String(error) });
          fail("An unexpected error occurred", "Internal server error");
        },
      );
    });
    ws.on("close", () => {
      sockets.delete(ws);
      for (const a of subscriptions.values()) a.abort();
      subscriptions.clear();
    });
  }

  return {
    path: "/ws",
    handle(req: NodeRequest, socket: Socket, head: Buffer) {
      // Seed 001: `Authorization: Bearer` or `?token=`, through the one principal resolver.
      void authenticateUpgrade(deps.auth, req.headers, new URL(req.url ?? "/", "http://switchyard")).then(
        (principal) => wss.handleUpgrade(req as never, socket, head, (ws) => serve(ws, principal.tenant)),
        () => refuse(socket, 401, { error: "Unauthorized", details: "Invalid or expired token" }),
      );
    },
    close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
    },
  };
}
