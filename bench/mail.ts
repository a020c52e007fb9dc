// Mail benchmark: publish → subscriber latency and delivered messages/s, lease acquire/release
// operations/s, through a real server process over gRPC, with the in-process bus and with NATS
// side by side. Used by bench/run.ts.
import { join } from "node:path";
import { LeaseService } from "../gen/switchyard/mail/v1/lease_service_pb.js";
import { MailService } from "../gen/switchyard/mail/v1/mail_service_pb.js";
import { clientFor } from "../src/testing/clients.ts";
import { startNatsServer } from "../src/testing/nats-server.ts";
import { freePort, repoRoot, waitForHttp } from "../src/testing/server.ts";

export interface MailRow {
  bus: string;
  latencySamples: number;
  p50Ms: number;
  p99Ms: number;
  messagesPerSecond: number;
  leaseOpsPerSecond: number;
}

const quantile = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;

async function startServer(env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: `/tmp/switchyard-bench-mail-${process.pid}-${port}`, SWITCHYARD_LOG_LEVEL: "warn", ...env },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/readyz`);
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
}

async function measure(bus: string, url: string, seconds: number, concurrency: number): Promise<MailRow> {
  const mail = clientFor(MailService, url, "grpc");
  const publish = (topic: string, tag = "") =>
    mail.publish({ destination: { case: "topic", value: topic }, sender: "bench", payload: { kind: { case: "stringValue", value: tag.padEnd(100, "x") } } });
  for (let i = 0; i < 200; i++) await publish("warmup.x"); // warm up

  // Latency: one publisher, one subscriber; time from the publish call to the message's arrival.
  const abort = new AbortController();
  // Keyed by a tag in the payload: the subscriber often has the message before the publisher has its answer.
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  const first = Number((await publish("lat.x")).message!.sequence);
  const stream = mail.subscribe({ topic: "lat.x", start: { case: "startSequence", value: BigInt(first + 1) } }, { signal: abort.signal });
  const samples = 2000;
  const reading = (async () => {
    for await (const r of stream) {
      const t0 = sent.get((r.message!.payload!.kind.value as string).split("x")[0]!);
      if (t0 !== undefined) latencies.push(performance.now() - t0);
      if (latencies.length >= samples) break;
    }
  })();
  for (let i = 0; i < samples; i++) {
    const tag = `t${i}-`;
    sent.set(tag, performance.now());
    await publish("lat.x", tag);
  }
  await Promise.race([reading, Bun.sleep(30_000)]);
  abort.abort();
  latencies.sort((a, b) => a - b);

  // Throughput: `concurrency` publishers for `seconds`, counted at a subscriber (delivered/s).
  const abort2 = new AbortController();
  const start = Number((await publish("tput.x")).message!.sequence) + 1;
  let delivered = 0;
  let lastAt = 0;
  const counting = (async () => {
    try {
      for await (const _ of mail.subscribe({ topic: "tput.x", start: { case: "startSequence", value: BigInt(start) } }, { signal: abort2.signal })) {
        delivered++;
        lastAt = performance.now();
      }
    } catch {
      // aborted
    }
  })();
  let published = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await publish("tput.x");
        published++;
      }
    }),
  );
  const drainBy = performance.now() + 10_000;
  while (delivered < published && performance.now() < drainBy) await Bun.sleep(10);
  abort2.abort();
  await counting;
  const messagesPerSecond = Math.round(delivered / ((lastAt - t0) / 1000));

  // Leases: each worker acquires and releases its own path in a loop (2 operations per turn).
  const leases = clientFor(LeaseService, url, "grpc");
  let ops = 0;
  const l0 = performance.now();
  const lDeadline = l0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < lDeadline) {
        const lease = (await leases.acquireLease({ path: `bench/${w}.ts`, holder: `w${w}` })).lease!;
        await leases.releaseLease({ path: lease.path, fencingToken: lease.fencingToken });
        ops += 2;
      }
    }),
  );
  const leaseOpsPerSecond = Math.round(ops / ((performance.now() - l0) / 1000));
  return { bus, latencySamples: latencies.length, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), messagesPerSecond, leaseOpsPerSecond };
}

/** Runs the mail benchmark against a server with the in-process bus, then one on a real nats-server. */
export async function mailBench(seconds = 4, concurrency = 16): Promise<MailRow[]> {
  const rows: MailRow[] = [];
  const local = await startServer({});
  try {
    rows.push(await measure("in-process", local.url, seconds, concurrency));
  } finally {
    await local.stop();
  }
  const nats = await startNatsServer();
  const remote = await startServer({ NATS_URL: nats.url });
  try {
    rows.push(await measure("nats", remote.url, seconds, concurrency));
  } finally {
    await remote.stop();
    await nats.stop();
  }
  return rows;
}
