import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import { createHealthChecker } from "./health-checker.ts";
import { createLoadBalancer } from "./load-balancer.ts";
import { createPushDispatcher } from "./push-dispatcher.ts";
import { checkServerName } from "./register-rules.ts";
import { createRegistry } from "./registry.ts";
import { createServerStats } from "./server-stats.ts";
import { createUrlGuard, type UrlGuard } from "./ssrf.ts";
import { createServerStore } from "./store.ts";
import type { TaskPort } from "./task-port.ts";
import type { NewServer } from "./types.ts";

export interface ServersDomainDeps {
  database: Database;
  clock: Clock;
  log: Logger;
  secrets: SecretBox;
  tasks: TaskPort;
  backendAllow: string[];
  heartbeatTimeoutMs: number;
  healthCheckIntervalMs: number;
  dispatchTimeoutMs: number;
  pushQueues: string[];
  callbackBase: () => string;
  /** Tests inject a resolver (and a random source for the balancer). */
  resolve?: (host: string) => Promise<string[]>;
  random?: () => number;
}

/** The servers domain wired together: registry, load balancer, health checker, push dispatcher, stats. */
export function createServersDomain(deps: ServersDomainDeps) {
  const { database, clock, log, tasks } = deps;
  const store = createServerStore(database.sqlite);
  const guard: UrlGuard = createUrlGuard(deps.backendAllow, deps.resolve);
  const registry = createRegistry({ store, committer: database.committer, clock, secrets: deps.secrets, guard, tasks, heartbeatTimeoutMs: deps.heartbeatTimeoutMs });
  const balancer = createLoadBalancer({ registry, store, committer: database.committer, clock, random: deps.random });
  let dispatcherKick = () => {};
  const health = createHealthChecker({ registry, guard, clock, log, intervalMs: deps.healthCheckIntervalMs, onRestored: () => dispatcherKick() });
  const dispatcher = createPushDispatcher({
    registry,
    balancer,
    health,
    tasks,
    guard,
    clock,
    log,
    queues: deps.pushQueues,
    dispatchTimeoutMs: deps.dispatchTimeoutMs,
    callbackBase: deps.callbackBase,
  });
  dispatcherKick = dispatcher.kick;
  const stats = createServerStats({ registry, store, tasks, clock });
  // Pull workers are chosen by the same balancer as backends.
  tasks.chooseStreams((streams) => balancer.pickStream(streams));
  const unsubscribe = [
    tasks.onReady((queue) => dispatcher.pushes(queue) && dispatcher.kick()),
    tasks.onHolderChange((c) => c.leftRunning && dispatcher.kick()),
  ];
  let sweepTimer: ReturnType<typeof setInterval> | undefined;

  return {
    registry,
    balancer,
    health,
    dispatcher,
    stats,
    guard,

    /** Registers a server; a backend with a `health` endpoint is probed at once. */
    async register(tenant: string, input: NewServer) {
      const v = await registry.register(tenant, input);
      if (v.kind === "backend" && v.endpoints.health) {
        void health.probe(registry.entry(tenant, v.id)).then(() => dispatcher.kick(), () => {});
      }
      dispatcher.kick();
      return v;
    },

    unregister: (tenant: string, id: string) => registry.unregister(tenant, id),

    /** Probes a backend now. */
    async checkHealth(tenant: string, id: string) {
      const e = registry.entry(tenant, id);
      if (!e.endpoints.health) throw new AppError("failed_precondition", "HEALTH_ENDPOINT_MISSING", `server ${id} registered no health endpoint`, { id });
      await health.probe(e);
      dispatcher.kick();
      return registry.view(e);
    },

    /**
     * Seed 003 registration: the queue's settings and deployment, and a WORKER entry named
     * worker_id (or `<hostname>-<queue>` when the worker sends none, as runqy's worker does).
     */
    async registerWorker(
      tenant: string,
      w: { workerId: string; queue: string; capabilities?: string[]; maxConcurrent?: number; labels?: Record<string, string>; hostname?: string; os?: string; version?: string },
    ) {
      if (!w.queue) throw invalidArgument("queue", "is required");
      if (!/^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,127}$/.test(w.queue)) throw invalidArgument("queue", "must be 1–128 characters of letters, digits, . _ : -, starting with a letter or digit");
      const queue = await tasks.queueConfig(tenant, w.queue);
      if (!queue) throw new AppError("not_found", "QUEUE_NOT_FOUND", `queue '${w.queue}' not found`, { queue: w.queue });
      const derived = `${(w.hostname || "worker").replace(/[^A-Za-z0-9_.:-]/g, "-").slice(0, 100)}-${w.queue}`.slice(0, 128);
      const workerId = w.workerId || derived;
      checkServerName("worker_id", workerId);
      const labels = { ...(w.labels ?? {}) };
      if (w.hostname) labels.hostname = w.hostname.slice(0, 256);
      if (w.os) labels.os = w.os.slice(0, 256);
      if (w.version) labels.version = w.version.slice(0, 256);
      const server = await registry.registerWorker(tenant, { workerId, queue: w.queue, capabilities: w.capabilities, maxConcurrent: w.maxConcurrent, labels });
      return { server, queue };
    },

    start(): void {
      health.start();
      dispatcher.start();
      sweepTimer ??= setInterval(() => void registry.sweep().catch((error) => log.error("server sweep failed", { error: String(error) })), 1000);
      void registry.sweep().catch(() => {});
    },

    async stop(): Promise<void> {
      health.stop();
      if (sweepTimer) clearInterval(sweepTimer);
      sweepTimer = undefined;
      for (const u of unsubscribe) u();
      await dispatcher.stop();
    },
  };
}

export type ServersDomain = ReturnType<typeof createServersDomain>;
