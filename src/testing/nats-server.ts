import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A real nats-server with JetStream, owned by a test: its URL, and how to restart and stop it. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** JetStream store directory (a temp dir removed by stop()). */
  readonly storeDir: string;
  /** Stops the process and starts it again on the same port and store (messages survive). */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Stops the process (SIGTERM, then SIGKILL) and removes the store directory. */
  stop(): Promise<void>;
}

const scriptPath = join(import.meta.dir, "..", "..", "scripts", "ensure-nats-server.sh");

/** The nats-server binary, installed through scripts/ensure-nats-server.sh when missing. */
export function natsServerBinary(): string {
  let found = Bun.which("nats-server") ?? Bun.which("nats-server", { PATH: "/usr/sbin:/usr/bin:/usr/local/bin" });
  if (found) return found;
  const r = spawnSync("sh", [scriptPath], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`nats-server is missing and ${scriptPath} failed (exit ${r.status})`);
  found = Bun.which("nats-server") ?? Bun.which("nats-server", { PATH: "/usr/sbin:/usr/bin:/usr/local/bin" });
  if (!found) throw new Error("nats-server is still missing after running ensure-nats-server.sh");
  return found;
}

/** Starts nats-server with JetStream on a free local port and a temp store; waits until it accepts connections. */
export async function startNatsServer(): Promise<NatsServer> {
  const binary = natsServerBinary();
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "switchyard-nats-"));
  let child: ChildProcess | undefined = await launch(binary, port, storeDir);

  async function halt(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async restart(options = {}) {
      await halt();
      if (options.downMs) await Bun.sleep(options.downMs);
      child = await launch(binary, port, storeDir);
    },
    async stop() {
      await halt();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

async function launch(binary: string, port: number, storeDir: string): Promise<ChildProcess> {
  const child = spawn(binary, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    if (log.length < 20_000) log += chunk.toString();
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}:\n${log}`);
    // "Server is ready" is logged after JetStream has recovered its store.
    if (log.includes("Server is ready") && (await canConnect(port))) return child;
    await Bun.sleep(25);
  }
  child.kill("SIGKILL");
  throw new Error(`nats-server did not start on port ${port} within 10 s:\n${log}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
