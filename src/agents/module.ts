import { AgentPoolService } from "../../gen/switchyard/agents/v1/agent_pool_service_pb.js";
import { AgentSessionService } from "../../gen/switchyard/agents/v1/agent_session_service_pb.js";
import { IntegrationService } from "../../gen/switchyard/agents/v1/integration_service_pb.js";
import { QuotaService } from "../../gen/switchyard/agents/v1/quota_service_pb.js";
import { AppError } from "../core/errors.ts";
import type { RateLimiter } from "../edge/limiter.ts";
import { claudeWorkerFamily } from "../server/legacy/claude-worker/routes.ts";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import type { TasksModule } from "../tasks/module.ts";
import type { Task, TaskEventKind } from "../tasks/types.ts";
import { createIntegrations, type Integrations } from "./integrations.ts";
import { createPool, type Pool } from "./pool.ts";
import { createQuota, type Quota } from "./quota.ts";
import { agentPoolService, agentSessionService, integrationService, quotaService } from "./service.ts";
import { createSessions, type Sessions } from "./sessions.ts";
import { createAgentStore } from "./store.ts";
import { AGENT_QUEUE, type AgentTask, type AgentTaskEvent, type AgentTaskPort } from "./task-port.ts";
import type { Json } from "./types.ts";

export interface AgentsModule extends DomainModule {
  sessions: Sessions;
  pool: Pool;
  quota: Quota;
  integrations: Integrations;
}

const agentTask = (t: Task): AgentTask => ({
  id: t.id,
  state: t.state,
  fencingToken: t.lease?.fencingToken,
  workerId: t.workerId,
  result: t.result as Json | undefined,
  errorMessage: t.error?.message,
  errorReason: t.error?.reason,
});

const KINDS: Partial<Record<TaskEventKind, AgentTaskEvent["kind"]>> = {
  claimed: "claimed",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
  timed_out: "timed_out",
  lease_expired: "lease_expired",
  deleted: "deleted",
};

/**
 * The task port over the task engine: the one place the agents domain meets the engine.
 * The engine has no tenant yet, so `tenant` is not passed on (the tenants change adapts here).
 */
export function engineTaskPort(tasks: TasksModule): AgentTaskPort {
  const { engine, hub } = tasks;
  let failures = 0;
  return {
    async createTask(input) {
      const { task } = await engine.createTask({
        id: input.id,
        queue: AGENT_QUEUE,
        type: input.type,
        payload: input.payload,
        priority: input.priority,
        timeoutMs: input.timeoutMs,
        requiredCapabilities: input.requiredCapabilities,
        maxAttempts: 1,
      });
      return agentTask(task);
    },
    async cancelTask(_tenant, id, reason) {
      await engine.cancelTask({ id, reason });
    },
    getTask(_tenant, id) {
      try {
        return agentTask(engine.getTask(id));
      } catch (error) {
        if (error instanceof AppError && error.code === "not_found") return undefined;
        throw error;
      }
    },
    async *watch(signal) {
      for await (const e of hub.watch({ taskIds: [], queues: [AGENT_QUEUE], kinds: [] }, signal)) {
        if (e.kind === "failed" || e.kind === "timed_out") failures++;
        yield { kind: KINDS[e.kind] ?? "other", task: agentTask(e.task) };
      }
    },
    workers: () =>
      engine
        .dispatcherState()
        .sessions.filter((s) => s.queues.includes(AGENT_QUEUE))
        .map((s) => ({ workerId: s.workerId, streamId: s.id, freeCapacity: s.credits })),
    failures: () => failures,
  };
}

/**
 * The agents domain as served: sessions (AgentSessionService), the pool (AgentPoolService),
 * quotas (QuotaService), GitHub and Claude (IntegrationService), and seed 004's legacy family.
 */
export function createAgentsModule(ctx: ModuleContext, deps: { tasks: TasksModule; limiter?: RateLimiter }): AgentsModule {
  const store = createAgentStore(ctx.database);
  const tasks = engineTaskPort(deps.tasks);
  const quota = createQuota({
    store,
    clock: ctx.clock,
    limits: { maxDailyTokens: ctx.config.agentMaxDailyTokens, maxDailyCost: ctx.config.agentMaxDailyCost, maxConcurrentSessions: ctx.config.agentMaxConcurrentSessions },
  });
  let sessions: Sessions;
  const integrations = createIntegrations({
    database: ctx.database,
    store,
    clock: ctx.clock,
    secrets: ctx.secrets,
    log: ctx.log,
    webhookSecret: ctx.config.githubWebhookSecret,
    appId: ctx.config.githubAppId,
    appSlug: ctx.config.githubAppSlug,
    sessions: () => sessions,
  });
  sessions = createSessions({
    database: ctx.database,
    store,
    tasks,
    clock: ctx.clock,
    secrets: ctx.secrets,
    quota,
    log: ctx.log,
    storedClaudeKey: (tenant) => integrations.claudeKey(tenant),
    hasStoredClaudeKey: (tenant) => integrations.hasClaudeKey(tenant),
    waitMs: ctx.config.agentWaitMs,
  });
  const pool = createPool({ tasks, store, clock: ctx.clock });
  const stop = new AbortController();
  // Follow the agents queue from creation, so no task change between creation and start is missed.
  void (async () => {
    for (;;) {
      try {
        for await (const ev of tasks.watch(stop.signal)) {
          if (ev.task.workerId) pool.noteWorker(ev.task.workerId);
          await sessions.onTaskEvent(ev).catch((error) => ctx.log.error("agents: task event not applied", { task_id: ev.task.id, error: String(error) }));
        }
        return;
      } catch (error) {
        if (stop.signal.aborted) return;
        ctx.log.warn("agents: task watch restarted", { error: String(error) });
      }
    }
  })();
  return {
    name: "agents",
    sessions,
    pool,
    quota,
    integrations,
    services: [
      { service: AgentSessionService, impl: agentSessionService(sessions) } as ServiceRegistration,
      { service: AgentPoolService, impl: agentPoolService(pool) } as ServiceRegistration,
      { service: QuotaService, impl: quotaService(quota, deps.limiter) } as ServiceRegistration,
      { service: IntegrationService, impl: integrationService(integrations) } as ServiceRegistration,
    ],
    legacy: [claudeWorkerFamily({ environment: ctx.config.environment, metrics: ctx.metrics })],
    start() {
      sessions.resume();
    },
    async close() {
      stop.abort();
      sessions.close();
    },
  };
}
