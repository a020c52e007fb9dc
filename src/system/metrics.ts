import { Counter, Gauge, Histogram, Registry } from "./prom.ts";
import type { Clock } from "../core/clock.ts";

/** One answered request, as the HTTP layer saw it. */
export interface RequestSample {
  protocol: string;
  route: string;
  /** HTTP status, or for gRPC the HTTP status equivalent to its code. */
  status: number;
  durationMs: number;
}

/** Aggregates since start, in the shape of seed 004's `/metrics`. */
export interface MetricsSnapshot {
  total: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  byProtocol: Record<string, number>;
  successRate: number;
  errorRate: number;
  averageResponseTimeMs: number;
  startTime: number;
  uptimeMs: number;
  version: string;
}

/** Request metrics of this process: JSON aggregates and a Prometheus registry (`switchyard_*`). */
export interface RequestMetrics {
  record(sample: RequestSample): void;
  snapshot(): MetricsSnapshot;
  /** Prometheus text exposition of every `switchyard_` metric. */
  prometheus(): Promise<string>;
  readonly contentType: string;
  /** For other components to register their own metrics. */
  readonly registry: Registry;
}

/** Creates the metrics of one server process. */
export function createRequestMetrics(options: { clock: Clock; version: string }): RequestMetrics {
  const { clock, version } = options;
  const startTime = clock.now();
  const registry = new Registry();
  const requests = new Counter({
    name: "switchyard_requests_total",
    help: "Requests answered, by protocol, route and HTTP status",
    labelNames: ["protocol", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "switchyard_request_duration_seconds",
    help: "Time to answer a request (to the end of the stream for streams)",
    labelNames: ["protocol"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  new Gauge({
    name: "switchyard_uptime_seconds",
    help: "Seconds since the server started",
    registers: [registry],
    collect() {
      this.set((clock.now() - startTime) / 1000);
    },
  });
  new Gauge({
    name: "switchyard_average_response_time_ms",
    help: "Mean response time in milliseconds since start",
    registers: [registry],
    collect() {
      this.set(total === 0 ? 0 : totalMs / total);
    },
  });
  const info = new Gauge({ name: "switchyard_info", help: "Build information", labelNames: ["version"] as const, registers: [registry] });
  info.set({ version }, 1);

  let total = 0;
  let totalMs = 0;
  let serverErrors = 0;
  const byRoute = new Map<string, number>();
  const byStatus = new Map<string, number>();
  const byProtocol = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  return {
    registry,
    contentType: registry.contentType,
    record(s) {
      total++;
      totalMs += s.durationMs;
      if (s.status >= 500) serverErrors++;
      bump(byRoute, s.route);
      bump(byStatus, String(s.status));
      bump(byProtocol, s.protocol);
      requests.inc({ protocol: s.protocol, route: s.route, status: String(s.status) });
      duration.observe({ protocol: s.protocol }, s.durationMs / 1000);
    },
    snapshot() {
      return {
        total,
        byRoute: Object.fromEntries(byRoute),
        byStatus: Object.fromEntries(byStatus),
        byProtocol: Object.fromEntries(byProtocol),
        successRate: total === 0 ? 1 : (total - serverErrors) / total,
        errorRate: total === 0 ? 0 : serverErrors / total,
        averageResponseTimeMs: total === 0 ? 0 : totalMs / total,
        startTime,
        uptimeMs: clock.now() - startTime,
        version,
      };
    },
    prometheus: () => registry.metrics(),
  };
}
