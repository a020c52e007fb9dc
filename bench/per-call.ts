// Server CPU per unary call, and where the floor is: h2load (nghttp2, native, so the load
// costs the server's cores little) sends M calls over one connection with 32 streams in
// flight to a server process; the server's CPU time (utime + stime from /proc/<pid>/stat) over
// those calls, divided by M. CPU time, not wall time, so it holds better on a shared machine.
// Servers, in interleaved rounds (BENCH_ROUNDS, default 3; the order flips every round):
// - Switchyard (`src/main.ts`) with the lean unary gRPC path (default) and with
//   SWITCHYARD_LEAN_GRPC=0 (every call through Connect-ES): GetInfo, GetTask, CreateTask;
// - lean h2c servers on the same node:http2 under Bun with no Connect (bench/h2-floor-server.ts:
//   decode + SQLite read + encode; canned bytes);
// - a @grpc/grpc-js server on Node answering GetTask from memory (bench/grpc-js-server.ts);
// - REST `GET /v1/tasks/{id}` over HTTP/1.1 (16 connections): Switchyard against Hono on Bun
//   running the same SQLite query on the same database file (bench/hono-rest-server.ts), and
//   Switchyard's one-port listener alone answering the same JSON bytes (bench/h1-floor-server.ts).
// `bun run bench per-call`. Asserts nothing.
import { create, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTaskRequestSchema,
  GetTaskRequestSchema,
  GetTaskResponseSchema,
  TaskService,
} from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { GetInfoRequestSchema } from "../gen/switchyard/system/v1/system_service_pb.js";
import { clientFor } from "../src/testing/clients.ts";
import { freePort, repoRoot } from "../src/testing/server.ts";
import { payloadOf, withServer } from "./tasks.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STREAMS = 32;
const REST_CONNECTIONS = 16;

export interface PerCallRow {
  server: string;
  call: string;
  calls: number;
  serverCpuUsPerCall: number;
  callsPerSecond: number;
  round: number;
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

/** Runs h2load; `body` undefined is a REST GET over HTTP/1.1, else a gRPC POST over h2c. */
async function h2load(url: string, body: string | undefined, n: number): Promise<number> {
  const args = body
    ? ["-c", "1", "-m", String(STREAMS), "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers"]
    : ["--h1", "-c", String(REST_CONNECTIONS), "-m", "1"];
  const p = Bun.spawn(["h2load", "-n", String(n), ...args, url], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const m = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const ok = /(\d+) succeeded/.exec(out);
  const twoHundred = /status codes: (\d+) 2xx/.exec(out);
  if (!m || !ok || Number(ok[1]) !== n || (twoHundred && Number(twoHundred[1]) !== n)) throw new Error(`h2load: ${out}`);
  return Math.round(Number(m[1]));
}

async function measure(server: string, call: string, url: string, pid: number, body: string | undefined, round: number): Promise<PerCallRow> {
  await h2load(url, body, 1_000); // warm up
  const c0 = cpuUs(pid);
  const rps = await h2load(url, body, CALLS);
  return { server, call, calls: CALLS, serverCpuUsPerCall: Math.round((cpuUs(pid) - c0) / CALLS), callsPerSecond: rps, round };
}

async function withProcess<T>(cmd: string[], fn: (pid: number) => Promise<T>): Promise<T> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit" });
  await p.stdout.getReader().read(); // "ready"
  try {
    return await fn(p.pid);
  } finally {
    p.kill();
    await p.exited;
  }
}

const svc = "/switchyard.tasks.v1.TaskService";
export const SWITCHYARD_LEAN = "Switchyard, lean unary gRPC path";
export const SWITCHYARD_CONNECT = "Switchyard, SWITCHYARD_LEAN_GRPC=0 (Connect-ES)";
export const FLOOR_WORK = "node:http2 on Bun, no Connect: decode + SQLite read + encode";
export const FLOOR_CANNED = "node:http2 on Bun, no Connect: canned bytes";
export const GRPC_JS = "@grpc/grpc-js on Node: from memory (decode + encode)";
export const SWITCHYARD_REST = "Switchyard REST (HTTP/1.1)";
export const HONO_REST = "Hono on Bun, same SQLite query (HTTP/1.1)";
export const LISTENER_REST = "Switchyard's one-port listener, canned REST answer (HTTP/1.1)";

async function switchyardRows(lean: boolean, round: number, rows: PerCallRow[], onFirst: (responseJson: string, id: string) => void): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-bench-percall-data-"));
  try {
    await withServer(
      async (url, pid) => {
        const c = clientFor(TaskService, url, "grpc");
        const payload = fromJson(ValueSchema, payloadOf(1));
        const id = (await c.createTask({ task: { queue: "percall", payload } })).task!.id;
        onFirst(JSON.stringify(toJson(GetTaskResponseSchema, await c.getTask({ id }))), id);
        const get = bodyFile("get", toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, { id })));
        const createBody = bodyFile("create", toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: { queue: "percall", payload } })));
        const info = bodyFile("info", toBinary(GetInfoRequestSchema, create(GetInfoRequestSchema, {})));
        const name = lean ? SWITCHYARD_LEAN : SWITCHYARD_CONNECT;
        rows.push(await measure(name, "SystemService.GetInfo (no database)", `${url}/switchyard.system.v1.SystemService/GetInfo`, pid, info, round));
        rows.push(await measure(name, "TaskService.GetTask", `${url}${svc}/GetTask`, pid, get, round));
        rows.push(await measure(name, "TaskService.CreateTask (durable)", `${url}${svc}/CreateTask`, pid, createBody, round));
        if (!lean) return;
        // REST GetTask, then Hono on the same database file (Switchyard idle meanwhile); A/B order flips by round.
        const rest = () => measure(SWITCHYARD_REST, "GET /v1/tasks/{id}", `${url}/v1/tasks/${id}`, pid, undefined, round);
        const hono = async () => {
          const port = await freePort();
          return withProcess(["bun", join(import.meta.dir, "hono-rest-server.ts"), String(port), join(dataDir, "switchyard.db")], (hpid) =>
            measure(HONO_REST, "GET /v1/tasks/{id}", `http://127.0.0.1:${port}/v1/tasks/${id}`, hpid, undefined, round),
          );
        };
        // The floor of REST on the one port: the listener alone, answering the same JSON bytes.
        const floor = async (restJson: string) => {
          const port = await freePort();
          return withProcess(["bun", join(import.meta.dir, "h1-floor-server.ts"), String(port), restJson], (fpid) =>
            measure(LISTENER_REST, "GET /v1/tasks/{id}", `http://127.0.0.1:${port}/v1/tasks/${id}`, fpid, undefined, round),
          );
        };
        const restJson = await (await fetch(`${url}/v1/tasks/${id}`)).text();
        if (round % 2 === 1) rows.push(await rest(), await hono(), await floor(restJson));
        else rows.push(await floor(restJson), await hono(), await rest());
      },
      { SWITCHYARD_LEAN_GRPC: lean ? "1" : "0", SWITCHYARD_DATA_DIR: dataDir },
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The grpc-js server bundled for Node (grpc-js itself resolved from node_modules). */
async function grpcJsBundle(): Promise<string> {
  const outDir = join(repoRoot, "node_modules", ".cache", "switchyard-bench");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, "grpc-js-server.mjs");
  const p = Bun.spawn(["bun", "build", join(import.meta.dir, "grpc-js-server.ts"), "--target=node", "--external", "@grpc/grpc-js", "--outfile", out], { stdout: "ignore", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error("bun build of the grpc-js server failed");
  return out;
}

async function leanServerRows(responseJson: string, id: string, round: number, rows: PerCallRow[], bundle: string): Promise<void> {
  const get = bodyFile("get", toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, { id })));
  for (const mode of ["work", "canned"]) {
    const port = await freePort();
    await withProcess(["bun", join(import.meta.dir, "h2-floor-server.ts"), mode, String(port), responseJson], async (pid) => {
      rows.push(await measure(mode === "work" ? FLOOR_WORK : FLOOR_CANNED, "TaskService.GetTask", `http://127.0.0.1:${port}${svc}/GetTask`, pid, get, round));
    });
  }
  const port = await freePort();
  await withProcess(["node", bundle, String(port), responseJson], async (pid) => {
    rows.push(await measure(GRPC_JS, "TaskService.GetTask", `http://127.0.0.1:${port}${svc}/GetTask`, pid, get, round));
  });
}

export interface PerCallResult {
  rows: PerCallRow[];
  loads: { round: number; before: number[]; after: number[] }[];
  nodeVersion: string;
}

export async function perCallBench(): Promise<PerCallResult> {
  const rows: PerCallRow[] = [];
  const loads: PerCallResult["loads"] = [];
  const bundle = await grpcJsBundle();
  let responseJson = "";
  let id = "";
  const keep = (json: string, taskId: string) => {
    responseJson = json;
    id = taskId;
  };
  for (let round = 1; round <= ROUNDS; round++) {
    const before = loadavg().map((l) => Math.round(l * 100) / 100);
    const parts = [() => switchyardRows(true, round, rows, keep), () => switchyardRows(false, round, rows, keep), () => leanServerRows(responseJson, id, round, rows, bundle)];
    // Switchyard lean first in odd rounds, Connect first in even ones; the others after the first that made the task.
    if (round % 2 === 1) for (const p of parts) await p();
    else for (const p of [parts[1]!, parts[0]!, parts[2]!]) await p();
    loads.push({ round, before, after: loadavg().map((l) => Math.round(l * 100) / 100) });
  }
  const node = Bun.spawnSync(["node", "--version"]).stdout.toString().trim();
  return { rows, loads, nodeVersion: node };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : Math.round((s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);
};

/** The medians table, every round, and the ratios of issue 14. */
export function perCallReport(result: PerCallResult): string {
  const { rows } = result;
  const key = (r: PerCallRow) => `${r.server}|${r.call}`;
  const groups = new Map<string, PerCallRow[]>();
  for (const r of rows) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  const med = (server: string, call: string) => {
    const g = groups.get(`${server}|${call}`) ?? [];
    return { cpu: median(g.map((r) => r.serverCpuUsPerCall)), rps: median(g.map((r) => r.callsPerSecond)), cpus: g.map((r) => r.serverCpuUsPerCall), rpss: g.map((r) => r.callsPerSecond) };
  };
  const lines = [
    "| server | call | server CPU µs per call (median) | calls/s (median) | CPU µs every round | calls/s every round |",
    "|---|---|---:|---:|---|---|",
  ];
  for (const [k] of groups) {
    const [server, call] = k.split("|") as [string, string];
    const m = med(server, call);
    lines.push(`| ${server} | ${call} | ${m.cpu} | ${m.rps} | ${m.cpus.join(" / ")} | ${m.rpss.join(" / ")} |`);
  }
  const ratios = ["", "| ratio | CPU per call | calls/s |", "|---|---:|---:|"];
  const ratio = (label: string, a: ReturnType<typeof med>, b: ReturnType<typeof med>) =>
    ratios.push(`| ${label} | ${(a.cpu / b.cpu).toFixed(2)}× | ${(a.rps / b.rps).toFixed(2)}× |`);
  for (const call of ["SystemService.GetInfo (no database)", "TaskService.GetTask", "TaskService.CreateTask (durable)"]) {
    ratio(`${call}: lean ÷ Connect`, med(SWITCHYARD_LEAN, call), med(SWITCHYARD_CONNECT, call));
  }
  ratio("GetTask: Switchyard lean ÷ grpc-js on Node (goal: calls/s ≥ 1.5×)", med(SWITCHYARD_LEAN, "TaskService.GetTask"), med(GRPC_JS, "TaskService.GetTask"));
  ratio("GetTask: Switchyard Connect ÷ grpc-js on Node", med(SWITCHYARD_CONNECT, "TaskService.GetTask"), med(GRPC_JS, "TaskService.GetTask"));
  ratio("GetTask: Switchyard lean ÷ node:http2 floor (work)", med(SWITCHYARD_LEAN, "TaskService.GetTask"), med(FLOOR_WORK, "TaskService.GetTask"));
  ratio("REST GetTask: Switchyard ÷ Hono (goal: calls/s ≥ 0.7×)", med(SWITCHYARD_REST, "GET /v1/tasks/{id}"), med(HONO_REST, "GET /v1/tasks/{id}"));
  ratio("REST floor: the one-port listener's canned answer ÷ Hono's whole request", med(LISTENER_REST, "GET /v1/tasks/{id}"), med(HONO_REST, "GET /v1/tasks/{id}"));
  ratio("REST GetTask: Switchyard ÷ its listener's canned answer", med(SWITCHYARD_REST, "GET /v1/tasks/{id}"), med(LISTENER_REST, "GET /v1/tasks/{id}"));
  const load = result.loads.map((l) => `round ${l.round}: ${l.before.join(" ")} → ${l.after.join(" ")}`).join("; ");
  return [
    `${ROUNDS} interleaved rounds; per row h2load sends ${CALLS} calls after 1,000 warm-up calls. gRPC rows: one h2c connection, ${STREAMS} streams in flight. ` +
      `REST rows: HTTP/1.1, ${REST_CONNECTIONS} connections, one request at a time each. Server CPU = utime + stime of the server process (/proc) ÷ calls. ` +
      `Node ${result.nodeVersion} for grpc-js.`,
    "",
    `Load average (1/5/15 min) before → after each round: ${load}.`,
    "",
    ...lines,
    ...ratios,
  ].join("\n");
}

if (import.meta.main) {
  console.log(perCallReport(await perCallBench()));
}
