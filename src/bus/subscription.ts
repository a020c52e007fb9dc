import { BusOverflowError, DEFAULT_BUFFER_SIZE, type BusMessage, type BusSubscription } from "./bus.ts";

/** Where a replay pass starts. */
export type ReplayFrom = { afterSeq: number } | { fromTime: number };

/** What an implementation gives the shared subscription engine. */
export interface SubscriptionSource {
  /**
   * Stored messages of the subscription's stream and pattern from `from`, ascending, read lazily
   * (only as the consumer pulls, so memory stays bounded); ends once it has caught up with the
   * stream. Absent for a live-only subscription.
   */
  replay?: (from: ReplayFrom) => AsyncIterable<BusMessage>;
  /**
   * Settles once the live listener is registered; for a live start it may carry the stream's
   * last sequence at that moment (messages up to it are not delivered).
   */
  ready?: Promise<{ afterSeq?: number }>;
  /** Called once when the subscription ends, to detach the live listener. */
  detach: () => void;
}

/** The engine's handle for the implementation: feed live messages and report gaps. */
export interface SubscriptionFeed {
  /** A live message matching the pattern (in stream order). */
  push(message: BusMessage): void;
  /** Live messages may have been lost (e.g. a reconnect): replay from the last delivered sequence. */
  gap(): void;
  /** Ends the subscription with an error, or cleanly when none is given. */
  end(error?: Error): void;
  readonly closed: boolean;
}

export interface SubscriptionOptions {
  pattern: string;
  /** "live" starts at the live flow, after `afterSeq` (the stream's last sequence at attach time). */
  start: { live: true; afterSeq: number } | ReplayFrom;
  bufferSize?: number;
  /** How long to wait before retrying a failed replay (e.g. the server is restarting). */
  retryDelayMs?: number;
}

/**
 * Creates a subscription that merges replay and live delivery: it replays stored messages
 * from the start, then delivers the live ones buffered meanwhile, dropping any sequence it
 * has already delivered. Live messages arrive into a bounded buffer: while replaying, an
 * overflowing buffer is emptied and another replay pass reads what it held from the store;
 * while live, an overflow ends this subscription with BusOverflowError.
 * The implementation must attach its live listener before calling this (no message may fall
 * between the listener and the replay).
 */
export function createSubscription(options: SubscriptionOptions, makeSource: (feed: SubscriptionFeed) => SubscriptionSource): BusSubscription {
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
  if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new RangeError("bufferSize must be a positive integer");
  const retryDelayMs = options.retryDelayMs ?? 200;
  const start = options.start;
  let last = "live" in start ? start.afterSeq : "afterSeq" in start ? start.afterSeq : 0;
  let replaying = !("live" in start);
  let from: ReplayFrom = "live" in start ? { afterSeq: last } : start;
  let buffer: BusMessage[] = [];
  let head = 0;
  let dropEpoch = 0;
  let failure: Error | undefined;
  let ended = false;
  let waiter: (() => void) | undefined;
  let iterator: AsyncGenerator<BusMessage> | undefined;

  const wake = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };

  const feed: SubscriptionFeed = {
    push(message) {
      if (ended) return;
      if (message.seq > 0 && message.seq <= last) return;
      if (buffer.length - head >= bufferSize) {
        buffer = [];
        head = 0;
        if (replaying) {
          // The store has every message we drop here; the next replay pass reads them.
          dropEpoch++;
          return;
        }
        finish(new BusOverflowError(options.pattern, last, bufferSize));
        return;
      }
      buffer.push(message);
      wake();
    },
    gap() {
      if (ended) return;
      if (replaying) dropEpoch++;
      else {
        replaying = true;
        from = { afterSeq: last };
      }
      wake();
    },
    end(error) {
      finish(error);
    },
    get closed() {
      return ended;
    },
  };

  const source = makeSource(feed);
  // A failure of `ready` is reported to the iterating consumer; never leave it unhandled.
  source.ready?.catch(() => {});

  function finish(error?: Error): void {
    if (ended) return;
    ended = true;
    failure = error;
    buffer = [];
    head = 0;
    try {
      source.detach();
    } finally {
      wake();
    }
  }

  async function* run(): AsyncGenerator<BusMessage> {
    try {
      if (source.ready) {
        const r = await source.ready;
        if (r.afterSeq !== undefined && r.afterSeq > last) {
          last = r.afterSeq;
          from = { afterSeq: last };
        }
      }
      while (true) {
        if (ended) {
          if (failure) throw failure;
          return;
        }
        if (replaying && source.replay) {
          const epoch = dropEpoch;
          try {
            for await (const m of source.replay(from)) {
              if (ended) break;
              if (m.seq <= last) continue;
              last = m.seq;
              yield m;
            }
          } catch (error) {
            if (ended) continue;
            // The store is unreachable for now (server restarting…): retry from where we are.
            from = { afterSeq: last };
            await sleepUnlessEnded(retryDelayMs);
            continue;
          }
          from = { afterSeq: last };
          if (epoch === dropEpoch) replaying = false;
          continue;
        }
        replaying = false;
        if (head < buffer.length) {
          const m = buffer[head++]!;
          if (head > 1024 && head * 2 > buffer.length) {
            buffer = buffer.slice(head);
            head = 0;
          }
          if (m.seq > 0) {
            if (m.seq <= last) continue;
            last = m.seq;
          }
          yield m;
          continue;
        }
        await new Promise<void>((resolve) => (waiter = resolve));
      }
    } finally {
      finish();
    }
  }

  function sleepUnlessEnded(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiter = undefined;
        resolve();
      }, ms);
      waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  return {
    get lastSeq() {
      return last;
    },
    close() {
      finish();
    },
    // One underlying iterator: several loops over the subscription continue where the last stopped.
    [Symbol.asyncIterator]() {
      iterator ??= run();
      return iterator;
    },
  };
}
