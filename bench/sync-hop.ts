// What the off-loop fdatasync costs a small group (src/db/README.md): the group committer over a
// real SQLite file, groups of 1, 8 and 32 inserts (each caller awaits its answer before the next
// round), with the WAL made durable four ways — "thread" (the server's: createWalSyncer, an
// fdatasync on a thread of its own, woken through Atomics), "pool" (the same through node:fs's
// asynchronous fdatasync on Bun's thread pool, SWITCHYARD_WAL_SYNC_THREAD=0), "inline" (fdatasyncSync on the JavaScript thread, blocking the loop) and "full"
// (synchronous=FULL, SQLite's own fsync inside COMMIT). CPU (user and system, all threads) and
// wall time per operation; 3 rounds, modes interleaved. In-process, no transport.
// `bun run bench sync-hop`. Asserts nothing.
import { Database as Sqlite } from "bun:sqlite";
import { fdatasyncSync, mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createCommitter } from "../src/db/group-commit.ts";
import { createWalSyncer } from "../src/db/wal-sync.ts";
import { median } from "./measure.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const OPS = Number(process.env.BENCH_SYNC_OPS ?? 3000);
const MODES = ["thread", "pool", "inline", "full"] as const;
const GROUPS = [1, 8, 32];

interface Row {
  mode: (typeof MODES)[number];
  group: number;
  userUs: number;
  sysUs: number;
  wallUs: number;
}

async function once(mode: Row["mode"], group: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-bench-sync-"));
  const sqlite = new Sqlite(join(dir, "s.db"));
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec(`PRAGMA synchronous = ${mode === "full" ? "FULL" : "NORMAL"}`);
  // Three indexes, like a task row's: a commit writes a few pages.
  sqlite.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INTEGER)");
  sqlite.exec("CREATE INDEX t_a ON t (a); CREATE INDEX t_b ON t (b); CREATE INDEX t_c ON t (c)");
  sqlite.exec("INSERT INTO t (a, b, c) VALUES ('x', 'y', 0)"); // the -wal file exists from here
  const wal = join(dir, "s.db-wal");
  let fd: number | undefined;
  const syncer = mode === "thread" || mode === "pool" ? createWalSyncer(wal, { thread: mode === "thread" }) : undefined;
  const durable =
    syncer
      ? syncer.sync
      : mode === "inline"
        ? () => {
            fd ??= openSync(wal, "r");
            fdatasyncSync(fd);
            return Promise.resolve();
          }
        : undefined;
  const committer = createCommitter(sqlite, { durable });
  const insert = sqlite.prepare("INSERT INTO t (a, b, c) VALUES (?, ?, ?)");
  const round = () =>
    Promise.all(
      Array.from({ length: group }, () => {
        const r = Math.random();
        return committer.run(() => insert.run(r.toString(36), (r * 7).toString(36), Math.floor(r * 1e9)));
      }),
    );
  for (let i = 0; i < 200 / group; i++) await round(); // warm up
  // The sync thread starts after the first sync: measure once it answers.
  while (mode === "thread" && syncer!.via !== "thread") await round();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let done = 0; done < OPS; done += group) await round();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await committer.close();
  await syncer?.close();
  if (fd !== undefined) closeSync(fd);
  sqlite.close();
  rmSync(dir, { recursive: true, force: true });
  return { mode, group, userUs: c.user / OPS, sysUs: c.system / OPS, wallUs: (wallMs * 1000) / OPS };
}

export async function syncHopBench(): Promise<string> {
  const rows: Row[] = [];
  const before = loadavg().map((l) => l.toFixed(2)).join(" ");
  for (let r = 0; r < ROUNDS; r++) for (const group of GROUPS) for (const mode of r % 2 ? [...MODES].reverse() : MODES) rows.push(await once(mode, group));
  const after = loadavg().map((l) => l.toFixed(2)).join(" ");
  const med = (mode: Row["mode"], group: number, k: "userUs" | "sysUs" | "wallUs") => median(rows.filter((x) => x.mode === mode && x.group === group).map((x) => x[k]));
  const lines = [
    "| group | durability | user µs per op | system µs per op | wall µs per op | CPU ÷ inline | wall ÷ inline |",
    "|---:|---|---:|---:|---:|---:|---:|",
  ];
  for (const group of GROUPS) {
    const cpuInline = med("inline", group, "userUs") + med("inline", group, "sysUs");
    for (const mode of MODES) {
      const cpu = med(mode, group, "userUs") + med(mode, group, "sysUs");
      lines.push(
        `| ${group} | ${mode} | ${med(mode, group, "userUs").toFixed(1)} | ${med(mode, group, "sysUs").toFixed(1)} | ${med(mode, group, "wallUs").toFixed(1)} | ${(cpu / cpuInline).toFixed(2)}× | ${(med(mode, group, "wallUs") / med("inline", group, "wallUs")).toFixed(2)}× |`,
      );
    }
  }
  return (
    `${ROUNDS} rounds, ${OPS} inserts per row (after a warm-up), the group committer in this process, medians. Load average before → after: ${before} → ${after}.\n\n` +
    `- thread: the server's path: the WAL synced by fdatasync on a thread of its own that sleeps in Atomics.wait between requests (src/db/wal-sync-worker.ts), woken by Atomics.notify, answering by message; the loop serves meanwhile.\n` +
    `- pool: the same fdatasync through node:fs's asynchronous API, on Bun's thread pool (SWITCHYARD_WAL_SYNC_THREAD=0, the path before the sync thread).\n` +
    `- inline: the same fdatasync on the JavaScript thread (the loop blocks while the disk syncs).\n` +
    `- full: synchronous=FULL, SQLite fsyncs inside COMMIT (the path before syncs left the loop).\n\n${lines.join("\n")}\n\n` +
    `Nothing else runs here, so what syncing off the loop buys — the loop serving other requests while the disk syncs, and no request stalled behind a slow fsync — does not show; what it costs does: the hop to the other thread and back (a wake-up on each side) on every sync, which only large groups amortize. A thread of its own makes the same two wake-ups and costs about the same for a lone sync; under load it takes less of the loop's time (\`bun run bench wal-sync\`).`
  );
}
