// Where the WAL's fdatasync runs, side by side on real servers (`src/main.ts`, fresh data dir
// each): SWITCHYARD_WAL_SYNC_THREAD=1 (the default: a sync thread of its own, woken through
// Atomics, src/db/wal-sync.ts) against =0 (node:fs's asynchronous fdatasync on Bun's thread
// pool, the former path), in interleaved rounds (BENCH_ROUNDS, default 6; the order flips every
// round):
// - C: durable single CreateTask calls from h2load (16 connections, one call at a time each,
//   BENCH_CALLS after 10,000 warm-up calls): creates/s, and the server's CPU (utime + stime of
//   every thread, /proc) per create;
// - B: one waiting SDK worker stream, one enqueue at a time (bench/tasks.ts), p50 / p99.
// `bun run bench wal-sync`. Asserts nothing.
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTaskRequestSchema } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { grpcFrameFile, h2loadRate, median, processCpuUs } from "./measure.ts";
import { dispatchLatency, grpcPort, payloadOf, withServer } from "./tasks.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CALLS = Number(process.env.BENCH_CALLS ?? 40_000);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 1_000);
const MODES = [
  { name: "sync thread (default)", env: "1" },
  { name: "Bun's thread pool", env: "0" },
] as const;

interface Row {
  mode: string;
  round: number;
  createsPerSecond: number;
  cpuUsPerCreate: number;
  bP50: number;
  bP99: number;
}

export async function walSyncBench(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-wal-sync-"));
  const body = grpcFrameFile(dir, "create.bin", toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: { queue: "c", payload: fromJson(ValueSchema, payloadOf(1)) } })));
  const rows: Row[] = [];
  const before = loadavg().map((l) => l.toFixed(2)).join(" ");
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const mode of round % 2 ? MODES : [...MODES].reverse()) {
        rows.push(
          await withServer(
            async (url, pid) => {
              const args = (n: number) => ["-n", String(n), "-c", "16", "-m", "1", "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", `${url}/switchyard.tasks.v1.TaskService/CreateTask`];
              h2loadRate(args(10_000)); // warm up (and, with the thread, start it)
              const c0 = processCpuUs(pid);
              const rate = h2loadRate(args(CALLS));
              const cpu = (processCpuUs(pid) - c0) / CALLS;
              const b = await dispatchLatency(grpcPort(url, "sdk"), "grpc", SAMPLES);
              return { mode: mode.name, round, createsPerSecond: Math.round(rate), cpuUsPerCreate: Math.round(cpu * 10) / 10, bP50: b.p50Ms, bP99: b.p99Ms };
            },
            { SWITCHYARD_WAL_SYNC_THREAD: mode.env },
          ),
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const after = loadavg().map((l) => l.toFixed(2)).join(" ");
  const med = (mode: string, k: keyof Row) => median(rows.filter((r) => r.mode === mode).map((r) => r[k] as number));
  const [thread, pool] = [MODES[0].name, MODES[1].name];
  const f = (n: number, d = 0) => n.toFixed(d);
  const table = [
    "| WAL sync | C creates/s | server CPU µs per create | B p50 (ms) | B p99 (ms) |",
    "|---|---:|---:|---:|---:|",
    ...MODES.map((m) => `| ${m.name} | ${f(med(m.name, "createsPerSecond"))} | ${f(med(m.name, "cpuUsPerCreate"), 1)} | ${f(med(m.name, "bP50"), 2)} | ${f(med(m.name, "bP99"), 2)} |`),
  ];
  const ratio = (k: keyof Row) => (med(thread, k) / med(pool, k)).toFixed(2);
  const wins = rows.filter((r) => r.mode === thread).filter((r) => r.cpuUsPerCreate < rows.find((p) => p.mode === pool && p.round === r.round)!.cpuUsPerCreate).length;
  const every = [
    "| round | WAL sync | C creates/s | CPU µs per create | B p50 | B p99 |",
    "|---:|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.round} | ${r.mode} | ${r.createsPerSecond} | ${f(r.cpuUsPerCreate, 1)} | ${f(r.bP50, 2)} | ${f(r.bP99, 2)} |`),
  ];
  return (
    `${ROUNDS} interleaved rounds, a fresh server each, medians. C: h2load, 16 connections, one durable CreateTask at a time each, ${CALLS} calls after 10,000 warm-up calls; ` +
    `B: one waiting SDK worker stream, ${SAMPLES} enqueues one after another. Load average before → after: ${before} → ${after}.\n\n` +
    `${table.join("\n")}\n\n` +
    `Sync thread ÷ pool: C creates/s ${ratio("createsPerSecond")}×, server CPU per create ${ratio("cpuUsPerCreate")}× (lower in ${wins} of ${ROUNDS} rounds), B p50 ${ratio("bP50")}×, B p99 ${ratio("bP99")}×.\n\n## Every round\n\n${every.join("\n")}`
  );
}
