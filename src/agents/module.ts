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
import { ALL_TENANTS } from "../tasks/watch.ts";
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
  tenant: t.tenant,
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
 * The task port over the task engine: the one place the agents domain meets the engine, each
 * call scoped to the session's tenant; the follower watches the agents queue of every tenant.
 */
export function engineTaskPort(tasks: TasksModule): AgentTaskPort {
  const { engine, hub } = tasks;
  let failures = 0;
  return {
    async createTask(input) {
      const { task } = await engine.scoped(input.tenant).createTask({
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
    async cancelTask(tenant, id, reason) {
      await engine.scoped(tenant).cancelTask({ id, reason });
    },
    async getTask(tenant, id) {
      try {
        return agentTask(await engine.scoped(tenant).getTask(id));
      } catch (error) {
        if (error instanceof AppError && error.code === "not_found") return undefined;
        throw error;
      }
    },
    async *watch(signal) {
      for await (const e of hub.watch({ tenant: ALL_TENANTS, taskIds: [], queues: [AGENT_QUEUE], kinds: [] }, signal)) {
        if (e.kind === "failed" || e.kind === "timed_out") failures++;
        yield { kind: KINDS[e.kind] ?? "other", task: agentTask(e.task) };
      }
    },
    workers: (tenant) =>
      engine
        .dispatcherState()
        .sessions.filter((s) => s.tenant === tenant && s.queues.includes(AGENT_QUEUE))
        .map((s) => ({ workerId: s.workerId, streamId: s.id, freeCapacity: s.credits })),
    failures: () => failures,
  };
}

/**
 * Follows the agents queue's task events only while agent sessions are active: a watcher on the
 * task hub makes every task event of the server be mapped (the engine maps them lazily, for
 * watchers only), a cost the hot path of other queues must not pay when no agent works. Each
 * (re)start catches up with `reconcile` after subscribing, so no change is missed in between.
 */
function followAgentTasks(deps: {
  tasks: AgentTaskPort;
  log: ModuleContext["log"];
  apply(ev: AgentTaskEvent): Promise<void>;
  stillNeeded(): boolean;
  onEvent(ev: AgentTaskEvent): unknown;
}) {
  let current: AbortController | undefined;
  let closed = false;
  const ensure = (reconcile: () => Promise<void>) => {
    if (current || closed) return;
    const ac = new AbortController();
    current = ac;
    const events = deps.tasks.watch(ac.signal)[Symbol.asyncIterator]();
    // The first next() subscribes (synchronously, before its first await); then catch up.
    const first = events.next();
    void reconcile().catch((error) => deps.log.error("agents: sessions not reconciled", { error: String(error) }));
    void (async () => {
      try {
        for (let next = await first; !next.done; next = await events.next()) {
          deps.onEvent(next.value);
          await deps.apply(next.value).catch((error) => deps.log.error("agents: task event not applied", { task_id: next.value.task.id, error: String(error) }));
          if (!deps.stillNeeded()) {
            // Checked and cleared in one synchronous step: a session started after this sees no follower and starts one.
            current = undefined;
            ac.abort();
            return;
          }
        }
      } catch (error) {
        if (ac.signal.aborted) return;
        deps.log.warn("agents: task watch restarted", { error: String(error) });
        if (current === ac) current = undefined;
        ensure(reconcile);
      } finally {
        await events.return?.();
      }
    })();
  };
  return {
    ensure,
    stop() {
      closed = true;
      current?.abort();
      current = undefined;
    },
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
  const pool = createPool({ tasks, store, clock: ctx.clock });
  const follower = followAgentTasks({ tasks, log: ctx.log, apply: (ev) => sessions.onTaskEvent(ev), stillNeeded: () => store.activeSessions().length > 0, onEvent: (ev) => ev.task.workerId && pool.noteWorker(ev.task.tenant, ev.task.workerId) });
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
    onActive: () => follower.ensure(() => sessions.reconcile()),
  });
  return {
    name: "agents",
    sessions,
    pool,
    quota,
    integrations,
    services: [
      { service: AgentSessionService, impl: agentSessionService(sessions) } as ServiceRegistration,
      { service: AgentPoolService, impl: agentPoolService(pool) } as ServiceRegistration,
      { service: QuotaService, impl: quotaService(quota, deps.limiter, new Set(ctx.config.trustedProxies)) } as ServiceRegistration,
      { service: IntegrationService, impl: integrationService(integrations) } as ServiceRegistration,
    ],
    legacy: [claudeWorkerFamily({ environment: ctx.config.environment, metrics: ctx.metrics })],
    start() {
      sessions.resume();
      // Sessions left running by a previous process: follow their tasks and catch up.
      if (store.activeSessions().length > 0) follower.ensure(() => sessions.reconcile());
    },
    async close() {
      follower.stop();
      sessions.close();
    },
  };
}
