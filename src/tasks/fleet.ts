import type { Bus, BusSubscription } from "../bus/bus.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { CancelReason, TaskEvent } from "./types.ts";

/**
 * Task events and wake-ups across instances (several Switchyard processes on one PostgreSQL).
 *
 * Each instance publishes the events its commits produced on the bus's live subject
 * `fleet.tasks.events` (core NATS: fan-out, not stored — the database is the record; an
 * instance that misses a message misses a live event, never a task). Every other instance
 * hands them to its event hub (so `WatchTaskEvents`, the seed 001 WebSocket and the dashboard
 * see the whole fleet's events) and, when one made a task ready to claim, wakes its dispatcher so
 * workers connected to it get the task at once instead of at the next reaper tick. Claims stay
 * exclusive through the database (`FOR UPDATE SKIP LOCKED`): waking every instance is safe.
 *
 * Events of one turn of the loop travel in one message (a JSON array), so a burst of creates
 * costs one publish per turn, not one per event.
 */
export interface TaskFleet {
  /** A committed local event: published to the other instances. */
  local(event: TaskEvent): void;
  /** Instance id carried by this instance's messages. */
  readonly instance: string;
  /** Messages and events received from other instances (for tests and metrics). */
  readonly received: { messages: number; events: number; wakeups: number };
  close(): void;
}

export const FLEET_SUBJECT = "fleet.tasks.events";

/** How a running attempt that ended elsewhere looks to a stream here that was pushed it. */
const ENDED: Partial<Record<TaskEvent["kind"], "done" | CancelReason>> = {
  succeeded: "done",
  failed: "done",
  retry_scheduled: "done",
  released: "done",
  cancelled: "cancelled",
  lease_expired: "lease_expired",
  timed_out: "timed_out",
  deleted: "deleted",
};

interface Wire {
  /** Publishing instance. */
  o: string;
  e: { s: number; t: number; k: TaskEvent["kind"]; p: TaskEvent["previousState"] | null; f: number | null; task: TaskEvent["task"] }[];
}

export interface TaskFleetDeps {
  bus: Bus;
  /** The app's clock (the database's on PostgreSQL), which tasks' run times are in. */
  clock: Clock;
  instance: string;
  log: Logger;
  /** Delivers a remote event to this instance's watchers. */
  deliver(event: TaskEvent): void;
  /** A task of another instance became claimable in `tenant`/`queue`: wake the local dispatcher. */
  wake(tenant: string, queue: string): void;
  /**
   * A task ended (or was taken away) on another instance: if a worker stream here was pushed it
   * with `fencingToken`, free its credit and, for a reason, tell the worker.
   */
  ended(taskId: string, fencingToken: number, how: "done" | CancelReason): void;
  /** Most events held for one publish (a larger burst is split). */
  maxBatch?: number;
}

export function createTaskFleet(deps: TaskFleetDeps): TaskFleet {
  const { bus, instance, log } = deps;
  const maxBatch = deps.maxBatch ?? 500;
  let pending: TaskEvent[] = [];
  let scheduled = false;
  let closed = false;
  const received = { messages: 0, events: 0, wakeups: 0 };
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  function flush(): void {
    scheduled = false;
    const events = pending;
    pending = [];
    for (let i = 0; i < events.length; i += maxBatch) {
      const wire: Wire = {
        o: instance,
        e: events.slice(i, i + maxBatch).map((e) => ({ s: e.sequence, t: e.time, k: e.kind, p: e.previousState ?? null, f: e.fencingToken ?? null, task: e.task })),
      };
      bus.publish(FLEET_SUBJECT, encoder.encode(JSON.stringify(wire))).catch((error) => {
        // A bus outage loses live events of other instances' watchers (they resume from the
        // database with GetTask/ListTasks); the tasks themselves are committed.
        log.warn("task events could not be sent to the other instances", { error, events: wire.e.length });
      });
    }
  }

  let subscription: BusSubscription | undefined;
  async function listen(): Promise<void> {
    while (!closed) {
      subscription = bus.subscribe(FLEET_SUBJECT, { bufferSize: 10_000 });
      try {
        for await (const message of subscription) {
          let wire: Wire;
          try {
            wire = JSON.parse(decoder.decode(message.data)) as Wire;
          } catch {
            continue;
          }
          if (wire.o === instance || !Array.isArray(wire.e)) continue;
          received.messages++;
          const ready = new Set<string>();
          for (const e of wire.e) {
            received.events++;
            const task = e.task;
            if (!task) continue;
            if (task.state === "pending" && task.runAt <= deps.clock.now() + 50) ready.add(`${task.tenant}\u0000${task.queue}`);
            // A stream here may hold a task whose attempt another instance ended.
            if (e.p === "running" && e.f !== null) {
              const how = ENDED[e.k];
              if (how) deps.ended(task.id, e.f, how);
            }
            deps.deliver({ sequence: e.s, time: e.t, kind: e.k, previousState: e.p ?? undefined, fencingToken: e.f ?? undefined, task });
          }
          for (const key of ready) {
            const [tenant, queue] = key.split("\u0000") as [string, string];
            received.wakeups++;
            deps.wake(tenant, queue);
          }
        }
      } catch (error) {
        if (closed) return;
        log.warn("fleet task events subscription ended; resubscribing", { error });
        await Bun.sleep(250);
      }
    }
  }
  void listen();

  return {
    instance,
    received,
    local(event) {
      if (closed) return;
      pending.push(event);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    close() {
      closed = true;
      if (pending.length) flush();
      subscription?.close();
    },
  };
}
