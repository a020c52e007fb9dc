import { systemClock, type Clock } from "../core/clock.ts";
import { DEFAULT_TENANT } from "../core/principal.ts";
import { AppError, invalidArgument, notFound } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { BusOverflowError, BusUnavailableError, type Bus, type BusMessage, type StartPosition } from "../bus/bus.ts";
import { decodePageToken, encodePageToken, pageSize } from "./pages.ts";
import {
  assertPublishable,
  inboxTopic,
  subjectInTenant,
  subjectToTopic,
  topicToSubject,
  validateHeaders,
  validatePattern,
  validateTopic,
} from "./topics.ts";

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One stored mail message. */
export interface MailMessage {
  /** Position in the mail log (stream MAIL), shared by all topics; from 1. */
  sequence: number;
  /** `msg_…`, stable across replays. */
  id: string;
  topic: string;
  payload: Json;
  headers: Record<string, string>;
  sender: string;
  /** ms since the epoch. */
  publishTime: number;
}

export interface PublishInput {
  /** Exactly one of topic and agent (agent → `inbox.<agent>`). */
  topic?: string;
  agent?: string;
  payload?: unknown;
  headers?: Record<string, string>;
  sender: string;
  requestId?: string;
}

export interface PublishResult {
  message: MailMessage;
  /** True when `requestId` matched an earlier publish: `message` is that one. */
  duplicate: boolean;
}

export interface SubscribeInput {
  /** Topic or pattern (`builds.*`, `inbox.>`, `>`). */
  topic: string;
  /** First sequence wanted (inclusive, ≥ 1); absent with no startTime → only new messages. */
  startSequence?: number;
  /** Replay from the first message published at or after this time (ms). */
  startTime?: number;
  /** Live messages held for this subscriber before it is ended (default: the mail default). */
  bufferSize?: number;
}

/** A running subscription: `for await` it; it throws AppError SUBSCRIBER_OVERFLOW when too slow. */
export interface MailSubscription extends AsyncIterable<MailMessage> {
  /** Sequence of the last message delivered; resume with startSequence = lastSequence + 1. */
  readonly lastSequence: number;
  close(): void;
}

export interface ListMessagesInput {
  topic: string;
  pageSize?: number;
  pageToken?: string;
  startSequence?: number;
  startTime?: number;
}

export interface MessageRetention {
  /** Most messages kept in the mail log (all topics together); 0 = unlimited. */
  maxMessages: number;
  /** Age after which messages are removed (ms); 0 = forever. */
  maxAgeMs: number;
}

export const DEFAULT_RETENTION: MessageRetention = { maxMessages: 1_000_000, maxAgeMs: 7 * 24 * 3600_000 };
export const MAIL_STREAM = "MAIL";
export const DEFAULT_SUBSCRIBER_BUFFER = 1000;
const MAX_PAYLOAD_BYTES = 1 << 20;
const MAX_ID = 128;

/**
 * The mail message rules over the Bus: topics, inboxes, replay, history — of one tenant (the
 * default tenant for the object createMessages returns; `forTenant` gives the others).
 */
export interface Messages {
  /** The same rules scoped to another tenant: its topics, its history, its sequences. */
  forTenant(tenant: string): Messages;
  /** Publishes to a topic or an inbox; resolves after the message is stored, with its sequence. */
  publish(input: PublishInput): Promise<PublishResult>;
  /** Publishes on a server-only topic (`leases.*`); for other domains of the server, not clients. */
  publishSystem(topic: string, payload: Json, sender: string): Promise<MailMessage>;
  /** Streams a topic or pattern: replay from the start asked for, then live; no gap, no duplicate. */
  subscribe(input: SubscribeInput): MailSubscription;
  /** One page of stored messages of a topic or pattern, ascending by sequence. */
  listMessages(input: ListMessagesInput): Promise<{ messages: MailMessage[]; nextPageToken: string }>;
  /** One stored message; MESSAGE_NOT_FOUND when never published or removed by retention. */
  getMessage(sequence: number): Promise<MailMessage>;
}

export interface MessagesDeps {
  bus: Bus;
  clock?: Clock;
  subscriberBuffer?: number;
}

interface Envelope {
  id: string;
  sender: string;
  headers: Record<string, string>;
  payload: Json;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Creates the message half of the mail domain. On the bus each message is a JSON envelope
 * `{id, sender, headers, payload}` on subject `mail.<topic>` of stream MAIL (created by
 * createMail with the retention), so NATS and in-process behave alike.
 */
export function createMessages(deps: MessagesDeps): Messages {
  const scopes = new Map<string, Messages>();
  const forTenant = (tenant: string): Messages => {
    let m = scopes.get(tenant);
    if (!m) scopes.set(tenant, (m = createTenantMessages(deps, tenant, forTenant)));
    return m;
  };
  return forTenant(DEFAULT_TENANT);
}

function createTenantMessages(deps: MessagesDeps, tenant: string, forTenant: (tenant: string) => Messages): Messages {
  const { bus } = deps;
  const clock = deps.clock ?? systemClock;
  const defaultBuffer = deps.subscriberBuffer ?? DEFAULT_SUBSCRIBER_BUFFER;

  function decode(m: BusMessage): MailMessage {
    let env: Partial<Envelope> = {};
    try {
      env = JSON.parse(decoder.decode(m.data)) as Envelope;
    } catch {
      // A foreign publisher on the NATS subject: expose the raw text as the payload.
      env = { payload: decoder.decode(m.data) };
    }
    return {
      sequence: m.seq,
      id: env.id ?? `msg_seq${m.seq}`,
      topic: subjectToTopic(m.subject),
      payload: env.payload ?? null,
      headers: env.headers ?? {},
      sender: env.sender ?? "",
      publishTime: m.time,
    };
  }

  async function store(topic: string, payload: Json, headers: Record<string, string>, sender: string, requestId?: string): Promise<PublishResult> {
    const envelope: Envelope = { id: newId("msg", clock.now()), sender, headers, payload };
    const data = encoder.encode(JSON.stringify(envelope));
    if (data.length > MAX_PAYLOAD_BYTES) throw invalidArgument("payload", `must be at most ${MAX_PAYLOAD_BYTES} bytes encoded`);
    const ack = await bus
      .publish(topicToSubject(topic, tenant), data, { msgId: requestId === undefined ? undefined : `${tenant}/${sender}/${requestId}` })
      .catch((error: unknown) => {
        if (error instanceof BusUnavailableError) throw new AppError("unavailable", "BUS_UNAVAILABLE", error.message, { engine: error.engine });
        throw error;
      });
    if (ack.duplicate) {
      const original = await bus.getMessage(MAIL_STREAM, ack.seq);
      if (original) return { message: decode(original), duplicate: true };
    }
    return {
      message: { sequence: ack.seq, id: envelope.id, topic, payload, headers, sender, publishTime: ack.time },
      duplicate: ack.duplicate,
    };
  }

  return {
    forTenant,
    async publish(input) {
      if (input.topic !== undefined && input.agent !== undefined && input.topic !== "" && input.agent !== "") {
        throw invalidArgument("topic", "set either topic or agent, not both");
      }
      const topic = input.agent ? inboxTopic(input.agent) : validateTopic(input.topic);
      assertPublishable(topic);
      const sender = validateName(input.sender, "sender");
      const headers = validateHeaders(input.headers);
      const requestId = input.requestId ? validateName(input.requestId, "request_id") : undefined;
      const payload = validatePayload(input.payload);
      return store(topic, payload, headers, sender, requestId);
    },

    async publishSystem(topic, payload, sender) {
      return (await store(validateTopic(topic), payload, {}, sender)).message;
    },

    subscribe(input) {
      const pattern = validatePattern(input.topic);
      let from: StartPosition = { kind: "now" };
      if (input.startSequence !== undefined && input.startSequence !== 0) {
        if (!Number.isSafeInteger(input.startSequence) || input.startSequence < 1) throw invalidArgument("start_sequence", "must be at least 1");
        from = { kind: "sequence", seq: input.startSequence };
      } else if (input.startTime !== undefined) {
        if (!Number.isFinite(input.startTime)) throw invalidArgument("start_time", "must be a time");
        from = { kind: "time", time: input.startTime };
      }
      const sub = bus.subscribe(topicToSubject(pattern, tenant), { from, bufferSize: input.bufferSize ?? defaultBuffer });
      async function* run(): AsyncGenerator<MailMessage> {
        try {
          for await (const m of sub) yield decode(m);
        } catch (error) {
          if (error instanceof BusUnavailableError) {
            const last = error.lastSeq ?? sub.lastSeq;
            throw new AppError("unavailable", "BUS_UNAVAILABLE", `${error.message}; resume from sequence ${last + 1}`, {
              engine: error.engine,
              last_sequence: String(last),
              resume_sequence: String(last + 1),
            });
          }
          if (error instanceof BusOverflowError) {
            throw new AppError(
              "resource_exhausted",
              "SUBSCRIBER_OVERFLOW",
              `subscriber fell more than ${error.bufferSize} messages behind; resume from sequence ${error.lastSeq + 1}`,
              { last_sequence: String(error.lastSeq), resume_sequence: String(error.lastSeq + 1) },
            );
          }
          throw error;
        } finally {
          sub.close();
        }
      }
      let iterator: AsyncGenerator<MailMessage> | undefined;
      return {
        get lastSequence() {
          return sub.lastSeq;
        },
        close: () => sub.close(),
        [Symbol.asyncIterator]() {
          iterator ??= run();
          return iterator;
        },
      };
    },

    async listMessages(input) {
      const pattern = validatePattern(input.topic);
      const size = pageSize(input.pageSize);
      const cursor = decodePageToken(input.pageToken, (c): c is { after: number } => typeof c.after === "number" && Number.isSafeInteger(c.after));
      let afterSeq = 0;
      if (input.startSequence) {
        if (!Number.isSafeInteger(input.startSequence) || input.startSequence < 0) throw invalidArgument("start_sequence", "must not be negative");
        afterSeq = input.startSequence - 1;
      }
      if (cursor) afterSeq = Math.max(afterSeq, cursor.after);
      const rows = await bus.history(topicToSubject(pattern, tenant), {
        afterSeq,
        fromTime: cursor ? undefined : input.startTime,
        limit: size + 1,
      });
      const page = rows.slice(0, size).map(decode);
      const more = rows.length > size;
      return { messages: page, nextPageToken: more ? encodePageToken({ after: page[page.length - 1]!.sequence }) : "" };
    },

    async getMessage(sequence) {
      if (!Number.isSafeInteger(sequence) || sequence < 1) throw invalidArgument("sequence", "must be at least 1");
      const m = await bus.getMessage(MAIL_STREAM, sequence);
      if (!m || !subjectInTenant(m.subject, tenant)) throw notFound("MESSAGE_NOT_FOUND", `no message with sequence ${sequence} (never published or removed by retention)`, { sequence: String(sequence) });
      return decode(m);
    },
  };
}

function validateName(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0) throw invalidArgument(field, "is required");
  if (value.length > MAX_ID) throw invalidArgument(field, `must be at most ${MAX_ID} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw invalidArgument(field, "must not contain control characters");
  return value;
}

function validatePayload(payload: unknown): Json {
  if (payload === undefined) return null;
  // Only JSON survives the trip: refuse what JSON cannot carry rather than alter it.
  const ok = (v: unknown, depth: number): boolean => {
    if (depth > 64) return false;
    if (v === null || typeof v === "string" || typeof v === "boolean") return true;
    if (typeof v === "number") return Number.isFinite(v);
    if (Array.isArray(v)) return v.every((x) => ok(x, depth + 1));
    if (typeof v === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(v))) return Object.values(v as object).every((x) => ok(x, depth + 1));
    return false;
  };
  if (!ok(payload, 0)) throw invalidArgument("payload", "must be a JSON value (finite numbers, at most 64 levels deep)");
  return payload as Json;
}
