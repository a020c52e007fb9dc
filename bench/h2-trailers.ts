// A unary answer's trailers in the same write as its data (src/server/h2-trailers.ts) against
// Bun's own timing (SWITCHYARD_GRPC_TRAILERS_WITH_DATA=0), side by side: a real server
// (`src/main.ts`, fresh data dir) per mode and round, modes interleaved (the order flips every
// round), h2load as the client (16 connections, one call at a time each):
// - durable single CreateTask calls (a group commit answers several connections in one turn:
//   where the trailers' own write showed),
// - GetTask of one task (answered one per turn: a control, expected unchanged).
// Rates and the server's CPU per call (/proc). `bun run bench h2-trailers`. Asserts nothing.
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTaskRequestSchema, GetTaskRequestSchema } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { grpcFrameFile, h2loadRate, median, processCpuUs } from "./measure.ts";
import { payloadOf, taskClient, withServer } from "./tasks.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CALLS = Number(process.env.BENCH_CALLS ?? 30_000);
const MODES = [
  { name: "trailers with the data (default)", env: "1" },
  { name: "trailers on wantTrailers", env: "0" },
] as const;
const METHODS = ["CreateTask", "GetTask"] as const;

interface Row {
  mode: string;
  round: number;
  method: string;
  callsPerSecond: number;
  cpuUsPerCall: number;
}

export async function h2TrailersBench(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-h2-trailers-"));
  const createBody = grpcFrameFile(dir, "create.bin", toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: { queue: "c", payload: fromJson(ValueSchema, payloadOf(1)) } })));
  const rows: Row[] = [];
  const before = loadavg().map((l) => l.toFixed(2)).join(" ");
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const mode of round % 2 ? MODES : [...MODES].reverse()) {
        await withServer(
          async (url, pid) => {
            const client = taskClient(url, "sdk");
            const task = (await client.createTask({ task: { queue: "g", payload: fromJson(ValueSchema, payloadOf(2)) } })).task!;
            const getBody = grpcFrameFile(dir, "get.bin", toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, { id: task.id })));
            for (const method of METHODS) {
              const body = method === "CreateTask" ? createBody : getBody;
              const args = (n: number) => ["-n", String(n), "-c", "16", "-m", "1", "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", `${url}/switchyard.tasks.v1.TaskService/${method}`];
              h2loadRate(args(8_000)); // warm up
              const c0 = processCpuUs(pid);
              const rate = h2loadRate(args(CALLS));
              rows.push({ mode: mode.name, round, method, callsPerSecond: Math.round(rate), cpuUsPerCall: Math.round(((processCpuUs(pid) - c0) / CALLS) * 10) / 10 });
            }
          },
          { SWITCHYARD_GRPC_TRAILERS_WITH_DATA: mode.env },
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const after = loadavg().map((l) => l.toFixed(2)).join(" ");
  const med = (mode: string, method: string, k: "callsPerSecond" | "cpuUsPerCall") => median(rows.filter((r) => r.mode === mode && r.method === method).map((r) => r[k]));
  const [early, late] = [MODES[0].name, MODES[1].name];
  const table = [
    "| call | trailers | calls/s | server CPU µs per call | calls/s: with ÷ after | CPU per call: with ÷ after |",
    "|---|---|---:|---:|---:|---:|",
    ...METHODS.flatMap((m) =>
      MODES.map((mode) => {
        const ratio = mode.name === early ? `| ${(med(early, m, "callsPerSecond") / med(late, m, "callsPerSecond")).toFixed(2)}× | ${(med(early, m, "cpuUsPerCall") / med(late, m, "cpuUsPerCall")).toFixed(2)}× |` : "| | |";
        return `| ${m} | ${mode.name} | ${med(mode.name, m, "callsPerSecond")} | ${med(mode.name, m, "cpuUsPerCall").toFixed(1)} ${ratio}`;
      }),
    ),
  ];
  const every = [
    "| round | trailers | call | calls/s | µs CPU per call |",
    "|---:|---|---|---:|---:|",
    ...rows.map((r) => `| ${r.round} | ${r.mode} | ${r.method} | ${r.callsPerSecond} | ${r.cpuUsPerCall} |`),
  ];
  return (
    `${ROUNDS} rounds, modes interleaved (the order flips every round), a fresh server per mode and round; h2load, 16 connections, one call at a time each, ${CALLS} calls per row after 8,000 warm-up. ` +
    `CreateTask is durable (each answer after its group's commit and WAL sync). Medians of the rounds. Load average before → after: ${before} → ${after}.\n\n${table.join("\n")}\n\n## Every round\n\n${every.join("\n")}`
  );
}
