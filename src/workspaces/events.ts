import type { Bus, BusSubscription } from "../bus/bus.ts";
import { newId } from "../core/ids.ts";
import type { Tx } from "../db/dialect.ts";
import type { Op } from "../db/op.ts";
import type { WorkspaceDomain } from "./context.ts";
import type { ProjectEvent } from "./types.ts";

/**
 * Fan-out of committed project events to watchers. In-process always; with a `bus` (several
 * instances on PostgreSQL, the bus being NATS) every event is also published on
 * `workspaces.events` and the events other instances publish reach this instance's watchers.
 */
export interface EventHub {
  publish(event: ProjectEvent): void;
  /** Events of one project as they are published, until `signal` aborts. */
  watch(tenant: string, projectId: string, signal: AbortSignal): AsyncGenerator<ProjectEvent>;
  /** Ends the bus subscription (watchers end with their signals). */
  close(): void;
}

/** The live-only bus subject every instance publishes its committed project events on. */
export const EVENTS_SUBJECT = "workspaces.events";

export function createEventHub(options: { bus?: Bus; onError?: (error: unknown) => void } = {}): EventHub {
  const watchers = new Set<{ tenant: string; projectId: string; push: (e: ProjectEvent) => void }>();
  const deliver = (event: ProjectEvent) => {
    for (const w of watchers) if (w.tenant === event.tenant && w.projectId === event.projectId) w.push(event);
  };
  const origin = newId("inst");
  const bus = options.bus;
  let subscription: BusSubscription | undefined;
  let closed = false;
  if (bus) {
    // One standing subscription per instance (registered before any watcher): a watcher that
    // registers and then replays history misses nothing another instance commits meanwhile.
    const listen = async () => {
      while (!closed) {
        try {
          subscription = bus.subscribe(EVENTS_SUBJECT, { bufferSize: 10_000 });
          for await (const m of subscription) {
            const msg = JSON.parse(new TextDecoder().decode(m.data)) as { origin: string; event: ProjectEvent };
            if (msg.origin !== origin) deliver(msg.event);
          }
        } catch (error) {
          if (!closed) options.onError?.(error);
        }
        if (!closed) await new Promise((r) => setTimeout(r, 250));
      }
    };
    void listen();
  }
  const encoder = new TextEncoder();
  return {
    publish(event) {
      deliver(event);
      if (bus && !closed) {
        bus.publish(EVENTS_SUBJECT, encoder.encode(JSON.stringify({ origin, event }))).catch((error) => options.onError?.(error));
      }
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
    close() {
      closed = true;
      subscription?.close();
    },
  };
}

/** Records a project event in the write's transaction (delegate to it with `yield*`). */
export type Emit = (projectId: string, workspaceId: string, type: string, message: string, data?: Record<string, unknown>) => Op<void>;

/**
 * Runs a write as one operation in the group commit with an `emit` that records project events
 * in the same transaction; the events reach watchers only after the commit. The event buffer is
 * made inside the operation, so a retried operation (PostgreSQL deadlock) publishes once.
 */
export async function write<T>(d: WorkspaceDomain, tenant: string, work: (tx: Tx, emit: Emit) => Op<T>): Promise<T> {
  let emitted: ProjectEvent[] = [];
  const value = await d.database.write(function* (tx) {
    const buffer: ProjectEvent[] = [];
    emitted = buffer;
    const now = d.clock.now();
    const emit: Emit = function* (projectId, workspaceId, type, message, data = {}) {
      const e = { id: newId("evt", now), tenant, projectId, workspaceId, type, message, data, createdAt: now };
      buffer.push({ ...e, seq: yield* d.store.insertEvent(tx, e) });
    };
    return yield* work(tx, emit);
  });
  for (const e of emitted) d.events.publish(e);
  return value;
}

/** A read of the domain's store (`d.database.read`). */
export const read = <T>(d: WorkspaceDomain, op: (tx: Tx) => Op<T>): Promise<T> => d.database.read(op);
