// An engine that goes away: nats-server killed and restarted under publish and subscribe load,
// with Switchyard on NATS_URL. Publishes fail fast with BUS_UNAVAILABLE instead of hanging; a
// live stream ends with a resumable error naming the sequence to resume from; health shows the
// bus down; when nats-server returns, publishing resumes by itself and a subscriber resuming
// from that sequence gets every acknowledged message, none twice.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { MailService } from "../../gen/switchyard/mail/v1/mail_service_pb.js";
import { clientFor } from "../../src/testing/clients.ts";
import { startChildServer, type ChildServer } from "../../src/testing/child-server.ts";
import { startNatsServer, type NatsServer } from "../../src/testing/nats-server.ts";

let nats: NatsServer;
let s: ChildServer;
let dir: string;

beforeAll(async () => {
  nats = await startNatsServer();
  dir = mkdtempSync(join(tmpdir(), "switchyard-nats-outage-"));
  s = await startChildServer(dir, { NATS_URL: nats.url });
}, 30_000);

afterAll(async () => {
  await s?.kill("SIGKILL");
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const bus = async () => ((await (await fetch(`${s.url}/v1/system/health`)).json()) as { health: { components: { name: string; status: string; message: string }[] } }).health.components.find((c) => c.name === "bus")!;

describe("nats-server going away under load", () => {
  it("fails publishes fast, ends streams resumably, reports the bus down, and recovers with nothing lost", async () => {
    const mail = clientFor(MailService, s.url, "grpc");
    const acked = new Map<number, bigint>();
    const publish = async (i: number) => {
      const r = await mail.publish({ destination: { case: "topic", value: "outage.test" }, sender: "t", payload: { kind: { case: "numberValue", value: i } }, requestId: `m-${i}` });
      acked.set(i, r.message!.sequence);
    };
    for (let i = 0; i < 50; i++) await publish(i);
    expect((await bus()).status).toBe("operational");

    // A live subscriber from the start of the topic.
    const received: bigint[] = [];
    let streamError: ConnectError | undefined;
    const sub = (async () => {
      try {
        for await (const m of mail.subscribe({ topic: "outage.test", start: { case: "startSequence", value: 1n } })) received.push(m.message!.sequence);
      } catch (e) {
        streamError = ConnectError.from(e);
      }
    })();
    while (received.length < 50) await Bun.sleep(20);

    const outage = nats.restart({ downMs: 6000 });
    // Publishes during the outage: refused quickly with the engine named, never hanging.
    await Bun.sleep(500);
    const t0 = performance.now();
    const refused = await publish(1000).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(refused?.code).toBe(Code.Unavailable);
    expect(refused?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("BUS_UNAVAILABLE");
    const down = await bus();
    expect(down.status).toBe("down");
    expect(down.message).toContain("nats");

    // The stream ends with a resumable error once the outage outlasts its grace.
    await sub;
    expect(streamError?.code).toBe(Code.Unavailable);
    const info = streamError!.findDetails(ErrorInfoSchema)[0]!;
    expect(info.reason).toBe("BUS_UNAVAILABLE");
    const resume = BigInt(info.metadata.resume_sequence!);
    expect(resume).toBe(received[received.length - 1]! + 1n);

    await outage;
    // Publishing resumes by itself (the client reconnects with backoff).
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await publish(50);
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await Bun.sleep(200);
      }
    }
    for (let i = 51; i < 80; i++) await publish(i);
    expect((await bus()).status).toBe("operational");

    // Resuming from the sequence the error named: every acknowledged message, once, in order.
    const resumed: bigint[] = [];
    const abort = new AbortController();
    const want = [...acked.values()].filter((q) => q >= resume).sort((a, b) => (a < b ? -1 : 1));
    const reading = (async () => {
      try {
        for await (const m of mail.subscribe({ topic: "outage.test", start: { case: "startSequence", value: resume } }, { signal: abort.signal })) {
          resumed.push(m.message!.sequence);
          if (resumed.length >= want.length) abort.abort();
        }
      } catch {
        // aborted
      }
    })();
    await Promise.race([reading, Bun.sleep(10_000)]);
    abort.abort();
    expect(resumed).toEqual(want);
    expect(new Set([...received, ...resumed]).size).toBe(received.length + resumed.length);
  }, 60_000);
});
