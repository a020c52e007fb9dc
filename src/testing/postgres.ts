import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { freePort, repoRoot } from "./server.ts";

/** A real PostgreSQL server owned by the test process: its data folder, port and superuser URL. */
export interface PostgresServer {
  readonly port: number;
  /** Superuser URL of the `postgres` database. */
  readonly url: string;
  readonly dataDir: string;
  /** A new, empty database on this server; its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Stops the server hard (SIGKILL of the postmaster, as a crash) or cleanly. */
  stop(options?: { hard?: boolean }): Promise<void>;
}

/** The folder of PostgreSQL's server binaries, installed through scripts/ensure-postgres.sh when missing. */
export function postgresBinDir(): string {
  const find = () => {
    const roots = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)) : [];
    for (const v of roots) if (existsSync(join("/usr/lib/postgresql", v, "bin", "initdb"))) return join("/usr/lib/postgresql", v, "bin");
    const initdb = Bun.which("initdb");
    return initdb ? join(initdb, "..") : undefined;
  };
  let dir = find();
  if (dir) return dir;
  const r = spawnSync("sh", [join(repoRoot, "scripts", "ensure-postgres.sh")], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`PostgreSQL is missing and scripts/ensure-postgres.sh failed (exit ${r.status})`);
  dir = find();
  if (!dir) throw new Error("PostgreSQL is still missing after scripts/ensure-postgres.sh");
  return dir;
}

/** PostgreSQL refuses to run as root: as root, the server runs as `nobody` over a folder it owns. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync("id", [flag, "nobody"]).stdout.toString().trim());
  return { uid: id("-u"), gid: id("-g") };
}

/**
 * Starts PostgreSQL: `initdb` in a temporary folder, a free loopback port, `fsync` on (the
 * durability under test is real), stopped when `stop()` is called or the process exits.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const dataRoot = mkdtempSync(join(tmpdir(), "switchyard-pg-"));
  const dataDir = join(dataRoot, "data");
  const user = runAs();
  if (user) {
    chownSync(dataRoot, user.uid, user.gid);
    chmodSync(dataRoot, 0o700);
  }
  const init = spawnSync(join(bin, "initdb"), ["-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions"], {
    uid: user?.uid,
    gid: user?.gid,
    encoding: "utf8",
  });
  if (init.status !== 0) throw new Error(`initdb failed (${init.status}): ${init.stderr}`);
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(bin, dataDir, dataRoot, port, user);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let n = 0;
  return {
    port,
    url,
    dataDir,
    async createDatabase(prefix = "t") {
      const name = `${prefix}_${process.pid}_${++n}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
      const admin = new SQL(url, { max: 1 });
      try {
        await admin.unsafe(`CREATE DATABASE ${name}`);
      } finally {
        await admin.close();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop(options = {}) {
      const c = child;
      child = undefined;
      if (c && c.exitCode === null) {
        const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
        // SIGKILL of the postmaster is a crash; closing the watchdog's pipe a fast shutdown.
        if (options.hard) {
          const pid = postmasterPid(dataDir);
          if (pid) process.kill(pid, "SIGKILL");
        }
        c.stdin?.end();
        const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}

/**
 * `postgres` runs under a small shell that holds a pipe from this process: when this process
 * ends in any way (bun test does not run "exit" handlers), the pipe closes, and the shell stops
 * PostgreSQL (fast shutdown) and removes its folder. No server outlives its test run.
 */
const WATCHDOG = `"$0" "$@" & pg=$!
read _ignored
kill -INT $pg 2>/dev/null
wait $pg
rm -rf "$SWITCHYARD_PG_ROOT"`;

async function launch(bin: string, dataDir: string, socketDir: string, port: number, user: { uid: number; gid: number } | undefined): Promise<ChildProcess> {
  const args = ["-D", dataDir, "-p", String(port), "-k", socketDir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "max_connections=200", "-c", "shared_buffers=64MB"];
  const child = spawn("sh", ["-c", WATCHDOG, join(bin, "postgres"), ...args], {
    uid: user?.uid,
    gid: user?.gid,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SWITCHYARD_PG_ROOT: socketDir },
    stdio: ["pipe", "ignore", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    if (log.length < 20_000) log += chunk.toString();
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}:\n${log}`);
    if (log.includes("ready to accept connections")) return child;
    await Bun.sleep(25);
  }
  child.stdin?.end();
  throw new Error(`postgres did not become ready in 20 s:\n${log}`);
}

/** The postmaster's pid, from its lock file. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

let shared: Promise<PostgresServer> | undefined;

/** One PostgreSQL server for the whole test process (started on first use; each test file takes its own database). */
export function sharedPostgres(): Promise<PostgresServer> {
  shared ??= startPostgres();
  return shared;
}

/** A fresh database on the shared server: its URL. */
export async function freshPostgresUrl(prefix?: string): Promise<string> {
  return (await sharedPostgres()).createDatabase(prefix);
}
