import { subjectMatches, type BusMessage, type StreamConfig } from "./bus.ts";

/**
 * Storage of the in-process bus's streams (the BusLog port). Appends are durable when they
 * resolve; reads are synchronous so the bus can attach a subscriber and read the log in one
 * turn of the event loop. Implementations: memory (this file) and SQLite (sqlite-log.ts).
 */
export interface BusLog {
  /** Stores a message, trims the stream to its retention, and resolves after it is durable. */
  append(stream: StreamConfig, entry: LogEntry): Promise<LogAppended>;
  /**
   * Messages of `stream` matching `pattern` with a sequence above `afterSeq`, ascending. With
   * `fromTime`, starts at the first stored message published at or after that time.
   */
  read(stream: string, query: LogQuery): BusMessage[];
  /** One message by sequence. */
  get(stream: string, seq: number): BusMessage | undefined;
  /** Highest sequence assigned in the stream (0 when none). */
  lastSeq(stream: string): number;
}

export interface LogEntry {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  time: number;
  msgId?: string;
}

export interface LogAppended {
  seq: number;
  /** True when `msgId` was already stored: `seq` is the original's and nothing was written. */
  duplicate: boolean;
}

export interface LogQuery {
  pattern: string;
  afterSeq?: number;
  fromTime?: number;
  limit: number;
}

/** A BusLog in memory: fast, lost on restart (tests and processes without a database). */
export function createMemoryLog(): BusLog {
  const streams = new Map<string, { messages: BusMessage[]; last: number; ids: Map<string, number> }>();
  const state = (name: string) => {
    let s = streams.get(name);
    if (!s) streams.set(name, (s = { messages: [], last: 0, ids: new Map() }));
    return s;
  };
  const indexAfter = (messages: BusMessage[], seq: number): number => {
    let lo = 0;
    let hi = messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (messages[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    async append(stream, entry) {
      const s = state(stream.name);
      if (entry.msgId !== undefined) {
        const seq = s.ids.get(entry.msgId);
        if (seq !== undefined && s.messages.length > 0 && seq >= s.messages[0]!.seq) return { seq, duplicate: true };
      }
      const seq = ++s.last;
      s.messages.push({ stream: stream.name, seq, subject: entry.subject, data: entry.data, headers: entry.headers, time: entry.time });
      if (entry.msgId !== undefined) s.ids.set(entry.msgId, seq);
      let drop = 0;
      if (stream.maxMsgs && s.messages.length > stream.maxMsgs) drop = s.messages.length - stream.maxMsgs;
      if (stream.maxAgeMs) {
        const cutoff = entry.time - stream.maxAgeMs;
        while (drop < s.messages.length && s.messages[drop]!.time < cutoff) drop++;
      }
      if (drop > 0) {
        s.messages.splice(0, drop);
        if (s.ids.size > s.messages.length * 2 + 1024) {
          const first = s.messages[0]?.seq ?? Infinity;
          for (const [id, q] of s.ids) if (q < first) s.ids.delete(id);
        }
      }
      return { seq, duplicate: false };
    },
    read(stream, query) {
      const s = streams.get(stream);
      if (!s) return [];
      let i = indexAfter(s.messages, query.afterSeq ?? 0);
      // From a time: start at the first message stored at or after it (JetStream's rule).
      if (query.fromTime !== undefined) while (i < s.messages.length && s.messages[i]!.time < query.fromTime) i++;
      const out: BusMessage[] = [];
      for (; i < s.messages.length && out.length < query.limit; i++) {
        const m = s.messages[i]!;
        if (subjectMatches(query.pattern, m.subject)) out.push(m);
      }
      return out;
    },
    get(stream, seq) {
      const s = streams.get(stream);
      if (!s) return undefined;
      const i = indexAfter(s.messages, seq - 1);
      const m = s.messages[i];
      return m && m.seq === seq ? m : undefined;
    },
    lastSeq(stream) {
      return streams.get(stream)?.last ?? 0;
    },
  };
}
