// Workload C of bench/peers (single creates, 16 clients) with a native client: h2load opens 16
// h2c connections, one CreateTask in flight on each, for BENCH_SECONDS (default 4) against
// Switchyard with the lean unary gRPC path and with SWITCHYARD_LEAN_GRPC=0, interleaved
// (BENCH_ROUNDS, default 3). The Connect-ES clients of bench/peers run in the driver's Bun process
// and cost about as much CPU per call as the server, on the same 2 cores; h2load costs little.
// Also BatchCreateTasks of 500 (server CPU per call), to check the lean path on big messages.
// `bun bench/single-creates.ts`. Asserts nothing.
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { BatchCreateTasksRequestSchema, CreateTaskRequestSchema } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { payloadOf, withServer } from "./tasks.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const cpuUs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10_000;
};
const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-creates-"));
const file = (name: string, m: Uint8Array) => {
  const f = new Uint8Array(5 + m.length);
  new DataView(f.buffer).setUint32(1, m.length);
  f.set(m, 5);
  writeFileSync(join(dir, name), f);
  return join(dir, name);
};
const payload = fromJson(ValueSchema, payloadOf(1));
const single = file("create.bin", toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: { queue: "c", payload } })));
const batch = file(
  "batch.bin",
  toBinary(BatchCreateTasksRequestSchema, create(BatchCreateTasksRequestSchema, { requests: Array.from({ length: 500 }, () => ({ task: { queue: "a", payload } })) })),
);

async function h2load(args: string[]): Promise<{ done: number; rps: number }> {
  const p = Bun.spawn(["h2load", ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const ok = /(\d+) succeeded/.exec(out);
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  if (!ok || !rps) throw new Error(`h2load: ${out}`);
  return { done: Number(ok[1]), rps: Math.round(Number(rps[1])) };
}

const rows: string[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 ? ["1", "0"] : ["0", "1"];
  for (const lean of order) {
    await withServer(
      async (url, pid) => {
        const grpc = ["-H", "content-type: application/grpc", "-H", "te: trailers"];
        await h2load(["-n", "500", "-c", "16", "-m", "1", "-d", single, ...grpc, `${url}/switchyard.tasks.v1.TaskService/CreateTask`]);
        let c0 = cpuUs(pid);
        const c = await h2load(["-D", String(SECONDS), "-c", "16", "-m", "1", "-d", single, ...grpc, `${url}/switchyard.tasks.v1.TaskService/CreateTask`]);
        const cCpu = Math.round((cpuUs(pid) - c0) / c.done);
        c0 = cpuUs(pid);
        const b = await h2load(["-n", "200", "-c", "4", "-m", "1", "-d", batch, ...grpc, `${url}/switchyard.tasks.v1.TaskService/BatchCreateTasks`]);
        const bCpu = Math.round((cpuUs(pid) - c0) / b.done);
        rows.push(`| ${round} | ${lean === "1" ? "lean" : "Connect"} | ${c.rps} | ${cCpu} | ${b.rps * 500} | ${bCpu} | ${loadavg()[0]!.toFixed(2)} |`);
        console.error(rows.at(-1));
      },
      { SWITCHYARD_LEAN_GRPC: lean },
    );
  }
}
console.log(
  [
    `| round | unary path | C: CreateTask, 16 connections (creates/s) | server CPU µs per create | BatchCreateTasks of 500, 4 connections (tasks/s) | server CPU µs per batch call | load (1 min) |`,
    "|---:|---|---:|---:|---:|---:|---:|",
    ...rows,
  ].join("\n"),
);
