import { join } from "node:path";
import { freePort, repoRoot, waitForHttp } from "./server.ts";

/** A Switchyard run as its own process (`bun src/main.ts`), for tests that kill or starve it. */
export interface ChildServer {
  url: string;
  port: number;
  proc: ReturnType<typeof Bun.spawn>;
  /** What the process wrote on stderr so far. */
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startChildServer(dataDir: string, env: Record<string, string> = {}, port?: number, stdoutFile?: string): Promise<ChildServer> {
  const p = port ?? (await freePort());
  const proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts")], {
    env: {
      ...process.env,
      SWITCHYARD_PORT: String(p),
      SWITCHYARD_HOST: "127.0.0.1",
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_SHUTDOWN_GRACE_MS: "500",
      SWITCHYARD_LOG_LEVEL: "warn",
      ...env,
    },
    stdout: stdoutFile ? Bun.file(stdoutFile) : "ignore",
    stderr: "pipe",
  });
  let err = "";
  void (async () => {
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      err += dec.decode(value);
    }
  })();
  const url = `http://127.0.0.1:${p}`;
  try {
    await waitForHttp(`${url}/healthz`, 20_000);
  } catch (error) {
    proc.kill("SIGKILL");
    throw new Error(`${String(error)}\n${err}`);
  }
  return {
    url,
    port: p,
    proc,
    stderr: () => err,
    async kill(signal = "SIGKILL") {
      proc.kill(signal);
      await proc.exited;
      return proc.exitCode;
    },
  };
}
