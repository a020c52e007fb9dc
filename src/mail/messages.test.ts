import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { AppError } from "../core/errors.ts";
import { createNatsBus } from "../bus/nats.ts";
import { startNatsServer, type NatsServer } from "../testing/nats-server.ts";
import type { MailMessage } from "./messages.ts";
import { createMailFixture, takeN, type MailFixture } from "./testing.ts";

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

let natsStreams = 0;
const buses = {
  "in-process bus over SQLite": undefined,
  // Each fixture gets a fresh nats-server stream by deleting MAIL from the previous test.
  "NATS bus": async () => {
    const bus = await createNatsBus({ servers: server.url, name: `mail-test-${++natsStreams}` });
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const { connect } = await import("@nats-io/transport-node");
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete("MAIL").catch(() => false);
    await nc.close();
    return bus;
  },
} as const;

async function expectAppError(p: Promise<unknown> | (() => unknown), code: string, reason: string, field?: string): Promise<AppError> {
  let error: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(AppError);
  const e = error as AppError;
  expect({ code: e.code as string, reason: e.reason }).toEqual({ code, reason });
  if (field) expect(e.metadata.field).toBe(field);
  return e;
}

for (const [name, makeBus] of Object.entries(buses)) {
  describe(`mail messages (${name})`, () => {
    let f: MailFixture;
    afterEach(async () => {
      await f?.close();
    });
    const open = async (extra: Parameters<typeof createMailFixture>[0] = {}) => {
      f = await createMailFixture({ ...(makeBus ? { bus: () => makeBus() } : {}), ...extra });
      return f.mail.messages;
    };

    it("publishes to a topic and answers the stored message with its sequence", async () => {
      const m = await open();
      const r = await m.publish({ topic: "builds.done", payload: { ok: true, n: 3 }, headers: { "content-type": "application/json" }, sender: "agent-1" });
      expect(r.duplicate).toBe(false);
      expect(r.message).toMatchObject({ sequence: 1, topic: "builds.done", payload: { ok: true, n: 3 }, sender: "agent-1", headers: { "content-type": "application/json" } });
      expect(r.message.id).toStartWith("msg_");
      const again = await m.getMessage(1);
      expect(again).toEqual(r.message);
    });

    it("publishes to an agent's inbox as the topic inbox.<agent>", async () => {
      const m = await open();
      const sub = m.subscribe({ topic: "inbox.agent-7" });
      await Bun.sleep(50);
      const r = await m.publish({ agent: "agent-7", payload: "hello", sender: "lead" });
      expect(r.message.topic).toBe("inbox.agent-7");
      const [got] = await takeN(sub, 1);
      expect(got).toMatchObject({ topic: "inbox.agent-7", payload: "hello", sender: "lead" });
      sub.close();
    });

    it("answers a retried publish with the same request id with the first message", async () => {
      const m = await open();
      const a = await m.publish({ topic: "t", payload: 1, sender: "s", requestId: "r-1" });
      const b = await m.publish({ topic: "t", payload: 1, sender: "s", requestId: "r-1" });
      expect(b.duplicate).toBe(true);
      expect(b.message.sequence).toBe(a.message.sequence);
      expect(b.message.id).toBe(a.message.id);
      expect((await m.listMessages({ topic: "t" })).messages).toHaveLength(1);
    });

    it("replays what a subscriber missed after a disconnect: no gap, no duplicate", async () => {
      const m = await open();
      const first = m.subscribe({ topic: "jobs.>", startSequence: 1 });
      for (let i = 0; i < 10; i++) await m.publish({ topic: i % 2 ? "jobs.a" : "jobs.b", payload: i, sender: "p" });
      const seen = await takeN(first, 6);
      const last = first.lastSequence;
      first.close();
      for (let i = 10; i < 20; i++) await m.publish({ topic: "jobs.a", payload: i, sender: "p" });
      const second = m.subscribe({ topic: "jobs.>", startSequence: last + 1 });
      const rest = await takeN(second, 14);
      second.close();
      const all = [...seen, ...rest];
      expect(all.map((x) => x.payload)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(all.map((x) => x.sequence)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it("ends a slow subscriber with SUBSCRIBER_OVERFLOW while a fast one keeps up", async () => {
      const m = await open({ subscriberBuffer: 20 });
      const slow = m.subscribe({ topic: "firehose" });
      const fast = m.subscribe({ topic: "firehose" });
      const slowIt = slow[Symbol.asyncIterator]();
      const firstSlow = slowIt.next();
      const fastGot: MailMessage[] = [];
      const fastDone = (async () => {
        for await (const x of fast) {
          fastGot.push(x);
          if (fastGot.length === 200) break;
        }
      })();
      await Bun.sleep(50);
      for (let i = 0; i < 200; i++) await m.publish({ topic: "firehose", payload: i, sender: "p" });
      await fastDone;
      expect(fastGot.map((x) => x.payload)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect((await firstSlow).value?.payload).toBe(0);
      const e = await expectAppError(
        (async () => {
          for (let r = await slowIt.next(); !r.done; r = await slowIt.next());
        })(),
        "resource_exhausted",
        "SUBSCRIBER_OVERFLOW",
      );
      expect(e.metadata.resume_sequence).toBe("2");
      // The client resumes from its last sequence and gets everything it missed.
      const resumed = m.subscribe({ topic: "firehose", startSequence: Number(e.metadata.resume_sequence) });
      expect((await takeN(resumed, 199)).map((x) => x.payload)).toEqual(Array.from({ length: 199 }, (_, i) => i + 1));
      resumed.close();
    });

    it("pages history of a topic pattern with opaque tokens", async () => {
      const m = await open();
      for (let i = 0; i < 7; i++) await m.publish({ topic: i < 5 ? "h.x" : "other", payload: i, sender: "p" });
      const p1 = await m.listMessages({ topic: "h.*", pageSize: 2 });
      const p2 = await m.listMessages({ topic: "h.*", pageSize: 2, pageToken: p1.nextPageToken });
      const p3 = await m.listMessages({ topic: "h.*", pageSize: 2, pageToken: p2.nextPageToken });
      expect([p1, p2, p3].map((p) => p.messages.map((x) => x.payload))).toEqual([[0, 1], [2, 3], [4]]);
      expect(p3.nextPageToken).toBe("");
      const fromSeq = await m.listMessages({ topic: ">", startSequence: 6 });
      expect(fromSeq.messages.map((x) => x.payload)).toEqual([5, 6]);
      await expectAppError(m.listMessages({ topic: "h.*", pageToken: "garbage" }), "invalid_argument", "INVALID_ARGUMENT", "page_token");
      await expectAppError(m.listMessages({ topic: "h.*", pageSize: 1001 }), "invalid_argument", "INVALID_ARGUMENT", "page_size");
    });

    it("keeps only the configured number of messages", async () => {
      const m = await open({ retention: { maxMessages: 3 } });
      for (let i = 0; i < 5; i++) await m.publish({ topic: "r", payload: i, sender: "p" });
      expect((await m.listMessages({ topic: "r" })).messages.map((x) => x.payload)).toEqual([2, 3, 4]);
      await expectAppError(m.getMessage(1), "not_found", "MESSAGE_NOT_FOUND");
    });

    it("refuses bad topics, senders, headers and payloads naming the field, and server-only topics", async () => {
      const m = await open();
      await expectAppError(m.publish({ topic: "a.*", sender: "s" }), "invalid_argument", "INVALID_ARGUMENT", "topic");
      await expectAppError(m.publish({ topic: "", sender: "s" }), "invalid_argument", "INVALID_ARGUMENT", "topic");
      await expectAppError(m.publish({ agent: "bad.agent", sender: "s" }), "invalid_argument", "INVALID_ARGUMENT", "agent");
      await expectAppError(m.publish({ topic: "t", sender: "" }), "invalid_argument", "INVALID_ARGUMENT", "sender");
      await expectAppError(m.publish({ topic: "t", sender: "s", headers: { "bad name": "x" } }), "invalid_argument", "INVALID_ARGUMENT", "headers");
      await expectAppError(m.publish({ topic: "t", sender: "s", payload: Number.NaN }), "invalid_argument", "INVALID_ARGUMENT", "payload");
      await expectAppError(m.publish({ topic: "leases.acquired", sender: "s" }), "permission_denied", "TOPIC_RESERVED");
      await expectAppError(() => m.subscribe({ topic: "a.>.b" }), "invalid_argument", "INVALID_ARGUMENT", "topic");
      await expectAppError(m.getMessage(0), "invalid_argument", "INVALID_ARGUMENT", "sequence");
    });
  });
}

describe("mail messages on the in-process bus", () => {
  it("forgets messages older than the configured age", async () => {
    const f = await createMailFixture({ retention: { maxAgeMs: 60_000 } });
    const m = f.mail.messages;
    await m.publish({ topic: "old", payload: 1, sender: "p" });
    f.clock.advance(61_000);
    await m.publish({ topic: "old", payload: 2, sender: "p" });
    expect((await m.listMessages({ topic: "old" })).messages.map((x) => x.payload)).toEqual([2]);
    await f.close();
  });

  it("replays from a time", async () => {
    const f = await createMailFixture();
    const m = f.mail.messages;
    await m.publish({ topic: "tt", payload: "before", sender: "p" });
    f.clock.advance(1000);
    const since = f.clock.now();
    await m.publish({ topic: "tt", payload: "after", sender: "p" });
    const sub = m.subscribe({ topic: "tt", startTime: since });
    expect((await takeN(sub, 1)).map((x) => x.payload)).toEqual(["after"]);
    sub.close();
    expect((await m.listMessages({ topic: "tt", startTime: since })).messages.map((x) => x.payload)).toEqual(["after"]);
    await f.close();
  });
});
