// Where the floor of a unary gRPC call is under Bun: server CPU per GetTask on the real server
// (Connect-ES over node:http2, interceptors, engine) against lean h2c servers on the same
// node:http2 with no Connect (bench/h2-floor-server.ts: canned bytes; decode + SQLite read +
// encode). Same Connect gRPC client, 16 callers, CPU time of the server process from /proc.
// `bun bench/h2-floor.ts`; writes nothing, prints a table (bench/results/*-per-call.md has a run).
import { toJson } from "@bufbuild/protobuf";
import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GetTaskResponseSchema, TaskService } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { clientFor } from "../src/testing/clients.ts";
import { freePort } from "../src/testing/server.ts";
import { payloadOf, withServer } from "./tasks.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const CONCURRENCY = 16;

function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function measure(url: string, pid: number, id: string): Promise<{ us: number; rps: number }> {
  const clients = Array.from({ length: CONCURRENCY }, () => clientFor(TaskService, url, "grpc"));
  for (let i = 0; i < 500; i++) await clients[i % CONCURRENCY]!.getTask({ id });
  let next = 0;
  const c0 = cpuUs(pid);
  const t0 = performance.now();
  await Promise.all(clients.map(async (c) => {
    while (next++ < CALLS) await c.getTask({ id });
  }));
  const s = (performance.now() - t0) / 1000;
  return { us: Math.round((cpuUs(pid) - c0) / CALLS), rps: Math.round(CALLS / s) };
}

export async function h2FloorBench(): Promise<{ path: string; us: number; rps: number }[]> {
  const rows: { path: string; us: number; rps: number }[] = [];
  let responseJson = "";
  let id = "";
  await withServer(async (url, pid) => {
    const c = clientFor(TaskService, url, "grpc");
    const created = await c.createTask({ task: { queue: "floor", payload: fromJson(ValueSchema, payloadOf(1)) } });
    id = created.task!.id;
    const got = await c.getTask({ id });
    responseJson = JSON.stringify(toJson(GetTaskResponseSchema, got));
    rows.push({ path: "Switchyard (Connect-ES, interceptors, engine)", ...(await measure(url, pid, id)) });
  });
  for (const mode of ["work", "canned"]) {
    const port = await freePort();
    const p = Bun.spawn(["bun", join(import.meta.dir, "h2-floor-server.ts"), mode, String(port), responseJson], { stdout: "pipe", stderr: "inherit" });
    const reader = p.stdout.getReader();
    await reader.read(); // "ready"
    try {
      rows.push({ path: mode === "work" ? "lean node:http2: decode + SQLite read + encode" : "lean node:http2: canned response bytes", ...(await measure(`http://127.0.0.1:${port}`, p.pid, id)) });
    } finally {
      p.kill();
      await p.exited;
    }
  }
  return rows;
}

if (import.meta.main) {
  const rows = await h2FloorBench();
  console.log(["| server path | server CPU µs per GetTask | calls/s (16 callers) |", "|---|---:|---:|", ...rows.map((r) => `| ${r.path} | ${r.us} | ${r.rps} |`)].join("\n"));
}
