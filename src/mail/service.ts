import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { durationMs, timestampFromMs, timestampMs, ValueSchema, type Duration, type Timestamp, type Value } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { LeaseService } from "../../gen/switchyard/mail/v1/lease_service_pb.js";
import {
  LeaseEventType as PbLeaseEventType,
  LeaseEventSchema,
  LeaseSchema,
  MessageSchema,
  type Lease as PbLease,
  type LeaseEvent as PbLeaseEvent,
  type Message as PbMessage,
} from "../../gen/switchyard/mail/v1/mail_pb.js";
import { MailService } from "../../gen/switchyard/mail/v1/mail_service_pb.js";
import { notFound } from "../core/errors.ts";
import { tenantOf } from "../core/principal.ts";
import type { Lease, LeaseEvent, LeaseEventType } from "./leases.ts";
import type { Mail } from "./mail.ts";
import type { Json, MailMessage } from "./messages.ts";

const ms = (d: Duration | undefined): number | undefined => (d ? durationMs(d) : undefined);
const at = (t: Timestamp | undefined): number | undefined => (t ? timestampMs(t) : undefined);
const jsonOf = (v: Value | undefined): Json | undefined => (v ? (toJson(ValueSchema, v) as Json) : undefined);
const seq = (n: bigint): number | undefined => (n === 0n ? undefined : Number(n));

/** A domain message as the proto Message. */
export function messageMessage(m: MailMessage): PbMessage {
  return create(MessageSchema, {
    sequence: BigInt(m.sequence),
    id: m.id,
    topic: m.topic,
    payload: fromJson(ValueSchema, m.payload as JsonValue),
    headers: m.headers,
    sender: m.sender,
    publishTime: timestampFromMs(m.publishTime),
  });
}

/** A domain lease as the proto Lease. */
export function leaseMessage(l: Lease): PbLease {
  return create(LeaseSchema, {
    path: l.path,
    holder: l.holder,
    fencingToken: BigInt(l.fencingToken),
    acquireTime: timestampFromMs(l.acquireTime),
    expireTime: timestampFromMs(l.expireTime),
  });
}

const EVENT_TYPES: Record<LeaseEventType, PbLeaseEventType> = {
  acquired: PbLeaseEventType.ACQUIRED,
  released: PbLeaseEventType.RELEASED,
  expired: PbLeaseEventType.EXPIRED,
  renewed: PbLeaseEventType.RENEWED,
};

const eventMessage = (e: LeaseEvent): PbLeaseEvent =>
  create(LeaseEventSchema, {
    sequence: BigInt(e.sequence),
    type: EVENT_TYPES[e.type],
    lease: leaseMessage(e.lease),
    eventTime: timestampFromMs(e.eventTime),
  });

/** Iterates a domain subscription until the call ends; the subscription is closed either way. */
async function* untilAborted<T>(sub: AsyncIterable<T> & { close(): void }, ctx: HandlerContext): AsyncGenerator<T> {
  const onAbort = () => sub.close();
  ctx.signal.addEventListener("abort", onAbort);
  try {
    if (ctx.signal.aborted) return;
    yield* sub;
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    sub.close();
  }
}

/** MailService: thin mappings from RPCs onto the mail domain's messages. */
export function mailService(mail: Mail): Partial<ServiceImpl<typeof MailService>> {
  const scoped = (ctx: HandlerContext) => mail.messages.forTenant(tenantOf(ctx));
  return {
    async publish(req, ctx) {
      const out = await scoped(ctx).publish({
        topic: req.destination.case === "topic" ? req.destination.value : undefined,
        agent: req.destination.case === "agent" ? req.destination.value : undefined,
        payload: jsonOf(req.payload),
        headers: req.headers,
        sender: req.sender,
        requestId: req.requestId || undefined,
      });
      return { message: messageMessage(out.message), duplicate: out.duplicate };
    },
    async *subscribe(req, ctx) {
      const sub = scoped(ctx).subscribe({
        topic: req.topic,
        startSequence: req.start.case === "startSequence" ? seq(req.start.value) : undefined,
        startTime: req.start.case === "startTime" ? at(req.start.value) : undefined,
      });
      for await (const m of untilAborted(sub, ctx)) yield { message: messageMessage(m) };
    },
    async listMessages(req, ctx) {
      const page = await scoped(ctx).listMessages({
        topic: req.topic,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        startSequence: seq(req.startSequence),
        startTime: at(req.startTime),
      });
      return { messages: page.messages.map(messageMessage), nextPageToken: page.nextPageToken };
    },
    getMessage: async (req, ctx) => ({ message: messageMessage(await scoped(ctx).getMessage(Number(req.sequence))) }),
  };
}

/** LeaseService: thin mappings from RPCs onto the mail domain's leases. */
export function leaseService(mail: Mail): Partial<ServiceImpl<typeof LeaseService>> {
  const scoped = (ctx: HandlerContext) => mail.leases.forTenant(tenantOf(ctx));
  return {
    acquireLease: async (req, ctx) => ({ lease: leaseMessage(await scoped(ctx).acquire({ path: req.path, holder: req.holder, ttlMs: ms(req.ttl) })) }),
    renewLease: async (req, ctx) => ({ lease: leaseMessage(await scoped(ctx).renew({ path: req.path, fencingToken: Number(req.fencingToken), ttlMs: ms(req.ttl) })) }),
    releaseLease: async (req, ctx) => ({ lease: leaseMessage(await scoped(ctx).release({ path: req.path, fencingToken: Number(req.fencingToken) })) }),
    async getLease(req, ctx) {
      const lease = await scoped(ctx).get(req.path);
      if (!lease) throw notFound("LEASE_NOT_FOUND", `no lease on ${req.path}`, { path: req.path });
      return { lease: leaseMessage(lease) };
    },
    async listLeases(req, ctx) {
      const page = await scoped(ctx).list({ prefix: req.prefix, holder: req.holder || undefined, pageSize: req.pageSize, pageToken: req.pageToken });
      return { leases: page.leases.map(leaseMessage), nextPageToken: page.nextPageToken };
    },
    async *watchLeaseEvents(req, ctx) {
      const sub = scoped(ctx).watch({ prefix: req.prefix, startSequence: seq(req.startSequence) });
      for await (const e of untilAborted(sub, ctx)) yield { event: eventMessage(e) };
    },
  };
}
