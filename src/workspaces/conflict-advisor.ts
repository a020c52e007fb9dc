import { newId } from "../core/ids.ts";
import type { Json, NewTask, Task, TaskEvent } from "../tasks/types.ts";

/** A conflicting text file: the three versions. */
export interface Conflict {
  path: string;
  base: string;
  ours: string;
  theirs: string;
}

/**
 * Port: asks someone who can read code (an agent worker) to combine conflicting files. Answers
 * the combined texts it got by path, within its deadline; nothing (an empty map) otherwise.
 */
export interface ConflictAdvisor {
  advise(input: { tenant: string; workspaceId: string; conflicts: Conflict[] }): Promise<Map<string, string>>;
}

/** The task type agent workers claim from the `agents` queue for a sync's conflicts. */
export const CONFLICT_TASK_TYPE = "workspace.sync.resolve_conflicts";
export const CONFLICT_TASK_QUEUE = "agents";

/** What the advisor needs of the task domain (its engine and event hub). */
export interface TaskPort {
  createTask(tenant: string, input: NewTask): Promise<{ task: Task }>;
  getTask(tenant: string, id: string): Promise<Task>;
  cancelTask(tenant: string, input: { id: string; reason?: string }): Promise<unknown>;
  watch(tenant: string, filter: { taskIds: string[]; queues: string[]; kinds: TaskEvent["kind"][] }, signal: AbortSignal): AsyncIterable<TaskEvent>;
}

const FINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

/**
 * The advisor as a task: `{ workspace_id, conflicts: [{ path, base, ours, theirs }] }` on queue
 * `agents`, type `workspace.sync.resolve_conflicts`; a worker completes it with
 * `{ files: [{ path, content }] }`. Past `deadlineMs` the task is cancelled and the preview goes on
 * without it (its conflicts stay decisions).
 */
export function taskConflictAdvisor(tasks: TaskPort, deadlineMs: number): ConflictAdvisor {
  return {
    async advise({ tenant, workspaceId, conflicts }) {
      const id = newId("task");
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), deadlineMs);
      try {
        // Watch first, then create: the completion cannot slip between the two.
        const events = tasks.watch(tenant, { taskIds: [id], queues: [], kinds: [] }, abort.signal)[Symbol.asyncIterator]();
        await tasks.createTask(tenant, {
          id,
          queue: CONFLICT_TASK_QUEUE,
          type: CONFLICT_TASK_TYPE,
          payload: { tenant, workspace_id: workspaceId, conflicts: conflicts as unknown as Json },
          timeoutMs: deadlineMs,
          maxAttempts: 1,
          title: `Combine ${conflicts.length} conflicting file(s)`,
        });
        let task = await tasks.getTask(tenant, id);
        while (!FINAL.has(task.state) && !abort.signal.aborted) {
          const next = await events.next().catch(() => ({ done: true as const, value: undefined }));
          if (next.done) break;
          task = next.value.task;
        }
        await events.return?.();
        if (task.state !== "succeeded") {
          if (!FINAL.has(task.state)) await tasks.cancelTask(tenant, { id, reason: "sync preview deadline passed" }).catch(() => {});
          return new Map();
        }
        const files = (task.result as { files?: { path?: unknown; content?: unknown }[] } | undefined)?.files ?? [];
        const asked = new Set(conflicts.map((c) => c.path));
        return new Map(files.filter((f) => typeof f.path === "string" && typeof f.content === "string" && asked.has(f.path)).map((f) => [f.path as string, f.content as string]));
      } finally {
        clearTimeout(timer);
        abort.abort();
      }
    },
  };
}
