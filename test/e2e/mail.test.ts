// The mail domain through a real server: publish/subscribe on every protocol, replay after a
// disconnect, slow vs fast subscribers, the lease race, lease errors on REST and RPC.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { LeaseService } from "../../gen/switchyard/mail/v1/lease_service_pb.js";
import { MailService } from "../../gen/switchyard/mail/v1/mail_service_pb.js";
import { clientFor, type Protocol } from "../../src/testing/clients.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";
import { rejection, take } from "../../src/testing/async.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const json = (v: unknown) => ({ kind: { case: "structValue" as const, value: { fields: { n: { kind: { case: "numberValue" as const, value: v as number } } } } } });



async function publish(topic: string, n: number, protocol: Protocol = "grpc"): Promise<number> {
  const out = await clientFor(MailService, server.url, protocol).publish({ destination: { case: "topic", value: topic }, sender: "tester", payload: json(n) });
  return Number(out.message!.sequence);
}

/** Reads SSE `event: message` frames from a REST subscription. */
async function* sse(url: string, signal: AbortSignal): AsyncGenerator<{ event: string; data: any }> {
  const r = await fetch(url, { signal });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/event-stream");
  const reader = r.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data !== undefined) yield { event, data: JSON.parse(data) };
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** A WebSocket client that keeps every frame; `until` polls them with a deadline. */
function socket(url: string, headers: Record<string, string> = {}) {
  const frames: any[] = [];
  const ws = new WebSocket(url, { headers } as never);
  let closed: { code: number; reason: string } | undefined;
  ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)));
  ws.onclose = (e) => (closed = { code: e.code, reason: e.reason });
  return {
    ws,
    frames,
    get closed() {
      return closed;
    },
    async until<T>(check: () => T | undefined | false, ms = 10_000): Promise<T> {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const v = check();
        if (v) return v;
        await Bun.sleep(10);
      }
      throw new Error(`timed out; frames: ${JSON.stringify(frames).slice(0, 2000)}`);
    },
  };
}

describe("publish and subscribe", () => {
  for (const protocol of ["grpc", "connect", "grpc-web"] as Protocol[]) {
    it(`replays then streams live messages over ${protocol}`, async () => {
      const topic = `proto.${protocol.replace("-", "_")}`;
      const first = await publish(topic, 1, protocol);
      const abort = new AbortController();
      const client = clientFor(MailService, server.url, protocol);
      const it = client.subscribe({ topic, start: { case: "startSequence", value: BigInt(first) } }, { signal: abort.signal })[Symbol.asyncIterator]();
      const replayed = await take(it, 1);
      await publish("other.topic", 0, protocol);
      const s2 = await publish(topic, 2, protocol);
      const s3 = await publish(topic, 3, protocol);
      const live = await take(it, 2);
      abort.abort();
      const got = [...replayed, ...live].map((r) => r.message!);
      expect(got.map((m) => Number(m.sequence))).toEqual([first, s2, s3]);
      expect(got.map((m) => m.topic)).toEqual([topic, topic, topic]);
      expect(got.map((m) => (m.payload!.kind.value as any).fields.n.kind.value)).toEqual([1, 2, 3]);
      expect(got[0]!.sender).toBe("tester");
    });
  }

  it("streams a wildcard pattern over SSE (REST GET /v1/messages:subscribe)", async () => {
    const a = await publish("sse.a", 1);
    const abort = new AbortController();
    const events = sse(`${server.url}/v1/messages:subscribe?topic=sse.*&start_sequence=${a}`, abort.signal);
    const first = await take(events, 1);
    const b = await publish("sse.b", 2);
    await publish("sse.b.deeper", 3); // `*` is one token: not matched
    const c = await publish("sse.c", 4);
    const rest = await take(events, 2);
    abort.abort();
    const all = [...first, ...rest];
    expect(all.map((e) => e.event)).toEqual(["message", "message", "message"]);
    expect(all.map((e) => Number(e.data.message.sequence))).toEqual([a, b, c]);
    expect(all.map((e) => e.data.message.topic)).toEqual(["sse.a", "sse.b", "sse.c"]);
  });

  it("delivers an agent's inbox and broadcasts over the seed 000 WebSocket", async () => {
    const ws = socket(`${server.url.replace("http", "ws")}/api/mail/subscribe?agentId=ws-agent`);
    const hello = await ws.until(() => ws.frames.find((f) => f.type === "switchyard.subscribed"));
    expect(hello.agentId).toBe("ws-agent");
    await clientFor(MailService, server.url, "grpc").publish({ destination: { case: "agent", value: "ws-agent" }, sender: "boss", payload: json(7) });
    await clientFor(MailService, server.url, "grpc").publish({ destination: { case: "agent", value: "someone-else" }, sender: "boss", payload: json(8) });
    const legacy = (body: unknown) => fetch(`${server.url}/api/mail/publish`, { method: "POST", body: JSON.stringify(body) }).then(async (r) => [r.status, await r.json()]);
    expect(await legacy({ type: "task.created", from: "ws-agent", payload: { own: true } })).toEqual([200, { published: true }]);
    expect(await legacy({ id: "jp-1", type: "task.created", from: "peer", payload: { title: "x" } })).toEqual([200, { published: true }]);
    expect(await legacy({ id: "jp-2", type: "direct", from: "peer", to: "ws-agent", payload: "hi" })).toEqual([200, { published: true }]);
    const msgs = await ws.until(() => (ws.frames.filter((f) => f.sequence).length >= 3 ? ws.frames.filter((f) => f.sequence) : undefined));
    // The agent's own broadcast would have come before jp-1 on the broadcast stream: it is not echoed.
    ws.ws.close();
    const byType = Object.fromEntries(ws.frames.filter((f) => f.sequence).map((f) => [f.type === "message" ? `inbox:${f.payload.n}` : f.type, f]));
    expect(Object.keys(byType).sort()).toEqual(["direct", "inbox:7", "task.created"]);
    expect(byType["task.created"]).toMatchObject({ id: "jp-1", from: "peer", payload: { title: "x" }, topic: "broadcast.task.created" });
    expect(byType["direct"]).toMatchObject({ id: "jp-2", from: "peer", to: "ws-agent", payload: "hi", topic: "inbox.ws-agent" });
    expect(byType["inbox:7"]).toMatchObject({ from: "boss", to: "ws-agent", topic: "inbox.ws-agent" });
    expect(Date.parse(byType["direct"].timestamp)).toBeGreaterThan(0);
    expect(msgs.length).toBe(3);
  });
});

describe("replay after a disconnect", () => {
  it("gives a reconnecting gRPC subscriber exactly the missed messages, in order", async () => {
    const topic = "replay.grpc";
    const first: number[] = [];
    for (let i = 0; i < 5; i++) first.push(await publish(topic, i));
    const abort = new AbortController();
    const client = clientFor(MailService, server.url, "grpc");
    const it = client.subscribe({ topic, start: { case: "startSequence", value: BigInt(first[0]!) } }, { signal: abort.signal })[Symbol.asyncIterator]();
    const seen = (await take(it, 3)).map((r) => Number(r.message!.sequence));
    abort.abort(); // disconnect after 3 of 5
    const later: number[] = [];
    for (let i = 5; i < 10; i++) later.push(await publish(topic, i));
    const abort2 = new AbortController();
    const it2 = client.subscribe({ topic, start: { case: "startSequence", value: BigInt(seen.at(-1)! + 1) } }, { signal: abort2.signal })[Symbol.asyncIterator]();
    const resumed = (await take(it2, 7)).map((r) => Number(r.message!.sequence));
    abort2.abort();
    expect(seen).toEqual(first.slice(0, 3));
    expect(resumed).toEqual([...first.slice(3), ...later]);
  });

  it("resumes the WebSocket from a frame's cursor with no gap and no duplicate", async () => {
    const base = `${server.url.replace("http", "ws")}/api/mail/subscribe?agentId=resumer`;
    const send = (n: number, to?: string) =>
      fetch(`${server.url}/api/mail/publish`, { method: "POST", body: JSON.stringify({ type: "replay.ws", from: "peer", to, payload: { n } }) });
    const a = socket(base);
    await a.until(() => a.frames.length > 0);
    for (let i = 0; i < 4; i++) await send(i, i % 2 ? "resumer" : undefined);
    await a.until(() => a.frames.filter((f) => f.sequence).length === 4);
    a.ws.close();
    const cursor = a.frames.at(-1).cursor as string;
    for (let i = 4; i < 8; i++) await send(i, i % 2 ? "resumer" : undefined);
    const b = socket(`${base}&cursor=${cursor}`);
    await b.until(() => b.frames.filter((f) => f.sequence).length === 4);
    b.ws.close();
    const ns = (frames: any[]) => frames.filter((f) => f.sequence).map((f) => f.payload.n).sort();
    expect(ns(a.frames)).toEqual([0, 1, 2, 3]);
    expect(ns(b.frames)).toEqual([4, 5, 6, 7]);
  });

  it("replays history with pagination over REST", async () => {
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) seqs.push(await publish("history.x", i));
    const page1 = await fetch(`${server.url}/v1/messages?topic=history.x&page_size=3`).then((r) => r.json());
    const page2 = await fetch(`${server.url}/v1/messages?topic=history.x&page_size=3&page_token=${page1.next_page_token}`).then((r) => r.json());
    expect([...page1.messages, ...page2.messages].map((m: any) => Number(m.sequence))).toEqual(seqs);
    expect(page2.next_page_token ?? "").toBe("");
  });
});

describe("slow and fast subscribers", () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ SWITCHYARD_MAIL_SUBSCRIBER_BUFFER: "20" });
  });
  afterAll(() => small.close());

  it("ends only the slow stream with resource_exhausted; it resumes from its last sequence while the fast one keeps up", async () => {
    const topic = "flood.x";
    const publisher = clientFor(MailService, small.url, "grpc");
    const pad = "x".repeat(4096);
    const pub = async (i: number) =>
      Number((await publisher.publish({ destination: { case: "topic", value: topic }, sender: "p", payload: { kind: { case: "stringValue", value: `${i}:${pad}` } } })).message!.sequence);
    const start = await pub(0);
    const N = 600;
    const slowAbort = new AbortController();
    const fastAbort = new AbortController();
    const slow = clientFor(MailService, small.url, "grpc").subscribe({ topic, start: { case: "startSequence", value: BigInt(start) } }, { signal: slowAbort.signal })[Symbol.asyncIterator]();
    const fast = clientFor(MailService, small.url, "connect").subscribe({ topic, start: { case: "startSequence", value: BigInt(start) } }, { signal: fastAbort.signal })[Symbol.asyncIterator]();
    const slowSeen = (await take(slow, 1)).map((r) => Number(r.message!.sequence));
    const fastSeen = (await take(fast, 1)).map((r) => Number(r.message!.sequence));
    // The fast reader drains while the messages are published; the slow one reads nothing.
    const fastReading = take(fast, N).then((rs) => fastSeen.push(...rs.map((r) => Number(r.message!.sequence))));
    const expected = [start];
    for (let i = 1; i <= N; i++) expected.push(await pub(i));
    await fastReading;
    fastAbort.abort();
    expect(fastSeen).toEqual(expected);

    // Now the slow one reads what the transport held, then meets the end of its stream.
    let overflow: ConnectError | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        const next = await slow.next();
        if (next.done) break;
        slowSeen.push(Number(next.value.message!.sequence));
      } catch (e) {
        overflow = ConnectError.from(e);
        break;
      }
    }
    expect(overflow?.code).toBe(Code.ResourceExhausted);
    const info = overflow!.findDetails(ErrorInfoSchema)[0]!;
    expect(info.reason).toBe("SUBSCRIBER_OVERFLOW");
    expect(slowSeen.length).toBeLessThan(expected.length);
    const resume = Number(info.metadata.resume_sequence);
    expect(resume).toBe(slowSeen.at(-1)! + 1);
    const resumed = clientFor(MailService, small.url, "grpc").subscribe({ topic, start: { case: "startSequence", value: BigInt(resume) } }, { signal: slowAbort.signal })[Symbol.asyncIterator]();
    const rest = (await take(resumed, expected.length - slowSeen.length)).map((r) => Number(r.message!.sequence));
    slowAbort.abort();
    expect([...slowSeen, ...rest]).toEqual(expected);
  }, 60_000);
});

describe("leases through the server", () => {
  it("lets exactly one of 24 concurrent acquirers over gRPC, Connect and REST hold a path, round after round", async () => {
    const protocols: Protocol[] = ["grpc", "connect", "grpc-web"];
    const path = "race/shared/file.ts";
    let lastToken = 0;
    for (let round = 0; round < 3; round++) {
      const outcomes = await Promise.all(
        Array.from({ length: 24 }, async (_, i) => {
          const holder = `agent-${round}-${i}`;
          if (i % 4 === 3) {
            const r = await fetch(`${server.url}/v1/leases:acquire`, { method: "POST", body: JSON.stringify({ path, holder, ttl: "30s" }) });
            const body = await r.json();
            return r.status === 200 ? { holder, token: Number(body.lease.fencing_token) } : { holder, refused: body.error.reason as string, status: r.status, by: body.error.metadata.holder };
          }
          try {
            const out = await clientFor(LeaseService, server.url, protocols[i % 3]!).acquireLease({ path, holder, ttl: { seconds: 30n, nanos: 0 } });
            return { holder, token: Number(out.lease!.fencingToken) };
          } catch (e) {
            const error = ConnectError.from(e);
            const info = error.findDetails(ErrorInfoSchema)[0];
            return { holder, refused: info?.reason, status: error.code === Code.Aborted ? 409 : error.code, by: info?.metadata.holder };
          }
        }),
      );
      const winners = outcomes.filter((o) => "token" in o) as { holder: string; token: number }[];
      expect(winners.length).toBe(1);
      const winner = winners[0]!;
      expect(winner.token).toBeGreaterThan(lastToken);
      lastToken = winner.token;
      for (const o of outcomes) if (!("token" in o)) expect(o).toMatchObject({ refused: "LEASE_HELD", status: 409, by: winner.holder });
      const got = await clientFor(LeaseService, server.url, "grpc").getLease({ path });
      expect(got.lease!.holder).toBe(winner.holder);
      await clientFor(LeaseService, server.url, "grpc").releaseLease({ path, fencingToken: BigInt(winner.token) });
    }
  });

  it("answers contention with 409 LEASE_HELD naming the holder and expiry, and reads a path with slashes", async () => {
    const path = "src/deep/dir/a.ts";
    const a = await fetch(`${server.url}/v1/leases:acquire`, { method: "POST", body: JSON.stringify({ path: `./${path}`, holder: "a", ttl: "20s" }) }).then((r) => r.json());
    expect(a.lease.path).toBe(path);
    const r = await fetch(`${server.url}/v1/leases:acquire`, { method: "POST", body: JSON.stringify({ path, holder: "b" }) });
    expect(r.status).toBe(409);
    const e = (await r.json()).error;
    expect(e.reason).toBe("LEASE_HELD");
    expect(e.metadata.holder).toBe("a");
    expect(Date.parse(e.metadata.expire_time)).toBe(Date.parse(a.lease.expire_time));
    const got = await fetch(`${server.url}/v1/leases/${path}`);
    expect(got.status).toBe(200);
    expect((await got.json()).lease).toMatchObject({ path, holder: "a", fencing_token: a.lease.fencing_token });
    const free = await fetch(`${server.url}/v1/leases/src/deep/dir/free.ts`);
    expect(free.status).toBe(404);
    expect((await free.json()).error.reason).toBe("LEASE_NOT_FOUND");
    const list = await fetch(`${server.url}/v1/leases?prefix=src/deep/`).then((r) => r.json());
    expect(list.leases.map((l: any) => l.path)).toEqual([path]);
  });

  it("refuses a stale token after expiry with LEASE_LOST (400 on REST, failed_precondition on gRPC)", async () => {
    const client = clientFor(LeaseService, server.url, "grpc");
    const path = "expiring/file.ts";
    const old = (await client.acquireLease({ path, holder: "slowpoke", ttl: { seconds: 1n, nanos: 0 } })).lease!;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const r = await fetch(`${server.url}/v1/leases/${path}`);
      if (r.status === 404) break;
      await Bun.sleep(50);
    }
    const renew = await rejection(client.renewLease({ path, fencingToken: old.fencingToken }));
    expect(renew.code).toBe(Code.FailedPrecondition);
    expect(renew.findDetails(ErrorInfoSchema)[0]?.reason).toBe("LEASE_LOST");
    const fresh = (await client.acquireLease({ path, holder: "newcomer" })).lease!;
    expect(fresh.fencingToken).toBeGreaterThan(old.fencingToken);
    const r = await fetch(`${server.url}/v1/leases:release`, { method: "POST", body: JSON.stringify({ path, fencing_token: String(old.fencingToken) }) });
    expect(r.status).toBe(400);
    expect((await r.json()).error.reason).toBe("LEASE_LOST");
    expect((await client.getLease({ path })).lease!.holder).toBe("newcomer");
  });

  const badPaths: { name: string; path: string }[] = [
    { name: "a '..' segment", path: "src/../etc/passwd" },
    { name: "a leading '..'", path: "../x" },
    { name: "a NUL", path: "src/a\u0000b" },
    { name: "a control character", path: "src/a\u0007b" },
    { name: "a backslash", path: "src\\a.ts" },
    { name: "over 1024 bytes", path: "a/".repeat(300) + "b".repeat(500) },
    { name: "only slashes", path: "///" },
  ];
  for (const c of badPaths) {
    it(`refuses a path with ${c.name}: 400 naming the field on REST, invalid_argument on gRPC`, async () => {
      const r = await fetch(`${server.url}/v1/leases:acquire`, { method: "POST", body: JSON.stringify({ path: c.path, holder: "h" }) });
      expect(r.status).toBe(400);
      const e = (await r.json()).error;
      expect(e.reason).toBe("INVALID_ARGUMENT");
      expect(e.metadata.field).toBe("path");
      const g = await rejection(clientFor(LeaseService, server.url, "grpc").acquireLease({ path: c.path, holder: "h" }));
      expect(g.code).toBe(Code.InvalidArgument);
    });
  }

  it("streams lease events to a watcher", async () => {
    const abort = new AbortController();
    const client = clientFor(LeaseService, server.url, "connect");
    const from = await publish("marker.watch", 0);
    const it = client.watchLeaseEvents({ prefix: "watched/", startSequence: BigInt(from) }, { signal: abort.signal })[Symbol.asyncIterator]();
    const pending = take(it, 2);
    const lease = (await client.acquireLease({ path: "watched/a", holder: "w" })).lease!;
    await client.releaseLease({ path: "watched/a", fencingToken: lease.fencingToken });
    const events = await pending;
    abort.abort();
    expect(events.map((e) => [e.event!.type, e.event!.lease!.path, e.event!.lease!.fencingToken])).toEqual([
      [1, "watched/a", lease.fencingToken],
      [2, "watched/a", lease.fencingToken],
    ]);
  });
});
