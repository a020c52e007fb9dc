import type { Json } from "./types.ts";

/** A task of the agents queue as the agents domain needs to know it. */
export interface AgentTask {
  id: string;
  tenant: string;
  state: "pending" | "blocked" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out";
  /** Current holder's fencing token while running. */
  fencingToken: number | undefined;
  workerId: string | undefined;
  result: Json | undefined;
  errorMessage: string | undefined;
  errorReason: string | undefined;
}

/** A committed change of an agents-queue task. */
export interface AgentTaskEvent {
  kind: "claimed" | "succeeded" | "failed" | "cancelled" | "timed_out" | "lease_expired" | "deleted" | "other";
  task: AgentTask;
}

/** An agent worker connected to the pool (a worker stream on the agents queue). */
export interface AgentWorkerInfo {
  workerId: string;
  streamId: string;
  freeCapacity: number;
}

/**
 * Everything the agents domain asks of the task engine, in one port: sessions and probes are
 * tasks on the `agents` queue. The adapter (module.ts) is the only place that knows the engine,
 * so a change of the engine's signature (tenants) is one file to adapt.
 */
export interface AgentTaskPort {
  createTask(input: {
    tenant: string;
    id: string;
    type: string;
    payload: Json;
    priority?: number;
    timeoutMs?: number;
    requiredCapabilities?: string[];
  }): Promise<AgentTask>;
  cancelTask(tenant: string, id: string, reason: string): Promise<void>;
  getTask(tenant: string, id: string): Promise<AgentTask | undefined>;
  /** Committed changes of tasks on the agents queue, from now on, until `signal` aborts. */
  watch(signal: AbortSignal): AsyncIterable<AgentTaskEvent>;
  /** Agent workers connected now, longest-connected first. */
  workers(tenant: string): AgentWorkerInfo[];
  /** Agent tasks that failed or timed out since the server started. */
  failures(): number;
}

/** The queue agent workers listen on, and the task types on it. */
export const AGENT_QUEUE = "agents";
export const SESSION_TASK_TYPE = "agents.session";
export const PROBE_TASK_TYPE = "agents.probe";
