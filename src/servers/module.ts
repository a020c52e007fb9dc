import { LoadBalancerService, ServerService } from "../../gen/switchyard/servers/v1/servers_service_pb.js";
import { AppError } from "../core/errors.ts";
import { serverLegacyFamilies } from "../server/legacy/task-processing/servers.ts";
import { runqyWorkerFamilies } from "../server/legacy/runqy/workers.ts";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import type { TasksModule } from "../tasks/module.ts";
import type { TaskEngine } from "../tasks/engine.ts";
import type { QueueConfig, Task } from "../tasks/types.ts";
import { createServersDomain, type ServersDomain } from "./servers.ts";
import { loadBalancerService, serverService } from "./service.ts";
import type { PortTask, QueueSettings, TaskPort } from "./task-port.ts";

export interface ServersModule extends DomainModule {
  domain: ServersDomain;
  /** Group-commit figures (tests and benchmarks check that heartbeats share commits). */
  committerStats(): { groups: number; operations: number };
}

const READY_KINDS = new Set(["created", "unblocked", "released", "lease_expired", "retried", "retry_scheduled"]);

const portTask = (t: Task): PortTask => ({
  id: t.id,
  queue: t.queue,
  type: t.type,
  priority: t.priority,
  payload: t.payload,
  requiredCapabilities: t.requiredCapabilities,
  timeoutMs: t.timeoutMs,
  attempt: t.attempt,
  maxAttempts: t.maxAttempts,
  metadata: t.metadata,
});

/** Refusals a holder's call may meet: the task moved on, not a failure of ours. */
const refused = (e: unknown) => e instanceof AppError && e.code !== "internal" && e.code !== "invalid_argument";

/**
 * The servers domain's port onto the task engine. The engine is not tenant-aware yet: the
 * tenant is carried to here and dropped; when the engine takes one, only this adapter changes.
 */
export function taskPortOf(engine: TaskEngine): TaskPort {
  const settings = (c: QueueConfig, subQueues: QueueConfig[]): QueueSettings => ({
    name: c.name,
    priority: c.priority,
    mode: c.mode,
    subQueues: (subQueues.length ? subQueues : [c]).map((q) => ({ name: q.name, priority: q.priority })),
    deployment: c.deployment,
  });
  return {
    readyTasks: async (tenant, queue, limit) => (await engine.scoped(tenant).listReadyTasks({ queues: [queue], pageSize: limit })).items.map(portTask),
    async claimFor(tenant, taskId, serverId, leaseMs) {
      try {
        const a = await engine.scoped(tenant).claimTask({ id: taskId, workerId: serverId, leaseMs });
        return { task: portTask(a.task), fencingToken: a.lease.fencingToken, leaseExpiresAt: a.lease.expiresAt };
      } catch (e) {
        if (refused(e)) return undefined;
        throw e;
      }
    },
    async complete(tenant, taskId, fencingToken, result) {
      try {
        await engine.scoped(tenant).completeTask({ id: taskId, fencingToken, result: result as never });
        return true;
      } catch (e) {
        if (refused(e)) return false;
        throw e;
      }
    },
    async fail(tenant, taskId, fencingToken, error, retryDelayMs) {
      try {
        await engine.scoped(tenant).failTask({ id: taskId, fencingToken, error: { ...error, details: error.details as never }, retryDelayMs });
        return true;
      } catch (e) {
        if (refused(e)) return false;
        throw e;
      }
    },
    async extendLease(tenant, taskId, fencingToken, leaseMs) {
      try {
        const r = await engine.scoped(tenant).heartbeat({ id: taskId, fencingToken, leaseMs: Math.min(leaseMs, engine.config.maxLeaseMs) });
        return r.lease !== undefined;
      } catch (e) {
        if (refused(e)) return false;
        throw e;
      }
    },
    releaseHeldBy: async (tenant, holder) => (await engine.scoped(tenant).releaseHeldBy(holder)).map((t) => t.id),
    setDrained: (tenant, holder, drained) => engine.scoped(tenant).setHolderDrained(holder, drained),
    runningByHolder: (tenant) => (tenant === undefined ? engine.runningHolders(true) : engine.scoped(tenant).runningHolders()),
    countsFor: (tenant, holder, range) => engine.scoped(tenant).holderCounts(holder, range),
    streamingWorkers: () => new Set(engine.dispatcherState().sessions.map((s) => s.workerId)),
    onHolderChange: (listener) =>
      engine.onChange((c) => {
        if (c.kind === "claimed" && c.holder) listener({ taskId: c.taskId, claimedBy: c.holder, leftRunning: false });
        else if (c.previousState === "running" && c.state !== "running") listener({ taskId: c.taskId, claimedBy: undefined, leftRunning: true });
      }),
    chooseStreams: (choose) => engine.setSessionChooser(choose),
    onReady: (listener) => engine.onChange((c) => READY_KINDS.has(c.kind) && c.state === "pending" && listener(c.queue)),
    async queueConfig(tenant, queue) {
      const all: QueueConfig[] = [];
      let token = "";
      do {
        const page = await engine.scoped(tenant).listQueueConfigs({ pageSize: 1000, pageToken: token });
        all.push(...page.items);
        token = page.nextPageToken;
      } while (token && all.length < 10_000);
      const exact = all.find((c) => c.name === queue);
      const subs = all.filter((c) => c.name.startsWith(`${queue}.`) || c.name.startsWith(`${queue}:`));
      if (exact) return settings(exact, subs);
      if (subs.length) return { ...settings(subs[0]!, subs), name: queue };
      return undefined;
    },
  };
}

/** The servers domain as served: ServerService, LoadBalancerService, seed 001 and seed 003 routes. */
export function createServersModule(ctx: ModuleContext, tasksModule: TasksModule): ServersModule {
  const c = ctx.config.servers;
  let port = ctx.config.port;
  const host = ctx.config.host === "0.0.0.0" || ctx.config.host === "::" ? "127.0.0.1" : ctx.config.host;
  const domain = createServersDomain({
    database: ctx.database,
    clock: ctx.clock,
    log: ctx.log,
    secrets: ctx.secrets,
    tasks: taskPortOf(tasksModule.engine),
    backendAllow: c.backendAllow,
    heartbeatTimeoutMs: c.heartbeatTimeoutMs,
    healthCheckIntervalMs: c.healthCheckIntervalMs,
    dispatchTimeoutMs: c.dispatchTimeoutMs,
    pushQueues: c.pushQueues,
    callbackBase: () => (c.publicUrl ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}`).replace(/\/$/, ""),
  });
  return {
    name: "servers",
    domain,
    committerStats: () => ({ ...ctx.database.committer.stats }),
    services: [
      { service: ServerService, impl: serverService(domain) } as ServiceRegistration,
      { service: LoadBalancerService, impl: loadBalancerService(domain) } as ServiceRegistration,
    ],
    legacy: [...serverLegacyFamilies(), ...runqyWorkerFamilies()],
    start(listening) {
      if (listening) port = listening.port;
      domain.start();
    },
    close: () => domain.stop(),
  };
}
