// Where a Switchyard server's time goes, per workload: a real server (`src/main.ts`, fresh data
// dir) under
// - A: batch enqueue → one SDK worker stream → batch complete, 50,000 tasks (bench/tasks.ts's driver),
// - C: durable single CreateTask calls from h2load (native: 16 connections, one call at a time each),
// - REST: `GET /v1/tasks/{id}` over HTTP/1.1 from h2load (16 connections).
// For each: the CPU of each of the server's threads over the measured phase (/proc/<pid>/task),
// the JavaScript profile of the main thread (`bun --cpu-prof`, the whole run, summarised by
// bench/profile-summary.ts: by package or src folder, then by function's self time), and, where
// `perf` may record, how the main thread's samples split between the kernel, Bun's native code
// and JIT-compiled JavaScript. `bun run bench profile`. Asserts nothing.
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTaskRequestSchema, TaskService } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { clientFor } from "../src/testing/clients.ts";
import { summarise } from "./profile-summary.ts";
import { endToEnd, grpcPort, payloadOf, withServer } from "./tasks.ts";

type Threads = Record<string, number>;

/** CPU ms of each thread of `pid`, summed by thread name (several pool threads are one entry). */
function threadCpu(pid: number): Threads {
  const out: Threads = {};
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = /\((.*)\)/.exec(stat)![1]!.replace(/ \d+$/, "");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const key = Number(t) === pid ? "main (JavaScript)" : name;
    out[key] = (out[key] ?? 0) + (Number(f[11]) + Number(f[12])) * 10;
  }
  return out;
}

function perfUsable(): boolean {
  const p = Bun.spawnSync(["perf", "--version"], { stdout: "ignore", stderr: "ignore" });
  return p.exitCode === 0;
}

/** Starts `perf record` on the main thread; stop() answers the kernel / native / JIT split. */
function recordMainThread(pid: number, dir: string): { stop: () => Promise<Record<string, number> | undefined> } {
  const out = join(dir, "perf.data");
  const perf = Bun.spawn(["perf", "record", "-F", "1999", "-t", String(pid), "-o", out], { stdout: "ignore", stderr: "ignore" });
  return {
    async stop() {
      perf.kill("SIGINT");
      await perf.exited;
      if (!existsSync(out)) return undefined;
      const report = Bun.spawnSync(["perf", "report", "-i", out, "--sort", "dso", "--stdio"], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
      const split: Record<string, number> = {};
      for (const line of report.split("\n")) {
        const m = /^\s+([\d.]+)%\s+(.+?)\s*$/.exec(line);
        if (!m) continue;
        const dso = m[2]!;
        const kind = dso.includes("kernel") ? "kernel" : dso.startsWith("[JIT]") ? "JIT-compiled JavaScript" : dso.startsWith("bun") ? "Bun's executable (its native runtime: HTTP/2, sockets, SQLite, GC; JavaScriptCore's interpreter)" : "other libraries";
        split[kind] = (split[kind] ?? 0) + Number(m[1]);
      }
      return split;
    },
  };
}

interface Result {
  name: string;
  rate: string;
  threads: Threads;
  measuredMs: number;
  perf?: Record<string, number>;
  profile: ReturnType<typeof summarise>;
}

function grpcFrame(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(5 + message.byteLength);
  new DataView(frame.buffer).setUint32(1, message.byteLength);
  frame.set(message, 5);
  return frame;
}

function h2load(args: string[]): string {
  const p = Bun.spawnSync(["h2load", ...args], { stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString();
  if (!/(\d+) succeeded/.test(out)) throw new Error(`h2load: ${out}`);
  return /([\d.]+) req\/s/.exec(out)![1]!;
}

async function profiled(name: string, run: (url: string) => Promise<{ warm: () => Promise<void>; measure: () => Promise<string> }>): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-profile-"));
  const before = process.env.BENCH_SERVER_PROFILE;
  process.env.BENCH_SERVER_PROFILE = dir;
  const usePerf = perfUsable();
  let result: Omit<Result, "profile"> | undefined;
  try {
    await withServer(async (url, pid) => {
      const w = await run(url);
      await w.warm();
      const rec = usePerf ? recordMainThread(pid, dir) : undefined;
      const t0 = threadCpu(pid);
      const start = performance.now();
      const rate = await w.measure();
      const measuredMs = performance.now() - start;
      const t1 = threadCpu(pid);
      const perf = await rec?.stop();
      const threads: Threads = {};
      for (const k of Object.keys(t1)) threads[k] = t1[k]! - (t0[k] ?? 0);
      result = { name, rate, threads, measuredMs, perf };
    });
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!result || !file) throw new Error(`${name}: no profile written`);
    return { ...result, profile: summarise(join(dir, file), 12) };
  } finally {
    if (before === undefined) delete process.env.BENCH_SERVER_PROFILE;
    else process.env.BENCH_SERVER_PROFILE = before;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function profileBench(): Promise<string> {
  const body = mkdtempSync(join(tmpdir(), "switchyard-bench-profile-body-"));
  const createFile = join(body, "create.bin");
  writeFileSync(createFile, grpcFrame(toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: { queue: "profile", payload: fromJson(ValueSchema, payloadOf(1)) } }))));
  const grpc = (url: string, n: number) => ["-n", String(n), "-c", "16", "-m", "1", "-d", createFile, "-H", "content-type: application/grpc", "-H", "te: trailers", `${url}/switchyard.tasks.v1.TaskService/CreateTask`];
  const results: Result[] = [];
  try {
    results.push(
      await profiled("A: batch enqueue → 1 worker stream → batch complete, 50,000 tasks", async (url) => {
        const port = grpcPort(url, "sdk");
        return {
          warm: async () => void (await endToEnd(port, "grpc", 4, 5_000)),
          measure: async () => `${(await endToEnd(port, "grpc", 1, 50_000)).tasksPerSecond} tasks/s`,
        };
      }),
    );
    results.push(
      await profiled("C: durable single CreateTask, h2load, 16 connections, 40,000 calls", async (url) => ({
        warm: async () => void h2load(grpc(url, 20_000)),
        measure: async () => `${Math.round(Number(h2load(grpc(url, 40_000))))} calls/s`,
      })),
    );
    results.push(
      await profiled("REST: GET /v1/tasks/{id}, h2load HTTP/1.1, 16 connections, 40,000 calls", async (url) => {
        const id = (await clientFor(TaskService, url, "grpc").createTask({ task: { queue: "profile", payload: fromJson(ValueSchema, payloadOf(1)) } })).task!.id;
        const rest = (n: number) => ["-n", String(n), "--h1", "-c", "16", "-m", "1", `${url}/v1/tasks/${id}`];
        return { warm: async () => void h2load(rest(10_000)), measure: async () => `${Math.round(Number(h2load(rest(40_000))))} calls/s` };
      }),
    );
  } finally {
    rmSync(body, { recursive: true, force: true });
  }
  const sections = results.map((r) => {
    const total = Object.values(r.threads).reduce((a, b) => a + b, 0);
    const threads = Object.entries(r.threads)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `| ${k} | ${((100 * v) / r.measuredMs).toFixed(0)} % |`);
    const pct = (n: number) => `${((100 * n) / r.profile.samples).toFixed(1)} %`;
    const perf = r.perf
      ? `\n\nThe main thread's samples by where the CPU was (perf, measured phase):\n\n| where | share |\n|---|---:|\n${Object.entries(r.perf)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `| ${k} | ${v.toFixed(1)} % |`)
          .join("\n")}`
      : "\n\n(perf could not record here: no kernel / native / JIT split.)";
    return (
      `## ${r.name}\n\n${r.rate}; the server's threads used ${((100 * total) / r.measuredMs).toFixed(0)} % of one core over the measured phase:\n\n` +
      `| thread | CPU (% of one core) |\n|---|---:|\n${threads.join("\n")}${perf}\n\n` +
      `The main thread's JavaScript profile (${r.profile.samples} samples of the whole run, warm-up included; native code counts under its JavaScript caller):\n\n` +
      `| share | where |\n|---:|---|\n${r.profile.byPlace.map(([k, v]) => `| ${pct(v)} | ${k} |`).join("\n")}\n\n` +
      `| share | function (self time) |\n|---:|---|\n${r.profile.byFunction.map(([k, v]) => `| ${pct(v)} | ${k} |`).join("\n")}`
    );
  });
  return (
    "One server per workload, warmed up before the measured phase, profiled while it runs (`bun --cpu-prof` and, where it may, " +
    "`perf record` of the main thread): the rates are those of a profiled server, lower than in the other benchmarks; the shares are what matters." +
    `\n\n${sections.join("\n\n")}`
  );
}
