import { newId } from "../core/ids.ts";
import type { WorkspaceDomain } from "./context.ts";
import type { ProjectEvent } from "./types.ts";

/** In-process fan-out of committed project events to watchers. */
export interface EventHub {
  publish(event: ProjectEvent): void;
  /** Events of one project as they are published, until `signal` aborts. */
  watch(tenant: string, projectId: string, signal: AbortSignal): AsyncGenerator<ProjectEvent>;
}

export function createEventHub(): EventHub {
  const watchers = new Set<{ tenant: string; projectId: string; push: (e: ProjectEvent) => void }>();
  return {
    publish(event) {
      for (const w of watchers) if (w.tenant === event.tenant && w.projectId === event.projectId) w.push(event);
    },
    watch(tenant, projectId, signal) {
      // Registered now, not at the first `next()`: events committed before the caller starts
      // iterating (while it replays history) are queued, not lost.
      const queue: ProjectEvent[] = [];
      let wake: (() => void) | undefined;
      const w = { tenant, projectId, push: (e: ProjectEvent) => (queue.push(e), wake?.()) };
      watchers.add(w);
      const onAbort = () => wake?.();
      signal.addEventListener("abort", onAbort);
      return (async function* () {
        try {
          while (!signal.aborted) {
            if (queue.length === 0) await new Promise<void>((r) => (wake = r));
            wake = undefined;
            while (queue.length > 0 && !signal.aborted) yield queue.shift()!;
          }
        } finally {
          watchers.delete(w);
          signal.removeEventListener("abort", onAbort);
        }
      })();
    },
  };
}

/** Events recorded by a write, published once its transaction committed. */
export type Emit = (projectId: string, workspaceId: string, type: string, message: string, data?: Record<string, unknown>) => void;

/**
 * Runs a write in the group commit with an `emit` that records project events in the same
 * transaction; the events reach watchers only after the commit.
 */
export async function write<T>(d: WorkspaceDomain, tenant: string, work: (emit: Emit) => T): Promise<T> {
  const emitted: ProjectEvent[] = [];
  const value = await d.database.committer.run(() => {
    emitted.length = 0;
    const now = d.clock.now();
    const emit: Emit = (projectId, workspaceId, type, message, data = {}) => {
      const e = { id: newId("evt", now), tenant, projectId, workspaceId, type, message, data, createdAt: now };
      emitted.push({ ...e, seq: d.store.insertEvent(e) });
    };
    return work(emit);
  });
  for (const e of emitted) d.events.publish(e);
  return value;
}
