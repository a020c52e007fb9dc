import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, type App } from "../app.ts";
import { loadConfig, type Config } from "../config.ts";
import { systemClock, type Clock } from "../core/clock.ts";
import { createLogger, type LogLevel } from "../core/logger.ts";
import { openConfiguredDatabase } from "../db/open.ts";

/** A real Switchyard listening on a free loopback port, over a real SQLite file in a temp dir. */
export interface TestServer {
  app: App;
  config: Config;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  dataDir: string;
  /** JSON log lines the server wrote. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Starts a server in this process; `env` adds or overrides configuration variables; `clock` replaces the system clock. */
export async function startTestServer(env: Record<string, string> = {}, options: { clock?: Clock } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-test-"));
  const config = loadConfig({
    SWITCHYARD_PORT: "0",
    SWITCHYARD_HOST: "127.0.0.1",
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_SHUTDOWN_GRACE_MS: "1000",
    // Lets a test run be repeated on Connect's own gRPC path (SWITCHYARD_LEAN_GRPC=0 bun test ...).
    ...(process.env.SWITCHYARD_LEAN_GRPC ? { SWITCHYARD_LEAN_GRPC: process.env.SWITCHYARD_LEAN_GRPC } : {}),
    ...env,
  });
  const logs: Record<string, unknown>[] = [];
  const log = createLogger((process.env.TEST_LOG_LEVEL as LogLevel | undefined) ?? "info", (line) => {
    logs.push(JSON.parse(line));
    if (process.env.TEST_LOG_LEVEL) process.stderr.write(line + "\n");
  });
  // SWITCHYARD_DATABASE_URL in `env` runs the server on that PostgreSQL database (its clock follows the database's).
  const database = await openConfiguredDatabase(config, { maxPendingWrites: config.maxPendingWrites });
  const app = await createApp({ config, database, clock: options.clock ?? database.clock ?? systemClock, log });
  const listener = await app.listen();
  return {
    app,
    config,
    port: listener.port,
    url: `http://127.0.0.1:${listener.port}`,
    dataDir,
    logs,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The repository root, for spawning `bun src/main.ts` and finding proto/. */
export const repoRoot = join(import.meta.dir, "..", "..");

/** Picks a free TCP port on loopback (for servers run as child processes). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until `url` answers 200, or throws after `ms`. */
export async function waitForHttp(url: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
      last = r.status;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not come up: ${String(last)}`);
}
