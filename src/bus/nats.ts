import { connect, headers as natsHeaders, type MsgHdrs, type NatsConnection, type Msg } from "@nats-io/transport-node";
import { DiscardPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager, type JsMsg, type StreamConfig as NatsStreamConfig } from "@nats-io/jetstream";
import { systemClock, type Clock } from "../core/clock.ts";
import { failpointAsync } from "../core/failpoints.ts";
import {
  assertPattern,
  assertStreamConfig,
  assertSubject,
  BusClosedError,
  BusUnavailableError,
  BusSubjectError,
  streamForPattern,
  type Bus,
  type BusMessage,
  type StreamConfig,
} from "./bus.ts";
import { createSubscription, type ReplayFrom, type SubscriptionFeed } from "./subscription.ts";

export interface NatsBusOptions {
  /** `nats://host:port` (NATS_URL); several comma-separated servers are allowed. */
  servers: string;
  /** Connection name shown by the server (monitoring). */
  name?: string;
  clock?: Clock;
  /** Wait between reconnect attempts (ms, default 250). */
  reconnectTimeWaitMs?: number;
  /** How long an outage may last before live subscriptions end with BusUnavailableError (ms, default 3000). */
  outageGraceMs?: number;
}

/** Live copies of stream messages are republished by the server under this prefix, with their sequence. */
const LIVE = "live.";
/** Header with the publish time (ms): nats-server 2.9 republishes no timestamp. */
const TIME_HEADER = "Sy-Time";
const REPLAY_PAGE = 256;
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

/**
 * The NATS Bus (`NATS_URL`): each stream is a JetStream stream (file storage, retention by
 * `max_msgs` and `max_age`, deduplication by message id) that republishes every stored message,
 * with its sequence, to `live.<subject>` on core NATS for fan-out. A subscription listens on
 * core NATS and replays from JetStream through an ordered consumer; after a reconnect (server
 * restart, network cut) it replays from its last sequence, so the gap is filled and duplicates
 * are dropped by sequence. Several Switchyard processes sharing a nats-server see each other's
 * publishes.
 */
export async function createNatsBus(options: NatsBusOptions): Promise<Bus> {
  const clock = options.clock ?? systemClock;
  const nc: NatsConnection = await connect({
    servers: options.servers.split(",").map((s) => s.trim()),
    name: options.name ?? "switchyard",
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
    pingInterval: 5_000,
  });
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const js: JetStreamClient = jetstream(nc);
  const streams = new Map<string, StreamConfig>();
  const feeds = new Set<SubscriptionFeed>();
  let closed = false;

  // Outages: publishes fail fast while the server is unreachable; subscriptions survive a short
  // one (core NATS loses what is published meanwhile, so each replays from its last sequence)
  // and end with a resumable error once it outlasts the grace, so clients are not left waiting.
  const servers = options.servers;
  let down: { since: number; detail: string } | undefined;
  let outage: ReturnType<typeof setTimeout> | undefined;
  const subscriptions = new Map<SubscriptionFeed, () => number>();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" && !down) {
        down = { since: clock.now(), detail: `lost the connection to nats-server (${servers})` };
        outage = setTimeout(() => {
          for (const [f, lastSeq] of subscriptions) f.end(new BusUnavailableError("nats", `${down?.detail ?? "disconnected"}; resume from the last sequence received`, lastSeq()));
        }, options.outageGraceMs ?? 3000);
      }
      if (s.type === "reconnect") {
        down = undefined;
        if (outage) clearTimeout(outage);
        for (const f of feeds) f.gap();
      }
    }
  })().catch(() => {});

  function toHeaders(h: Record<string, string>, time: number): MsgHdrs {
    const out = natsHeaders();
    for (const [k, v] of Object.entries(h)) out.set(k, v);
    out.set(TIME_HEADER, String(time));
    return out;
  }

  function fromHeaders(h: MsgHdrs | undefined): { headers: Record<string, string>; time?: number; seq?: number; subject?: string; stream?: string } {
    const headers: Record<string, string> = {};
    let time: number | undefined;
    let seq: number | undefined;
    let subject: string | undefined;
    let stream: string | undefined;
    if (h) {
      for (const [k, values] of h) {
        const v = values[values.length - 1] ?? "";
        if (k === TIME_HEADER) time = Number(v);
        else if (k === "Nats-Sequence") seq = Number(v);
        else if (k === "Nats-Subject") subject = v;
        else if (k === "Nats-Stream") stream = v;
        else if (k.startsWith("Nats-") || k === "Nats-Last-Sequence") continue;
        else headers[k] = v;
      }
    }
    return { headers, time, seq, subject, stream };
  }

  function fromLive(m: Msg): BusMessage {
    const h = fromHeaders(m.headers);
    return {
      stream: h.stream ?? "",
      seq: h.seq ?? 0,
      subject: h.subject ?? m.subject.slice(LIVE.length),
      data: m.data,
      headers: h.headers,
      time: h.time ?? clock.now(),
    };
  }

  function fromStored(stream: string, m: JsMsg): BusMessage {
    const h = fromHeaders(m.headers);
    return {
      stream,
      seq: m.seq,
      subject: m.subject,
      data: m.data,
      headers: h.headers,
      time: h.time ?? Math.floor(m.info.timestampNanos / 1e6),
    };
  }

  /** Stored messages from `from`, read through a short-lived ordered consumer until caught up (or `limit`). */
  async function* replay(stream: string, pattern: string, from: ReplayFrom, limit = Infinity): AsyncGenerator<BusMessage> {
    const opts: Record<string, unknown> = { filter_subjects: pattern, inactive_threshold: 30_000 };
    if ("afterSeq" in from) opts.opt_start_seq = from.afterSeq + 1;
    else opts.opt_start_time = new Date(from.fromTime).toISOString();
    const consumer = await js.consumers.get(stream, opts);
    let delivered = 0;
    try {
      let pending = (await consumer.info(true)).num_pending;
      while (pending > 0 && delivered < limit) {
        const batch = await consumer.fetch({ max_messages: Math.min(pending, REPLAY_PAGE, limit - delivered), expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          pending = m.info.pending;
          delivered++;
          yield fromStored(stream, m);
          if (delivered >= limit) break;
        }
        // Nothing arrived (messages trimmed meanwhile): ask the server what is left.
        if (got === 0) pending = (await consumer.info(false)).num_pending;
      }
    } finally {
      consumer.delete().catch(() => {});
    }
  }

  const streamOf = (pattern: string) => streamForPattern(streams.values(), pattern);

  return {
    kind: "nats",
    health: () =>
      down ? { status: "down", message: `${down.detail} since ${new Date(down.since).toISOString()}; reconnecting`, since: down.since } : { status: "operational", message: `nats-server ${nc.getServer()}` },
    async ensureStream(config) {
      assertStreamConfig(config);
      const ms = (n: number) => n * 1_000_000;
      let window = config.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
      if (config.maxAgeMs) window = Math.min(window, config.maxAgeMs);
      const cfg: Partial<NatsStreamConfig> & { name: string } = {
        name: config.name,
        subjects: [config.subjects],
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_msgs: config.maxMsgs || -1,
        max_age: ms(config.maxAgeMs ?? 0),
        duplicate_window: ms(window),
        republish: { src: config.subjects, dest: LIVE + config.subjects },
      };
      try {
        await jsm.streams.info(config.name);
        await jsm.streams.update(config.name, cfg);
      } catch (error) {
        if (!isStreamNotFound(error)) throw error;
        await jsm.streams.add(cfg);
      }
      streams.set(config.name, { ...config });
    },
    async publish(subject, data, opts = {}) {
      if (closed) throw new BusClosedError();
      assertSubject(subject);
      if (down) throw new BusUnavailableError("nats", `${down.detail} since ${new Date(down.since).toISOString()}`);
      await failpointAsync("bus.publish.before");
      const time = clock.now();
      const hdrs = toHeaders(opts.headers ?? {}, time);
      const stream = streamOf(subject);
      if (!stream) {
        nc.publish(LIVE + subject, data, { headers: hdrs });
        return { stream: "", seq: 0, time, duplicate: false };
      }
      const ack = await js.publish(subject, data, { headers: hdrs, msgID: opts.msgId, timeout: 5_000 }).catch((error: unknown) => {
        if (down) throw new BusUnavailableError("nats", `${down.detail}; the publish may not have been stored`);
        throw error;
      });
      await failpointAsync("bus.publish.after");
      return { stream: ack.stream, seq: ack.seq, time, duplicate: ack.duplicate };
    },
    subscribe(pattern, opts = {}) {
      if (closed) throw new BusClosedError();
      assertPattern(pattern);
      const stream = streamOf(pattern);
      const from = opts.from ?? { kind: "now" };
      if (!stream && from.kind !== "now") throw new BusSubjectError(`no stream captures ${pattern}: only live subscriptions are possible`);
      let handle: { lastSeq: number } | undefined;
      const subscription = createSubscription(
        {
          pattern,
          bufferSize: opts.bufferSize,
          start:
            from.kind === "now"
              ? { live: true, afterSeq: 0 }
              : from.kind === "sequence"
                ? { afterSeq: Math.max(0, from.seq - 1) }
                : { fromTime: from.time },
        },
        (feed) => {
          feeds.add(feed);
          subscriptions.set(feed, () => handle?.lastSeq ?? 0);
          const sub = nc.subscribe(LIVE + pattern, {
            callback: (err, m) => {
              if (!err) feed.push(fromLive(m));
            },
          });
          // The subscription must be registered on the server before the replay (or the
          // "now" position) is read, or a message could fall between the two.
          const ready = nc.flush().then(async () => {
            if (from.kind === "now" && stream) return { afterSeq: (await jsm.streams.info(stream.name)).state.last_seq };
            return {};
          });
          return {
            ready,
            replay: stream ? (f) => replay(stream.name, pattern, f) : undefined,
            detach: () => {
              feeds.delete(feed);
              subscriptions.delete(feed);
              sub.unsubscribe();
            },
          };
        },
      );
      handle = subscription;
      return subscription;
    },
    async history(pattern, query) {
      assertPattern(pattern);
      const stream = streamOf(pattern);
      if (!stream) throw new BusSubjectError(`no stream captures ${pattern}`);
      const out: BusMessage[] = [];
      const from: ReplayFrom = query.fromTime !== undefined ? { fromTime: query.fromTime } : { afterSeq: query.afterSeq ?? 0 };
      for await (const m of replay(stream.name, pattern, from)) {
        if (query.afterSeq !== undefined && m.seq <= query.afterSeq) continue;
        out.push(m);
        if (out.length >= query.limit) break;
      }
      return out;
    },
    async getMessage(stream, seq) {
      try {
        const m = await jsm.streams.getMessage(stream, { seq });
        if (!m) return undefined;
        const h = fromHeaders(m.header);
        return { stream, seq: m.seq, subject: m.subject, data: m.data, headers: h.headers, time: h.time ?? m.time.getTime() };
      } catch (error) {
        if (isNoMessage(error)) return undefined;
        throw error;
      }
    },
    async lastSeq(stream) {
      return (await jsm.streams.info(stream)).state.last_seq;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const f of [...feeds]) f.end();
      feeds.clear();
      await nc.close();
    },
  };
}

function isStreamNotFound(error: unknown): boolean {
  const e = error as { code?: number; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? "");
}

function isNoMessage(error: unknown): boolean {
  const e = error as { api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10037 || /no message found/i.test(e?.message ?? "");
}
