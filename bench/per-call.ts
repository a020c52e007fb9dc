// Server CPU per unary call, and where the floor is: h2load (nghttp2, native, so the load
// costs the server's cores little) sends M gRPC calls over one h2c connection with 32 streams in
// flight to a server process; the server's CPU time (utime + stime from /proc/<pid>/stat) over
// those calls, divided by M. CPU time, not wall time, so it holds on a shared machine.
// Servers: Switchyard (`src/main.ts`: Connect-ES over node:http2, interceptors, engine, SQLite)
// and lean h2c servers on the same node:http2 under Bun with no Connect (bench/h2-floor-server.ts:
// decode + SQLite read + encode; canned bytes). `bun bench/run.ts per-call`. Asserts nothing.
import { create, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTaskRequestSchema,
  GetTaskRequestSchema,
  GetTaskResponseSchema,
  TaskService,
} from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { GetInfoRequestSchema } from "../gen/switchyard/system/v1/system_service_pb.js";
import { clientFor } from "../src/testing/clients.ts";
import { freePort } from "../src/testing/server.ts";
import { payloadOf, withServer } from "./tasks.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const STREAMS = 32;

export interface PerCallRow {
  server: string;
  call: string;
  calls: number;
  serverCpuUsPerCall: number;
  callsPerSecond: number;
}

function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000; // USER_HZ = 100
}

const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-percall-"));
function bodyFile(name: string, message: Uint8Array): string {
  const frame = new Uint8Array(5 + message.byteLength);
  new DataView(frame.buffer).setUint32(1, message.byteLength);
  frame.set(message, 5);
  const file = join(dir, `${name}.bin`);
  writeFileSync(file, frame);
  return file;
}

async function h2load(url: string, path: string, body: string, n: number): Promise<number> {
  const p = Bun.spawn(
    ["h2load", "-n", String(n), "-c", "1", "-m", String(STREAMS), "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", `${url}${path}`],
    { stdout: "pipe", stderr: "pipe" },
  );
  const out = await new Response(p.stdout).text();
  await p.exited;
  const m = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const ok = /(\d+) succeeded/.exec(out);
  if (!m || !ok || Number(ok[1]) !== n) throw new Error(`h2load: ${out}`);
  return Math.round(Number(m[1]));
}

async function measure(server: string, call: string, url: string, pid: number, path: string, body: string): Promise<PerCallRow> {
  await h2load(url, path, body, 1_000); // warm up
  const c0 = cpuUs(pid);
  const rps = await h2load(url, path, body, CALLS);
  return { server, call, calls: CALLS, serverCpuUsPerCall: Math.round((cpuUs(pid) - c0) / CALLS), callsPerSecond: rps };
}

export async function perCallBench(): Promise<PerCallRow[]> {
  const rows: PerCallRow[] = [];
  let responseJson = "";
  let id = "";
  const svc = "/switchyard.tasks.v1.TaskService";
  await withServer(async (url, pid) => {
    const c = clientFor(TaskService, url, "grpc");
    const payload = fromJson(ValueSchema, payloadOf(1));
    id = (await c.createTask({ task: { queue: "percall", payload } })).task!.id;
    responseJson = JSON.stringify(toJson(GetTaskResponseSchema, await c.getTask({ id })));
    const get = bodyFile("get", toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, { id })));
    const createBody = bodyFile("create", toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: { queue: "percall", payload } })));
    const info = bodyFile("info", toBinary(GetInfoRequestSchema, create(GetInfoRequestSchema, {})));
    rows.push(await measure("Switchyard", "SystemService.GetInfo (no database)", url, pid, "/switchyard.system.v1.SystemService/GetInfo", info));
    rows.push(await measure("Switchyard", "TaskService.GetTask", url, pid, `${svc}/GetTask`, get));
    rows.push(await measure("Switchyard", "TaskService.CreateTask (durable)", url, pid, `${svc}/CreateTask`, createBody));
  });
  const get = bodyFile("get", toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, { id })));
  for (const mode of ["work", "canned"]) {
    const port = await freePort();
    const p = Bun.spawn(["bun", join(import.meta.dir, "h2-floor-server.ts"), mode, String(port), responseJson], { stdout: "pipe", stderr: "inherit" });
    await p.stdout.getReader().read(); // "ready"
    try {
      const server = mode === "work" ? "lean node:http2 on Bun: decode + SQLite read + encode" : "lean node:http2 on Bun: canned bytes";
      rows.push(await measure(server, "TaskService.GetTask", `http://127.0.0.1:${port}`, p.pid, `${svc}/GetTask`, get));
    } finally {
      p.kill();
      await p.exited;
    }
  }
  return rows;
}

if (import.meta.main) {
  const rows = await perCallBench();
  console.log(
    ["| server | call | server CPU µs per call | calls/s |", "|---|---|---:|---:|", ...rows.map((r) => `| ${r.server} | ${r.call} | ${r.serverCpuUsPerCall} | ${r.callsPerSecond} |`)].join("\n"),
  );
}
