// `bun run bench`: runs every benchmark, prints a table and writes it, with the command and
// the machine, to bench/results/<date>-<name>.md. Not a test: nothing here asserts a speed.
import { cpus } from "node:os";
import { join } from "node:path";
import { transportBench } from "./transport.ts";

const which = process.argv[2] ?? "all";
const date = new Date().toISOString().slice(0, 10);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Bun ${Bun.version}`;

async function write(name: string, body: string, command = name): Promise<void> {
  const file = join(import.meta.dir, "results", `${date}-${name}.md`);
  const text = `# ${name} benchmark, ${date}\n\nCommand: \`bun run bench ${command}\`\nMachine: ${machine}\n\n${body}\n`;
  await Bun.write(file, text);
  console.log(text);
  console.log(`written to ${file}`);
}

if (which === "all" || which === "transport") {
  const rows = await transportBench();
  const ceiling = rows[0]!.callsPerSecond;
  const table = [
    "| path | calls/s | p50 ms | p99 ms | share of the bare Bun.serve ceiling |",
    "|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.name} | ${r.callsPerSecond} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${(r.callsPerSecond / ceiling).toFixed(3)} |`),
  ].join("\n");
  await write("transport", `32 concurrent callers for 4 s per row, one server process, load from a second process.\n\n${table}`);
}

if (which === "all" || which === "tasks") {
  const { tasksBench } = await import("./tasks.ts");
  const r = await tasksBench();
  const domainOf = (w: number) => r.e2e.find((x) => x.level === "domain" && x.workers === w);
  const e2e = [
    "| level | W workers | tasks | s | tasks/s | gRPC ÷ domain |",
    "|---|---:|---:|---:|---:|---:|",
    ...r.e2e.map((x) => {
      const d = domainOf(x.workers);
      const ratio = x.level === "grpc" && d ? (x.tasksPerSecond / d.tasksPerSecond).toFixed(2) : "";
      return `| ${x.level} | ${x.workers} | ${x.tasks} | ${x.seconds.toFixed(2)} | ${x.tasksPerSecond} | ${ratio} |`;
    }),
  ].join("\n");
  const latency = [
    "| level | samples | p50 ms | p99 ms |",
    "|---|---:|---:|---:|",
    ...r.latency.map((x) => `| ${x.level} | ${x.samples} | ${x.p50Ms.toFixed(3)} | ${x.p99Ms.toFixed(3)} |`),
  ].join("\n");
  const claims = [
    "| level | claimers | tasks | attempts | claimed | claims/s | attempts/s |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...r.claims.map((x) => `| ${x.level} | ${x.claimers} | ${x.tasks} | ${x.attempts} | ${x.claimed} | ${x.claimsPerSecond} | ${x.attemptsPerSecond} |`),
  ].join("\n");
  await write(
    "tasks",
    `${r.settings}\n\nDomain level: the engine over a real SQLite file in this process, no transport. gRPC level: a real server process (\`src/main.ts\`), clients in this process over h2c. Every acknowledgement follows its commit being on disk (WAL; fdatasync off the event loop, src/db/README.md).\n\n` +
      `## Durable end-to-end throughput\n\n${e2e}\n\n## Dispatch latency (enqueue → idle waiting worker)\n\n${latency}\n\n## Claims by id under contention\n\n${claims}`,
  );
}

if (which === "all" || which === "sdk") {
  const { sdkBench } = await import("./sdk.ts");
  const r = await sdkBench();
  const raw = (sdk: string) => r.rows.find((x) => x.sdk === sdk && x.loop === "raw")!;
  const table = [
    "| SDK | loop | tasks | s | tasks/s | SDK ÷ raw |",
    "|---|---|---:|---:|---:|---:|",
    ...r.rows.map((x) => `| ${x.sdk} | ${x.loop === "raw" ? "raw stubs" : "SDK worker"} | ${x.tasks} | ${(x.ms / 1000).toFixed(2)} | ${x.tasksPerSecond} | ${x.loop === "sdk" ? (x.tasksPerSecond / raw(x.sdk).tasksPerSecond).toFixed(2) : ""} |`),
  ].join("\n");
  await write("sdk", `${r.settings}\n\nRaw stubs: ConnectWorker plus one CompleteTask per pushed task, issued without waiting (what a hand-written loop does). SDK worker: the same work through each SDK's Worker (handlers in slots, heartbeats, credit accounting).\n\n${table}`);
}

if (which === "all" || which === "event-loop") {
  const { eventLoopBench } = await import("./event-loop.ts");
  const rows = await eventLoopBench();
  const table = [
    "| mode | round | end-to-end tasks/s (W=4) | COMMIT ms per group, on the loop | COMMIT share of run | latency part: timer lag p99 ms | max ms | loop blocked | dispatch p50 ms | p99 ms | single creates/s (16 callers) | COMMIT share | ops per group |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.mode} | ${r.round} | ${r.tasksPerSecond} | ${r.commitMsPerGroup.toFixed(3)} | ${(r.commitShare * 100).toFixed(1)} % | ${r.lagP99Ms.toFixed(2)} | ${r.lagMaxMs.toFixed(1)} | ${(r.blockedShare * 100).toFixed(1)} % | ${r.latencyP50Ms.toFixed(3)} | ${r.latencyP99Ms.toFixed(3)} | ${r.singleCreatesPerSecond} | ${(r.singleCommitShare * 100).toFixed(1)} % | ${r.singleOpsPerGroup.toFixed(1)} |`),
  ].join("\n");
  await write(
    "event-loop",
    "Task engine over a real SQLite file in this process (no transport): end-to-end workload of bench/tasks.ts with 4 workers, then 1000 dispatch-latency samples (one create at a time, one waiting worker), then 16 callers each awaiting single creates for 3 s (COMMIT share: the part of that time the JavaScript thread spent inside COMMIT). " +
      "COMMIT ms: time the JavaScript thread spends in the COMMIT statement, per group, during the end-to-end part. A 1 ms interval timer runs during the latency part; 'loop blocked' is its total lateness beyond 1.2 ms as a share of that part. " +
      "in-commit: synchronous=FULL, the fsync inside COMMIT on the JavaScript thread (the former design). off-loop: synchronous=NORMAL, fdatasync of the WAL on the thread pool before answering, checkpoints on a worker thread. Rounds alternate.\n\n" +
      table,
  );
}

if (which === "all" || which === "per-call") {
  const { perCallBench, perCallReport } = await import("./per-call.ts");
  // Since the lean unary gRPC path: lean vs Connect vs the floor servers, grpc-js, Hono.
  // BENCH_RESULT_NAME names the results file (a second run on one day keeps the first).
  await write(process.env.BENCH_RESULT_NAME ?? "per-call", perCallReport(await perCallBench()), "per-call");
}

if (which === "all" || which === "mail") {
  const { mailBench } = await import("./mail.ts");
  const rows = await mailBench();
  const base = rows[0]!;
  const table = [
    "| bus | latency samples | publish→subscriber p50 ms | p99 ms | delivered msgs/s | lease acquire+release ops/s |",
    "|---|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.bus} | ${r.latencySamples} | ${r.p50Ms.toFixed(3)} | ${r.p99Ms.toFixed(3)} | ${r.messagesPerSecond} | ${r.leaseOpsPerSecond} |`),
    ...rows.slice(1).map(
      (r) =>
        `| ${r.bus} ÷ ${base.bus} | | ${(r.p50Ms / base.p50Ms).toFixed(2)} | ${(r.p99Ms / base.p99Ms).toFixed(2)} | ${(r.messagesPerSecond / base.messagesPerSecond).toFixed(2)} | ${(r.leaseOpsPerSecond / base.leaseOpsPerSecond).toFixed(2)} |`,
    ),
  ].join("\n");
  await write(
    "mail",
    "One server process (`src/main.ts`, SQLite WAL, durable acknowledgements) per bus; clients in this process over gRPC (h2c). " +
      "Latency: one publisher awaiting each publish, one streaming subscriber; time from the publish call to the message's arrival (2000 samples). " +
      "Throughput: 16 concurrent publishers for 4 s, counted as delivered at one subscriber. Leases: 16 workers acquiring and releasing their own path for 4 s. " +
      "NATS: a local nats-server 2.9 with JetStream (file store).\n\n" +
      table,
  );
}

if (which === "all" || which === "dashboard") {
  const { dashboardBench } = await import("./dashboard.ts");
  const r = await dashboardBench();
  const table = [
    "| page | cold loads | p50 ms to data shown | max ms |",
    "|---|---:|---:|---:|",
    ...r.rows.map((x) => `| ${x.page} | ${x.samples} | ${x.p50Ms.toFixed(0)} | ${x.maxMs.toFixed(0)} |`),
  ].join("\n");
  await write(
    "dashboard",
    `A server process (\`src/main.ts\`) holding ${r.tasks} tasks in 8 queues; headless Debian Chromium via playwright-core; each load in a fresh browser context (empty cache) from navigation until the page shows its data. Bundle (JS + CSS, uncompressed): ${r.bundleKb} KB.\n\n${table}`,
  );
}

if (which === "soak") {
  const { soakBench } = await import("./soak.ts");
  const r = await soakBench();
  const table = [
    "| t s | RSS MB | open fds | loop delay max ms | p99 ms | tasks done | mail delivered | lease ops | reads | errors |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...r.samples.map((x) => `| ${x.t.toFixed(0)} | ${x.rssMb.toFixed(1)} | ${x.fds} | ${x.loopMaxMs.toFixed(1)} | ${x.loopP99Ms.toFixed(1)} | ${x.tasksDone} | ${x.messages} | ${x.leaseOps} | ${x.reads} | ${x.errors} |`),
  ].join("\n");
  await write(
    "soak",
    `${r.minutes} minutes of mixed load on one server process (src/main.ts, SQLite): batches of 20 tasks every ~20 ms pushed to a gRPC worker stream and completed, mail published to a live subscriber, file leases acquired and released, REST lists and health reads. Sampled every 10 s from /proc and the server's event-loop metric.\n\n` +
      `Trend over the second half: RSS ${r.rssSlopeMbPerMin.toFixed(2)} MB/min, open fds ${r.fdSlopePerMin.toFixed(2)}/min.\n\n${table}`,
  );
}

if (which === "all" || which === "servers") {
  const { serversBench, serversReport } = await import("./servers.ts");
  await write("servers", serversReport(await serversBench()));
}

if (which === "all" || which === "workspaces") {
  const { workspacesBench } = await import("./workspaces.ts");
  await write(
    "workspaces",
    "One server process (`src/main.ts`, SQLite WAL, every acknowledgement after an fdatasync of the WAL, blobs under its data dir); one client in this process over HTTP/1.1 (the seed 002 byte routes). " +
      "GC runs at domain level over a real SQLite file and real blob files (100,000 indexed blobs; inserting them through uploads would measure fsync, not GC).\n\n" +
      (await workspacesBench()),
  );
}

if (which === "all" || which === "memory") {
  const { memoryBench } = await import("./memory.ts");
  const r = await memoryBench();
  const ms = (x: number) => x.toFixed(2);
  const knn = [
    "| kNN k=10 | p50 ms | p99 ms | recall@10 vs exact |",
    "|---|---:|---:|---:|",
    ...r.knn.map((k) => `| ${k.name} | ${ms(k.p50)} | ${ms(k.p99)} | ${k.recall.toFixed(3)} |`),
  ].join("\n");
  await write(
    "memory",
    `Domain level: the memory domain over a real SQLite file (WAL, group commit answered after an fdatasync of the WAL), sqlite-vec in the same file, the real task engine and its in-process memory worker; no transport. ` +
      `${r.n.toLocaleString("en")} generated memories of 20 words (14 from one of ${Math.floor(r.n / 100)} topics, 6 from a 5,000-word vocabulary), ${r.duplicates.toLocaleString("en")} of them near-duplicates of another (its words plus one); ` +
      `384-dimension vectors from a fixed random projection of the bag of words. Queries for kNN: a stored text with half its words replaced (200 queries).\n\n` +
      `| measure | value |\n|---|---:|\n` +
      `| insert, batches of 100, 8 in flight | ${r.insertPerSecond.toLocaleString("en")} memories/s (${r.insertSeconds.toFixed(1)} s) |\n` +
      `| full-text search (FTS5 BM25, limit 10), ${r.fts.queries} queries | p50 ${ms(r.fts.p50)} ms, p99 ${ms(r.fts.p99)} ms |\n` +
      `| semantic search through the domain (default index, row re-read and filters) | p50 ${ms(r.semanticDomain.p50)} ms, p99 ${ms(r.semanticDomain.p99)} ms |\n` +
      `| hybrid search (RRF over FTS5 top 40 and kNN top 40), ${r.hybrid.queries} queries | p50 ${ms(r.hybrid.p50)} ms, p99 ${ms(r.hybrid.p99)} ms |\n` +
      `| compaction, merge at cosine 0.95 (a task, waited for) | ${r.compaction.seconds.toFixed(1)} s; ${r.compaction.merged.toLocaleString("en")} of ${r.compaction.groupsExpected.toLocaleString("en")} duplicates merged${r.compaction.allMerged ? " (every group)" : ""} |\n` +
      `| database file | ${r.fileMb.toFixed(0)} MB |\n\n${knn}`,
  );
}

if (which === "scale") {
  const { scaleBench } = await import("./scale.ts");
  const rows = await scaleBench();
  const base = rows[0]!;
  const table = [
    "| setup | instances | tasks/s | ÷ SQLite | dispatch p50 ms | p99 ms | CPU µs/task: Switchyard | PostgreSQL | NATS | total |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => {
      const c = r.cpuUsPerTask;
      return `| ${r.setup} | ${r.instances} | ${r.tasksPerSecond} | ${(r.tasksPerSecond / base.tasksPerSecond).toFixed(2)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${c.switchyard} | ${c.postgres} | ${c.nats} | ${c.switchyard + c.postgres + c.nats} |`;
    }),
  ].join("\n");
  await write(
    "scale",
    `End to end: ${process.env.BENCH_TASKS ?? 20000} tasks (~100-byte JSON) enqueued in batches of 500 by 4 producers and taken by ${process.env.BENCH_WORKERS ?? 16} worker streams completing in batches, producers and workers spread over the instances round robin; dispatch latency: one task at a time created through the first instance, pushed to a waiting worker on the last one. CPU per task from /proc (utime + stime) of each component over the end-to-end run. All components share this machine's cores.\n\n${table}`,
  );
}

if (which === "pg-driver") {
  const { pgDriverBench } = await import("./pg-driver.ts");
  await write("pg-driver", await pgDriverBench());
}

if (which === "all" || which === "client-transport") {
  const { clientTransportBench, clientTransportReport } = await import("./client-transport.ts");
  await write("client-transport", clientTransportReport(await clientTransportBench()));
}

if (which === "worker-hop") {
  const { workerHopBench } = await import("./worker-hop.ts");
  await write("worker-hop", await workerHopBench());
}

if (which === "claim-path") {
  const { claimPathBench } = await import("./claim-path.ts");
  await write("claim-path", await claimPathBench());
}

if (which === "task-indexes") {
  const { taskIndexesBench } = await import("./task-indexes.ts");
  await write("task-indexes", await taskIndexesBench());
}

if (which === "all" || which === "startup") {
  const { startupBench } = await import("./startup.ts");
  await write("startup", await startupBench());
}

if (which === "all" || which === "wal") {
  const { walBench } = await import("./wal.ts");
  await write("wal", await walBench());
}

if (which === "all" || which === "sync-hop") {
  const { syncHopBench } = await import("./sync-hop.ts");
  await write("sync-hop", await syncHopBench());
}

if (which === "all" || which === "h2-trailers") {
  const { h2TrailersBench } = await import("./h2-trailers.ts");
  await write("h2-trailers", await h2TrailersBench());
}

if (which === "all" || which === "wal-sync") {
  const { walSyncBench } = await import("./wal-sync.ts");
  await write("wal-sync", await walSyncBench());
}

if (which === "all" || which === "writer-thread") {
  const { writerThreadBench } = await import("./writer-thread.ts");
  await write("writer-thread", await writerThreadBench());
}

if (which === "all" || which === "profile") {
  const { profileBench } = await import("./profile.ts");
  await write("profile", await profileBench());
}
