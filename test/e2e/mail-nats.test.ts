// Mail over NATS through real servers: two Switchyard servers share one real nats-server, and
// that nats-server restarts in the middle of a stream.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { MailService } from "../../gen/switchyard/mail/v1/mail_service_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { startNatsServer, type NatsServer } from "../../src/testing/nats-server.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, startTestServer, waitForHttp, type TestServer } from "../../src/testing/server.ts";
import { take } from "../../src/testing/async.ts";

let nats: NatsServer;
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  nats = await startNatsServer();
  a = await startTestServer({ NATS_URL: nats.url });
  b = await startTestServer({ NATS_URL: nats.url });
}, 60_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await nats?.stop();
});


/** Publishes through `server`, retrying (same request_id, so stored once) while NATS is unreachable. */
async function publish(server: TestServer, topic: string, n: number, ms = 20_000): Promise<number> {
  const client = clientFor(MailService, server.url, "grpc");
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const out = await client.publish({ destination: { case: "topic", value: topic }, sender: "p", requestId: `${topic}-${n}`, payload: { kind: { case: "numberValue", value: n } } });
      return Number(out.message!.sequence);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await Bun.sleep(100);
    }
  }
}

const numbers = (rs: { message?: { payload?: { kind: { value?: unknown } } } }[]) => rs.map((r) => r.message!.payload!.kind.value as number);

describe("two servers sharing one nats-server", () => {
  it("deliver each other's publishes to their subscribers, both ways", async () => {
    const first = await publish(a, "shared.x", 0);
    const abortA = new AbortController();
    const abortB = new AbortController();
    const onA = clientFor(MailService, a.url, "connect").subscribe({ topic: "shared.x", start: { case: "startSequence", value: BigInt(first) } }, { signal: abortA.signal })[Symbol.asyncIterator]();
    const onB = clientFor(MailService, b.url, "grpc").subscribe({ topic: "shared.x", start: { case: "startSequence", value: BigInt(first) } }, { signal: abortB.signal })[Symbol.asyncIterator]();
    const gotA = take(onA, 5);
    const gotB = take(onB, 5);
    const seqs = [first];
    for (let i = 1; i < 5; i++) seqs.push(await publish(i % 2 ? b : a, "shared.x", i));
    const [ra, rb] = await Promise.all([gotA, gotB]);
    abortA.abort();
    abortB.abort();
    expect(numbers(ra)).toEqual([0, 1, 2, 3, 4]);
    expect(numbers(rb)).toEqual([0, 1, 2, 3, 4]);
    expect(ra.map((r) => Number(r.message!.sequence))).toEqual(seqs);
  });

  it("delivers a publish on one server to a WebSocket subscriber on the other", async () => {
    const ws = new WebSocket(`${b.url.replace("http", "ws")}/api/mail/subscribe?agentId=far-agent`);
    const frames: any[] = [];
    ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)));
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(frames)}`);
        await Bun.sleep(10);
      }
    };
    await until(() => frames.length > 0);
    const r = await fetch(`${a.url}/api/mail/publish`, { method: "POST", body: JSON.stringify({ type: "note", from: "near", to: "far-agent", payload: { hi: 1 } }) });
    expect(await r.json()).toEqual({ published: true });
    await until(() => frames.some((f) => f.type === "note"));
    ws.close();
    expect(frames.find((f) => f.type === "note")).toMatchObject({ from: "near", to: "far-agent", payload: { hi: 1 } });
  });
});

describe("a nats-server restart in the middle of a stream", () => {
  it("lets subscribers resume; replay fills the gap with no duplicate", async () => {
    const topic = "restart.x";
    const first = await publish(b, topic, 0);
    const abort = new AbortController();
    const sub = clientFor(MailService, a.url, "grpc").subscribe({ topic, start: { case: "startSequence", value: BigInt(first) } }, { signal: abort.signal })[Symbol.asyncIterator]();
    for (let i = 1; i < 5; i++) await publish(b, topic, i);
    const before = await take(sub, 5);
    await nats.restart({ downMs: 300 });
    // Published while server A may still be reconnecting: A's live feed misses them, replay must not.
    for (let i = 5; i < 15; i++) await publish(b, topic, i);
    const after = await take(sub, 10, 30_000);
    abort.abort();
    expect(numbers([...before, ...after])).toEqual(Array.from({ length: 15 }, (_, i) => i));
    const seqs = [...before, ...after].map((r) => Number(r.message!.sequence));
    expect(new Set(seqs).size).toBe(15);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
  }, 60_000);
});

describe("a second Switchyard process on the same nats-server", () => {
  it("delivers publishes between two OS processes, both ways", async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), "switchyard-proc-"));
    const child = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
      env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, NATS_URL: nats.url, SWITCHYARD_LOG_LEVEL: "warn" },
      stdout: "ignore",
      stderr: "ignore",
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/healthz`);
      const remote = { url } as TestServer;
      const first = await publish(a, "procs.x", 0);
      const abortLocal = new AbortController();
      const abortRemote = new AbortController();
      const onLocal = clientFor(MailService, a.url, "grpc").subscribe({ topic: "procs.x", start: { case: "startSequence", value: BigInt(first) } }, { signal: abortLocal.signal })[Symbol.asyncIterator]();
      const onRemote = clientFor(MailService, url, "grpc").subscribe({ topic: "procs.x", start: { case: "startSequence", value: BigInt(first) } }, { signal: abortRemote.signal })[Symbol.asyncIterator]();
      const gotLocal = take(onLocal, 4);
      const gotRemote = take(onRemote, 4);
      for (let i = 1; i < 4; i++) await publish(i % 2 ? remote : a, "procs.x", i);
      const [local, fromRemote] = await Promise.all([gotLocal, gotRemote]);
      abortLocal.abort();
      abortRemote.abort();
      expect(numbers(local)).toEqual([0, 1, 2, 3]);
      expect(numbers(fromRemote)).toEqual([0, 1, 2, 3]);
    } finally {
      child.kill("SIGTERM");
      await child.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
