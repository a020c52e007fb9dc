import type { InsightsDomain } from "./context.ts";
import type { ConversationEvent } from "./types.ts";

/**
 * Announcements after a commit, to every instance: a conversation's new events (its live
 * streams) and a finished call (its waiters). They travel over the Bus — NATS when PostgreSQL
 * is used, so a stream on one instance sees a turn applied by another — as live-only subjects
 * `insights.conversation.<tenant>.<conversation>` and `insights.call.<tenant>.<task>` (tokens
 * base64url). Without a bus they reach this instance only. Nothing depends on an announcement
 * arriving: streams fill any gap from the store (sequences have none), waiters poll each second.
 */
const token = (s: string) => Buffer.from(s).toString("base64url") || "_";
const untoken = (s: string) => Buffer.from(s, "base64url").toString();
const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;
const EVENTS = "insights.conversation";
const CALLS = "insights.call";

/** Gives events to this instance's watchers of their conversation. */
export function deliverEvents(d: InsightsDomain, tenant: string, events: ConversationEvent[]): void {
  for (const e of events) for (const w of d.conversationWatchers.get(key(tenant, e.conversationId)) ?? []) w(e);
}

/** Wakes this instance's waiters of a call. */
export function wakeCall(d: InsightsDomain, tenant: string, taskId: string): void {
  for (const w of d.callWaiters.get(key(tenant, taskId)) ?? []) w();
}

/** Announces committed events (call after the write resolved). */
export function publishEvents(d: InsightsDomain, tenant: string, events: ConversationEvent[]): void {
  if (events.length === 0) return;
  const bus = d.bus;
  if (!bus) return deliverEvents(d, tenant, events);
  for (const e of events) {
    const data = new TextEncoder().encode(JSON.stringify({ tenant, event: e }));
    // Not delivered over the bus: this instance's watchers get it at least.
    void bus.publish(`${EVENTS}.${token(tenant)}.${token(e.conversationId)}`, data).catch(() => deliverEvents(d, tenant, [e]));
  }
}

/** Announces a finished call. */
export function publishCall(d: InsightsDomain, tenant: string, taskId: string): void {
  const bus = d.bus;
  if (!bus) return wakeCall(d, tenant, taskId);
  void bus.publish(`${CALLS}.${token(tenant)}.${token(taskId)}`, new Uint8Array()).catch(() => wakeCall(d, tenant, taskId));
}

/** Delivers the bus's announcements to this instance's watchers and waiters until `signal`. */
export function listenAnnouncements(d: InsightsDomain, signal: AbortSignal): void {
  const bus = d.bus;
  if (!bus) return;
  const follow = (pattern: string, on: (subject: string[], data: Uint8Array) => void) => {
    const run = async (): Promise<void> => {
      if (signal.aborted) return;
      const sub = bus.subscribe(pattern);
      const stop = () => sub.close();
      signal.addEventListener("abort", stop, { once: true });
      try {
        for await (const m of sub) {
          try {
            on(m.subject.split("."), m.data);
          } catch {
            // a malformed announcement is dropped
          }
        }
      } catch {
        // overflow or a lost connection: subscribe again (streams fill gaps from the store)
      } finally {
        signal.removeEventListener("abort", stop);
      }
      if (!signal.aborted) setTimeout(() => void run(), 200).unref?.();
    };
    void run();
  };
  follow(`${EVENTS}.>`, (_subject, data) => {
    const { tenant, event } = JSON.parse(new TextDecoder().decode(data)) as { tenant: string; event: ConversationEvent };
    deliverEvents(d, tenant, [event]);
  });
  follow(`${CALLS}.>`, (subject) => wakeCall(d, untoken(subject[2]!), untoken(subject[3]!)));
}
