import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { HealthStatus, SystemService } from "../../../gen/switchyard/system/v1/system_service_pb.js";
import type { RequestMetrics } from "../../system/metrics.ts";
import { codeName } from "../errors.ts";
import { route, type LegacyFamily } from "./table.ts";

/** Seed 004 error codes by Connect code; anything else is INTERNAL_ERROR. */
const SEED_004_CODES: Record<string, string> = {
  invalid_argument: "VALIDATION_ERROR",
  out_of_range: "VALIDATION_ERROR",
  failed_precondition: "VALIDATION_ERROR",
  unauthenticated: "UNAUTHORIZED",
  permission_denied: "UNAUTHORIZED",
  not_found: "NOT_FOUND",
  resource_exhausted: "RATE_LIMIT_EXCEEDED",
};

const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);
const num = (m: Record<string, bigint>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v)]));
const STATUS_WORD = { [HealthStatus.HEALTHY]: "healthy", [HealthStatus.DEGRADED]: "degraded", [HealthStatus.UNHEALTHY]: "unhealthy" } as Record<number, string>;

/** Seed 004 (Claude Code Worker) error body: `{ error: CODE, message, timestamp }`. */
export function seed004Error(error: ConnectError, status: number) {
  return {
    status,
    body: { error: SEED_004_CODES[codeName(error.code)] ?? "INTERNAL_ERROR", message: error.rawMessage, timestamp: new Date().toISOString() },
  };
}

/**
 * Seed 004's operations routes: `/health` (200 healthy/degraded, 503 unhealthy, with
 * components and request metrics), `/metrics` (JSON) and `/metrics/prometheus` (text).
 */
export function operationsFamily(deps: { metrics: RequestMetrics; environment: string }): LegacyFamily {
  return {
    name: "seed-004",
    error: seed004Error,
    routes: [
      route({
        method: "GET",
        path: "/health",
        policy: "public",
        rpc: SystemService.method.getHealth,
        async response(out) {
          const health = out.health!;
          const m = deps.metrics.snapshot();
          const status = STATUS_WORD[health.status] ?? "unhealthy";
          return {
            status: status === "unhealthy" ? 503 : 200,
            body: {
              status,
              timestamp: iso(health.time),
              uptime: m.uptimeMs,
              version: m.version,
              environment: deps.environment,
              components: Object.fromEntries(
                health.components.map((c) => [
                  c.name,
                  c.configured === undefined ? { status: c.status, message: c.message } : { status: c.status, configured: c.configured, message: c.message },
                ]),
              ),
              metrics: {
                requests: { total: m.total, byRoute: m.byRoute, byStatus: m.byStatus, successRate: m.successRate },
                averageResponseTime: Math.round(m.averageResponseTimeMs * 100) / 100,
                errorRate: m.errorRate,
              },
            },
          };
        },
      }),
      route({
        method: "GET",
        path: "/metrics",
        rpc: SystemService.method.getMetrics,
        response(out) {
          return {
            body: {
              requests: { total: Number(out.requestsTotal), byRoute: num(out.requestsByRoute), byStatus: num(out.requestsByStatus), successRate: out.successRate },
              averageResponseTime: Math.round(out.averageResponseTimeMs * 100) / 100,
              deploymentStartTime: iso(out.startTime),
              uptime: out.uptime ? Number(out.uptime.seconds) * 1000 + Math.floor(out.uptime.nanos / 1e6) : 0,
              version: out.version,
            },
          };
        },
      }),
      route({
        method: "GET",
        path: "/metrics/prometheus",
        rpc: SystemService.method.getMetrics,
        async response() {
          return { body: await deps.metrics.prometheus(), contentType: deps.metrics.contentType };
        },
      }),
    ],
  };
}
