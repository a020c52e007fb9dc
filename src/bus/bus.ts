/**
 * The Bus port: publish/subscribe on NATS-style subjects, with durable streams that number
 * their messages and replay them. Every domain uses it for events; mail is its main user.
 *
 * - A *stream* captures the subjects under one filter (`mail.>`): each captured message gets a
 *   sequence number (1, 2, 3… per stream, across all its subjects), is stored within the
 *   stream's retention (count and age) and can be replayed from a sequence or a time.
 * - A subject no stream captures is delivered live only (sequence 0, not stored).
 * - A subscription is an async iterable: `for await (const m of bus.subscribe("mail.>", …))`.
 *   It replays stored messages first, then delivers live ones, in sequence order with no gap and
 *   no duplicate (it deduplicates by sequence). Its buffer is bounded: a subscriber that falls
 *   `bufferSize` messages behind the live flow is ended with BusOverflowError and resumes with
 *   `{ from: { seq: last + 1 } }`; other subscribers are not affected.
 */
export interface Bus {
  /** "in-process" or "nats". */
  readonly kind: string;
  /** Creates or updates a durable stream; publishes to its subjects are then numbered and kept. */
  ensureStream(config: StreamConfig): Promise<void>;
  /** Publishes one message; resolves once it is stored (for stream subjects) with its sequence. */
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck>;
  /** Streams messages matching a pattern (`*` one token, `>` the rest), from now or replayed. */
  subscribe(pattern: string, options?: SubscribeOptions): BusSubscription;
  /** Stored messages of the stream that captures `pattern`, ascending, at most `limit`. */
  history(pattern: string, query: HistoryQuery): Promise<BusMessage[]>;
  /** One stored message of a stream by sequence, or undefined when absent or trimmed. */
  getMessage(stream: string, seq: number): Promise<BusMessage | undefined>;
  /** The highest sequence a stream has assigned (0 when empty). */
  lastSeq(stream: string): Promise<number>;
  /** Ends every subscription and releases connections. */
  close(): Promise<void>;
  /** Whether the engine behind the bus is reachable now (health reports it as a component). */
  health(): BusHealth;
}

/** The bus engine's state as health shows it. */
export interface BusHealth {
  status: "operational" | "down";
  message: string;
  /** When it went down (ms since the epoch). */
  since?: number;
}

/** A durable stream: which subjects it captures and how long it keeps them. */
export interface StreamConfig {
  /** Upper-case name, e.g. `MAIL` (letters, digits, `_`, `-`). */
  name: string;
  /** One subject filter ending in `>`, e.g. `mail.>`. Filters of two streams must not overlap. */
  subjects: string;
  /** Keeps at most this many messages (oldest removed first); absent or 0 means unlimited. */
  maxMsgs?: number;
  /** Removes messages older than this many milliseconds; absent or 0 means forever. */
  maxAgeMs?: number;
  /**
   * How long a `msgId` is remembered for deduplicating publishes (NATS duplicate window;
   * default 2 minutes). The in-process bus remembers it as long as the message is retained.
   */
  duplicateWindowMs?: number;
}

/** One message as delivered by the bus. */
export interface BusMessage {
  /** Stream that stored it; "" for a live-only subject. */
  stream: string;
  /** Sequence in that stream (from 1); 0 for a live-only subject. */
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  /** Publish time in milliseconds since the epoch (the publishing server's clock). */
  time: number;
}

export interface PublishOptions {
  headers?: Record<string, string>;
  /** Idempotency key: a second publish with the same id answers the first one's sequence. */
  msgId?: string;
}

export interface PublishAck {
  /** Stream that stored the message, "" for a live-only subject. */
  stream: string;
  /** Sequence of the stored message (the first one's when `duplicate`), 0 when live-only. */
  seq: number;
  /** Publish time (ms); for a duplicate, the time of this attempt, not of the original. */
  time: number;
  /** True when `msgId` matched an earlier publish and nothing was stored. */
  duplicate: boolean;
}

/** Where a subscription starts. */
export type StartPosition =
  | { kind: "now" }
  /** Replays from this sequence (inclusive); 1 replays everything retained. */
  | { kind: "sequence"; seq: number }
  /** Replays messages published at or after this time (ms since the epoch). */
  | { kind: "time"; time: number };

export interface SubscribeOptions {
  /** Default: now (only messages published after the subscription is registered). */
  from?: StartPosition;
  /** Most live messages held for a slow consumer before it is ended (default 1000). */
  bufferSize?: number;
}

export interface HistoryQuery {
  /** Only messages with a sequence greater than this (default 0). */
  afterSeq?: number;
  /** Only messages published at or after this time (ms). */
  fromTime?: number;
  /** Maximum number of messages returned. */
  limit: number;
}

/**
 * A running subscription. Every `for await` over it shares one iterator; `close()` or leaving a
 * loop with `break` ends it.
 */
export interface BusSubscription extends AsyncIterable<BusMessage> {
  /** Sequence of the last message delivered (resume from `lastSeq + 1`). */
  readonly lastSeq: number;
  close(): void;
}

export const DEFAULT_BUFFER_SIZE = 1000;

/** The subscriber fell `bufferSize` messages behind; it should resume from `lastSeq + 1`. */
export class BusOverflowError extends Error {
  constructor(
    readonly pattern: string,
    readonly lastSeq: number,
    readonly bufferSize: number,
  ) {
    super(`subscriber to ${pattern} fell more than ${bufferSize} messages behind; resume from sequence ${lastSeq + 1}`);
    this.name = "BusOverflowError";
  }
}

/** The bus was closed; no more publishes or subscriptions. */
/**
 * The engine behind the bus cannot be reached: publishes fail at once with it (instead of
 * waiting for their deadline), and live subscriptions end with it once an outage outlasts its
 * grace, carrying the last sequence delivered so the subscriber can resume.
 */
export class BusUnavailableError extends Error {
  constructor(
    readonly engine: string,
    readonly detail: string,
    readonly lastSeq?: number,
  ) {
    super(`${engine} is unavailable: ${detail}`);
    this.name = "BusUnavailableError";
  }
}

export class BusClosedError extends Error {
  constructor() {
    super("the bus is closed");
    this.name = "BusClosedError";
  }
}

/** A subject, pattern or stream configuration the bus cannot accept. */
export class BusSubjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BusSubjectError";
  }
}

const TOKEN = /^[A-Za-z0-9_\-:@]+$/;
const MAX_SUBJECT = 512;

/** Throws BusSubjectError unless `subject` is a concrete subject (tokens, no wildcards). */
export function assertSubject(subject: string): void {
  if (subject.length === 0 || subject.length > MAX_SUBJECT) throw new BusSubjectError(`subject must have 1 to ${MAX_SUBJECT} characters`);
  for (const t of subject.split(".")) {
    if (!TOKEN.test(t)) throw new BusSubjectError(`bad subject ${JSON.stringify(subject)}: tokens are letters, digits, _ - : @`);
  }
}

/** Throws BusSubjectError unless `pattern` is a subject where tokens may be `*` and the last may be `>`. */
export function assertPattern(pattern: string): void {
  if (pattern.length === 0 || pattern.length > MAX_SUBJECT) throw new BusSubjectError(`pattern must have 1 to ${MAX_SUBJECT} characters`);
  const tokens = pattern.split(".");
  tokens.forEach((t, i) => {
    if (t === "*") return;
    if (t === ">" && i === tokens.length - 1) return;
    if (!TOKEN.test(t)) throw new BusSubjectError(`bad pattern ${JSON.stringify(pattern)}: tokens are words, '*', or a final '>'`);
  });
}

/** True when the concrete `subject` matches the NATS `pattern`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!;
    if (t === ">") return s.length > i;
    if (i >= s.length) return false;
    if (t !== "*" && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** True when every subject matched by `pattern` is also matched by `filter`. */
export function patternWithin(filter: string, pattern: string): boolean {
  const f = filter.split(".");
  const p = pattern.split(".");
  for (let i = 0; i < f.length; i++) {
    const t = f[i]!;
    if (t === ">") return p.length > i;
    if (i >= p.length) return false;
    const q = p[i]!;
    if (q === ">") return false;
    if (t !== "*" && t !== q) return false;
  }
  return f.length === p.length;
}

/** The literal tokens before the first wildcard, joined with dots (`a.b` for `a.b.*.c`). */
export function literalPrefix(pattern: string): string {
  const out: string[] = [];
  for (const t of pattern.split(".")) {
    if (t === "*" || t === ">") break;
    out.push(t);
  }
  return out.join(".");
}

/** Checks a stream configuration; throws BusSubjectError when it is unusable. */
export function assertStreamConfig(config: StreamConfig): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(config.name)) throw new BusSubjectError(`bad stream name ${JSON.stringify(config.name)}`);
  assertPattern(config.subjects);
  if (!config.subjects.endsWith(".>")) throw new BusSubjectError(`stream subjects must end with ".>" (got ${config.subjects})`);
  for (const [k, v] of [["maxMsgs", config.maxMsgs], ["maxAgeMs", config.maxAgeMs]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new BusSubjectError(`${k} must be a non-negative integer`);
  }
}

/** The stream among `streams` that captures every subject of `pattern`, if any. */
export function streamForPattern(streams: Iterable<StreamConfig>, pattern: string): StreamConfig | undefined {
  for (const s of streams) if (patternWithin(s.subjects, pattern)) return s;
  return undefined;
}
