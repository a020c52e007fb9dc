import { failpointAsync } from "../core/failpoints.ts";
import { systemClock, type Clock } from "../core/clock.ts";
import {
  assertPattern,
  assertStreamConfig,
  assertSubject,
  BusClosedError,
  BusSubjectError,
  streamForPattern,
  subjectMatches,
  type Bus,
  type BusMessage,
  type StreamConfig,
} from "./bus.ts";
import { createMemoryLog, type BusLog, type LogQuery } from "./log.ts";
import { createSubscription, type ReplayFrom, type SubscriptionFeed } from "./subscription.ts";

export interface InProcessBusOptions {
  /** Where streams are stored: the SQLite log (durable, see sqlite-log.ts) or memory (default). */
  log?: BusLog;
  clock?: Clock;
}

const REPLAY_PAGE = 256;

/**
 * The default Bus: fan-out inside this process, streams kept in a BusLog (SQLite in
 * production, so replay survives a restart). Live delivery never crosses processes; use the
 * NATS bus for several Switchyard processes.
 */
export function createInProcessBus(options: InProcessBusOptions = {}): Bus {
  const log = options.log ?? createMemoryLog();
  const clock = options.clock ?? systemClock;
  const streams = new Map<string, StreamConfig>();
  const listeners = new Set<{ pattern: string; feed: SubscriptionFeed }>();
  let closed = false;

  const streamOfSubject = (subject: string) => streamForPattern(streams.values(), subject);

  function fanOut(message: BusMessage): void {
    for (const l of listeners) if (subjectMatches(l.pattern, message.subject)) l.feed.push(message);
  }

  /** The log trims by age when it appends; reads also hide what has aged out since. */
  function read(stream: StreamConfig, query: LogQuery): BusMessage[] {
    if (!stream.maxAgeMs) return log.read(stream.name, query);
    const cutoff = clock.now() - stream.maxAgeMs;
    return log.read(stream.name, { ...query, fromTime: Math.max(query.fromTime ?? cutoff, cutoff) });
  }

  async function* replay(stream: StreamConfig, pattern: string, from: ReplayFrom): AsyncGenerator<BusMessage> {
    let afterSeq = "afterSeq" in from ? from.afterSeq : 0;
    let fromTime = "fromTime" in from ? from.fromTime : undefined;
    while (true) {
      const page = read(stream, { pattern, afterSeq, fromTime, limit: REPLAY_PAGE });
      for (const m of page) yield m;
      if (page.length < REPLAY_PAGE) return;
      afterSeq = page[page.length - 1]!.seq;
      fromTime = undefined;
    }
  }

  return {
    kind: "in-process",
    health: () => ({ status: "operational", message: "in-process bus over the SQLite file" }),
    async ensureStream(config) {
      assertStreamConfig(config);
      for (const s of streams.values()) {
        if (s.name !== config.name && (streamForPattern([s], config.subjects) || streamForPattern([config], s.subjects))) {
          throw new BusSubjectError(`stream ${config.name} (${config.subjects}) overlaps stream ${s.name} (${s.subjects})`);
        }
      }
      streams.set(config.name, { ...config });
    },
    async publish(subject, data, opts = {}) {
      if (closed) throw new BusClosedError();
      assertSubject(subject);
      const headers = { ...opts.headers };
      const time = clock.now();
      const stream = streamOfSubject(subject);
      if (!stream) {
        fanOut({ stream: "", seq: 0, subject, data, headers, time });
        return { stream: "", seq: 0, time, duplicate: false };
      }
      await failpointAsync("bus.publish.before");
      const { seq, duplicate } = await log.append(stream, { subject, data, headers, time, msgId: opts.msgId });
      await failpointAsync("bus.publish.after");
      // Appends resolve in commit order, so live delivery happens in sequence order.
      if (!duplicate) fanOut({ stream: stream.name, seq, subject, data, headers, time });
      return { stream: stream.name, seq, time, duplicate };
    },
    subscribe(pattern, opts = {}) {
      if (closed) throw new BusClosedError();
      assertPattern(pattern);
      const stream = streamForPattern(streams.values(), pattern);
      const from = opts.from ?? { kind: "now" };
      if (!stream && from.kind !== "now") throw new BusSubjectError(`no stream captures ${pattern}: only live subscriptions are possible`);
      let listener: { pattern: string; feed: SubscriptionFeed } | undefined;
      return createSubscription(
        {
          pattern,
          bufferSize: opts.bufferSize,
          start:
            from.kind === "now"
              ? { live: true, afterSeq: stream ? log.lastSeq(stream.name) : 0 }
              : from.kind === "sequence"
                ? { afterSeq: Math.max(0, from.seq - 1) }
                : { fromTime: from.time },
        },
        (feed) => {
          listener = { pattern, feed };
          listeners.add(listener);
          return {
            replay: stream ? (f) => replay(stream, pattern, f) : undefined,
            detach: () => {
              if (listener) listeners.delete(listener);
            },
          };
        },
      );
    },
    async history(pattern, query) {
      assertPattern(pattern);
      const stream = streamForPattern(streams.values(), pattern);
      if (!stream) throw new BusSubjectError(`no stream captures ${pattern}`);
      return read(stream, { pattern, afterSeq: query.afterSeq, fromTime: query.fromTime, limit: query.limit });
    },
    async getMessage(stream, seq) {
      const m = log.get(stream, seq);
      const config = streams.get(stream);
      if (m && config?.maxAgeMs && m.time < clock.now() - config.maxAgeMs) return undefined;
      return m;
    },
    async lastSeq(stream) {
      return log.lastSeq(stream);
    },
    async close() {
      closed = true;
      for (const l of [...listeners]) l.feed.end();
      listeners.clear();
    },
  };
}
