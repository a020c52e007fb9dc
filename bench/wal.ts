// The SQLite WAL under a steady stream of single writes, with and without the checkpoint
// worker's hold (src/db/checkpoint-worker.ts): SWITCHYARD_WAL_RESTART_MB=16 (the default) against
// 0 (never hold, the former behaviour). Per round and setting, a fresh server: C (16 h2load
// connections, one CreateTask at a time each, BENCH_WAL_SECONDS) — creates/s, the WAL file at
// the end, holds and their time from /metrics/prometheus — then B (one idle worker, enqueues one
// after another: enqueue → push p50/p99, the SDK client). Interleaved rounds, order flipped each
// round. `bun run bench wal`. Asserts nothing.
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTaskRequestSchema } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { grpcFrameFile, median, processCpuUs } from "./measure.ts";
import { dispatchLatency, grpcPort, payloadOf, withServer } from "./tasks.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_WAL_SECONDS ?? 10);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 1000);
const SETTINGS = ["16", "0"] as const;

interface Row {
  setting: string;
  round: number;
  createsPerSecond: number;
  meanMs: number;
  walMb: number;
  holds: number;
  holdMs: number;
  restarts: number;
  serverCpuUsPerCreate: number;
  bP50: number;
  bP99: number;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

async function once(setting: string, round: number, body: string): Promise<Row> {
  return withServer(
    async (url, pid) => {
      const c0 = processCpuUs(pid);
      const p = Bun.spawn(
        ["h2load", "-D", String(SECONDS), "-c", "16", "-m", "1", "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", `${url}/switchyard.tasks.v1.TaskService/CreateTask`],
        { stdout: "pipe", stderr: "pipe" },
      );
      const out = await new Response(p.stdout).text();
      await p.exited;
      const cpu = processCpuUs(pid) - c0;
      const done = /(\d+) succeeded/.exec(out);
      const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
      const mean = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms)/.exec(out);
      if (!done || !rps || !mean) throw new Error(`h2load: ${out}`);
      const metrics = await (await fetch(`${url}/metrics/prometheus`)).text();
      const b = await dispatchLatency(grpcPort(url, "sdk"), "grpc", SAMPLES);
      return {
        setting,
        round,
        createsPerSecond: Math.round(Number(rps[1])),
        meanMs: Number(mean[1]) / (mean[2] === "us" ? 1000 : 1),
        walMb: metric(metrics, "switchyard_db_wal_bytes") / 1e6,
        holds: metric(metrics, "switchyard_db_wal_holds_total"),
        holdMs: metric(metrics, "switchyard_db_wal_hold_seconds_total") * 1000,
        restarts: metric(metrics, "switchyard_db_wal_restarts_total"),
        serverCpuUsPerCreate: Math.round(cpu / Number(done[1])),
        bP50: b.p50Ms,
        bP99: b.p99Ms,
      };
    },
    { SWITCHYARD_WAL_RESTART_MB: setting },
  );
}

export async function walBench(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-wal-"));
  const body = grpcFrameFile(dir, "create.bin", toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: { queue: "wal", payload: fromJson(ValueSchema, payloadOf(1)) } })));
  const rows: Row[] = [];
  const loads: string[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const before = loadavg().map((l) => l.toFixed(2)).join(" ");
      for (const s of round % 2 ? SETTINGS : [...SETTINGS].reverse()) rows.push(await once(s, round, body));
      loads.push(`round ${round}: ${before} → ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const name = (s: string) => (s === "0" ? "`SWITCHYARD_WAL_RESTART_MB=0` (never hold: before)" : `\`SWITCHYARD_WAL_RESTART_MB=${s}\` (hold at ${s} MiB: default)`);
  const med = (s: string, k: keyof Row) => median(rows.filter((r) => r.setting === s).map((r) => r[k] as number));
  const f = (n: number, d = 0) => n.toFixed(d);
  const table = [
    "| setting | C creates/s | C mean ms | server CPU µs per create | WAL file at the end (MB) | holds | ms held in all | WAL restarts | B p50 ms | B p99 ms |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...SETTINGS.map(
      (s) =>
        `| ${name(s)} | ${f(med(s, "createsPerSecond"))} | ${f(med(s, "meanMs"), 2)} | ${f(med(s, "serverCpuUsPerCreate"))} | ${f(med(s, "walMb"), 1)} | ${f(med(s, "holds"))} | ${f(med(s, "holdMs"))} | ${f(med(s, "restarts"))} | ${f(med(s, "bP50"), 2)} | ${f(med(s, "bP99"), 2)} |`,
    ),
  ].join("\n");
  const ratio = (k: keyof Row) => (med("16", k) / med("0", k)).toFixed(2);
  const every = [
    "| round | setting | C creates/s | C mean ms | CPU µs/create | WAL MB | holds | ms held | restarts | B p50 | B p99 |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.round} | ${r.setting} | ${r.createsPerSecond} | ${f(r.meanMs, 2)} | ${r.serverCpuUsPerCreate} | ${f(r.walMb, 1)} | ${r.holds} | ${f(r.holdMs)} | ${r.restarts} | ${f(r.bP50, 2)} | ${f(r.bP99, 2)} |`),
  ].join("\n");
  return (
    `${ROUNDS} interleaved rounds (order flipped each round), a fresh server and data dir per row; C: h2load, 16 connections, one CreateTask at a time each, ${SECONDS} s; ` +
    `then B on the same server: ${SAMPLES} enqueues one after another to one idle worker (SDK gRPC client). Medians.\n\n` +
    `Load average before → after: ${loads.join("; ")}.\n\n${table}\n\n` +
    `Hold ÷ never: C creates/s ${ratio("createsPerSecond")}×, C mean latency ${ratio("meanMs")}×, server CPU per create ${ratio("serverCpuUsPerCreate")}×, WAL file ${ratio("walMb")}×, B p50 ${ratio("bP50")}×, B p99 ${ratio("bP99")}×.\n\n## Every round\n\n${every}`
  );
}
