// Bad input on every task and queue REST route: 400 naming the field, never 500; unknown
// tasks are 404 TASK_NOT_FOUND. The same mistakes over Connect and gRPC get the same reason.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { getOption } from "@bufbuild/protobuf";
import { http } from "../../gen/google/api/annotations_pb.js";
import { QueueService } from "../../gen/switchyard/tasks/v1/queues_service_pb.js";
import { TaskService } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { failure, taskApi } from "./helpers/task-api.ts";

let server: TestServer;
let heldId: string;
beforeAll(async () => {
  server = await startTestServer();
  // A real running task, so that mistakes on its routes are judged on the input, not on its state.
  const api = taskApi(server.url, "connect");
  const { task } = await api.tasks("createTask", { task: { queue: "bad-input" } });
  await api.tasks("claimTask", { id: task.id, worker_id: "w" });
  heldId = task.id;
});
afterAll(() => server?.close());

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  want: { status: number; reason: string; field?: string };
}

const BAD = (field: string) => ({ status: 400, reason: "INVALID_ARGUMENT", field });
const HELD = "{held}";

// A single create names task fields relative to the task (`queue`), as the engine reports them;
// a batch names them in full (`requests[1].task.queue`).
const cases: Case[] = [
  // TaskService
  { name: "create without a task", method: "POST", path: "/v1/tasks", body: {}, want: BAD("task") },
  { name: "create without a queue", method: "POST", path: "/v1/tasks", body: { task: { type: "x" } }, want: BAD("task.queue") },
  { name: "create with a bad queue name", method: "POST", path: "/v1/tasks", body: { task: { queue: "bad name!" } }, want: BAD("queue") },
  { name: "create with a bad id", method: "POST", path: "/v1/tasks", body: { task: { queue: "q", id: "no spaces" } }, want: BAD("id") },
  { name: "create with zero attempts", method: "POST", path: "/v1/tasks", body: { task: { queue: "q", max_attempts: 0 } }, want: BAD("max_attempts") },
  { name: "create with a priority out of range", method: "POST", path: "/v1/tasks", body: { task: { queue: "q", priority: 2_000_000_000 } }, want: BAD("priority") },
  { name: "create with a priority of the wrong type", method: "POST", path: "/v1/tasks", body: { task: { queue: "q", priority: "high" } }, want: BAD("priority") },
  { name: "create with an unknown field", method: "POST", path: "/v1/tasks", body: { task: { queue: "q", colour: "red" } }, want: BAD("colour") },
  { name: "create with a negative delay", method: "POST", path: "/v1/tasks", body: { task: { queue: "q" }, delay: "-5s" }, want: BAD("delay") },
  { name: "create with a long request_id", method: "POST", path: "/v1/tasks", body: { task: { queue: "q" }, request_id: "r".repeat(200) }, want: BAD("request_id") },
  { name: "create depending on itself", method: "POST", path: "/v1/tasks", body: { task: { queue: "q", id: "selfish", depends_on: ["selfish"] } }, want: BAD("depends_on") },
  { name: "create with an empty capability", method: "POST", path: "/v1/tasks", body: { task: { queue: "q", required_capabilities: [""] } }, want: BAD("required_capabilities[0]") },
  { name: "create with metadata that is not an object", method: "POST", path: "/v1/tasks", body: { task: { queue: "q", metadata: [1] } }, want: BAD("task.metadata") },
  { name: "create with a body that is not JSON", method: "POST", path: "/v1/tasks", body: "{nope", want: { status: 400, reason: "INVALID_ARGUMENT" } },
  { name: "batch create with nothing", method: "POST", path: "/v1/tasks:batchCreate", body: { requests: [] }, want: BAD("requests") },
  { name: "batch create with a bad item", method: "POST", path: "/v1/tasks:batchCreate", body: { requests: [{ task: { queue: "q" } }, { task: { queue: "" } }] }, want: BAD("requests[1].task.queue") },
  { name: "batch create over 1,000", method: "POST", path: "/v1/tasks:batchCreate", body: { requests: Array.from({ length: 1001 }, () => ({ task: { queue: "q" } })) }, want: BAD("requests") },
  { name: "get with a bad id", method: "GET", path: "/v1/tasks/bad%20id", want: BAD("id") },
  { name: "list with a page size over 1,000", method: "GET", path: "/v1/tasks?page_size=5000", want: BAD("page_size") },
  { name: "list with a foreign page token", method: "GET", path: "/v1/tasks?page_token=garbage", want: BAD("page_token") },
  { name: "list with an unknown state", method: "GET", path: "/v1/tasks?states=SLEEPING", want: BAD("states") },
  { name: "list with a bad queue", method: "GET", path: "/v1/tasks?queues=bad%20q", want: BAD("queues[0]") },
  { name: "list with a bad time", method: "GET", path: "/v1/tasks?created_after=yesterday", want: BAD("created_after") },
  { name: "list with an unknown parameter", method: "GET", path: "/v1/tasks?colour=red", want: BAD("colour") },
  { name: "ready list with a negative page size", method: "GET", path: "/v1/tasks:ready?page_size=-1", want: BAD("page_size") },
  { name: "ready list with an empty capability", method: "GET", path: "/v1/tasks:ready?capabilities=", want: BAD("capabilities[0]") },
  { name: "dead-letter list with a foreign page token", method: "GET", path: "/v1/tasks:deadLetter?page_token=zz", want: BAD("page_token") },
  { name: "update with progress over 100", method: "PATCH", path: `/v1/tasks/${HELD}`, body: { progress: 101 }, want: BAD("progress") },
  { name: "update to a state a backend may not report", method: "PATCH", path: `/v1/tasks/${HELD}`, body: { state: "TASK_STATE_PENDING" }, want: { status: 400, reason: "INVALID_TRANSITION", field: "state" } },
  { name: "update with metadata that is not an object", method: "PATCH", path: `/v1/tasks/${HELD}`, body: { metadata: "x" }, want: BAD("metadata") },
  { name: "update with an empty tag", method: "PATCH", path: `/v1/tasks/${HELD}`, body: { tags: [""], replace_tags: true }, want: BAD("tags[0]") },
  { name: "delete with a bad id", method: "DELETE", path: "/v1/tasks/bad%20id", want: BAD("id") },
  { name: "claim by id without a worker", method: "POST", path: "/v1/tasks/t1:claim", body: {}, want: BAD("worker_id") },
  { name: "claim by id with a lease under 1 s", method: "POST", path: "/v1/tasks/t1:claim", body: { worker_id: "w", lease_duration: "0.5s" }, want: BAD("lease_duration") },
  { name: "claim by id with a lease over 1 h", method: "POST", path: "/v1/tasks/t1:claim", body: { worker_id: "w", lease_duration: "7200s" }, want: BAD("lease_duration") },
  { name: "claim N without queues", method: "POST", path: "/v1/tasks:claim", body: { worker_id: "w", queues: [] }, want: BAD("queues") },
  { name: "claim N from a bad queue", method: "POST", path: "/v1/tasks:claim", body: { worker_id: "w", queues: ["ok", "bad q"] }, want: BAD("queues[1]") },
  { name: "claim N with too many", method: "POST", path: "/v1/tasks:claim", body: { worker_id: "w", queues: ["q"], max_tasks: 5000 }, want: BAD("max_tasks") },
  { name: "claim N with a negative count", method: "POST", path: "/v1/tasks:claim", body: { worker_id: "w", queues: ["q"], max_tasks: -1 }, want: BAD("max_tasks") },
  // Credits 0 (or absent) is a stream that only wants pings: not refused (issue 13).
  { name: "connect a worker with negative credits", method: "POST", path: "/v1/workers:connect", body: { worker_id: "w", queues: ["q"], credits: -1 }, want: BAD("credits") },
  { name: "connect a worker with too many credits", method: "POST", path: "/v1/workers:connect", body: { worker_id: "w", queues: ["q"], credits: 20000 }, want: BAD("credits") },
  { name: "connect a worker without queues", method: "POST", path: "/v1/workers:connect", body: { worker_id: "w", credits: 1 }, want: BAD("queues") },
  { name: "grant zero credits", method: "POST", path: "/v1/workerSessions/s1:grantCredits", body: { credits: 0 }, want: BAD("credits") },
  { name: "heartbeat without a token", method: "POST", path: `/v1/tasks/${HELD}:heartbeat`, body: {}, want: BAD("fencing_token") },
  { name: "heartbeat with progress under 0", method: "POST", path: `/v1/tasks/${HELD}:heartbeat`, body: { fencing_token: 1, progress: -1 }, want: BAD("progress") },
  { name: "heartbeat with a lease under 1 s", method: "POST", path: `/v1/tasks/${HELD}:heartbeat`, body: { fencing_token: 1, lease_duration: "0.1s" }, want: BAD("lease_duration") },
  { name: "complete with a token that is not a number", method: "POST", path: `/v1/tasks/${HELD}:complete`, body: { fencing_token: "abc" }, want: BAD("fencing_token") },
  { name: "complete with a negative token", method: "POST", path: `/v1/tasks/${HELD}:complete`, body: { fencing_token: -3 }, want: BAD("fencing_token") },
  { name: "batch complete with nothing", method: "POST", path: "/v1/tasks:batchComplete", body: { requests: [] }, want: BAD("requests") },
  { name: "batch complete with a bad id", method: "POST", path: "/v1/tasks:batchComplete", body: { requests: [{ id: "bad id", fencing_token: 1 }] }, want: BAD("requests[0].id") },
  { name: "batch complete without a token", method: "POST", path: "/v1/tasks:batchComplete", body: { requests: [{ id: "t1" }] }, want: BAD("requests[0].fencing_token") },
  { name: "fail without an error", method: "POST", path: `/v1/tasks/${HELD}:fail`, body: { fencing_token: 1 }, want: BAD("error") },
  { name: "fail with a negative retry delay", method: "POST", path: `/v1/tasks/${HELD}:fail`, body: { fencing_token: 1, error: { message: "x" }, retry_delay: "-1s" }, want: BAD("retry_delay") },
  { name: "release with a negative delay", method: "POST", path: `/v1/tasks/${HELD}:release`, body: { fencing_token: 1, delay: "-5s" }, want: BAD("delay") },
  { name: "release with a zero token", method: "POST", path: `/v1/tasks/${HELD}:release`, body: { fencing_token: 0 }, want: BAD("fencing_token") },
  { name: "cancel with a bad id", method: "POST", path: "/v1/tasks/bad%20id:cancel", body: {}, want: BAD("id") },
  { name: "retry with a bad time", method: "POST", path: `/v1/tasks/${HELD}:retry`, body: { run_at: "tomorrow" }, want: BAD("run_at") },
  { name: "watch an unknown kind", method: "GET", path: "/v1/tasks:watch?kinds=EXPLODED", want: BAD("kinds") },
  { name: "watch a bad queue", method: "GET", path: "/v1/tasks:watch?queues=bad%20q", want: BAD("queues[0]") },
  { name: "stats of a day that does not exist", method: "GET", path: "/v1/tasks:stats?date=2024-13-40", want: BAD("date") },
  { name: "stats with too many top servers", method: "GET", path: "/v1/tasks:stats?top_servers_limit=1000", want: BAD("top_servers_limit") },
  { name: "hourly stats of a word", method: "GET", path: "/v1/tasks:hourlyStats?date=yesterday", want: BAD("date") },
  { name: "worker stats without a worker", method: "GET", path: "/v1/tasks:workerStats", want: BAD("worker_id") },
  { name: "worker stats of a bad day", method: "GET", path: "/v1/tasks:workerStats?worker_id=w&date=2024-02-30", want: BAD("date") },
  // QueueService
  { name: "list queues with a page size over 1,000", method: "GET", path: "/v1/queues?page_size=1001", want: BAD("page_size") },
  { name: "list queues with a foreign page token", method: "GET", path: "/v1/queues?page_token=zzz", want: BAD("page_token") },
  { name: "get a queue with a bad name", method: "GET", path: "/v1/queues/bad%20name", want: BAD("name") },
  { name: "pause a queue with a bad name", method: "POST", path: "/v1/queues/bad%20name:pause", body: {}, want: BAD("name") },
  { name: "resume a queue with a bad name", method: "POST", path: "/v1/queues/bad%20name:resume", body: {}, want: BAD("name") },
  { name: "list configs with a foreign page token", method: "GET", path: "/v1/queueConfigs?page_token=zzz", want: BAD("page_token") },
  { name: "get a config with a bad name", method: "GET", path: "/v1/queueConfigs/bad%20name", want: BAD("name") },
  { name: "create a config without one", method: "POST", path: "/v1/queueConfigs", body: {}, want: BAD("config") },
  { name: "create a config with a bad name", method: "POST", path: "/v1/queueConfigs", body: { config: { name: "bad name" } }, want: BAD("config.name") },
  { name: "create a config with a priority out of range", method: "POST", path: "/v1/queueConfigs", body: { config: { name: "q", priority: 2_000_000 } }, want: BAD("config.priority") },
  { name: "create a config with negative attempts", method: "POST", path: "/v1/queueConfigs", body: { config: { name: "q", default_max_attempts: -1 } }, want: BAD("config.default_max_attempts") },
  { name: "create a config with an unknown mode", method: "POST", path: "/v1/queueConfigs", body: { config: { name: "q", mode: "FOREVER" } }, want: BAD("config.mode") },
  { name: "delete a config with a bad name", method: "DELETE", path: "/v1/queueConfigs/bad%20name", want: BAD("name") },
  { name: "reload with an unknown field", method: "POST", path: "/v1/queueConfigs:reload", body: { colour: 1 }, want: BAD("colour") },
];

async function call(c: Pick<Case, "method" | "path" | "body">) {
  const body = c.body === undefined ? undefined : typeof c.body === "string" ? c.body : JSON.stringify(c.body);
  const res = await fetch(server.url + c.path.replace(HELD, heldId), { method: c.method, body, headers: body ? { "content-type": "application/json" } : {} });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: res.status, error: json.error ?? json };
}

describe("bad input on every task and queue route", () => {
  it("has a case for every REST route of TaskService and QueueService", () => {
    const uncovered = [...TaskService.methods, ...QueueService.methods].filter((m) => {
      const rule = getOption(m, http);
      const p = rule.pattern;
      if (p.case === undefined || p.case === "custom") return true;
      const template = new RegExp(`^${p.value.replace(/\{[\w.]+\}/g, "[^/:]+")}$`);
      return !cases.some((c) => c.method === p.case!.toUpperCase() && template.test(c.path.replace(/\?.*$/, "")));
    });
    expect(uncovered.map((m) => m.name)).toEqual([]);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.want.status} ${c.want.reason}${c.want.field ? ` naming ${c.want.field}` : ""}`, async () => {
      const got = await call(c);
      expect(got.status).not.toBe(500);
      expect({ status: got.status, reason: got.error.reason, field: got.error.metadata?.field }).toEqual({
        status: c.want.status,
        reason: c.want.reason,
        field: c.want.field,
      });
    });
  }
});

describe("unknown tasks", () => {
  const missing = "task_never_was";
  const routes: [string, string, unknown?][] = [
    ["GET", `/v1/tasks/${missing}`],
    ["PATCH", `/v1/tasks/${missing}`, { progress: 1 }],
    ["DELETE", `/v1/tasks/${missing}`],
    ["POST", `/v1/tasks/${missing}:claim`, { worker_id: "w" }],
    ["POST", `/v1/tasks/${missing}:heartbeat`, { fencing_token: 1 }],
    ["POST", `/v1/tasks/${missing}:complete`, { fencing_token: 1 }],
    ["POST", `/v1/tasks/${missing}:fail`, { fencing_token: 1, error: { message: "x" } }],
    ["POST", `/v1/tasks/${missing}:release`, { fencing_token: 1 }],
    ["POST", `/v1/tasks/${missing}:release`, {}],
    ["POST", `/v1/tasks/${missing}:cancel`, {}],
    ["POST", `/v1/tasks/${missing}:retry`, {}],
  ];
  for (const [method, path, body] of routes) {
    it(`${method} ${path}${body ? ` ${JSON.stringify(body)}` : ""} is 404 TASK_NOT_FOUND`, async () => {
      const got = await call({ method, path, body });
      expect({ status: got.status, reason: got.error.reason, id: got.error.metadata?.id }).toEqual({ status: 404, reason: "TASK_NOT_FOUND", id: missing });
    });
  }

  it("is not_found with TASK_NOT_FOUND over gRPC and Connect too", async () => {
    for (const protocol of ["grpc", "connect"] as const) {
      const api = taskApi(server.url, protocol);
      for (const e of [
        await failure(api.tasks("getTask", { id: missing })),
        await failure(api.tasks("completeTask", { id: missing, fencing_token: "1" })),
        await failure(api.tasks("cancelTask", { id: missing })),
      ]) {
        expect({ code: e.code, reason: e.reason }).toEqual({ code: "not_found", reason: "TASK_NOT_FOUND" });
      }
    }
  });

  it("answers the same reason and field over gRPC and Connect as over REST for a bad argument", async () => {
    for (const protocol of ["grpc", "grpc-web", "connect"] as const) {
      const api = taskApi(server.url, protocol);
      const e = await failure(api.tasks("claimTasks", { worker_id: "w", queues: ["q"], max_tasks: 5000 }));
      expect({ code: e.code, reason: e.reason, field: e.field }).toEqual({ code: "invalid_argument", reason: "INVALID_ARGUMENT", field: "max_tasks" });
      const q = await failure(api.queues("createQueueConfig", { config: { name: "bad name" } }));
      expect(q.field).toBe("config.name");
    }
  });
});
