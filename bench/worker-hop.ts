// What a hop between two Bun threads costs (issue 14's "several transport threads in front of
// one writer"): a 300-byte Uint8Array (a GetTask answer's size) sent to a Worker that sends it
// straight back, by postMessage. Unbatched (one in flight: every hop wakes the other thread) and
// with 32 in flight (a busy server's hops share wake-ups); then one round trip at a time, timed.
// CPU = this process (both threads) ÷ round trips. `bun run bench worker-hop`. Asserts nothing.
import { loadavg } from "node:os";

const ECHO = `self.onmessage = (e) => self.postMessage(e.data);`;

export interface HopRow {
  inFlight: number;
  roundTripsPerSecond: number;
  cpuUsPerRoundTrip: number;
}

async function throughput(w: Worker, inFlight: number, n: number): Promise<HopRow> {
  const message = new Uint8Array(300);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let got = 0;
  await new Promise<void>((resolve) => {
    w.onmessage = () => {
      got++;
      if (got === n) resolve();
      else if (got + inFlight <= n) w.postMessage(message);
    };
    for (let i = 0; i < inFlight; i++) w.postMessage(message);
  });
  const elapsedMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { inFlight, roundTripsPerSecond: Math.round((n / elapsedMs) * 1000), cpuUsPerRoundTrip: Math.round(((c.user + c.system) / n) * 10) / 10 };
}

async function latency(w: Worker, n: number): Promise<{ p50Us: number; p99Us: number }> {
  const message = new Uint8Array(300);
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await new Promise<void>((r) => {
      w.onmessage = () => r();
      w.postMessage(message);
    });
    xs.push((performance.now() - t) * 1000);
  }
  xs.sort((a, b) => a - b);
  return { p50Us: Math.round(xs[Math.floor(n * 0.5)]!), p99Us: Math.round(xs[Math.floor(n * 0.99)]!) };
}

export async function workerHopBench(): Promise<string> {
  const url = URL.createObjectURL(new Blob([ECHO], { type: "application/javascript" }));
  const w = new Worker(url);
  const before = loadavg().map((l) => l.toFixed(2)).join(" ");
  try {
    await throughput(w, 32, 20_000); // warm up
    const rows: HopRow[] = [];
    for (let round = 0; round < 3; round++) rows.push(await throughput(w, 1, 20_000), await throughput(w, 32, 100_000));
    const lat = await latency(w, 2_000);
    const med = (k: number, f: (r: HopRow) => number) => {
      const xs = rows.filter((r) => r.inFlight === k).map(f).sort((a, b) => a - b);
      return xs[Math.floor(xs.length / 2)]!;
    };
    return [
      `A 300-byte Uint8Array to a Worker and back by postMessage, 3 rounds (medians; every round in brackets). Load average before: ${before}.`,
      "",
      "| in flight | round trips/s | CPU µs per round trip (both threads) |",
      "|---:|---:|---:|",
      ...[1, 32].map((k) => `| ${k} | ${med(k, (r) => r.roundTripsPerSecond)} (${rows.filter((r) => r.inFlight === k).map((r) => r.roundTripsPerSecond).join(" / ")}) | ${med(k, (r) => r.cpuUsPerRoundTrip)} (${rows.filter((r) => r.inFlight === k).map((r) => r.cpuUsPerRoundTrip).join(" / ")}) |`),
      "",
      `One round trip at a time, 2,000 samples: p50 ${lat.p50Us} µs, p99 ${lat.p99Us} µs.`,
    ].join("\n");
  } finally {
    w.terminate();
    URL.revokeObjectURL(url);
  }
}

if (import.meta.main) console.log(await workerHopBench());
