/** Watches every tenant's events: for the server's own domain followers only (not a valid tenant name). */
export const ALL_TENANTS = "*";

import { AppError } from "../core/errors.ts";
import type { TaskEvent, TaskEventKind } from "./types.ts";

/** Which events a watcher wants: empty lists mean all. */
export interface TaskEventFilter {
  /** Only this tenant's events (every watcher names its tenant; ALL_TENANTS is for the server's own followers, never a caller's). */
  tenant: string;
  taskIds: string[];
  queues: string[];
  kinds: TaskEventKind[];
}

/** Live task events of this server, fanned out to watchers with bounded buffers. */
export interface TaskEventHub {
  publish(event: TaskEvent): void;
  /** Events from now on; ends with `resource_exhausted` (WATCHER_OVERFLOW) if the watcher falls behind. */
  watch(filter: TaskEventFilter, signal: AbortSignal): AsyncIterable<TaskEvent>;
  readonly watchers: number;
}

/** Creates the hub; `bufferSize` events may wait for a slow watcher before it is cut off. */
export function createTaskEventHub(bufferSize = 10_000): TaskEventHub {
  const watchers = new Set<{ accepts(e: TaskEvent): boolean; push(e: TaskEvent): void }>();
  return {
    get watchers() {
      return watchers.size;
    },
    publish(event) {
      for (const w of watchers) if (w.accepts(event)) w.push(event);
    },
    async *watch(filter, signal) {
      const ids = new Set(filter.taskIds);
      const queues = new Set(filter.queues);
      const kinds = new Set(filter.kinds);
      const buffer: TaskEvent[] = [];
      let overflow = false;
      let wake: (() => void) | undefined;
      const watcher = {
        accepts: (e: TaskEvent) =>
          (filter.tenant === ALL_TENANTS || e.task.tenant === filter.tenant) &&
          (ids.size === 0 || ids.has(e.task.id)) && (queues.size === 0 || queues.has(e.task.queue)) && (kinds.size === 0 || kinds.has(e.kind)),
        push(e: TaskEvent) {
          if (buffer.length >= bufferSize) overflow = true;
          else buffer.push(e);
          wake?.();
        },
      };
      const onAbort = () => wake?.();
      signal.addEventListener("abort", onAbort);
      watchers.add(watcher);
      try {
        while (!signal.aborted) {
          if (buffer.length > 0) {
            yield buffer.shift()!;
            continue;
          }
          if (overflow) {
            throw new AppError("resource_exhausted", "WATCHER_OVERFLOW", `watcher fell more than ${bufferSize} events behind`, {
              buffer: String(bufferSize),
            });
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        watchers.delete(watcher);
        signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
