import type { Clock } from "../core/clock.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database } from "../db/client.ts";
import type { Json, NewTask, Task, TaskEvent } from "../tasks/types.ts";
import type { WorkspaceDomain } from "../workspaces/context.ts";
import type { InsightsStore } from "./store.ts";
import type { Call, ConversationEvent } from "./types.ts";

/** What the domain needs of the task domain (module.ts adapts the engine and hub to it). */
export interface TaskPort {
  createTask(tenant: string, input: NewTask): Promise<{ task: Task }>;
  getTask(tenant: string, id: string): Promise<Task | undefined>;
  /** Every tenant's events of these queues (the domain's follower). */
  follow(queues: string[], signal: AbortSignal): AsyncIterable<TaskEvent>;
  /** Merges keys into a task's metadata (answers to an agent's question reach its worker this way). */
  updateMetadata(tenant: string, id: string, metadata: Record<string, Json>): Promise<unknown>;
  /** The check of a task type's completion results; a refused result fails the task (MALFORMED_RESULT). */
  checkResults(type: string, check: (result: Json | undefined) => string | undefined): void;
}

/**
 * What a task type does with its task's outcome. `apply` runs inside the committing write that
 * marks the call done (its rows and the call's state commit together) and answers the call's
 * output; `failed` likewise when the task failed, was cancelled or timed out; `progress` on a
 * running task's progress update (conversation turns stream their reply this way).
 */
export interface TaskKind {
  type: string;
  check(result: Json | undefined): string | undefined;
  /** `after` runs a function once the write committed (live notifications). */
  apply(tenant: string, call: Call, result: Json | undefined, now: number, after: After, task: Task | undefined, prepared?: unknown): unknown;
  /** Async work before the write that applies a result (sealing secrets); its answer goes to `apply`. */
  prepare?(tenant: string, call: Call, result: Json | undefined): Promise<unknown>;
  failed?(tenant: string, call: Call, error: { reason: string; message: string }, now: number, after: After, task: Task | undefined): void;
  /** A running task changed: claimed, or a progress update. */
  progress?(tenant: string, call: Call, task: Task, now: number, after: After): void;
  /** Attempts of the task (default 1). */
  maxAttempts?: number;
  /** The queue its workers serve (default `insights`). */
  queue?: string;
}

export type After = (f: () => void) => void;

/** The Atlas' chunks in the memory domain (embedded by its embedder, searched through its vector index). */
export interface AtlasMemory {
  /** Replaces the project's chunks; answers how many were stored with a vector, and the embedder's error if any. */
  replace(tenant: string, projectId: string, chunks: { conceptId: string; text: string }[]): Promise<{ embedded: number; error: string }>;
  /** Whether the project has embedded chunks. */
  has(tenant: string, projectId: string): boolean;
  /** Cosine kNN over the project's chunks. */
  search(tenant: string, projectId: string, query: string, k: number): Promise<{ conceptId: string; score: number }[]>;
}

export interface InsightsDomain {
  database: Database;
  store: InsightsStore;
  clock: Clock;
  secrets: SecretBox;
  workspaces: WorkspaceDomain;
  tasks: TaskPort;
  /** The memory domain, where this build has it (Atlas `embed=true`). */
  memory?: AtlasMemory;
  /** How long a waiting call waits for its task. */
  deadlineMs: number;
  kinds: Map<string, TaskKind>;
  /** Wake-ups after a call finished (by `${tenant}\0${taskId}`). */
  callWaiters: Map<string, Set<() => void>>;
  /** Live listeners of conversation events (by `${tenant}\0${conversationId}`). */
  conversationWatchers: Map<string, Set<(e: ConversationEvent) => void>>;
}

/** The queue insight workers serve (every task type of this domain). */
export const INSIGHTS_QUEUE = "insights";
/** The queue deploy workers serve (credentials, resources, the deploy chain). */
export const DEPLOY_QUEUE = "deploy";
