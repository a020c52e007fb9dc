import { durationMs, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { ServerKind, ServerStatus, WorkerQueueMode, type Server } from "../../../../gen/switchyard/servers/v1/servers_pb.js";
import { ServerService } from "../../../../gen/switchyard/servers/v1/servers_service_pb.js";
import { AppError } from "../../../core/errors.ts";
import { route, type LegacyFamily, type LegacyReply } from "../table.ts";
import { runqyError } from "../runqy.ts";

// Seed 003 (runqy) worker routes: `POST /worker/register` (also `/workers/handshake`, its
// other name in runqy) and `GET /api/cli/workers[/{worker_id}]`. Switchyard holds no Redis:
// the `redis` block is answered empty and a `switchyard` block says where the worker protocol
// is served (TaskService.ConnectWorker over gRPC). See docs/legacy-routes.md.

const MODE_WORD: Record<number, string> = { [WorkerQueueMode.LONG_RUNNING]: "long_running", [WorkerQueueMode.ONE_SHOT]: "one_shot", [WorkerQueueMode.UNSPECIFIED]: "long_running" };
const secs = (t: Timestamp | undefined) => (t ? Math.floor(timestampMs(t) / 1000) : 0);

/** runqy's handshake error body: `{ "error": message }`. */
function handshakeError(error: ConnectError, status: number): LegacyReply {
  if (status === 401) return { status, body: { error: "unauthorized: missing or invalid bearer token" } };
  if (status >= 500) return { status, body: { error: "internal server error" } };
  return { status, body: { error: error.rawMessage } };
}

const bad = (message: string, field: string) => new AppError("invalid_argument", "INVALID_ARGUMENT", message, { field });

function optString(b: Record<string, unknown>, f: string): string {
  const v = b[f];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw bad(`invalid request: ${f} must be a string`, f);
  return v;
}

/** A worker as runqy's CLI API shows it (`asynq:workers:{id}` fields), plus Switchyard's own. */
function workerInfo(s: Server) {
  const lastBeat = secs(s.lastHeartbeatTime);
  return {
    worker_id: s.name,
    started_at: secs(s.registerTime),
    last_beat: lastBeat,
    concurrency: s.maxConcurrent,
    queues: s.queues.join(","),
    status: s.status === ServerStatus.MAINTENANCE ? "maintenance" : s.status === ServerStatus.OFFLINE ? "stopped" : "running",
    is_stale: s.status === ServerStatus.OFFLINE,
    protected: false,
    id: s.id,
    active_tasks: s.activeTasks,
    labels: s.labels,
  };
}

function registerRoute(path: string) {
  return route({
    method: "POST",
    path,
    rpc: ServerService.method.registerWorker,
    request(req) {
      const b = req.body;
      if (b === undefined || typeof b !== "object" || b === null || Array.isArray(b)) throw bad("invalid request: body must be a JSON object", "body");
      const o = b as Record<string, unknown>;
      const queue = optString(o, "queue");
      if (!queue) throw bad("queue name is required", "queue");
      const concurrency = o.concurrency;
      if (concurrency !== undefined && (typeof concurrency !== "number" || !Number.isInteger(concurrency) || concurrency < 0)) throw bad("invalid request: concurrency must be a whole number", "concurrency");
      return {
        workerId: optString(o, "worker_id"),
        queue,
        hostname: optString(o, "hostname"),
        os: optString(o, "os"),
        version: optString(o, "version"),
        maxConcurrent: (concurrency as number | undefined) ?? 0,
      };
    },
    response(out, req) {
      const q = out.queue!;
      const d = out.deployment;
      const host = req.header.get("host") ?? "";
      return {
        body: {
          redis: { addr: "", password: "", db: 0, use_tls: false },
          queue: { name: q.name, priority: q.priority, mode: MODE_WORD[q.mode] },
          sub_queues: [{ name: q.name, priority: q.priority }],
          deployment: d
            ? {
                git_url: d.gitUrl,
                branch: d.branch,
                startup_cmd: d.startupCmd,
                startup_timeout_secs: d.startupTimeout ? Math.round(durationMs(d.startupTimeout) / 1000) : 0,
                requirements_file: d.requirementsFile,
                mode: MODE_WORD[q.mode],
              }
            : null,
          worker_id: out.server!.name,
          switchyard: {
            server_id: out.server!.id,
            grpc: host,
            worker_protocol: "switchyard.tasks.v1.TaskService/ConnectWorker",
            heartbeat_interval_secs: out.heartbeatInterval ? Math.max(1, Math.round(durationMs(out.heartbeatInterval) / 1000)) : 10,
          },
        },
      };
    },
  });
}

/** Seed 003's worker registration and worker listing. */
export function runqyWorkerFamilies(): LegacyFamily[] {
  return [
    { name: "seed-003-worker-register", error: handshakeError, routes: [registerRoute("/worker/register"), registerRoute("/workers/handshake")] },
    {
      name: "seed-003-cli-workers",
      error: (error, status) => (status === 404 ? { status, body: { errors: ["Worker not found"] } } : runqyError(error, status)),
      routes: [
        route({
          method: "GET",
          path: "/api/cli/workers",
          // runqy's own CLI (app/cmd/apiclient.go) calls /workers.
          aliases: [{ path: "/workers" }],
          rpc: ServerService.method.listServers,
          request: () => ({ kind: ServerKind.WORKER, pageSize: 1000 }),
          response: (out) => ({ body: { workers: out.servers.map(workerInfo), count: out.servers.length } }),
        }),
        route({
          method: "GET",
          path: "/api/cli/workers/:worker_id",
          aliases: [{ path: "/workers/:worker_id" }],
          rpc: ServerService.method.listServers,
          request: (req) => ({ kind: ServerKind.WORKER, name: req.params.worker_id }),
          response: (out, req) => {
            const s = out.servers[0];
            if (!s) throw new AppError("not_found", "WORKER_NOT_FOUND", `worker not found: ${req.params.worker_id}`, { worker_id: req.params.worker_id ?? "" });
            return { body: workerInfo(s) };
          },
        }),
      ],
    },
  ];
}
