// Server CPU per unary call: a real server process (`src/main.ts`), C concurrent gRPC callers in
// this process; the server's CPU time (utime + stime from /proc/<pid>/stat) over M calls, divided
// by M. CPU time, not wall time, so it holds on a shared machine. `bun bench/per-call.ts`;
// BENCH_SERVER_PROFILE=<dir> runs the server under --cpu-prof. Asserts nothing.
import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { readFileSync } from "node:fs";
import { TaskService } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { SystemService } from "../gen/switchyard/system/v1/system_service_pb.js";
import { clientFor } from "../src/testing/clients.ts";
import { payloadOf, withServer } from "./tasks.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const CONCURRENCY = 16;
const TICK_US = 1e6 / 100; // USER_HZ

function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

export interface PerCallRow {
  call: string;
  calls: number;
  serverCpuUsPerCall: number;
  callsPerSecond: number;
}

async function measure(pid: number, call: string, fn: (i: number) => Promise<unknown>): Promise<PerCallRow> {
  for (let i = 0; i < 500; i++) await fn(i); // warm up
  let next = 0;
  const c0 = cpuUs(pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) await fn(next++);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUs(pid) - c0;
  return { call, calls: CALLS, serverCpuUsPerCall: Math.round(cpu / CALLS), callsPerSecond: Math.round(CALLS / seconds) };
}

export async function perCallBench(): Promise<PerCallRow[]> {
  return withServer(async (url, pid) => {
    const clients = Array.from({ length: CONCURRENCY }, () => clientFor(TaskService, url, "grpc"));
    const system = clientFor(SystemService, url, "grpc");
    const payload = fromJson(ValueSchema, payloadOf(1));
    const created = await clients[0]!.createTask({ task: { queue: "percall", id: "percall-get", payload } });
    const rows: PerCallRow[] = [];
    const only = (process.env.BENCH_CALL ?? "info,get,create").split(",");
    if (only.includes("info")) rows.push(await measure(pid, "SystemService.GetInfo (no database)", () => system.getInfo({})));
    if (only.includes("get")) rows.push(await measure(pid, "TaskService.GetTask", (i) => clients[i % CONCURRENCY]!.getTask({ id: created.task!.id })));
    if (only.includes("create")) rows.push(await measure(pid, "TaskService.CreateTask (durable)", (i) => clients[i % CONCURRENCY]!.createTask({ task: { queue: "percall", payload } })));
    return rows;
  });
}

if (import.meta.main) {
  const rows = await perCallBench();
  console.log(["| call | calls | server CPU µs per call | calls/s (16 callers) |", "|---|---:|---:|---:|", ...rows.map((r) => `| ${r.call} | ${r.calls} | ${r.serverCpuUsPerCall} | ${r.callsPerSecond} |`)].join("\n"));
}
