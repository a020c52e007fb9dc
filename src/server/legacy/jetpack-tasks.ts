import { fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, ValueSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { TaskState, type Task } from "../../../gen/switchyard/tasks/v1/tasks_pb.js";
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { HealthStatus, SystemService } from "../../../gen/switchyard/system/v1/system_service_pb.js";
import pkg from "../../../package.json" with { type: "json" };
import { AppError } from "../../core/errors.ts";
import { codeName, errorInfo } from "../errors.ts";
import { jetpackError } from "./jetpack.ts";
import { route, type LegacyFamily, type LegacyReply, type LegacyRequest } from "./table.ts";

// Seed 000 (Jetpack worker API) task routes. Shapes follow the public worker API and its
// shared `Task` type: ISO dates, status words pending/ready/claimed/in_progress/blocked/
// completed/failed, priority words low/medium/high/critical. See docs/legacy-routes.md.

/** Queue of tasks created through these routes unless the body names one (Jetpack has no queues). */
export const JETPACK_QUEUE = "jetpack";
/** Jetpack agents do not heartbeat: a claim takes the longest lease unless `leaseMs` says otherwise. */
const JETPACK_LEASE_MS = 3_600_000;
/** Most tasks one list, ready or stats call reads. */
const SCAN_LIMIT = 10_000;

const PRIORITY_VALUE = { low: -1, medium: 0, high: 1, critical: 2 } as const;
type PriorityWord = keyof typeof PRIORITY_VALUE;
const priorityWord = (p: number | undefined): PriorityWord => ((p ?? 0) <= -1 ? "low" : (p ?? 0) === 0 ? "medium" : (p ?? 0) === 1 ? "high" : "critical");

const STATUSES = ["pending", "ready", "claimed", "in_progress", "blocked", "completed", "failed"] as const;
type Status = (typeof STATUSES)[number];
const STATUS_STATES: Record<Status, TaskState[]> = {
  pending: [TaskState.PENDING],
  ready: [TaskState.PENDING],
  claimed: [TaskState.RUNNING],
  in_progress: [TaskState.RUNNING],
  blocked: [TaskState.BLOCKED],
  completed: [TaskState.SUCCEEDED],
  failed: [TaskState.FAILED, TaskState.TIMED_OUT, TaskState.CANCELLED],
};

/**
 * Metadata key holding the Jetpack word our states do not tell apart: `in_progress` (a claimed
 * task its agent started, PATCH status) and `ready` (a pending task, set by PATCH or release).
 * Hidden from the Jetpack view like the extra keys.
 */
const STATUS_KEY = "jetpackStatus";

/** Jetpack fields Switchyard has no column for: kept in the task's metadata under these keys. */
const EXTRA_KEYS = ["estimatedMinutes", "actualMinutes", "branch", "originBranch", "targetBranches", STATUS_KEY] as const;

/** Our state as a Jetpack status word: RUNNING is `claimed` until the holder starts or reports progress. */
export function jetpackStatus(t: Task): Status {
  const word = (t.metadata as Record<string, unknown> | undefined)?.[STATUS_KEY];
  switch (t.state) {
    case TaskState.BLOCKED:
      return "blocked";
    case TaskState.PENDING:
      return word === "ready" ? "ready" : "pending";
    case TaskState.RUNNING:
      return word === "in_progress" || t.progress > 0 || t.progressMessage ? "in_progress" : "claimed";
    case TaskState.SUCCEEDED:
      return "completed";
    case TaskState.FAILED:
    case TaskState.TIMED_OUT:
    case TaskState.CANCELLED:
      return "failed";
    default:
      return "pending";
  }
}

const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : undefined);

function failureType(t: Task): string | undefined {
  if (t.state === TaskState.TIMED_OUT) return "timeout";
  if (t.error?.reason === "LEASE_EXPIRED") return "stalled";
  return t.error?.message ? "error" : undefined;
}

/** A task in the Jetpack `Task` shape (undefined fields are left out of the JSON). */
export function jetpackTask(t: Task) {
  const metadata: Record<string, unknown> = { ...(t.metadata ?? {}) };
  const extra: Record<string, unknown> = {};
  for (const k of EXTRA_KEYS) {
    if (k in metadata) {
      extra[k] = metadata[k];
      delete metadata[k];
    }
  }
  return {
    id: t.id,
    title: t.title,
    description: t.description || undefined,
    status: jetpackStatus(t),
    priority: priorityWord(t.priority),
    dependencies: t.dependsOn,
    blockers: [] as string[],
    requiredSkills: t.requiredCapabilities,
    // Jetpack clears the agent when a task goes back to pending/ready (release, retry).
    assignedAgent: t.state === TaskState.PENDING ? undefined : t.workerId || t.serverId || undefined,
    estimatedMinutes: extra.estimatedMinutes,
    actualMinutes: extra.actualMinutes,
    tags: t.tags,
    createdAt: iso(t.createTime),
    updatedAt: iso(t.updateTime),
    completedAt: iso(t.finishTime),
    metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
    retryCount: t.retryCount,
    maxRetries: Math.max(0, (t.maxAttempts ?? 3) - 1),
    lastError: t.error?.message || undefined,
    lastAttemptAt: iso(t.startTime),
    failureType: failureType(t),
    branch: extra.branch,
    originBranch: extra.originBranch,
    targetBranches: extra.targetBranches ?? [],
    // Switchyard extensions: where the task lives and how far it got.
    queue: t.queue,
    progress: t.progress,
  };
}

// ---- input checks: each names its field and answers 400 `{ error }` ----

const bad = (field: string, message: string) => new AppError("invalid_argument", "INVALID_ARGUMENT", `${field} ${message}`, { field });

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
function optStrings(b: Record<string, unknown>, field: string): string[] | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw bad(field, "must be a list of strings");
  return v as string[];
}
function optNumber(b: Record<string, unknown>, field: string, min: number, max: number, integer = true): number | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw bad(field, `must be ${integer ? "an integer" : "a number"} from ${min} to ${max}`);
  }
  return v;
}
function optPriority(value: unknown, field = "priority"): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !(value in PRIORITY_VALUE)) throw bad(field, "must be one of low, medium, high, critical");
  return PRIORITY_VALUE[value as PriorityWord];
}
function optStatus(value: unknown, field = "status"): Status | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !(STATUSES as readonly string[]).includes(value)) throw bad(field, `must be one of ${STATUSES.join(", ")}`);
  return value as Status;
}
function optObject(b: Record<string, unknown>, field: string): JsonObject | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw bad(field, "must be a JSON object");
  return v as JsonObject;
}
function extras(b: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  const est = optNumber(b, "estimatedMinutes", 0, 1e9, false);
  const act = optNumber(b, "actualMinutes", 0, 1e9, false);
  const branch = optString(b, "branch");
  const origin = optString(b, "originBranch");
  const targets = optStrings(b, "targetBranches");
  if (est !== undefined) out.estimatedMinutes = est;
  if (act !== undefined) out.actualMinutes = act;
  if (branch !== undefined) out.branch = branch;
  if (origin !== undefined) out.originBranch = origin;
  if (targets !== undefined) out.targetBranches = targets;
  return out;
}
function queryInt(req: LegacyRequest, field: string, min: number, max: number): number | undefined {
  const raw = req.query.get(field);
  if (raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw bad(field, `must be an integer from ${min} to ${max}`);
  return n;
}

// ---- list helpers: read further pages with the caller's credentials ----

async function collect(
  first: { tasks: Task[]; nextPageToken: string },
  next: (pageToken: string) => Promise<{ tasks: Task[]; nextPageToken: string }>,
  keep: (t: Task) => boolean,
  limit: number,
): Promise<Task[]> {
  const out: Task[] = [];
  let page = first;
  for (;;) {
    for (const t of page.tasks) {
      if (out.length >= limit) return out;
      if (keep(t)) out.push(t);
    }
    if (!page.nextPageToken || out.length >= limit) return out;
    page = await next(page.nextPageToken);
  }
}

function listRequest(req: LegacyRequest) {
  const status = optStatus(req.query.get("status") ?? undefined);
  const priority = optPriority(req.query.get("priority") ?? undefined);
  const limit = queryInt(req, "limit", 1, SCAN_LIMIT);
  const agent = req.query.get("assignedAgent") || undefined;
  const queue = req.query.get("queue") || undefined;
  return { status, priority, limit, agent, queue };
}

/** The Jetpack error body, with the public worker API's words for a missing task. */
function tasksError(error: ConnectError, status: number): LegacyReply {
  if (errorInfo(error)?.reason === "TASK_NOT_FOUND") return { status: 404, body: { error: "Task not found" } };
  return jetpackError(error, status);
}

/** Claim answers 404 `Task not found or not claimable` for every refusal that is not bad input. */
function claimError(error: ConnectError, status: number): LegacyReply {
  const code = codeName(error.code);
  if (code === "not_found" || code === "failed_precondition" || code === "resource_exhausted") {
    return { status: 404, body: { error: "Task not found or not claimable" } };
  }
  return jetpackError(error, status);
}

const NOT_CLAIMED = new Set([TaskState.PENDING, TaskState.BLOCKED]);

/** Seed 000's `/api/tasks…` routes as two families (claim has its own 404 words). */
export function jetpackTaskFamilies(): LegacyFamily[] {
  const tasks: LegacyFamily = {
    name: "seed-000-tasks",
    error: tasksError,
    routes: [
      // Jetpack's HTTP adapters call `GET /` in initialize() and need a 2xx `{ status }`. Open
      // like every health route: it says only the service, its version and a health word.
      route({
        method: "GET",
        path: "/",
        rpc: SystemService.method.getHealth,
        response(out) {
          const status = out.health?.status;
          const word = status === HealthStatus.HEALTHY ? "healthy" : status === HealthStatus.DEGRADED ? "degraded" : "unhealthy";
          return { status: word === "unhealthy" ? 503 : 200, body: { service: "switchyard", version: pkg.version, status: word } };
        },
      }),
      route({
        method: "GET",
        path: "/api/tasks/ready",
        rpc: TaskService.method.listReadyTasks,
        request(req) {
          const limit = queryInt(req, "limit", 1, SCAN_LIMIT);
          const queue = req.query.get("queue");
          return { pageSize: Math.min(limit ?? 1000, 1000), queues: queue ? [queue] : [] };
        },
        async response(out, req, call) {
          const limit = queryInt(req, "limit", 1, SCAN_LIMIT) ?? SCAN_LIMIT;
          const queue = req.query.get("queue");
          const all = await collect(out, (pageToken) => call(TaskService.method.listReadyTasks, { pageSize: 1000, pageToken, queues: queue ? [queue] : [] }), () => true, limit);
          return { body: all.map(jetpackTask) };
        },
      }),
      route({
        method: "GET",
        path: "/api/tasks/stats",
        rpc: TaskService.method.listTasks,
        request: () => ({ pageSize: 1000 }),
        async response(out, _req, call) {
          const byStatus: Record<Status, number> = { pending: 0, ready: 0, claimed: 0, in_progress: 0, blocked: 0, completed: 0, failed: 0 };
          const byPriority: Record<PriorityWord, number> = { low: 0, medium: 0, high: 0, critical: 0 };
          let total = 0;
          let page = out;
          for (;;) {
            for (const t of page.tasks) {
              total++;
              byStatus[jetpackStatus(t)]++;
              byPriority[priorityWord(t.priority)]++;
            }
            if (!page.nextPageToken) break;
            page = await call(TaskService.method.listTasks, { pageSize: 1000, pageToken: page.nextPageToken });
          }
          return { body: { total, byStatus, byPriority } };
        },
      }),
      route({
        method: "POST",
        path: "/api/tasks",
        rpc: TaskService.method.createTask,
        request(req) {
          const b = bodyObject(req.body);
          const title = optString(b, "title");
          if (!title) throw bad("title", "is required");
          const status = optStatus(b.status);
          if (status !== undefined && status !== "pending" && status !== "ready") throw bad("status", "must be pending or ready at creation");
          const maxRetries = optNumber(b, "maxRetries", 0, 99);
          const metadata: JsonObject = { ...(optObject(b, "metadata") ?? {}), ...extras(b) };
          if (status === "ready") metadata[STATUS_KEY] = "ready";
          return {
            task: {
              id: optString(b, "id") ?? "",
              queue: optString(b, "queue") ?? JETPACK_QUEUE,
              title,
              description: optString(b, "description") ?? "",
              priority: optPriority(b.priority) ?? PRIORITY_VALUE.medium,
              dependsOn: optStrings(b, "dependencies") ?? [],
              requiredCapabilities: optStrings(b, "requiredSkills") ?? [],
              tags: optStrings(b, "tags") ?? [],
              maxAttempts: maxRetries === undefined ? undefined : maxRetries + 1,
              metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
            },
          };
        },
        response: (out) => ({ status: 201, body: jetpackTask(out.task!) }),
      }),
      route({
        method: "GET",
        path: "/api/tasks",
        rpc: TaskService.method.listTasks,
        request(req) {
          const q = listRequest(req);
          return {
            pageSize: 1000,
            states: q.status ? STATUS_STATES[q.status] : [],
            workerId: q.agent ?? "",
            queues: q.queue ? [q.queue] : [],
          };
        },
        async response(out, req, call) {
          const q = listRequest(req);
          const want = q.status;
          const keep = (t: Task) => (want === undefined || jetpackStatus(t) === want) && (q.priority === undefined || PRIORITY_VALUE[priorityWord(t.priority)] === q.priority);
          const next = (pageToken: string) =>
            call(TaskService.method.listTasks, {
              pageSize: 1000,
              pageToken,
              states: q.status ? STATUS_STATES[q.status] : [],
              workerId: q.agent ?? "",
              queues: q.queue ? [q.queue] : [],
            });
          return { body: (await collect(out, next, keep, q.limit ?? SCAN_LIMIT)).map(jetpackTask) };
        },
      }),
      route({
        method: "GET",
        path: "/api/tasks/:id",
        rpc: TaskService.method.getTask,
        request: (req) => ({ id: req.params.id }),
        response: (out) => ({ body: jetpackTask(out.task!) }),
      }),
      route({
        method: "PATCH",
        path: "/api/tasks/:id",
        rpc: TaskService.method.updateTask,
        request(req) {
          const b = bodyObject(req.body);
          const status = optStatus(b.status);
          if (status === "blocked") throw bad("status", "cannot be set: a task is blocked only by its dependencies");
          const metadata: JsonObject = { ...(optObject(b, "metadata") ?? {}), ...extras(b) };
          if (status !== undefined) metadata[STATUS_KEY] = status === "in_progress" || status === "ready" ? status : null;
          const tags = optStrings(b, "tags");
          const result = b.result;
          const lastError = optString(b, "lastError");
          const failure = optString(b, "failureType");
          const agent = optString(b, "assignedAgent");
          const state =
            status === "completed" ? TaskState.SUCCEEDED : status === "failed" ? TaskState.FAILED : undefined;
          return {
            id: req.params.id,
            title: optString(b, "title"),
            description: optString(b, "description"),
            priority: optPriority(b.priority),
            progress: optNumber(b, "progress", 0, 100),
            tags: tags ?? [],
            replaceTags: tags !== undefined,
            metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
            state: state ?? TaskState.UNSPECIFIED,
            result: state === TaskState.SUCCEEDED && result !== undefined ? fromJson(ValueSchema, result as JsonValue) : undefined,
            error: state === TaskState.FAILED ? { message: lastError ?? "failed", reason: failure ?? "", retryable: false } : undefined,
            serverId: agent ?? "",
          };
        },
        async response(out, req, call) {
          let task = out.task!;
          const status = optStatus(bodyObject(req.body).status);
          if ((status === "claimed" || status === "in_progress") && task.state === TaskState.PENDING) {
            task = (await call(TaskService.method.updateTask, { id: task.id, state: TaskState.RUNNING, serverId: optString(bodyObject(req.body), "assignedAgent") ?? "" })).task!;
          } else if ((status === "pending" || status === "ready") && task.state === TaskState.RUNNING) {
            task = (await call(TaskService.method.releaseTask, { id: task.id })).task!;
          } else if ((status === "pending" || status === "ready") && [TaskState.FAILED, TaskState.TIMED_OUT, TaskState.CANCELLED].includes(task.state)) {
            task = (await call(TaskService.method.retryTask, { id: task.id })).task!;
          }
          return { body: jetpackTask(task) };
        },
      }),
      route({
        method: "DELETE",
        path: "/api/tasks/:id",
        rpc: TaskService.method.deleteTask,
        request: (req) => ({ id: req.params.id }),
        response: () => ({ body: { deleted: true } }),
      }),
      route({
        method: "POST",
        path: "/api/tasks/:id/release",
        rpc: TaskService.method.getTask,
        request: (req) => ({ id: req.params.id }),
        async response(out, _req, call) {
          const task = out.task!;
          if (task.state === TaskState.RUNNING) await call(TaskService.method.releaseTask, { id: task.id });
          else if (!NOT_CLAIMED.has(task.state)) {
            throw new AppError("failed_precondition", "TASK_NOT_RUNNING", `Task is ${jetpackStatus(task)}, not claimed`, { id: task.id });
          }
          // Jetpack's release sets `ready` and clears the agent (the view hides a pending task's agent).
          if (task.state !== TaskState.BLOCKED) await call(TaskService.method.updateTask, { id: task.id, metadata: { [STATUS_KEY]: "ready" } });
          return { body: { released: true } };
        },
      }),
    ],
  };
  const claim: LegacyFamily = {
    name: "seed-000-tasks",
    error: claimError,
    routes: [
      route({
        method: "POST",
        path: "/api/tasks/:id/claim",
        rpc: TaskService.method.claimTask,
        request(req) {
          const b = bodyObject(req.body);
          const agentId = b.agentId;
          if (typeof agentId !== "string" || agentId === "") {
            throw new AppError("invalid_argument", "INVALID_ARGUMENT", "agentId is required", { field: "agentId" });
          }
          const leaseMs = optNumber(b, "leaseMs", 1_000, 3_600_000) ?? JETPACK_LEASE_MS;
          // Jetpack's claim checks only the status: a task whose dependencies are unfinished is claimed too.
          return { id: req.params.id, workerId: agentId, leaseDuration: durationFromMs(leaseMs), ignoreDependencies: true };
        },
        response: (out) => ({
          body: { ...jetpackTask(out.task!), fencingToken: Number(out.lease?.fencingToken ?? 0), leaseExpiresAt: iso(out.lease?.expireTime) },
        }),
      }),
    ],
  };
  return [tasks, claim];
}
