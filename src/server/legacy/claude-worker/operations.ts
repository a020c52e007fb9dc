import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AgentPoolService } from "../../../../gen/switchyard/agents/v1/agent_pool_service_pb.js";
import { IntegrationService } from "../../../../gen/switchyard/agents/v1/integration_service_pb.js";
import { QuotaService } from "../../../../gen/switchyard/agents/v1/quota_service_pb.js";
import { HealthStatus, SystemService } from "../../../../gen/switchyard/system/v1/system_service_pb.js";
import type { RequestMetrics } from "../../../system/metrics.ts";
import { route, type LegacyCall, type LegacyFamily } from "../table.ts";
import { seed004Error } from "./errors.ts";
import { seed004Headers } from "./headers.ts";

export { seed004Error } from "./errors.ts";

const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);
const num = (m: Record<string, bigint>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v)]));
const STATUS_WORD = { [HealthStatus.HEALTHY]: "healthy", [HealthStatus.DEGRADED]: "degraded", [HealthStatus.UNHEALTHY]: "unhealthy" } as Record<number, string>;
const RANK: Record<string, number> = { healthy: 0, degraded: 1, unhealthy: 2 };
const worst = (a: string, b: string) => (RANK[b]! > RANK[a]! ? b : a);

export interface OperationsDeps {
  metrics: RequestMetrics;
  environment: string;
  /** Whether any rate-limit class is on (the `rateLimit` component). */
  rateLimited?: boolean;
  /** Whether this deployment serves GitHub (a webhook secret is set): then seed 004's rule applies that neither GitHub nor Claude configured is `degraded`. */
  agentsExpected?: boolean;
}

/** What the agents domain answers, or undefined parts when it is not served. */
async function agentsView(call: LegacyCall) {
  const [pool, quota, integrations] = await Promise.all([
    call(AgentPoolService.method.getAgentPool, {}).catch(() => undefined),
    call(QuotaService.method.getAgentQuota, {}).catch(() => undefined),
    call(IntegrationService.method.getIntegrationStatus, {}).catch(() => undefined),
  ]);
  return { pool, quota: quota?.quota, github: integrations?.github, claude: integrations?.claude };
}

const containersOf = (pool: Awaited<ReturnType<typeof agentsView>>["pool"]) => ({ active: pool?.active ?? 0, total: pool?.total ?? 0, errors: Number(pool?.errors ?? 0n) });
const webhookStatsOf = (g: Awaited<ReturnType<typeof agentsView>>["github"]) => ({
  totalWebhooks: Number(g?.totalWebhooks ?? 0n),
  lastWebhookAt: iso(g?.lastWebhookAt),
  refused: num(g?.refusedWebhooks ?? {}),
});

/**
 * Seed 004's operations routes: `/health` (its components, metrics, quota and github blocks;
 * 200 healthy/degraded, 503 unhealthy), `/metrics` (JSON with containers, deploymentStartTime,
 * webhookStats) and `/metrics/prometheus` (`switchyard_*` and the seed's `claude_code_*`).
 */
export function operationsFamily(deps: OperationsDeps): LegacyFamily {
  return {
    name: "seed-004",
    error: seed004Error,
    prepare: seed004Headers(deps.metrics),
    routes: [
      route({
        method: "GET",
        path: "/health",
        // Open for probes, as the seed leaves it; with a token configured, the pool, quota and
        // GitHub blocks (other RPCs) are filled only for a caller who sends one.
        policy: "public",
        rpc: SystemService.method.getHealth,
        async response(out, _req, call) {
          const health = out.health!;
          const m = deps.metrics.snapshot();
          const agents = await agentsView(call);
          const components = Object.fromEntries(
            health.components.map((c) => [
              c.name,
              c.configured === undefined ? { status: c.status, message: c.message } : { status: c.status, configured: c.configured, message: c.message },
            ]),
          ) as Record<string, { status: string; message?: string; configured?: boolean }>;
          const store = components.database;
          const containers = containersOf(agents.pool);
          const githubConfigured = agents.github?.configured ?? false;
          const claudeConfigured = agents.claude?.configured ?? false;
          const cfg = (on: boolean) => ({ status: on ? "configured" : "not configured", configured: on });
          Object.assign(components, {
            durableObjects: { status: store?.status === "operational" ? "operational" : "down", message: store ? `store: ${store.message}` : "store" },
            containers: { status: "operational", message: `${containers.active} active agent workers` },
            githubApp: cfg(githubConfigured),
            claudeConfig: cfg(claudeConfigured),
            // The name the worker's own source uses for the same component.
            claudeApiKey: cfg(claudeConfigured),
            rateLimit: cfg(deps.rateLimited ?? false),
          });
          let status = STATUS_WORD[health.status] ?? "unhealthy";
          if (deps.agentsExpected && !githubConfigured && !claudeConfigured) status = worst(status, "degraded");
          if (m.errorRate > 0.5) status = "unhealthy";
          if (agents.quota && !agents.quota.allowed) status = worst(status, "degraded");
          const q = agents.quota;
          return {
            status: status === "unhealthy" ? 503 : 200,
            body: {
              status,
              timestamp: iso(health.time),
              uptime: m.uptimeMs,
              version: m.version,
              environment: deps.environment,
              components,
              metrics: {
                requests: { total: m.total, byRoute: m.byRoute, byStatus: m.byStatus, successRate: m.successRate },
                containers,
                averageResponseTime: Math.round(m.averageResponseTimeMs * 100) / 100,
                errorRate: m.errorRate,
              },
              quota: q
                ? {
                    dailyTokens: Number(q.dailyTokens),
                    maxDailyTokens: Number(q.maxDailyTokens),
                    remainingTokens: Number(q.remainingTokens),
                    dailyCost: q.dailyCost,
                    maxDailyCost: q.maxDailyCost,
                    remainingCost: q.remainingCost,
                    activeSessions: q.activeSessions,
                    maxConcurrentSessions: q.maxConcurrentSessions,
                    allowed: q.allowed,
                    reason: q.reason || undefined,
                  }
                : null,
              github: {
                appId: agents.github?.appId || null,
                installationId: agents.github?.installationId || null,
                repositoryCount: agents.github?.repositoryCount ?? 0,
                totalWebhooks: Number(agents.github?.totalWebhooks ?? 0n),
                lastWebhookAt: iso(agents.github?.lastWebhookAt),
              },
            },
          };
        },
      }),
      route({
        method: "GET",
        path: "/metrics",
        rpc: SystemService.method.getMetrics,
        async response(out, _req, call) {
          const agents = await agentsView(call);
          return {
            body: {
              requests: { total: Number(out.requestsTotal), byRoute: num(out.requestsByRoute), byStatus: num(out.requestsByStatus), successRate: out.successRate },
              containers: containersOf(agents.pool),
              averageResponseTime: Math.round(out.averageResponseTimeMs * 100) / 100,
              deploymentStartTime: iso(out.startTime),
              uptime: out.uptime ? Number(out.uptime.seconds) * 1000 + Math.floor(out.uptime.nanos / 1e6) : 0,
              version: out.version,
              webhookStats: webhookStatsOf(agents.github),
            },
          };
        },
      }),
      route({
        method: "GET",
        path: "/metrics/prometheus",
        rpc: SystemService.method.getMetrics,
        async response(out, _req, call) {
          const agents = await agentsView(call);
          const c = containersOf(agents.pool);
          const m = deps.metrics.snapshot();
          const series = (name: string, type: string, help: string, value: string) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
          const seed =
            series("claude_code_requests_total", "counter", "Total number of requests", String(Number(out.requestsTotal))) +
            series("claude_code_containers_active", "gauge", "Number of active containers", String(c.active)) +
            series("claude_code_containers_total", "counter", "Total containers created", String(c.total)) +
            series("claude_code_container_errors_total", "counter", "Number of container errors", String(c.errors)) +
            series("claude_code_average_response_time_ms", "gauge", "Average response time in milliseconds", out.averageResponseTimeMs.toFixed(2)) +
            series("claude_code_uptime_seconds", "gauge", "Uptime in seconds", (m.uptimeMs / 1000).toFixed(2)) +
            series("claude_code_webhooks_total", "counter", "Verified GitHub webhook deliveries", String(Number(agents.github?.totalWebhooks ?? 0n)));
          return { body: (await deps.metrics.prometheus()) + "\n" + seed, contentType: deps.metrics.contentType };
        },
      }),
    ],
  };
}

