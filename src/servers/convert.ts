import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  HealthCheckResult,
  LoadBalancerAlgorithm,
  NoServerReason,
  ReportedHealth,
  ServerKind,
  ServerSchema,
  ServerStatus,
  type LoadReport as LoadReportMessage,
  type Server,
} from "../../gen/switchyard/servers/v1/servers_pb.js";
import type { Algorithm, LoadReport, NoServerReason as Reason, ReportedHealth as Health, ServerKind as Kind, ServerStatus as Status, ServerView } from "./types.ts";

const ts = (m: number | undefined) => (m === undefined ? undefined : timestampFromMs(m));

export const KIND: Record<Kind, ServerKind> = { backend: ServerKind.BACKEND, worker: ServerKind.WORKER };
export const kindOf = (k: ServerKind): Kind | undefined => (k === ServerKind.BACKEND ? "backend" : k === ServerKind.WORKER ? "worker" : undefined);
export const STATUS: Record<Status, ServerStatus> = {
  online: ServerStatus.ONLINE,
  offline: ServerStatus.OFFLINE,
  maintenance: ServerStatus.MAINTENANCE,
  degraded: ServerStatus.DEGRADED,
};
export const statusOf = (s: ServerStatus): Status | undefined => (Object.entries(STATUS).find(([, v]) => v === s)?.[0] as Status | undefined);
const HEALTH: Record<Health, ReportedHealth> = { healthy: ReportedHealth.HEALTHY, degraded: ReportedHealth.DEGRADED, unhealthy: ReportedHealth.UNHEALTHY };
export const healthOf = (h: ReportedHealth): Health | undefined => (Object.entries(HEALTH).find(([, v]) => v === h)?.[0] as Health | undefined);
export const ALGORITHM: Record<Algorithm, LoadBalancerAlgorithm> = {
  "round-robin": LoadBalancerAlgorithm.ROUND_ROBIN,
  "least-connections": LoadBalancerAlgorithm.LEAST_CONNECTIONS,
  "weighted-round-robin": LoadBalancerAlgorithm.WEIGHTED_ROUND_ROBIN,
  random: LoadBalancerAlgorithm.RANDOM,
  "power-of-two-choices": LoadBalancerAlgorithm.POWER_OF_TWO_CHOICES,
};
export const algorithmOf = (a: LoadBalancerAlgorithm): Algorithm | undefined => (Object.entries(ALGORITHM).find(([, v]) => v === a)?.[0] as Algorithm | undefined);
export const REASON: Record<Reason, NoServerReason> = {
  no_match: NoServerReason.NO_MATCH,
  none_available: NoServerReason.NONE_AVAILABLE,
  all_at_capacity: NoServerReason.ALL_AT_CAPACITY,
};

export function loadMessage(l: LoadReport | undefined): MessageInitShape<typeof ServerSchema>["lastLoad"] {
  if (!l) return undefined;
  return { activeTasks: l.activeTasks, cpuPercent: l.cpuPercent, memoryPercent: l.memoryPercent, gpuPercent: l.gpuPercent, custom: l.custom, reportTime: ts(l.reportTime) };
}

export function loadOf(m: LoadReportMessage | undefined): Omit<LoadReport, "reportTime"> | undefined {
  if (!m) return undefined;
  return { activeTasks: m.activeTasks, cpuPercent: m.cpuPercent, memoryPercent: m.memoryPercent, gpuPercent: m.gpuPercent, custom: { ...m.custom } };
}

/** A registry view as the API shows it (the API key never leaves). */
export function serverMessage(v: ServerView): Server {
  const h = v.health;
  return create(ServerSchema, {
    id: v.id,
    name: v.name,
    kind: KIND[v.kind],
    status: STATUS[v.status],
    endpoints: v.endpoints,
    maxConcurrent: v.maxConcurrent,
    capabilities: v.capabilities,
    groups: v.groups,
    priority: v.priority,
    weight: v.weight,
    labels: v.labels,
    hasApiKey: v.apiKeySealed !== undefined,
    reportedHealth: v.reportedHealth ? HEALTH[v.reportedHealth] : ReportedHealth.UNSPECIFIED,
    activeTasks: v.activeTasks,
    currentLoad: v.currentLoad,
    lastLoad: loadMessage(v.lastLoad),
    healthCheck:
      h.lastCheckTime === undefined && h.consecutiveFailures === 0
        ? undefined
        : {
            lastResult: h.lastResult === "passing" ? HealthCheckResult.PASSING : h.lastResult === "failing" ? HealthCheckResult.FAILING : HealthCheckResult.UNSPECIFIED,
            lastCheckTime: ts(h.lastCheckTime),
            lastLatency: durationFromMs(h.lastLatencyMs),
            lastHttpStatus: h.lastHttpStatus,
            lastError: h.lastError,
            consecutiveFailures: h.consecutiveFailures,
            lastSuccessTime: ts(h.lastSuccessTime),
          },
    maintenance: v.maintenance ? { reason: v.maintenance.reason, startTime: ts(v.maintenance.startTime), setBy: v.maintenance.setBy } : undefined,
    registerTime: ts(v.registerTime),
    lastHeartbeatTime: ts(v.lastHeartbeatTime),
    uptime: durationFromMs(v.uptimeMs),
    timeSinceLastHeartbeat: durationFromMs(v.timeSinceLastHeartbeatMs),
    updateTime: ts(v.updateTime),
    queues: v.queues,
  });
}
