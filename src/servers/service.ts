import type { ServiceImpl } from "@connectrpc/connect";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { WorkerQueueMode } from "../../gen/switchyard/servers/v1/servers_pb.js";
import { LoadBalancerService, ServerService } from "../../gen/switchyard/servers/v1/servers_service_pb.js";
import { invalidArgument } from "../core/errors.ts";
import { principalOf, tenantOf } from "../core/principal.ts";
import { ALGORITHM, REASON, STATUS, algorithmOf, healthOf, kindOf, loadMessage, loadOf, serverMessage, statusOf } from "./convert.ts";
import type { ServersDomain } from "./servers.ts";

const MODE = { long_running: WorkerQueueMode.LONG_RUNNING, one_shot: WorkerQueueMode.ONE_SHOT, unspecified: WorkerQueueMode.UNSPECIFIED } as const;

/** ServerService: thin mappings from RPCs onto the registry, stats and worker registration. */
export function serverService(d: ServersDomain): Partial<ServiceImpl<typeof ServerService>> {
  const beat = () => ({ heartbeatInterval: durationFromMs(d.registry.heartbeatIntervalMs), heartbeatTimeout: durationFromMs(d.registry.heartbeatTimeoutMs) });
  return {
    async registerServer(req, ctx) {
      const s = req.server;
      if (!s) throw invalidArgument("server", "is required");
      const v = await d.register(tenantOf(ctx), {
        name: s.name,
        kind: kindOf(s.kind),
        endpoints: { ...s.endpoints },
        maxConcurrent: s.maxConcurrent,
        capabilities: s.capabilities,
        groups: s.groups,
        priority: s.priority,
        weight: s.weight,
        labels: { ...s.labels },
        apiKey: req.apiKey || undefined,
        requestId: req.requestId || undefined,
      });
      return { server: serverMessage(v), ...beat() };
    },
    getServer: (req, ctx) => ({ server: serverMessage(d.registry.get(tenantOf(ctx), req.id)) }),
    listServers(req, ctx) {
      const p = d.registry.list(tenantOf(ctx), {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        status: statusOf(req.status),
        group: req.group,
        capability: req.capability,
        kind: kindOf(req.kind),
        name: req.name,
      });
      return { servers: p.items.map(serverMessage), nextPageToken: p.nextPageToken };
    },
    async unregisterServer(req, ctx) {
      return { server: serverMessage(await d.unregister(tenantOf(ctx), req.id)) };
    },
    async heartbeat(req, ctx) {
      const v = await d.registry.heartbeat(tenantOf(ctx), req.id, healthOf(req.health), loadOf(req.load));
      return { server: serverMessage(v), ...beat() };
    },
    async setMaintenance(req, ctx) {
      return { server: serverMessage(await d.registry.setMaintenance(tenantOf(ctx), req.id, req.enabled, req.reason, principalOf(ctx).user)) };
    },
    async getServerMetrics(req, ctx) {
      const m = await d.stats.metrics(tenantOf(ctx), req.id);
      return {
        metrics: {
          serverId: m.serverId,
          uptime: durationFromMs(m.uptimeMs),
          tasksProcessed: BigInt(m.tasksProcessed),
          successCount: BigInt(m.successCount),
          failureCount: BigInt(m.failureCount),
          averageProcessingTime: durationFromMs(m.averageProcessingTimeMs),
          currentLoad: m.currentLoad,
          activeTasks: m.activeTasks,
          lastLoad: loadMessage(m.lastLoad),
        },
      };
    },
    async getServerStats(req, ctx) {
      const s = await d.stats.day(tenantOf(ctx), req.id, req.date);
      return {
        stats: {
          serverId: s.serverId,
          date: s.date,
          tasksProcessed: BigInt(s.tasksProcessed),
          successCount: BigInt(s.successCount),
          failureCount: BigInt(s.failureCount),
          successRate: s.successRate,
          averageProcessingTime: durationFromMs(s.averageProcessingTimeMs),
          uptimeRatio: s.uptimeRatio,
        },
      };
    },
    async checkServerHealth(req, ctx) {
      return { server: serverMessage(await d.checkHealth(tenantOf(ctx), req.id)) };
    },
    async registerWorker(req, ctx) {
      const r = await d.registerWorker(tenantOf(ctx), {
        workerId: req.workerId,
        queue: req.queue,
        capabilities: req.capabilities,
        maxConcurrent: req.maxConcurrent,
        labels: { ...req.labels },
        hostname: req.hostname,
        os: req.os,
        version: req.version,
      });
      const dep = r.queue.deployment;
      const str = (k: string) => (typeof dep?.[k] === "string" ? (dep[k] as string) : "");
      return {
        server: serverMessage(r.server),
        queue: { name: r.queue.name, priority: r.queue.priority, mode: MODE[r.queue.mode] },
        deployment: dep
          ? {
              gitUrl: str("git_url"),
              branch: str("branch"),
              startupCmd: str("startup_cmd"),
              startupTimeout: typeof dep.startup_timeout_secs === "number" ? durationFromMs(dep.startup_timeout_secs * 1000) : undefined,
              requirementsFile: str("requirements_file"),
            }
          : undefined,
        ...beat(),
      };
    },
  };
}

/** LoadBalancerService: status, algorithm switch and pick. */
export function loadBalancerService(d: ServersDomain): Partial<ServiceImpl<typeof LoadBalancerService>> {
  return {
    getLoadBalancerStatus(req, ctx) {
      const s = d.balancer.status(tenantOf(ctx), req.group);
      return {
        status: {
          algorithm: ALGORITHM[s.algorithm],
          servers: s.servers.map((x) => ({ ...x, status: STATUS[x.status] })),
          totalActiveTasks: BigInt(s.totalActiveTasks),
          totalCapacity: BigInt(s.totalCapacity),
          averageLoad: s.averageLoad,
          availableCount: s.availableCount,
          algorithmUpdateTime: s.algorithmUpdateTime === undefined ? undefined : { seconds: BigInt(Math.floor(s.algorithmUpdateTime / 1000)), nanos: (s.algorithmUpdateTime % 1000) * 1e6 },
        },
      };
    },
    async setLoadBalancerAlgorithm(req, ctx) {
      const a = algorithmOf(req.algorithm);
      if (!a) throw invalidArgument("algorithm", "is required");
      const r = await d.balancer.setAlgorithm(tenantOf(ctx), a);
      return { algorithm: ALGORITHM[r.algorithm], previousAlgorithm: ALGORITHM[r.previous] };
    },
    pickServer(req, ctx) {
      if (req.excludeServerIds.length > 100) throw invalidArgument("exclude_server_ids", "at most 100");
      const r = d.balancer.pick(tenantOf(ctx), { capabilities: req.capabilities, group: req.group, excludeServerIds: req.excludeServerIds });
      return {
        server: r.server ? serverMessage(r.server) : undefined,
        noServerReason: r.reason ? REASON[r.reason] : 0,
        algorithm: ALGORITHM[r.algorithm],
        candidateCount: r.candidateCount,
      };
    },
  };
}
