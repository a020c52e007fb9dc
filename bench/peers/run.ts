// Side-by-side task-queue benchmark: Switchyard over gRPC against BullMQ (Node 20) on Redis with
// its built-in defaults and with `appendfsync always`, and bunqueue's TCP server (when installed). `bun bench/peers/run.ts` (after
// bench/peers/setup.sh). Rounds are interleaved (every system once per round, each started
// fresh), medians are reported with every round, and ratios are Switchyard ÷ peer.
// Workloads (same shapes on both sides, ~100-byte JSON payloads):
//   A: 4 producers enqueue N tasks in batches of 500 → W workers take them → complete (W=1, 16)
//   B: one idle waiting worker; one enqueue at a time; time from the call to the worker having it
//   C: 16 clients (own connection each) create single tasks for 4 s
// Asserts nothing.
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTaskRequestSchema } from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { freePort } from "../../src/testing/server.ts";
import { dispatchLatency, endToEnd, grpcPort, payloadOf, taskClient, withServer, type ClientKind } from "../tasks.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_TASKS ?? 50_000);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 1_000);
const C_MS = 4_000;
const here = import.meta.dir;

interface Figures {
  a1: number;
  a16: number;
  bP50: number;
  bP99: number;
  c: number;
  /** CPU of the process running C's 16 clients, in % of one core (Switchyard: the Bun driver; BullMQ: its Node process). */
  cClientCpu: number;
  /** Switchyard only: C with h2load (nghttp2, native) as the 16 clients, the server's capacity without the TS client's cost. */
  cNative?: number;
  /** Switchyard only: C with @connectrpc/connect-node's gRPC transport as the clients (A, B and C use the SDK's), and that process's CPU. */
  cConnectNode?: number;
  cConnectNodeCpu?: number;
}
// switchyard-connect: Switchyard with SWITCHYARD_LEAN_GRPC=0 (every unary call through Connect-ES).
type System = "switchyard" | "switchyard-connect" | "bullmq-default" | "bullmq-aof-always" | "bunqueue-tcp";
const BUNQUEUE_CLI = join(import.meta.dir, "node_modules/bunqueue/dist/cli/index.js");
const ALL: System[] = ["switchyard", "switchyard-connect", "bullmq-default", "bullmq-aof-always", ...(existsSync(BUNQUEUE_CLI) ? (["bunqueue-tcp"] as const) : [])];
// BENCH_PEERS=switchyard,bullmq-default,... runs a subset (switchyard and both BullMQ configs are always kept).
const picked = process.env.BENCH_PEERS?.split(",").map((x) => x.trim());
const SYSTEMS: System[] = picked ? ALL.filter((s) => picked.includes(s) || s === "switchyard" || s === "bullmq-default" || s === "bullmq-aof-always") : ALL;
const RESULT_NAME = process.env.BENCH_RESULT_NAME ?? "peers";

/** C with a native client: h2load, 16 connections, one call at a time each, for `ms`. */
async function singleCreatesNative(url: string, ms: number): Promise<number> {
  const message = toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: { queue: "c-native", payload: fromJson(ValueSchema, payloadOf(1)) } }));
  const frame = new Uint8Array(5 + message.byteLength);
  new DataView(frame.buffer).setUint32(1, message.byteLength);
  frame.set(message, 5);
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-c-"));
  const body = join(dir, "create.bin");
  writeFileSync(body, frame);
  try {
    const p = Bun.spawn(
      ["h2load", "-D", String(ms / 1000), "--warm-up-time=1", "-c", "16", "-m", "1", "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", `${url}/switchyard.tasks.v1.TaskService/CreateTask`],
      { stdout: "pipe", stderr: "pipe" },
    );
    const out = await new Response(p.stdout).text();
    await p.exited;
    const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
    const failed = /(\d+) failed/.exec(out);
    if (!rps || (failed && Number(failed[1]) > 0)) throw new Error(`h2load: ${out}`);
    return Math.round(Number(rps[1]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function singleCreates(url: string, ms: number, kind: ClientKind): Promise<{ createsPerSecond: number; clientCpu: number }> {
  const clients = Array.from({ length: 16 }, () => taskClient(url, kind));
  for (const c of clients) await c.createTask({ task: { queue: "c-warm", payload: fromJson(ValueSchema, payloadOf(0)) } });
  let count = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; performance.now() < end; i++) {
        await c.createTask({ task: { queue: "c", payload: fromJson(ValueSchema, payloadOf(i)) } });
        count++;
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  const used = process.cpuUsage(cpu0);
  return { createsPerSecond: Math.round(count / (elapsedMs / 1000)), clientCpu: Math.round(((used.user + used.system) / 1000 / elapsedMs) * 100) };
}

async function switchyard(lean = true): Promise<Figures> {
  return withServer(async (url) => {
    const port = grpcPort(url, "sdk");
    await endToEnd(port, "grpc", 4, 5_000); // warm up
    const a1 = await endToEnd(port, "grpc", 1, N);
    const a16 = await endToEnd(port, "grpc", 16, N);
    const b = await dispatchLatency(port, "grpc", SAMPLES);
    const c = await singleCreates(url, C_MS, "sdk");
    const cNative = await singleCreatesNative(url, C_MS);
    const cc = await singleCreates(url, C_MS, "connect-node");
    return { a1: a1.tasksPerSecond, a16: a16.tasksPerSecond, bP50: b.p50Ms, bP99: b.p99Ms, c: c.createsPerSecond, cClientCpu: c.clientCpu, cNative, cConnectNode: cc.createsPerSecond, cConnectNodeCpu: cc.clientCpu };
  }, { SWITCHYARD_LEAN_GRPC: lean ? "1" : "0" });
}

/** Runs a child to its end: its stdout, and its CPU in % of one core over its life (start-up included). */
async function child(cmd: string[], cwd = here): Promise<{ out: string; cpu: number }> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`${cmd.join(" ")} failed`);
  const used = p.resourceUsage()?.cpuTime;
  const cpu = used ? Math.round((Number(used.user + used.system) / 1000 / (performance.now() - t0)) * 100) : NaN;
  return { out: out.trim(), cpu };
}
const sh = async (cmd: string[], cwd = here) => (await child(cmd, cwd)).out;
/** A driver's JSON answer, with the driver's CPU as `clientCpu`. */
const driver = async (cmd: string[]) => {
  const { out, cpu } = await child(cmd);
  return { ...JSON.parse(out), clientCpu: cpu };
};

async function bullmq(aof: boolean): Promise<Figures> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-redis-"));
  const args = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no"];
  if (aof) args.push("--appendonly", "yes", "--appendfsync", "always");
  const redis = Bun.spawn(args, { stdout: "ignore", stderr: "inherit" });
  try {
    for (let i = 0; i < 100; i++) {
      try {
        if ((await sh(["redis-cli", "-p", String(port), "ping"])) === "PONG") break;
      } catch {}
      await Bun.sleep(50);
    }
    const run = async (w: string, n: number) => {
      const out = await driver(["node", "bullmq.mjs", String(port), w, String(n)]);
      await sh(["redis-cli", "-p", String(port), "flushall"]);
      return out;
    };
    await run("a1", 5_000); // warm up
    const a1 = await run("a1", N);
    const a16 = await run("a16", N);
    const b = await run("b", SAMPLES);
    const c = await run("c", C_MS);
    return { a1: a1.tasksPerSecond, a16: a16.tasksPerSecond, bP50: b.p50Ms, bP99: b.p99Ms, c: c.createsPerSecond, cClientCpu: c.clientCpu };
  } finally {
    redis.kill("SIGTERM");
    await redis.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

async function bunqueue(): Promise<Figures> {
  const [port, httpPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-bunqueue-"));
  const server = Bun.spawn(
    ["bun", BUNQUEUE_CLI, "start", "--tcp-port", String(port), "--http-port", String(httpPort), "--host", "127.0.0.1", "--data-path", join(dir, "queue.db")],
    // Its server refuses a client's requests past 10,000 a minute by default (RATE_LIMIT_MAX_REQUESTS),
    // which a 4 s C phase passes on a fast machine: a throughput comparison runs without that cap.
    { stdout: "ignore", stderr: "inherit", env: { ...process.env, RATE_LIMIT_MAX_REQUESTS: "1000000000" } },
  );
  try {
    for (let i = 0; i < 200 && !(await portOpen(port)); i++) await Bun.sleep(50);
    const run = (w: string, n: number) => driver(["bun", "bunqueue.mjs", String(port), w, String(n)]);
    await run("a1", 5_000); // warm up
    const a1 = await run("a1", N);
    const a16 = await run("a16", N);
    const b = await run("b", SAMPLES);
    const c = await run("c", C_MS);
    return { a1: a1.tasksPerSecond, a16: a16.tasksPerSecond, bP50: b.p50Ms, bP99: b.p99Ms, c: c.createsPerSecond, cClientCpu: c.clientCpu };
  } finally {
    server.kill("SIGTERM");
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const rounds: Record<System, Figures[]> = { switchyard: [], "switchyard-connect": [], "bullmq-default": [], "bullmq-aof-always": [], "bunqueue-tcp": [] };
for (let r = 1; r <= ROUNDS; r++) {
  for (const s of SYSTEMS) {
    const f = s === "switchyard" ? await switchyard() : s === "switchyard-connect" ? await switchyard(false) : s === "bunqueue-tcp" ? await bunqueue() : await bullmq(s === "bullmq-aof-always");
    rounds[s].push(f);
    console.error(`round ${r} ${s}: ${JSON.stringify(f)}`);
  }
}

const med = (s: System, k: keyof Figures) => median(rounds[s].map((f) => f[k] ?? NaN));
const withBunqueue = SYSTEMS.includes("bunqueue-tcp");
const withConnect = SYSTEMS.includes("switchyard-connect");
const fmt = (k: keyof Figures, v: number) => (k === "bP50" || k === "bP99" ? v.toFixed(2) : String(Math.round(v)));
const rows: [string, keyof Figures, boolean][] = [
  ["A: batch enqueue → workers → complete, W=1 (tasks/s)", "a1", true],
  ["A, W=16 (tasks/s)", "a16", true],
  ["B: enqueue → waiting worker, p50 (ms)", "bP50", false],
  ["B, p99 (ms)", "bP99", false],
  ["C: single creates, 16 clients (creates/s)", "c", true],
  ["C: CPU of the 16 clients' process (% of one core)", "cClientCpu", false],
];
const ratio = (k: keyof Figures, higherBetter: boolean, peer: System, of: System = "switchyard") => {
  const x = med(of, k) / med(peer, k);
  return `${x.toFixed(2)}×${higherBetter ? "" : " (lower is better)"}`;
};
const table = [
  `| workload | Switchyard | BullMQ, default Redis | BullMQ, AOF always |${withBunqueue ? " bunqueue TCP |" : ""} Switchyard ÷ default | Switchyard ÷ AOF always |${withBunqueue ? " Switchyard ÷ bunqueue |" : ""}`,
  `|---|---:|---:|---:|${withBunqueue ? "---:|" : ""}---:|---:|${withBunqueue ? "---:|" : ""}`,
  ...rows.map(
    ([label, k, hb]) =>
      `| ${label} | ${fmt(k, med("switchyard", k))} | ${fmt(k, med("bullmq-default", k))} | ${fmt(k, med("bullmq-aof-always", k))} |${withBunqueue ? ` ${fmt(k, med("bunqueue-tcp", k))} |` : ""} ${ratio(k, hb, "bullmq-default")} | ${ratio(k, hb, "bullmq-aof-always")} |${withBunqueue ? ` ${ratio(k, hb, "bunqueue-tcp")} |` : ""}`,
  ),
].join("\n");
// Switchyard's two unary paths side by side (same rounds).
const paths = withConnect
  ? [
      "| workload | Switchyard, lean gRPC path | Switchyard, Connect path | lean ÷ Connect | Connect path ÷ default Redis | Connect path ÷ AOF always |",
      "|---|---:|---:|---:|---:|---:|",
      ...rows.map(
        ([label, k, hb]) =>
          `| ${label} | ${fmt(k, med("switchyard", k))} | ${fmt(k, med("switchyard-connect", k))} | ${ratio(k, hb, "switchyard-connect")} | ${ratio(k, hb, "bullmq-default", "switchyard-connect")} | ${ratio(k, hb, "bullmq-aof-always", "switchyard-connect")} |`,
      ),
    ].join("\n")
  : "";
const every = [
  "| system | round | A W=1 | A W=16 | B p50 | B p99 | C | C clients' CPU % | C, native client | C, connect-node clients (CPU %) |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ...SYSTEMS.flatMap((s) =>
    rounds[s].map((f, i) => `| ${s} | ${i + 1} | ${f.a1} | ${f.a16} | ${f.bP50.toFixed(2)} | ${f.bP99.toFixed(2)} | ${f.c} | ${f.cClientCpu} | ${f.cNative ?? "—"} | ${f.cConnectNode === undefined ? "—" : `${f.cConnectNode} (${f.cConnectNodeCpu})`} |`),
  ),
].join("\n");
// C by client (Switchyard only: BullMQ's clients are its Node library).
const cRow = (label: string, k: keyof Figures, cpu?: keyof Figures) =>
  `| ${label} | ${fmt("c", med("switchyard", k))} | ${cpu ? med("switchyard", cpu) : "—"} | ${(med("switchyard", k) / med("bullmq-default", "c")).toFixed(2)}× | ${(med("switchyard", k) / med("bullmq-aof-always", "c")).toFixed(2)}× |`;
const native = [
  "| C: single creates, 16 connections, clients | creates/s | clients' CPU (% of one core) | ÷ BullMQ default (its Node clients) | ÷ BullMQ AOF always |",
  "|---|---:|---:|---:|---:|",
  cRow("h2load (nghttp2, native)", "cNative"),
  cRow("the SDK's gRPC transport (the table above)", "c", "cClientCpu"),
  cRow("@connectrpc/connect-node's gRPC transport", "cConnectNode", "cConnectNodeCpu"),
].join("\n");

const redisVersion = await sh(["redis-server", "--version"]);
const bullmqVersion = await sh(["node", "-p", "require('./node_modules/bullmq/package.json').version"]);
const nodeVersion = await sh(["node", "--version"]);
const bunqueueVersion = withBunqueue ? await sh(["node", "-p", "require('./node_modules/bunqueue/package.json').version"]) : "";
const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
const date = new Date().toISOString().slice(0, 10);
const text = `# peers benchmark, ${date}

Command: \`bench/peers/setup.sh && bun bench/peers/run.ts\` (BENCH_ROUNDS=${ROUNDS} BENCH_TASKS=${N} BENCH_LATENCY_SAMPLES=${SAMPLES})
Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, shared (load average at the end: ${load})
Versions: Switchyard (this commit) on Bun ${Bun.version}, clients: the SDK's gRPC transport (sdk/typescript/src/h2-transport.ts, h2c) in the Bun driver process;
BullMQ ${bullmqVersion} with ioredis on Node ${nodeVersion};${withBunqueue ? ` bunqueue ${bunqueueVersion} (server and client on Bun);` : ""} ${redisVersion.split(" ").slice(0, 3).join(" ")} (Debian package).

Durability:
- Switchyard: SQLite WAL; every acknowledgement after an fdatasync of the WAL that began after the commit (src/db/README.md).
- BullMQ, default Redis: redis-server built-in defaults (RDB snapshots, \`appendonly no\`): an acknowledged job is in memory only.
- BullMQ, AOF always: \`--appendonly yes --appendfsync always\`: Redis fsyncs the AOF before answering a write.${withBunqueue ? `\n- bunqueue ${bunqueueVersion} TCP server (\`bunqueue start\`, its SQLite file, its per-client request cap lifted: \`RATE_LIMIT_MAX_REQUESTS\`): \`PRAGMA synchronous = NORMAL\` in its code (no fsync at each commit).` : ""}

Workloads (~100-byte JSON payloads, every system started fresh each round, rounds interleaved, ${ROUNDS} rounds, medians):
- A: ${N} tasks enqueued by 4 producers in batches of 500 (BullMQ \`addBulk\`, Switchyard \`BatchCreateTasks\`); W workers
  (Switchyard: \`ConnectWorker\` streams with 1000 credits completing what arrived in one loop turn with \`BatchCompleteTasks\`;
  BullMQ${withBunqueue ? " and bunqueue" : ""}: \`Worker\`s with concurrency 64, each its own connection, completing jobs one by one); time until all complete.
- B: one idle worker waiting; ${SAMPLES} enqueues one after another (after 100 warm-up); time from the call to the worker having it.
- C: 16 clients, each its own connection, creating single tasks for ${C_MS / 1000} s.

## Medians

${table}

## C by client

Client and server share the machine's ${cpus().length} cores, so what the clients burn is taken from the server. The same server
each round, driven by h2load (native, 16 connections, one call at a time each, ${C_MS / 1000} s after a 1 s warm-up), by the
SDK's transport (16 clients in one Bun process) and by connect-node's (the same):

${native}

${withConnect ? `## Switchyard's lean unary gRPC path against its Connect path (SWITCHYARD_LEAN_GRPC=0)\n\n${paths}\n\n` : ""}## Every round

${every}
`;
const file = join(here, "..", "results", `${date}-${RESULT_NAME}.md`);
await Bun.write(file, text);
console.log(text);
console.log(`written to ${file}`);
