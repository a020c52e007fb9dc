import { join } from "node:path";
import { repoRoot } from "../../../src/testing/server.ts";

/** The reference Python insights worker (examples/insights-worker) running as a child process. */
export interface InsightsWorker {
  lines: Record<string, unknown>[];
  waitFor(pred: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startInsightsWorker(python: string, stubs: string, port: number, workerId: string, extra: string[] = [], token = ""): Promise<InsightsWorker> {
  const proc = Bun.spawn([python, "-u", join(repoRoot, "examples/insights-worker/worker.py"), `127.0.0.1:${port}`, stubs, workerId, ...extra], {
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, SWITCHYARD_API_TOKEN: token },
  });
  const lines: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of proc.stdout as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, i).trim();
        buffer = buffer.slice(i + 1);
        if (line) lines.push(JSON.parse(line));
        wake?.();
      }
    }
  })();
  const worker: InsightsWorker = {
    lines,
    async waitFor(pred, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = lines.find(pred);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`insights worker ${workerId}: no such line in ${JSON.stringify(lines)}`);
        await Promise.race([new Promise<void>((r) => (wake = r)), Bun.sleep(200)]);
      }
    },
    async stop() {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(3000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    },
  };
  await worker.waitFor((l) => "connected" in l);
  return worker;
}
