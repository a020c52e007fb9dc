import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startNatsServer, type NatsServer } from "../testing/nats-server.ts";
import type { BusMessage } from "./bus.ts";
import { describeBus, take } from "./bus.contract.ts";
import { createNatsBus } from "./nats.ts";

// A real nats-server (JetStream) for this file, started here and stopped at the end.
let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describeBus("NATS (JetStream + core)", async () => {
  const bus = await createNatsBus({ servers: server.url, name: "contract" });
  return {
    bus,
    elapse: (ms) => Bun.sleep(ms),
    minAgeMs: 300,
    close: () => bus.close(),
  };
});

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("NATS bus across processes", () => {
  it("delivers each instance's publishes to the other's subscribers (two processes, one nats-server)", async () => {
    const a = await createNatsBus({ servers: server.url, name: "process-a" });
    const b = await createNatsBus({ servers: server.url, name: "process-b" });
    const stream = { name: "SHARED", subjects: "shared.>" };
    await a.ensureStream(stream);
    await b.ensureStream(stream);
    const subA = a.subscribe("shared.>");
    const subB = b.subscribe("shared.>");
    await Bun.sleep(100);
    await a.publish("shared.x", enc.encode("from a"));
    await b.publish("shared.x", enc.encode("from b"));
    const gotA = await take(subA, 2);
    const gotB = await take(subB, 2);
    expect(gotA.map((m) => [m.seq, dec.decode(m.data)])).toEqual([
      [1, "from a"],
      [2, "from b"],
    ]);
    expect(gotB.map((m) => m.seq)).toEqual([1, 2]);
    // History and replay see both too.
    const replayed = b.subscribe("shared.>", { from: { kind: "sequence", seq: 1 } });
    expect((await take(replayed, 2)).map((m) => dec.decode(m.data))).toEqual(["from a", "from b"]);
    for (const s of [subA, subB, replayed]) s.close();
    await a.close();
    await b.close();
  });

  it("resumes subscribers after a nats-server restart mid-stream; replay fills the gap with no duplicate", async () => {
    // The subscriber comes back well after the publisher, so messages are published while it
    // is away: only the replay after its reconnect can deliver them.
    const bus = await createNatsBus({ servers: server.url, name: "restart-sub", reconnectTimeWaitMs: 2_000 });
    const publisher = await createNatsBus({ servers: server.url, name: "restart-pub", reconnectTimeWaitMs: 50 });
    const stream = { name: "RESTART", subjects: "restart.>" };
    await bus.ensureStream(stream);
    await publisher.ensureStream(stream);
    const sub = bus.subscribe("restart.>", { from: { kind: "sequence", seq: 1 } });
    const received: BusMessage[] = [];
    const reading = (async () => {
      for await (const m of sub) {
        received.push(m);
        if (received.length === 60) break;
      }
    })();

    async function publishWithRetry(i: number) {
      for (let attempt = 0; ; attempt++) {
        try {
          // The message id makes a retried publish safe (stored once).
          return await publisher.publish("restart.n", enc.encode(String(i)), { msgId: `n-${i}` });
        } catch (error) {
          if (attempt > 100) throw error;
          await Bun.sleep(100);
        }
      }
    }

    for (let i = 0; i < 20; i++) await publishWithRetry(i);
    const restarting = server.restart({ downMs: 300 });
    // Published while the server is going down and coming back: some fail and are retried.
    for (let i = 20; i < 40; i++) await publishWithRetry(i);
    await restarting;
    for (let i = 40; i < 60; i++) await publishWithRetry(i);
    await Promise.race([reading, Bun.sleep(20_000).then(() => Promise.reject(new Error(`only ${received.length} of 60 after restart`)))]);
    expect(received.map((m) => dec.decode(m.data))).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
    expect(received.map((m) => m.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    await bus.close();
    await publisher.close();
  }, 40_000);
});
