import type { Clock } from "../core/clock.ts";
import { AppError, invalidArgument } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { AgentStore } from "./store.ts";
import { PROBE_TASK_TYPE, type AgentTaskPort, type AgentWorkerInfo } from "./task-port.ts";

export type ProbeTarget = "any" | "load_balanced" | "singleton";

export interface PoolInfo {
  active: number;
  total: number;
  errors: number;
  activeSessions: number;
  workers: AgentWorkerInfo[];
}

export interface ProbeResult {
  healthy: boolean;
  message: string;
  workerId: string;
  taskId: string;
  latencyMs: number;
}

/** The capability an agent worker advertises to receive probes pinned to it. */
export const pinnedCapability = (workerId: string) => `agent-worker:${workerId}`;

/**
 * The pool of agent workers (seed 004's containers): the worker streams on the `agents` queue,
 * and probes — no-op tasks of type `agents.probe` that a worker completes at once. `any` and
 * `load_balanced` go through the dispatcher (which rotates over the streams: it is the load
 * balancer); `singleton` is pinned to the longest-connected worker by a required capability.
 */
export function createPool(deps: { tasks: AgentTaskPort; store: AgentStore; clock: Clock }) {
  const { tasks, store, clock } = deps;
  const seen = new Map<string, Set<string>>();
  const seenOf = (tenant: string) => {
    let set = seen.get(tenant);
    if (!set) seen.set(tenant, (set = new Set()));
    return set;
  };
  const workers = (tenant: string) => {
    const list = tasks.workers(tenant);
    for (const w of list) seenOf(tenant).add(w.workerId);
    return list;
  };
  return {
    info(tenant: string): PoolInfo {
      const list = workers(tenant);
      return { active: new Set(list.map((w) => w.workerId)).size, total: seenOf(tenant).size, errors: tasks.failures(), activeSessions: store.countActive(tenant), workers: list };
    },
    noteWorker: (tenant: string, workerId: string) => seenOf(tenant).add(workerId),

    async probe(tenant: string, target: ProbeTarget, timeoutMs = 10_000): Promise<ProbeResult> {
      if (!Number.isFinite(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) throw invalidArgument("timeout", "must be between 100 ms and 60 s");
      const list = workers(tenant);
      if (list.length === 0) throw new AppError("failed_precondition", "NO_AGENT_WORKERS", "no agent worker is connected");
      const pinned = target === "singleton" ? list[0]!.workerId : undefined;
      const id = newId("task");
      const started = clock.now();
      const t0 = performance.now();
      await tasks.createTask({
        tenant,
        id,
        type: PROBE_TASK_TYPE,
        payload: { target, pinnedWorker: pinned ?? null },
        priority: 1000,
        timeoutMs,
        requiredCapabilities: pinned ? [pinnedCapability(pinned)] : [],
      });
      const deadline = t0 + timeoutMs;
      for (;;) {
        const task = await tasks.getTask(tenant, id);
        if (task?.state === "succeeded") {
          if (task.workerId) seenOf(tenant).add(task.workerId);
          return { healthy: true, message: "Container is healthy", workerId: task.workerId ?? "", taskId: id, latencyMs: Math.round(performance.now() - t0) };
        }
        if (task && (task.state === "failed" || task.state === "cancelled" || task.state === "timed_out")) {
          return { healthy: false, message: `probe ${task.state}: ${task.errorMessage ?? ""}`.trim(), workerId: task.workerId ?? "", taskId: id, latencyMs: Math.round(performance.now() - t0) };
        }
        if (performance.now() >= deadline) {
          await tasks.cancelTask(tenant, id, "probe timed out").catch(() => {});
          return {
            healthy: false,
            message: `no agent worker answered the probe within ${timeoutMs} ms${pinned ? ` (pinned to ${pinned})` : ""}`,
            workerId: "",
            taskId: id,
            latencyMs: Math.max(timeoutMs, clock.now() - started),
          };
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

export type Pool = ReturnType<typeof createPool>;
