// Shared by the SDK tests: a server as a child process on a fixed port and data dir (so it can be
// SIGKILLed and restarted), a worker process whose JSON lines are read as they come, and reads of
// the task table.
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, repoRoot, waitForHttp } from "../../src/testing/server.ts";

/** A Switchyard server in a child process that can be killed and started again on the same port and file. */
export interface ChildServer {
  url: string;
  port: number;
  dataDir: string;
  databasePath: string;
  start(): Promise<void>;
  kill(signal?: "SIGKILL" | "SIGTERM"): Promise<number>;
  close(): Promise<void>;
}

export async function childServer(env: Record<string, string> = {}): Promise<ChildServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-sdk-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const server: ChildServer = {
    url,
    port,
    dataDir,
    databasePath: join(dataDir, "switchyard.db"),
    async start() {
      proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
        env: { ...process.env, SWITCHYARD_PORT: String(port), SWITCHYARD_HOST: "127.0.0.1", SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_SHUTDOWN_GRACE_MS: "1000", ...env },
        stdout: "ignore",
        stderr: "ignore",
      });
      await waitForHttp(`${url}/healthz`);
    },
    async kill(signal = "SIGKILL") {
      if (!proc) return 0;
      proc.kill(signal);
      const code = await proc.exited;
      proc = undefined;
      return code;
    },
    async close() {
      await server.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** A process whose stdout is read as JSON lines while it runs. */
export interface LineProc {
  proc: ReturnType<typeof Bun.spawn>;
  lines: Record<string, any>[];
  /** Waits for a line matching `pred` (default: any line). */
  line(pred?: (l: Record<string, any>) => boolean, ms?: number): Promise<Record<string, any>>;
  /** Waits for exit; answers the exit code, the last JSON line and stderr. */
  done(ms?: number): Promise<{ code: number; last: Record<string, any>; stderr: string }>;
}

export function spawnLines(cmd: string[], env: Record<string, string> = {}, cwd = repoRoot): LineProc {
  const proc = Bun.spawn(cmd, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const lines: Record<string, any>[] = [];
  let wake: (() => void) | undefined;
  const reading = (async () => {
    let buf = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buf += new TextDecoder().decode(chunk);
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const text = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!text) continue;
        try {
          lines.push(JSON.parse(text));
        } catch {
          lines.push({ text });
        }
        wake?.();
      }
    }
    wake?.();
  })();
  const stderr = new Response(proc.stderr as ReadableStream).text();
  return {
    proc,
    lines,
    async line(pred = () => true, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = lines.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no such line from ${cmd.join(" ")}: ${JSON.stringify(lines)} ${await Promise.race([stderr, Bun.sleep(100).then(() => "")])}`);
        await Promise.race([new Promise<void>((r) => (wake = r)), Bun.sleep(100)]);
      }
    },
    async done(ms = 30_000) {
      const code = await Promise.race([proc.exited, Bun.sleep(ms).then(() => "timeout" as const)]);
      if (code === "timeout") {
        proc.kill("SIGKILL");
        throw new Error(`${cmd.join(" ")} did not exit within ${ms} ms: ${await stderr}`);
      }
      await reading;
      return { code, last: lines.at(-1) ?? {}, stderr: await stderr };
    },
  };
}

export type TaskRow = { id: string; state: number; attempt: number; worker_id: string | null; result: string | null; fencing_token: number };

/** The rows of one queue, read from the SQLite file. */
export function taskRows(databasePath: string, queue: string): TaskRow[] {
  const db = new Database(databasePath, { readonly: true });
  try {
    return db.query("SELECT id, state, attempt, worker_id, result, fencing_token FROM tasks WHERE queue = ? ORDER BY seq").all(queue) as TaskRow[];
  } finally {
    db.close();
  }
}

/** Ids appearing more than once. */
export function duplicates(ids: string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const id of ids) (seen.has(id) ? dup : seen).add(id);
  return [...dup];
}

export const STATE = { pending: 1, blocked: 2, running: 3, succeeded: 4, failed: 5, cancelled: 6, timedOut: 7 } as const;
