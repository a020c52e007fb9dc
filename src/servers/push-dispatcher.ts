import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { callBackend } from "./backend-http.ts";
import type { HealthChecker } from "./health-checker.ts";
import type { LoadBalancer } from "./load-balancer.ts";
import type { Registry } from "./registry.ts";
import type { UrlGuard } from "./ssrf.ts";
import type { PortClaim, PortTask, TaskPort } from "./task-port.ts";
import type { ServerEntry } from "./types.ts";

export interface PushDispatcherDeps {
  registry: Registry;
  balancer: LoadBalancer;
  health: HealthChecker;
  tasks: TaskPort;
  guard: UrlGuard;
  clock: Clock;
  log: Logger;
  queues: string[];
  dispatchTimeoutMs: number;
  /** Base URL for `callback_url` (`<base>/api/task/<id>`). */
  callbackBase: () => string;
  /** Lease of a task an async backend accepted, when the task sets no timeout (seed 001: 1 hour). */
  asyncLeaseMs?: number;
}

/** Ready tasks looked at per queue in one round. */
const ROUND = 64;

const ACCEPTED = new Set(["accepted", "queued", "processing", "pending", "running"]);
const FAILED = new Set(["error", "failed", "failure"]);

/** Backoff before a failed dispatch is tried again (on another backend): 0.5 s doubling, at most 30 s. */
export const dispatchBackoff = (attempt: number) => Math.min(30_000, 500 * 2 ** Math.max(0, attempt - 1));

/**
 * Pushes ready tasks of the push queues to HTTP backends (seed 001's model). Each round looks
 * at the head of every push queue's ready set, picks a backend for each task with the load
 * balancer (by the task's capabilities and `metadata.group`, skipping backends it already
 * failed on), claims the task on the backend's behalf (its lease, its fencing token) and POSTs
 * it to the backend's `predict` endpoint. The answer is the result (sync), an acceptance (the
 * backend reports later through `PUT /api/task/:id`; also when the task was created with
 * `async: true`), or a reported error. A failed or timed-out POST fails the attempt with
 * backoff, counts against the backend's health, and the retry goes to another backend.
 */
export function createPushDispatcher(deps: PushDispatcherDeps) {
  const { registry, balancer, health, tasks, guard, log } = deps;
  const asyncLeaseMs = deps.asyncLeaseMs ?? 3_600_000;
  // The claim outlives the POST a little; the task engine allows leases of at most an hour.
  const syncLeaseMs = Math.min(3_600_000, deps.dispatchTimeoutMs + 10_000);
  const queues = new Set(deps.queues);
  /** Backends a task failed on, so the retry goes elsewhere. */
  const failedOn = new Map<string, Set<string>>();
  const inflight = new Set<Promise<void>>();
  let queued = false;
  let running = false;
  let again = false;
  let stopped = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let dispatched = 0;

  function kick(): void {
    if (stopped || queues.size === 0) return;
    if (running) {
      again = true;
      return;
    }
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      void round();
    });
  }

  async function round(): Promise<void> {
    running = true;
    try {
      for (const tenant of registry.tenants()) {
        // Read no more of the ready set than the backends have room for (often none).
        let room = balancer.room(tenant);
        for (const queue of queues) {
          if (room <= 0) break;
          const ready = await tasks.readyTasks(tenant, queue, Math.min(ROUND, room));
          const claims: Promise<void>[] = [];
          for (const task of ready) {
            const group = typeof task.metadata?.group === "string" ? task.metadata.group : "";
            const pick = balancer.pick(tenant, { capabilities: task.requiredCapabilities, group, excludeServerIds: [...(failedOn.get(task.id) ?? [])] });
            if (!pick.server) {
              if (pick.reason !== "no_match" && (failedOn.get(task.id)?.size ?? 0) > 0) failedOn.delete(task.id); // every backend was tried: start over
              continue;
            }
            const server = registry.entry(tenant, pick.server.id);
            registry.reserve(server, +1);
            room--;
            claims.push(
              tasks.claimFor(tenant, task.id, server.id, syncLeaseMs).then(
                (claim) => {
                  registry.reserve(server, -1);
                  if (claim) track(send(tenant, server, claim));
                },
                (error) => {
                  registry.reserve(server, -1);
                  log.error("push claim failed", { task_id: task.id, error: String(error) });
                },
              ),
            );
          }
          await Promise.all(claims);
        }
      }
    } catch (error) {
      log.error("push round failed", { error: String(error) });
    } finally {
      running = false;
      if (again) {
        again = false;
        kick();
      }
    }
  }

  function track(p: Promise<void>): void {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }

  function body(task: PortTask, claim: PortClaim, isAsync: boolean) {
    const request = { type: task.type, payload: task.payload ?? null, priority: task.priority, capabilities: task.requiredCapabilities, async: isAsync };
    return {
      id: task.id,
      task_id: task.id,
      ...request,
      request,
      callback_url: `${deps.callbackBase()}/api/task/${task.id}`,
      timeout: task.timeoutMs ?? deps.dispatchTimeoutMs,
      attempt: task.attempt,
      fencing_token: claim.fencingToken,
    };
  }

  async function send(tenant: string, server: ServerEntry, claim: PortClaim): Promise<void> {
    const task = claim.task;
    const isAsync = task.metadata?.async === true;
    dispatched++;
    const apiKey = await registry.apiKey(server).catch(() => undefined);
    const answer = await callBackend(guard, server.endpoints.predict!, {
      method: "POST",
      body: body(task, claim, isAsync),
      apiKey,
      timeoutMs: deps.dispatchTimeoutMs,
      headers: { "x-switchyard-task-id": task.id, "x-switchyard-fencing-token": String(claim.fencingToken) },
    });
    try {
      if (!answer.ok) {
        health.dispatchFailed(server, answer.error);
        let set = failedOn.get(task.id);
        // Bounded: tasks that ended elsewhere (cancelled, taken by a worker) leave entries behind.
        if (!set && failedOn.size >= 100_000) failedOn.delete(failedOn.keys().next().value!);
        if (!set) failedOn.set(task.id, (set = new Set()));
        set.add(server.id);
        await tasks.fail(
          tenant,
          task.id,
          claim.fencingToken,
          { message: `${server.name}: ${answer.error}`, reason: answer.timedOut ? "DISPATCH_TIMEOUT" : "DISPATCH_FAILED", retryable: true, details: { server_id: server.id, http_status: answer.status } },
          dispatchBackoff(task.attempt),
        );
        return;
      }
      health.dispatchAnswered(server);
      const b = (typeof answer.body === "object" && answer.body !== null && !Array.isArray(answer.body) ? answer.body : {}) as Record<string, unknown>;
      const word = typeof b.status === "string" ? b.status.toLowerCase() : "";
      if (FAILED.has(word)) {
        failedOn.delete(task.id);
        const message = typeof b.error === "string" ? b.error : typeof b.message === "string" ? b.message : "backend reported an error";
        const reason = typeof b.code === "string" && /^[A-Z][A-Z0-9_]*$/.test(b.code) ? b.code : "BACKEND_ERROR";
        await tasks.fail(tenant, task.id, claim.fencingToken, { message, reason, retryable: false, details: { server_id: server.id } });
        return;
      }
      if (ACCEPTED.has(word) || (isAsync && !("result" in b))) {
        // The backend reports later through PUT /api/task/:id; hold the task long enough.
        await tasks.extendLease(tenant, task.id, claim.fencingToken, task.timeoutMs ?? asyncLeaseMs);
        return;
      }
      failedOn.delete(task.id);
      await tasks.complete(tenant, task.id, claim.fencingToken, "result" in b ? b.result : answer.body ?? null);
    } catch (error) {
      log.error("push answer could not be recorded", { task_id: task.id, server_id: server.id, error: String(error) });
    } finally {
      kick();
    }
  }

  return {
    kick,
    /** Whether a queue's tasks are pushed. */
    pushes: (queue: string) => queues.has(queue),
    start(intervalMs = 250): void {
      stopped = false;
      timer ??= setInterval(kick, intervalMs);
      kick();
    },
    /** Stops new rounds and waits for the POSTs in flight. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.allSettled([...inflight]);
    },
    state: () => ({ inflight: inflight.size, dispatched, retrying: failedOn.size }),
  };
}

export type PushDispatcher = ReturnType<typeof createPushDispatcher>;
