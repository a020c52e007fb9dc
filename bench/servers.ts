// Servers benchmark: load-balancer picks/s per algorithm with 1,000 registered backends;
// heartbeat absorption (10,000 servers heartbeating every 5 s) as a share of one core; push
// dispatch tasks/s end to end to 4 local HTTP backends, with Switchyard's CPU per task. Domain
// level over a real SQLite file (group commit, each answer after an fdatasync of the WAL). Asserts nothing.
// Run: `bun bench/servers.ts` (writes bench/results/<date>-servers.md) or via bench/run.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/core/clock.ts";
import { createLogger } from "../src/core/logger.ts";
import { createSecretBox } from "../src/core/secret-box.ts";
import { openDatabase } from "../src/db/client.ts";
import { taskPortOf } from "../src/servers/module.ts";
import { createServersDomain, type ServersDomain } from "../src/servers/servers.ts";
import { ALGORITHMS } from "../src/servers/types.ts";
import { createTaskEngine } from "../src/tasks/engine.ts";
import { repoRoot } from "../src/testing/server.ts";

const log = createLogger("warn", () => {});

async function open(clock = systemClock, extra: Partial<Parameters<typeof createServersDomain>[0]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-servers-"));
  const database = openDatabase(join(dir, "s.db"));
  const engine = createTaskEngine({ database, clock, events: () => {} });
  const secrets = await createSecretBox(crypto.getRandomValues(new Uint8Array(32)));
  const domain = createServersDomain({
    database,
    clock,
    log,
    secrets,
    tasks: taskPortOf(engine),
    backendAllow: ["127.0.0.1"],
    heartbeatTimeoutMs: 30_000,
    healthCheckIntervalMs: 3_600_000,
    dispatchTimeoutMs: 30_000,
    pushQueues: [],
    callbackBase: () => "http://127.0.0.1:1",
    ...extra,
  });
  return {
    engine,
    domain,
    database,
    async close() {
      await domain.stop();
      engine.stop();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function registerMany(domain: ServersDomain, n: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, (_, k) =>
        domain.register("default", {
          name: `${prefix}-${i + k}`,
          kind: "backend",
          endpoints: { predict: "http://127.0.0.1:1/predict" },
          maxConcurrent: 100,
          capabilities: (i + k) % 2 ? ["gpu", "video"] : ["video"],
          priority: 1 + ((i + k) % 5),
        }),
      ),
    );
    ids.push(...batch.map((v) => v.id));
  }
  return ids;
}

export interface ServersBench {
  picks: { algorithm: string; filter: string; picksPerSecond: number; usPerPick: number }[];
  heartbeats: { servers: number; perSecond: number; seconds: number; cpuShare: number; commits: number; usPerHeartbeat: number };
  push: { backendMs: number; tasks: number; seconds: number; tasksPerSecond: number; cpuUsPerTask: number }[];
}

async function picksBench(): Promise<ServersBench["picks"]> {
  const s = await open();
  const ids = await registerMany(s.domain, 1000, "pick");
  await Promise.all(ids.map((id) => s.domain.registry.heartbeat("default", id, "healthy", undefined)));
  // Uneven load, as in a busy fleet.
  for (const id of ids) {
    const e = s.domain.registry.entry("default", id);
    s.domain.registry.reserve(e, Math.floor(Math.random() * 90));
  }
  const rows: ServersBench["picks"] = [];
  // Calibration: the same machine walking the same 1,000 entries and reading one field.
  {
    const pool = s.domain.registry.pool("default");
    let n = 0;
    let sink = 0;
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    while (performance.now() - start < 1000) {
      for (let k = 0; k < 100; k++) for (const e of pool) sink += e.maxConcurrent;
      n += 100;
    }
    const cpu = process.cpuUsage(cpu0);
    const secs = (cpu.user + cpu.system) / 1e6;
    if (sink < 0) console.log(sink);
    rows.push({ algorithm: "(calibration: a loop over the 1,000 entries)", filter: "none", picksPerSecond: Math.round(n / secs), usPerPick: (secs * 1e6) / n });
  }
  for (const algorithm of ALGORITHMS) {
    await s.domain.balancer.setAlgorithm("default", algorithm);
    for (const [filter, caps] of [["none", []], ["capability gpu (half)", ["gpu"]]] as const) {
      // CPU time, not wall time: the machine is shared, and a pick never waits for anything.
      let n = 0;
      const start = performance.now();
      const cpu0 = process.cpuUsage();
      while (performance.now() - start < 1000) {
        for (let k = 0; k < 100; k++) s.domain.balancer.pick("default", { capabilities: [...caps] });
        n += 100;
      }
      const cpu = process.cpuUsage(cpu0);
      const secs = (cpu.user + cpu.system) / 1e6;
      rows.push({ algorithm, filter, picksPerSecond: Math.round(n / secs), usPerPick: (secs * 1e6) / n });
    }
  }
  await s.close();
  return rows;
}

async function heartbeatBench(): Promise<ServersBench["heartbeats"]> {
  const SERVERS = 10_000;
  const PERIOD_MS = 5000;
  const SECONDS = Number(process.env.BENCH_HEARTBEAT_SECONDS ?? 10);
  const s = await open();
  const ids = await registerMany(s.domain, SERVERS, "hb");
  const rate = SERVERS / (PERIOD_MS / 1000);
  const commits0 = s.database.committer.stats.groups;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  // Every 10 ms, the heartbeats due in that slice (each server once per 5 s).
  while (performance.now() - t0 < SECONDS * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const id = ids[sent % SERVERS]!;
      pending.push(s.domain.registry.heartbeat("default", id, "healthy", { activeTasks: sent % 7, cpuPercent: 40, memoryPercent: 50, custom: {} }));
    }
    if (pending.length > 5000) await Promise.all(pending.splice(0));
    await Bun.sleep(10);
  }
  await Promise.all(pending);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const out = {
    servers: SERVERS,
    perSecond: Math.round(sent / wall),
    seconds: wall,
    cpuShare: cpuSeconds / wall,
    commits: s.database.committer.stats.groups - commits0,
    usPerHeartbeat: (cpuSeconds * 1e6) / sent,
  };
  await s.close();
  return out;
}

async function pushBench(backendMs: number): Promise<ServersBench["push"][number]> {
  const N = Number(process.env.BENCH_PUSH_TASKS ?? 4000);
  const proc = Bun.spawn(["bun", join(repoRoot, "bench/servers-backends.ts")], { stdout: "pipe", stderr: "inherit", env: { ...process.env, BACKEND_MS: String(backendMs) } });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  const urls = JSON.parse(text.trim()) as string[];
  const s = await open(systemClock, { pushQueues: ["push"] });
  for (const [i, url] of urls.entries()) {
    const v = await s.domain.register("default", { name: `b${i}`, kind: "backend", endpoints: { predict: `${url}/predict` }, maxConcurrent: 64 });
    await s.domain.registry.heartbeat("default", v.id, "healthy", undefined);
  }
  await s.domain.balancer.setAlgorithm("default", "least-connections");
  s.engine.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i += 500) await s.engine.batchCreateTasks(Array.from({ length: Math.min(500, N - i) }, (_, k) => ({ queue: "push", type: "bench", payload: { n: i + k } })));
  s.domain.start();
  while ((await s.engine.getQueue("push")).counts.succeeded < N) await Bun.sleep(20);
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  proc.kill();
  await s.close();
  return { backendMs, tasks: N, seconds: secs, tasksPerSecond: Math.round(N / secs), cpuUsPerTask: (cpu.user + cpu.system) / N };
}

export async function serversBench(only = process.env.BENCH_ONLY ?? ""): Promise<ServersBench> {
  const picks = !only || only === "picks" ? await picksBench() : [];
  const heartbeats = !only || only === "heartbeats" ? await heartbeatBench() : { servers: 0, perSecond: 0, seconds: 0, cpuShare: 0, commits: 0, usPerHeartbeat: 0 };
  const push = !only || only === "push" ? [await pushBench(0), await pushBench(20)] : [];
  return { picks, heartbeats, push };
}

export function serversReport(r: ServersBench): string {
  const picks = [
    "| algorithm | filter | picks per CPU-second | CPU µs per pick |",
    "|---|---|---:|---:|",
    ...r.picks.map((p) => `| ${p.algorithm} | ${p.filter} | ${p.picksPerSecond} | ${p.usPerPick.toFixed(1)} |`),
  ].join("\n");
  const h = r.heartbeats;
  const hb = [
    "| servers | heartbeats/s | seconds | commits | CPU µs per heartbeat | share of one core |",
    "|---:|---:|---:|---:|---:|---:|",
    `| ${h.servers} | ${h.perSecond} | ${h.seconds.toFixed(1)} | ${h.commits} | ${h.usPerHeartbeat.toFixed(1)} | ${(h.cpuShare * 100).toFixed(1)} % |`,
  ].join("\n");
  const push = [
    "| backend time per task | tasks | s | tasks/s | Switchyard CPU µs per task |",
    "|---:|---:|---:|---:|---:|",
    ...r.push.map((p) => `| ${p.backendMs} ms | ${p.tasks} | ${p.seconds.toFixed(2)} | ${p.tasksPerSecond} | ${p.cpuUsPerTask.toFixed(0)} |`),
  ].join("\n");
  return `## Load-balancer picks, 1,000 registered backends (uneven load, capabilities on half)\n\n${picks}\n\n## Heartbeat absorption (domain level: registry + batched writes; no transport)\n\n${hb}\n\n## Push dispatch to 4 local HTTP backends (separate process), 64 concurrent per backend, least-connections\n\nEnd to end: batch create → claim for the backend (commit) → POST /predict → complete (commit). Switchyard CPU is this process's (server side only; backends run elsewhere).\n\n${push}\n`;
}

if (import.meta.main) {
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Bun ${Bun.version}`;
  const r = await serversBench();
  // A partial run (BENCH_ONLY) prints only: it must not overwrite the full results.
  if (process.env.BENCH_ONLY) {
    console.log(serversReport(r));
    process.exit(0);
  }
  const text = `# servers benchmark, ${date}\n\nCommand: \`bun bench/servers.ts\`\nMachine: ${machine}\n\n${serversReport(r)}`;
  await Bun.write(join(import.meta.dir, "results", `${date}-servers.md`), text);
  console.log(text);
}
