import { durationMs, timestampMs, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { LoadBalancerAlgorithm, ReportedHealth, ServerKind, ServerStatus, type Server } from "../../../../gen/switchyard/servers/v1/servers_pb.js";
import { LoadBalancerService, ServerService } from "../../../../gen/switchyard/servers/v1/servers_service_pb.js";
import { AppError } from "../../../core/errors.ts";
import { errorInfo } from "../../errors.ts";
import { route, type LegacyCall, type LegacyFamily, type LegacyReply } from "../table.ts";
import { taskProcessingError } from "../task-processing.ts";

// Seed 001 (task processing system) server and load-balancer routes: `/api/servers…`,
// `/api/stats/servers/:id`, `/api/stats/load-balancer…`. Times are epoch ms, durations ms,
// statuses lower case (online, offline, maintenance, degraded). See docs/legacy-routes.md.

const STATUS_WORD: Record<number, string> = {
  [ServerStatus.ONLINE]: "online",
  [ServerStatus.OFFLINE]: "offline",
  [ServerStatus.MAINTENANCE]: "maintenance",
  [ServerStatus.DEGRADED]: "degraded",
};
const STATUS_OF: Record<string, ServerStatus> = { online: ServerStatus.ONLINE, offline: ServerStatus.OFFLINE, maintenance: ServerStatus.MAINTENANCE, degraded: ServerStatus.DEGRADED };
const HEALTH_OF: Record<string, ReportedHealth> = {
  healthy: ReportedHealth.HEALTHY,
  online: ReportedHealth.HEALTHY,
  ok: ReportedHealth.HEALTHY,
  degraded: ReportedHealth.DEGRADED,
  unhealthy: ReportedHealth.UNHEALTHY,
};
const ALGORITHM_OF: Record<string, LoadBalancerAlgorithm> = {
  "round-robin": LoadBalancerAlgorithm.ROUND_ROBIN,
  "least-connections": LoadBalancerAlgorithm.LEAST_CONNECTIONS,
  "weighted-round-robin": LoadBalancerAlgorithm.WEIGHTED_ROUND_ROBIN,
  random: LoadBalancerAlgorithm.RANDOM,
  "power-of-two-choices": LoadBalancerAlgorithm.POWER_OF_TWO_CHOICES,
};
const ALGORITHM_WORD = Object.fromEntries(Object.entries(ALGORITHM_OF).map(([k, v]) => [v, k])) as Record<number, string>;

const epoch = (t: Timestamp | undefined) => (t ? timestampMs(t) : null);
const millis = (d: Duration | undefined) => (d ? Math.round(durationMs(d)) : 0);

/** A server as seed 001 lists it: the documented fields first, then what else Switchyard knows. */
export function serverView(s: Server) {
  return {
    id: s.id,
    name: s.name,
    status: STATUS_WORD[s.status] ?? "offline",
    registeredAt: epoch(s.registerTime),
    lastHeartbeat: epoch(s.lastHeartbeatTime),
    uptime: millis(s.uptime),
    timeSinceLastHeartbeat: millis(s.timeSinceLastHeartbeat),
    groups: s.groups,
    priority: s.priority,
    endpoints: s.endpoints,
    capabilities: s.capabilities,
    maxConcurrent: s.maxConcurrent,
    weight: s.weight ?? s.priority,
    activeTasks: s.activeTasks,
    currentLoad: s.currentLoad,
    kind: s.kind === ServerKind.WORKER ? "worker" : "backend",
    maintenance: s.maintenance ? { reason: s.maintenance.reason, since: epoch(s.maintenance.startTime) } : null,
    metrics: s.lastLoad
      ? { activeTasks: s.lastLoad.activeTasks, cpu: s.lastLoad.cpuPercent ?? null, memory: s.lastLoad.memoryPercent ?? null, gpu: s.lastLoad.gpuPercent ?? null, ...s.lastLoad.custom }
      : null,
  };
}

/** Seed 001 error body; an unknown server is `Not found` / `Server not found: <id>`. */
export function serversError(error: ConnectError, status: number): LegacyReply {
  const info = errorInfo(error);
  if (info?.reason === "SERVER_NOT_FOUND") return { status, body: { error: "Not found", details: `Server not found: ${info.metadata.id ?? ""}` } };
  return taskProcessingError(error, status);
}

const bad = (field: string, message: string) => new AppError("invalid_argument", "INVALID_ARGUMENT", `${field}: ${message}`, { field });
const missing = (field: string) => new AppError("invalid_argument", "INVALID_ARGUMENT", `Missing required field: ${field}`, { field });

function obj(body: unknown, field = "body"): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad(field, "must be a JSON object");
  return body as Record<string, unknown>;
}
function str(b: Record<string, unknown>, f: string): string | undefined {
  const v = b[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw bad(f, "must be a string");
  return v;
}
function int(b: Record<string, unknown>, f: string, min: number, max: number): number | undefined {
  const v = b[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw bad(f, `must be an integer from ${min} to ${max}`);
  return v;
}
function num(b: Record<string, unknown>, f: string, prefix: string): number | undefined {
  const v = b[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw bad(`${prefix}${f}`, "must be a number");
  return v;
}
function strings(b: Record<string, unknown>, f: string): string[] {
  const v = b[f];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw bad(f, "must be a list of strings");
  return v as string[];
}
function stringMap(b: Record<string, unknown>, f: string): Record<string, string> {
  const m = obj(b[f] ?? undefined, f);
  for (const [k, v] of Object.entries(m)) if (typeof v !== "string") throw bad(`${f}.${k}`, "must be a string");
  return m as Record<string, string>;
}
function dateQuery(q: URLSearchParams): string {
  const d = q.get("date") ?? "";
  if (d !== "" && !/^\d{4}-\d\d-\d\d$/.test(d)) throw bad("date", "must be YYYY-MM-DD");
  return d;
}

/** Every page of a list (legacy clients get the whole list, as seed 001 answers it), at most 10,000. */
async function allServers(call: LegacyCall, first: { servers: Server[]; nextPageToken: string }, filter: { status: ServerStatus; group: string }) {
  const out = [...first.servers];
  let token = first.nextPageToken;
  while (token && out.length < 10_000) {
    const page = await call(ServerService.method.listServers, { ...filter, pageSize: 1000, pageToken: token });
    out.push(...page.servers);
    token = page.nextPageToken;
  }
  return out;
}

/** Seed 001's server and load-balancer routes. */
export function serverLegacyFamilies(): LegacyFamily[] {
  return [
    {
      name: "seed-001-servers",
      error: serversError,
      // The original's OpenAPI tags (brucx/cf-worker-template): Servers, Statistics, Load Balancer.
      docTag: (r) => (r.path.startsWith("/api/stats/load-balancer") ? "Load Balancer" : r.path.startsWith("/api/stats") ? "Statistics" : "Servers"),
      routes: [
        route({
          method: "POST",
          path: "/api/servers",
          rpc: ServerService.method.registerServer,
          request(req) {
            const b = obj(req.body);
            const name = str(b, "name");
            if (!name) throw missing("name");
            const endpoints = stringMap(b, "endpoints");
            if (!endpoints.predict) throw missing("endpoints.predict");
            return {
              server: {
                name,
                kind: ServerKind.BACKEND,
                endpoints,
                maxConcurrent: int(b, "maxConcurrent", 0, 1_000_000) ?? 10,
                capabilities: strings(b, "capabilities"),
                groups: strings(b, "groups"),
                priority: int(b, "priority", 0, 1_000_000) ?? 1,
                weight: int(b, "weight", 0, 1_000_000),
                labels: b.labels === undefined ? {} : stringMap(b, "labels"),
              },
              apiKey: str(b, "apiKey") ?? "",
              requestId: str(b, "requestId") ?? "",
            };
          },
          response: (out) => ({ body: { serverId: out.server!.id, message: "Server registered successfully" } }),
        }),
        route({
          method: "GET",
          path: "/api/servers",
          rpc: ServerService.method.listServers,
          request(req) {
            const s = req.query.get("status") ?? "";
            if (s && !STATUS_OF[s]) throw bad("status", "must be online, offline, maintenance or degraded");
            return { status: STATUS_OF[s] ?? ServerStatus.UNSPECIFIED, group: req.query.get("group") ?? "", kind: ServerKind.BACKEND, pageSize: 1000 };
          },
          async response(out, req, call) {
            const s = req.query.get("status") ?? "";
            const servers = await allServers(call, out, { status: STATUS_OF[s] ?? ServerStatus.UNSPECIFIED, group: req.query.get("group") ?? "" });
            return { body: { servers: servers.map(serverView) } };
          },
        }),
        route({
          method: "GET",
          path: "/api/servers/:id",
          rpc: ServerService.method.getServer,
          request: (req) => ({ id: req.params.id }),
          response: (out) => ({ body: serverView(out.server!) }),
        }),
        route({
          method: "POST",
          path: "/api/servers/:id/heartbeat",
          rpc: ServerService.method.heartbeat,
          request(req) {
            const b = obj(req.body);
            const status = str(b, "status");
            if (status !== undefined && !HEALTH_OF[status.toLowerCase()]) throw bad("status", "must be healthy, degraded or unhealthy");
            const m = obj(b.metrics ?? undefined, "metrics");
            const custom: Record<string, number> = {};
            for (const [k, v] of Object.entries(m)) {
              if (["cpu", "memory", "gpu"].includes(k)) continue;
              if (typeof v !== "number" || !Number.isFinite(v)) throw bad(`metrics.${k}`, "must be a number");
              custom[k] = v;
            }
            return {
              id: req.params.id,
              health: status ? HEALTH_OF[status.toLowerCase()] : ReportedHealth.UNSPECIFIED,
              load: {
                activeTasks: int(b, "activeTasks", 0, 10_000_000) ?? 0,
                cpuPercent: num(m, "cpu", "metrics."),
                memoryPercent: num(m, "memory", "metrics."),
                gpuPercent: num(m, "gpu", "metrics."),
                custom,
              },
            };
          },
          response: (out) => {
            const s = out.server!;
            return { body: { id: s.id, success: true, status: STATUS_WORD[s.status], lastHeartbeat: epoch(s.lastHeartbeatTime), nextHeartbeatIn: millis(out.heartbeatInterval) } };
          },
        }),
        route({
          method: "DELETE",
          path: "/api/servers/:id",
          rpc: ServerService.method.unregisterServer,
          request: (req) => ({ id: req.params.id }),
          response: (out) => ({ body: { message: "Server unregistered", serverId: out.server!.id } }),
        }),
        route({
          method: "POST",
          path: "/api/servers/:id/maintenance",
          rpc: ServerService.method.setMaintenance,
          request(req) {
            const b = obj(req.body);
            if (b.maintenance === undefined) throw missing("maintenance");
            if (typeof b.maintenance !== "boolean") throw bad("maintenance", "must be a boolean");
            return { id: req.params.id, enabled: b.maintenance, reason: str(b, "reason") ?? "" };
          },
          response: (out) => {
            const s = out.server!;
            const on = s.status === ServerStatus.MAINTENANCE;
            return {
              body: { message: on ? "Maintenance mode enabled" : "Maintenance mode disabled", serverId: s.id, maintenance: on, reason: s.maintenance?.reason ?? null, status: STATUS_WORD[s.status] },
            };
          },
        }),
        route({
          method: "GET",
          path: "/api/servers/:id/metrics",
          rpc: ServerService.method.getServerMetrics,
          request: (req) => ({ id: req.params.id }),
          response: (out) => {
            const m = out.metrics!;
            return {
              body: {
                serverId: m.serverId,
                metrics: {
                  uptime: millis(m.uptime),
                  tasksProcessed: Number(m.tasksProcessed),
                  successCount: Number(m.successCount),
                  failureCount: Number(m.failureCount),
                  averageProcessingTime: millis(m.averageProcessingTime),
                  currentLoad: m.currentLoad,
                  activeTasks: m.activeTasks,
                },
              },
            };
          },
        }),
        route({
          method: "GET",
          path: "/api/stats/servers/:id",
          rpc: ServerService.method.getServerStats,
          request: (req) => ({ id: req.params.id, date: dateQuery(req.query) }),
          response: (out) => {
            const s = out.stats!;
            return {
              body: {
                serverId: s.serverId,
                tasksProcessed: Number(s.tasksProcessed),
                successCount: Number(s.successCount),
                failureCount: Number(s.failureCount),
                successRate: s.successRate,
                averageProcessingTime: millis(s.averageProcessingTime),
                uptime: s.uptimeRatio,
                date: s.date,
              },
            };
          },
        }),
        route({
          method: "GET",
          path: "/api/stats/load-balancer",
          rpc: LoadBalancerService.method.getLoadBalancerStatus,
          request: (req) => ({ group: req.query.get("group") ?? "" }),
          response: (out) => {
            const s = out.status!;
            return {
              body: {
                algorithm: ALGORITHM_WORD[s.algorithm] ?? "weighted-round-robin",
                serverDistribution: Object.fromEntries(s.servers.map((x) => [x.serverId, { load: x.load, activeTasks: x.activeTasks, weight: x.weight, name: x.name, status: STATUS_WORD[x.status], available: x.available }])),
                totalActiveTasks: Number(s.totalActiveTasks),
                averageLoad: s.averageLoad,
                availableServers: s.availableCount,
                totalCapacity: Number(s.totalCapacity),
              },
            };
          },
        }),
        route({
          method: "POST",
          path: "/api/stats/load-balancer/algorithm",
          rpc: LoadBalancerService.method.setLoadBalancerAlgorithm,
          request(req) {
            const a = str(obj(req.body), "algorithm");
            if (!a) throw missing("algorithm");
            const v = ALGORITHM_OF[a];
            if (!v) throw bad("algorithm", `must be one of ${Object.keys(ALGORITHM_OF).join(", ")}`);
            return { algorithm: v };
          },
          response: (out) => ({ body: { message: "Load balancer algorithm updated", algorithm: ALGORITHM_WORD[out.algorithm], previousAlgorithm: ALGORITHM_WORD[out.previousAlgorithm] } }),
        }),
      ],
    },
  ];
}
