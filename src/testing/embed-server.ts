import { join } from "node:path";
import { repoRoot } from "./server.ts";

/** The Python test server serving all-MiniLM-L6-v2 as an OpenAI-compatible `/v1/embeddings` endpoint. */
export interface EmbedServer {
  /** Base URL to give SWITCHYARD_EMBEDDINGS_URL (`http://127.0.0.1:<port>/v1`). */
  url: string;
  /** Makes the endpoint fail (HTTP 503) or answer slowly. */
  control(state: { fail?: boolean; delay_ms?: number }): Promise<void>;
  close(): Promise<void>;
}

/** Installs the embeddings venv (cached: scripts/setup-embeddings.sh) and starts the server on a free port. */
export async function startEmbedServer(): Promise<EmbedServer> {
  const setup = Bun.spawnSync(["bash", join(repoRoot, "scripts/setup-embeddings.sh")], { stdout: "inherit", stderr: "inherit" });
  if (setup.exitCode !== 0) throw new Error("scripts/setup-embeddings.sh failed");
  const proc = Bun.spawn([join(repoRoot, ".cache/embeddings-venv/bin/python"), "embed_server.py"], {
    cwd: join(repoRoot, "test/embeddings"),
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 60_000;
  while (!/listening (\d+)/.test(text)) {
    if (Date.now() > deadline) throw new Error("embeddings test server did not start");
    const { value, done } = await reader.read();
    if (done) throw new Error(`embeddings test server exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
  const port = Number(/listening (\d+)/.exec(text)![1]);
  const base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}/v1`,
    async control(state) {
      await fetch(`${base}/control`, { method: "POST", body: JSON.stringify(state) });
    },
    async close() {
      proc.kill();
      await proc.exited;
    },
  };
}
