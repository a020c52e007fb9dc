import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs, ValueSchema, type Duration } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus, Health as GrpcHealth } from "../../gen/grpc/health/v1/health_pb.js";
import {
  HealthSchema,
  HealthStatus,
  SystemService,
  type Health,
  type Setting as SettingMessage,
  SettingSchema,
} from "../../gen/switchyard/system/v1/system_service_pb.js";
import type { Clock } from "../core/clock.ts";
import { invalidArgument, notFound } from "../core/errors.ts";
import type { HealthMonitor, HealthReport } from "./health.ts";
import type { RequestMetrics } from "./metrics.ts";
import type { Setting, Settings } from "./settings.ts";

export interface SystemDeps {
  clock: Clock;
  version: string;
  environment: string;
  authRequired: boolean;
  engines: Record<string, string>;
  health: HealthMonitor;
  metrics: RequestMetrics;
  settings: Settings;
  /** Names answered by grpc.health.v1 Check besides "" (the services served). */
  serviceNames: () => string[];
}

const STATUS = { healthy: HealthStatus.HEALTHY, degraded: HealthStatus.DEGRADED, unhealthy: HealthStatus.UNHEALTHY } as const;

/** The Health message of a report. */
export function healthMessage(report: HealthReport): Health {
  return create(HealthSchema, {
    status: STATUS[report.status],
    time: timestampFromMs(report.time),
    draining: report.draining,
    components: report.components,
  });
}

function settingMessage(s: Setting): SettingMessage {
  return create(SettingSchema, {
    name: s.name,
    value: fromJson(ValueSchema, s.value as JsonValue),
    version: BigInt(s.version),
    updateTime: timestampFromMs(s.updatedAt),
  });
}

const ms = (d: Duration | undefined) => (d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : 0);

/** Resolves after `ms`, at the next health change, or when `signal` aborts, whichever is first. */
function nextChange(health: HealthMonitor, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const off = health.onChange(done);
    signal.addEventListener("abort", done);
  });
}

/** SystemService handlers: thin mappings onto health, metrics and settings. */
export function systemService(deps: SystemDeps): Partial<ServiceImpl<typeof SystemService>> {
  return {
    getInfo() {
      const uptime = deps.clock.now() - deps.metrics.snapshot().startTime;
      return {
        version: deps.version,
        environment: deps.environment,
        startTime: timestampFromMs(deps.metrics.snapshot().startTime),
        uptime: durationFromMs(uptime),
        authRequired: deps.authRequired,
        engines: deps.engines,
      };
    },
    getHealth() {
      return { health: healthMessage(deps.health.report()) };
    },
    async *watchHealth(req, ctx: HandlerContext) {
      const interval = req.interval ? ms(req.interval) : 5000;
      if (interval < 100 || interval > 3_600_000) throw invalidArgument("interval", "must be between 100ms and 1h");
      while (!ctx.signal.aborted) {
        yield { health: healthMessage(deps.health.report()) };
        await nextChange(deps.health, interval, ctx.signal);
      }
    },
    getMetrics() {
      const m = deps.metrics.snapshot();
      return {
        requestsTotal: BigInt(m.total),
        requestsByRoute: Object.fromEntries(Object.entries(m.byRoute).map(([k, v]) => [k, BigInt(v)])),
        requestsByStatus: Object.fromEntries(Object.entries(m.byStatus).map(([k, v]) => [k, BigInt(v)])),
        requestsByProtocol: Object.fromEntries(Object.entries(m.byProtocol).map(([k, v]) => [k, BigInt(v)])),
        successRate: m.successRate,
        errorRate: m.errorRate,
        averageResponseTimeMs: m.averageResponseTimeMs,
        startTime: timestampFromMs(m.startTime),
        uptime: durationFromMs(m.uptimeMs),
        version: m.version,
      };
    },
    async getSetting(req) {
      return { setting: settingMessage(await deps.settings.get(req.name)) };
    },
    async listSettings(req) {
      const page = await deps.settings.list({ pageSize: req.pageSize, pageToken: req.pageToken, names: req.names, prefix: req.prefix });
      return { settings: page.settings.map(settingMessage), nextPageToken: page.nextPageToken };
    },
    async setSetting(req) {
      const value = req.value ? toJson(ValueSchema, req.value) : null;
      const expected = req.expectedVersion === undefined ? undefined : Number(req.expectedVersion);
      return { setting: settingMessage(await deps.settings.set(req.name, value, expected)) };
    },
    async deleteSetting(req) {
      await deps.settings.delete(req.name);
      return {};
    },
  };
}

/** The standard grpc.health.v1 service over the same monitor. */
export function grpcHealthService(deps: Pick<SystemDeps, "health" | "serviceNames">): Partial<ServiceImpl<typeof GrpcHealth>> {
  // Besides "" and every service, each health component answers under `switchyard.component.<name>`
  // (e.g. `switchyard.component.storage`): NOT_SERVING while it is degraded or down, so a gRPC
  // prober sees a full disk even though the server as a whole still serves reads.
  const COMPONENT = "switchyard.component.";
  const status = (service: string) => {
    const report = deps.health.report();
    if (service.startsWith(COMPONENT)) {
      const c = report.components.find((x) => x.name === service.slice(COMPONENT.length));
      if (!c) return undefined;
      return c.status === "down" || c.status === "degraded" ? HealthCheckResponse_ServingStatus.NOT_SERVING : HealthCheckResponse_ServingStatus.SERVING;
    }
    if (service !== "" && !deps.serviceNames().includes(service)) return undefined;
    return report.status === "unhealthy" ? HealthCheckResponse_ServingStatus.NOT_SERVING : HealthCheckResponse_ServingStatus.SERVING;
  };
  return {
    check(req) {
      const s = status(req.service);
      if (s === undefined) throw notFound("SERVICE_NOT_FOUND", `service ${req.service} is not served here`, { service: req.service });
      return { status: s };
    },
    async *watch(req, ctx) {
      let last: HealthCheckResponse_ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const s = status(req.service) ?? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
        if (s !== last) {
          last = s;
          yield { status: s };
        }
        await nextChange(deps.health, 5000, ctx.signal);
      }
    },
  };
}
