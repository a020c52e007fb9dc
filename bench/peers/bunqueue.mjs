// bunqueue side of bench/peers (TCP mode against `bunqueue start`, run with Bun from bench/peers/run.ts).
// bun bunqueue.mjs <tcp port> <workload> <n>   workload: a1 | a16 | b | c
// The same shapes as Switchyard's side: ~100-byte JSON payloads; A: 4 producers add in bulk
// (500 a call), W workers (each its own connection, concurrency 64) complete every job;
// B: one idle worker, one add at a time, time from the add call to the processor starting;
// C: 16 clients (each its own connection) add single jobs for 4 s.
import { Queue, Worker } from "bunqueue/client";

const [port, workload, nArg] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const connection = { host: "127.0.0.1", port };
const payload = (i) => ({ n: i, kind: "bench", text: "x".repeat(60) });
const quantile = (s, q) => s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? 0;
const name = `bench-${workload}-${Date.now()}`;

async function a(workers, n) {
  const queue = new Queue(name, { connection, embedded: false });
  let done = 0;
  let finish;
  const all = new Promise((r) => (finish = r));
  const ws = [];
  for (let w = 0; w < workers; w++) {
    const worker = new Worker(name, async () => "ok", { connection, embedded: false, concurrency: 64, autorun: false });
    worker.on("completed", () => {
      if (++done === n) finish();
    });
    ws.push(worker);
  }
  await Promise.all(ws.map((w) => w.waitUntilReady()));
  for (const w of ws) void w.run();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < n) {
        const offset = next;
        const count = Math.min(500, n - offset);
        next += count;
        await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: "t", data: payload(offset + i) })));
      }
    }),
  );
  await all;
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(ws.map((w) => w.close()));
  await queue.close();
  return { tasksPerSecond: Math.round(n / seconds), seconds };
}

async function b(samples) {
  const queue = new Queue(name, { connection, embedded: false });
  let waiting;
  const worker = new Worker(name, async () => waiting?.(), { connection, embedded: false, concurrency: 1 });
  await worker.waitUntilReady();
  const lat = [];
  for (let i = 0; i < samples + 100; i++) {
    const got = new Promise((r) => (waiting = r));
    const t0 = performance.now();
    void queue.add("t", payload(i));
    await got;
    if (i >= 100) lat.push(performance.now() - t0);
  }
  await worker.close();
  await queue.close();
  lat.sort((x, y) => x - y);
  return { samples, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
}

async function c(ms) {
  const queues = Array.from({ length: 16 }, () => new Queue(name, { connection, embedded: false }));
  await Promise.all(queues.map((q) => q.waitUntilReady()));
  let count = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    queues.map(async (q, k) => {
      for (let i = 0; performance.now() < end; i++) {
        await q.add("t", payload(i));
        count++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(queues.map((q) => q.close()));
  return { createsPerSecond: Math.round(count / seconds), count };
}

const result = workload === "a1" ? await a(1, nArg) : workload === "a16" ? await a(16, nArg) : workload === "b" ? await b(nArg) : await c(nArg);
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
