// Scenarios of the TypeScript SDK against a real server, run by test/sdk/typescript-sdk.test.ts
// under Bun (and bundled for Node). Usage: scenarios.ts URL SCENARIO QUEUE [JSON options].
// Prints one JSON line with what happened.
import { NonRetryableError, RetryableError, SwitchyardClient, Worker } from "../../../sdk/typescript/src/index.ts";
import { connectTransport, grpcTransport } from "../../../sdk/typescript/src/node.ts";

const [url, scenario, queue, json] = process.argv.slice(2) as [string, string, string, string | undefined];
const opts = json ? JSON.parse(json) : {};
const transport = opts.protocol === "connect" ? connectTransport(url) : grpcTransport(url);
const client = new SwitchyardClient(transport);
const print = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
const finish = (w: Worker | undefined, extra: object) => print({ ...(w ? { stats: w.stats, completed: w.completedIds } : {}), ...extra });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (scenario === "thousand") {
  const n: number = opts.n;
  const created = await client.enqueueMany(Array.from({ length: n }, (_, i) => ({ queue, type: "double", payload: i })));
  const worker = new Worker(transport, { queues: [queue], workerId: "ts-thousand", concurrency: opts.concurrency ?? 16, maxTasks: n, handleSignals: false });
  worker.handle("double", (t) => (t.payload as number) * 2);
  const t0 = performance.now();
  await worker.run();
  const elapsed = performance.now() - t0;
  finish(worker, { created: created.length, counts: await client.queueCounts(queue), elapsed_ms: Math.round(elapsed) });
} else if (scenario === "raw") {
  // The loop a worker writes over the generated stubs alone (for the benchmark).
  const n: number = opts.n;
  await client.enqueueMany(Array.from({ length: n }, (_, i) => ({ queue, type: "double", payload: i })));
  const t0 = performance.now();
  const ctl = new AbortController();
  const pending: Promise<unknown>[] = [];
  let seen = 0;
  for await (const m of client.tasks.connectWorker({ workerId: "ts-raw", queues: [queue], credits: opts.concurrency ?? 16 }, { signal: ctl.signal })) {
    if (m.message.case !== "assigned") continue;
    const { task, lease } = m.message.value;
    pending.push(client.tasks.completeTask({ id: task!.id, fencingToken: lease!.fencingToken, result: task!.payload }));
    if (++seen === n) break;
  }
  await Promise.all(pending);
  const elapsed = performance.now() - t0;
  ctl.abort();
  print({ completed_count: n, elapsed_ms: Math.round(elapsed) });
} else if (scenario === "outcomes") {
  const flaky = await client.enqueue(queue, "flaky", { x: 1 }, { maxAttempts: 3 });
  const bad = await client.enqueue(queue, "bad", null, { maxAttempts: 3 });
  const slow = await client.enqueue(queue, "progress", { steps: 3 });
  const unknown = await client.enqueue(queue, "nobody-handles-this", null, { maxAttempts: 3 });
  const attempts: number[] = [];
  const worker = new Worker(transport, { queues: [queue], workerId: "ts-outcomes", concurrency: 4, handleSignals: false });
  worker
    .handle("flaky", (t) => {
      attempts.push(t.attempt);
      if (t.attempt === 1) throw new RetryableError("try again", { reason: "FLAKY", retryDelayMs: 50 });
      return { attempt: t.attempt };
    })
    .handle("bad", () => {
      throw new NonRetryableError("cannot ever work", { reason: "BAD_INPUT", details: { why: "test" } });
    })
    .handle("progress", async (t) => {
      const steps = (t.payload as { steps: number }).steps;
      for (let i = 0; i < steps; i++) {
        t.progress((100 * (i + 1)) / steps, `step ${i + 1}`);
        await sleep(50);
      }
      return "async done";
    });
  const running = worker.run();
  const results: Record<string, unknown> = {};
  for (const [name, t] of Object.entries({ flaky, bad, progress: slow, unknown })) {
    const r = await client.wait(t.id, { timeoutMs: 30_000 });
    results[name] = { state: r.state, result: r.result ?? null, error: r.error ?? null, attempt: r.attempt, progress: r.progress, progress_message: r.progressMessage };
  }
  await worker.stop();
  await running;
  finish(worker, { attempts, results });
} else if (scenario === "cancel") {
  const seen: Record<string, unknown> = {};
  let started: (() => void) | undefined;
  const worker = new Worker(transport, { queues: [queue], workerId: "ts-cancel", concurrency: 2, leaseDurationMs: 5000, handleSignals: false });
  worker.handle("wait", async (t) => {
    started?.();
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, 20_000);
      t.signal.addEventListener("abort", () => (clearTimeout(timer), (seen[t.id] = t.signal.reason), reject(t.signal.reason)));
    });
    return "not cancelled";
  });
  const running = worker.run();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const go = new Promise<void>((r) => (started = r));
    const t = await client.enqueue(queue, "wait", i);
    await go;
    await client.cancel(t.id, "test");
    ids.push(t.id);
  }
  const states = await Promise.all(ids.map(async (id) => (await client.wait(id, { timeoutMs: 20_000 })).state));
  for (let i = 0; i < 100 && Object.keys(seen).length < 3; i++) await sleep(50);
  await worker.stop();
  await running;
  finish(worker, { reasons: ids.map((id) => seen[id] ?? null), states });
} else if (scenario === "work") {
  const executions: string[] = [];
  const worker = new Worker(transport, {
    queues: [queue],
    workerId: opts.worker_id ?? "ts-work",
    concurrency: opts.concurrency ?? 4,
    leaseDurationMs: (opts.lease ?? 10) * 1000,
    maxTasks: opts.max_tasks,
    drainTimeoutMs: (opts.drain ?? 10) * 1000,
    onEvent: (kind, data) => kind === "refused" && process.stderr.write(`refused ${JSON.stringify(data)}\n`),
  });
  worker.handle("*", async (t) => {
    executions.push(t.id);
    await sleep(opts.ms ?? 20);
    return { by: worker.workerId, payload: t.payload ?? null };
  });
  print({ ready: true });
  await worker.run();
  finish(worker, { executions });
} else {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
process.exit(0);
